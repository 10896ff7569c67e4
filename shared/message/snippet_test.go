package message_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/message"
)

// publisherSnippet returns the TypeScript block of file that publishes with SendMessageCommand.
func publisherSnippet(t testing.TB, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```ts\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], "SendMessageCommand") {
			return m[1]
		}
	}
	t.Fatalf("%s has no ```ts block with SendMessageCommand", file)
	return ""
}

// TestPublisherSnippet: the app's TypeScript publisher in README.md is docs/messages.md's, and
// it builds the message this package parses: the schema's fields, version, standard base64
// credentials encrypted under {userId, configId}, user as group and request id as
// deduplication id.
func TestPublisherSnippet(t *testing.T) {
	doc := publisherSnippet(t, filepath.Join(docs, "messages.md"))
	if readme := publisherSnippet(t, filepath.Join(docs, "..", "README.md")); readme != doc {
		t.Errorf("README.md's publisher snippet differs from docs/messages.md's:\n%s", readme)
	}

	body := regexp.MustCompile(`(?s)MessageBody: JSON\.stringify\(\{(.*?)\}\),\n`).FindStringSubmatch(doc)
	if body == nil {
		t.Fatalf("no MessageBody: JSON.stringify({…}) in the snippet:\n%s", doc)
	}
	var keys []string
	for _, part := range strings.Split(body[1], ",") {
		if key, _, _ := strings.Cut(strings.TrimSpace(part), ":"); key != "" {
			keys = append(keys, strings.TrimSpace(key))
		}
	}
	raw, err := os.ReadFile(filepath.Join(docs, "message.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := schema.Properties[k]; !ok {
			t.Errorf("the snippet's message has %q, which the schema does not define", k)
		}
	}
	for _, k := range append(slices.Clone(schema.Required), "credentials") { // credentials: required for deploy
		if !slices.Contains(keys, k) {
			t.Errorf("the snippet's message lacks %q", k)
		}
	}

	for _, want := range []string{
		fmt.Sprintf(`v: %d, type: "%s",`, message.Version, message.Deploy),
		`Plaintext: new TextEncoder().encode(JSON.stringify({ url, deployKey }))`,
		`EncryptionContext: { userId, configId }`,
		`credentials: Buffer.from(CiphertextBlob!).toString("base64")`, // standard base64, as Parse wants
		`MessageGroupId: userId`,
		`MessageDeduplicationId: requestId`,
		`sentAt: new Date().toISOString()`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the snippet lacks %s", want)
		}
	}
}
