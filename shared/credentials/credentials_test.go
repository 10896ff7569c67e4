package credentials_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byod-deployer/byod-deployer/shared/credentials"
	"github.com/byod-deployer/byod-deployer/shared/local/standins"
)

// startKMS serves local-kms for this test and returns a client and a fresh key id.
func startKMS(t testing.TB) (*kms.Client, string) {
	t.Helper()
	k, err := standins.StartKMS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	c := kms.NewFromConfig(standins.Config(), func(o *kms.Options) { o.BaseEndpoint = aws.String(k.URL) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return c, *key.KeyMetadata.KeyId
}

const key = "prod:happy-otter-123|eyJ2MiI6ImFiY2RlZiJ9"

var secret = credentials.Secret{URL: "https://happy-otter-123.convex.cloud", DeployKey: key}

func TestDecrypt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, keyID := startKMS(t)
	forA, err := credentials.Encrypt(ctx, c, keyID, "user-a", "default", secret)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := base64.StdEncoding.DecodeString(forA)
	corrupted := bytes.Clone(blob)
	corrupted[len(corrupted)-5] ^= 0xff
	notJSON, err := c.Encrypt(ctx, &kms.EncryptInput{
		KeyId: &keyID, Plaintext: []byte("url=x key=y"),
		EncryptionContext: map[string]string{"userId": "user-a", "configId": "default"},
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		ciphertext string
		user, cfg  string
		wantErr    error
	}{
		{"same user and config", forA, "user-a", "default", nil},
		{"another user's message", forA, "user-b", "default", credentials.ErrInvalid},
		{"another config of the same user", forA, "user-a", "staging", credentials.ErrInvalid},
		{"corrupted ciphertext", base64.StdEncoding.EncodeToString(corrupted), "user-a", "default", credentials.ErrInvalid},
		{"not base64", "%%%", "user-a", "default", credentials.ErrInvalid},
		{"empty", "", "user-a", "default", credentials.ErrInvalid},
		{"plaintext is not the credentials JSON", base64.StdEncoding.EncodeToString(notJSON.CiphertextBlob), "user-a", "default", credentials.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := credentials.Decrypt(ctx, c, tt.ciphertext, tt.user, tt.cfg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), key) {
					t.Errorf("error quotes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if got != secret {
				t.Errorf("got URL %q, key match %v", got.URL, got.DeployKey == key)
			}
		})
	}
}

// A KMS that does not answer is a transient failure, not ErrInvalid.
func TestDecryptKMSDown(t *testing.T) {
	c := kms.NewFromConfig(standins.Config(), func(o *kms.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:1")
		o.RetryMaxAttempts = 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := credentials.Decrypt(ctx, c, base64.StdEncoding.EncodeToString([]byte("blob")), "u", "c")
	if err == nil || errors.Is(err, credentials.ErrInvalid) {
		t.Fatalf("got %v, want a transient (non-ErrInvalid) error", err)
	}
}

func TestEncryptRequiresBoth(t *testing.T) {
	tests := []struct {
		name string
		s    credentials.Secret
	}{
		{"no url", credentials.Secret{DeployKey: key}},
		{"no key", credentials.Secret{URL: "https://x.convex.cloud"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The check comes before any KMS call, so a nil client is never used.
			if _, err := credentials.Encrypt(context.Background(), nil, "k", "u", "c", tt.s); err == nil {
				t.Fatal("Encrypt accepted incomplete credentials")
			}
		})
	}
}

func TestSecretRedacts(t *testing.T) {
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("deploying", "target", secret)
	asJSON, err := json.Marshal(struct{ Target credentials.Secret }{secret})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		out  string
	}{
		{"String", secret.String()},
		{"%v", fmt.Sprintf("%v", secret)},
		{"%+v", fmt.Sprintf("%+v", secret)},
		{"%#v", fmt.Sprintf("%#v", secret)},
		{"%s", fmt.Sprintf("%s", secret)},
		{"%q", fmt.Sprintf("%q", secret)},
		{"%x", fmt.Sprintf("%x", secret)},
		{"pointer %+v", fmt.Sprintf("%+v", &secret)},
		{"inside a struct %+v", fmt.Sprintf("%+v", struct{ S credentials.Secret }{secret})},
		{"json.Marshal", string(asJSON)},
		{"slog JSON", logged.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.out, "eyJ2MiI6") || strings.Contains(tt.out, "happy-otter-123|") {
				t.Errorf("deploy key leaked: %s", tt.out)
			}
			if strings.Contains(tt.out, "happy-otter-123.convex.cloud") {
				t.Errorf("decrypted URL leaked: %s", tt.out)
			}
			if !strings.Contains(tt.out, "[redacted]") {
				t.Errorf("no redaction marker: %s", tt.out)
			}
		})
	}
}
