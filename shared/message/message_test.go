package message_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/byod-deployer/byod-deployer/shared/message"
)

const docs = "../../docs"

// schema compiles docs/message.schema.json with format assertions on.
func schema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join(docs, "message.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("message.schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("message.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("message.schema.json")
	if err != nil {
		t.Fatalf("compile message.schema.json: %v", err)
	}
	return s
}

// schemaAccepts reports whether the JSON Schema accepts body.
func schemaAccepts(t testing.TB, s *jsonschema.Schema, body []byte) bool {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return false // not JSON at all
	}
	return s.Validate(inst) == nil
}

func readExamples(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(docs, "examples", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples in docs/examples/%s (%v)", dir, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func TestValidExamples(t *testing.T) {
	s := schema(t)
	guide, err := os.ReadFile(filepath.Join(docs, "messages.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range readExamples(t, "valid") {
		t.Run(name, func(t *testing.T) {
			m, err := message.Parse(body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !schemaAccepts(t, s, body) {
				t.Errorf("the JSON Schema rejects an example the parser accepts")
			}
			if m.GroupID() != m.UserID || m.DeduplicationID() != m.RequestID {
				t.Errorf("FIFO ids: group %q dedup %q", m.GroupID(), m.DeduplicationID())
			}
			if !strings.Contains(string(guide), "`"+name+"`") {
				t.Errorf("docs/messages.md does not list %s", name)
			}
		})
	}
}

// The documented outcome of every invalid example (docs/messages.md has the same table).
var invalid = map[string]struct {
	field        string
	reason       string // prefix of Error.Reason
	identifiable bool
}{
	"truncated.json":                  {"", "body is not a JSON object", false},
	"array.json":                      {"", "body is not a JSON object", false},
	"version-2.json":                  {"v", "unsupported version 2: this deployer reads version 1", true},
	"unknown-type.json":               {"type", `unknown type "destroy": want deploy or retry`, true},
	"deploy-without-credentials.json": {"credentials", "required for type deploy", true},
	"missing-user.json":               {"userId", "required", false},
	"bad-user-id.json":                {"userId", "must be 1-128 characters of", false},
	"bad-credentials.json":            {"credentials", "must be standard base64", true},
	"bad-sent-at.json":                {"sentAt", "must be an RFC 3339 date-time", true},
	"unknown-field.json":              {"deployKey", "unknown field", true},
	"bad-schema-version.json":         {"schemaVersion", "must be a positive integer", true},
}

func TestInvalidExamples(t *testing.T) {
	s := schema(t)
	guide, err := os.ReadFile(filepath.Join(docs, "messages.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := readExamples(t, "invalid")
	for name := range invalid {
		if _, ok := files[name]; !ok {
			t.Errorf("documented invalid example %s is missing from docs/examples/invalid", name)
		}
	}
	for name, body := range files {
		t.Run(name, func(t *testing.T) {
			want, ok := invalid[name]
			if !ok {
				t.Fatalf("docs/examples/invalid/%s has no documented outcome in this test's table", name)
			}
			_, err := message.Parse(body)
			var me *message.Error
			if !errors.As(err, &me) {
				t.Fatalf("Parse: got %v, want *message.Error", err)
			}
			if me.Field != want.field || !strings.HasPrefix(me.Reason, want.reason) {
				t.Errorf("got field %q reason %q, want field %q reason %q…", me.Field, me.Reason, want.field, want.reason)
			}
			if me.Identifiable() != want.identifiable {
				t.Errorf("Identifiable() = %v, want %v (error %+v)", me.Identifiable(), want.identifiable, me)
			}
			if schemaAccepts(t, s, body) {
				t.Errorf("the JSON Schema accepts an example the parser rejects")
			}
			if !strings.Contains(string(guide), "`"+name+"`") {
				t.Errorf("docs/messages.md does not document %s", name)
			}
		})
	}
}

func TestParse(t *testing.T) {
	const base = `"requestId":"r1","userId":"u1","configId":"c1","sentAt":"2026-11-25T18:30:00Z"`
	tests := []struct {
		name      string
		body      string
		wantField string // "-" means accepted
		check     func(t *testing.T, m message.Message)
	}{
		{"deploy", `{"v":1,"type":"deploy","credentials":"AQIDBA==",` + base + `}`, "-", func(t *testing.T, m message.Message) {
			if m.Type != message.Deploy || m.Credentials != "AQIDBA==" || m.SchemaVersion != 0 {
				t.Errorf("got %+v", m)
			}
			if !m.SentAt.Equal(time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)) {
				t.Errorf("sentAt %v", m.SentAt)
			}
		}},
		{"retry without credentials", `{"v":1,"type":"retry",` + base + `}`, "-", func(t *testing.T, m message.Message) {
			if m.Type != message.Retry || m.Credentials != "" {
				t.Errorf("got %+v", m)
			}
		}},
		{"version as 1.0", `{"v":1.0,"type":"retry",` + base + `}`, "-", nil},
		{"schema version kept", `{"v":1,"type":"retry","schemaVersion":4,` + base + `}`, "-", func(t *testing.T, m message.Message) {
			if m.SchemaVersion != 4 {
				t.Errorf("schemaVersion %d", m.SchemaVersion)
			}
		}},
		{"null credentials on deploy", `{"v":1,"type":"deploy","credentials":null,` + base + `}`, "credentials", nil},
		{"version as a string", `{"v":"1","type":"retry",` + base + `}`, "v", nil},
		{"missing version", `{"type":"retry",` + base + `}`, "v", nil},
		{"fractional schema version", `{"v":1,"type":"retry","schemaVersion":1.5,` + base + `}`, "schemaVersion", nil},
		{"type as a number", `{"v":1,"type":3,` + base + `}`, "type", nil},
		{"empty config", `{"v":1,"type":"retry","requestId":"r1","userId":"u1","configId":"","sentAt":"2026-11-25T18:30:00Z"}`, "configId", nil},
		{"request id too long", `{"v":1,"type":"retry","requestId":"` + strings.Repeat("r", 129) + `","userId":"u1","configId":"c1","sentAt":"2026-11-25T18:30:00Z"}`, "requestId", nil},
		{"credentials too long", `{"v":1,"type":"deploy","credentials":"` + strings.Repeat("AAAA", 2049) + `",` + base + `}`, "credentials", nil},
		{"empty body", ``, "", nil},
		{"null body", `null`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := message.Parse([]byte(tt.body))
			if tt.wantField == "-" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if tt.check != nil {
					tt.check(t, m)
				}
				return
			}
			var me *message.Error
			if !errors.As(err, &me) || me.Field != tt.wantField {
				t.Fatalf("got %v, want a *message.Error for field %q", err, tt.wantField)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := message.Message{
		V: message.Version, Type: message.Deploy, RequestID: "r1", UserID: "u1", ConfigID: "c1",
		SchemaVersion: 2, Credentials: "AQIDBA==", SentAt: time.Date(2026, 11, 25, 18, 30, 0, 5e6, time.UTC),
	}
	body, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !schemaAccepts(t, schema(t), body) {
		t.Errorf("the JSON Schema rejects what Marshal wrote: %s", body)
	}
	out, err := message.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	in.Credentials = ""
	if _, err := in.Marshal(); err == nil {
		t.Error("Marshal accepted a deploy without credentials")
	}
}

// ValidID is the one id rule; it agrees with the schema's $defs.id pattern on every case.
func TestValidID(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(docs, "message.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs struct {
			ID struct {
				Pattern string `json:"pattern"`
			} `json:"id"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Defs.ID.Pattern == "" {
		t.Fatalf("message.schema.json $defs.id.pattern: %q, %v", doc.Defs.ID.Pattern, err)
	}
	schemaID := regexp.MustCompile(doc.Defs.ID.Pattern)
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"uuid", "3f1c2a9e-7b1d-4c55-9a3e-0d2c4b6e8f10", true},
		{"every allowed punctuation", "a.b_c:d@e|f+g=h-i", true},
		{"one character", "x", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"129 characters", strings.Repeat("a", 129), false},
		{"hash (the table's key separator)", "user#1", false},
		{"space", "user 1", false},
		{"slash", "user/1", false},
		{"quote", `user"1`, false},
		{"newline after a valid id", "user\n", false},
		{"non-ASCII", "usér", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := message.ValidID(tt.id); got != tt.want {
				t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
			}
			if got := schemaID.MatchString(tt.id); got != tt.want {
				t.Errorf("schema pattern on %q = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}
