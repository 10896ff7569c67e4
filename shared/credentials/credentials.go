package credentials

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Secret is the decrypted target of a deploy. Printing, formatting, JSON-encoding or logging it
// shows "[redacted]" for both fields: the key is a credential, and the URL is a decrypted value
// too (the app encrypted it; the status record and the logs never need it whole).
type Secret struct {
	URL       string
	DeployKey string
}

const redacted = "[redacted]"

// String redacts the URL and the deploy key.
func (s Secret) String() string {
	return fmt.Sprintf("{URL:%s DeployKey:%s}", redacted, redacted)
}

// Format redacts both fields for every verb, including %#v and %+v.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, s.String()) }

// GoString redacts both fields.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON redacts both fields.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"url": redacted, "deployKey": redacted})
}

// LogValue redacts both fields.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", redacted), slog.String("deployKey", redacted))
}

// plaintext is the wire form inside the ciphertext.
type plaintext struct {
	URL       string `json:"url"`
	DeployKey string `json:"deployKey"`
}

// ErrInvalid is wrapped when a ciphertext cannot be opened for this user and config: not base64,
// encrypted under another encryption context (another user's or config's), under another key, or
// not holding {"url","deployKey"}. It is permanent: retrying cannot help.
var ErrInvalid = errors.New("credentials: not valid for this user and config")

// Encrypter is the part of the KMS client Encrypt uses.
type Encrypter interface {
	Encrypt(ctx context.Context, params *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
}

// Decrypter is the part of the KMS client Decrypt uses.
type Decrypter interface {
	Decrypt(ctx context.Context, params *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

func encryptionContext(userID, configID string) map[string]string {
	return map[string]string{"userId": userID, "configId": configID}
}

// Encrypt seals s for (userID, configID) with the KMS key keyID and returns the standard base64
// ciphertext for the message's "credentials" field. It fails if s lacks a URL or key, or on any
// KMS error (wrapped).
func Encrypt(ctx context.Context, c Encrypter, keyID, userID, configID string, s Secret) (string, error) {
	if s.URL == "" || s.DeployKey == "" {
		return "", fmt.Errorf("credentials: encrypt for %s/%s: url and deploy key are required", userID, configID)
	}
	pt, err := json.Marshal(plaintext(s))
	if err != nil {
		return "", fmt.Errorf("credentials: encrypt for %s/%s: %w", userID, configID, err)
	}
	defer clear(pt)
	out, err := c.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             &keyID,
		Plaintext:         pt,
		EncryptionContext: encryptionContext(userID, configID),
	})
	if err != nil {
		return "", fmt.Errorf("credentials: encrypt for %s/%s: %w", userID, configID, err)
	}
	return base64.StdEncoding.EncodeToString(out.CiphertextBlob), nil
}

// Decrypt opens a base64 ciphertext for (userID, configID). Errors wrapping ErrInvalid are
// permanent (see ErrInvalid); any other error is a KMS or network failure and may be retried.
func Decrypt(ctx context.Context, c Decrypter, ciphertext, userID, configID string) (Secret, error) {
	blob, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil || len(blob) == 0 {
		return Secret{}, fmt.Errorf("credentials: decrypt for %s/%s: not base64: %w", userID, configID, ErrInvalid)
	}
	out, err := c.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    blob,
		EncryptionContext: encryptionContext(userID, configID),
	})
	if err != nil {
		var (
			invalid   *types.InvalidCiphertextException
			incorrect *types.IncorrectKeyException
		)
		if errors.As(err, &invalid) || errors.As(err, &incorrect) {
			return Secret{}, fmt.Errorf("credentials: decrypt for %s/%s: %w (%s)", userID, configID, ErrInvalid, kmsCode(err))
		}
		return Secret{}, fmt.Errorf("credentials: decrypt for %s/%s: %w", userID, configID, err)
	}
	defer clear(out.Plaintext)
	var p plaintext
	if err := json.Unmarshal(out.Plaintext, &p); err != nil || p.URL == "" || p.DeployKey == "" {
		// Never wrap the JSON error: it may quote the plaintext.
		return Secret{}, fmt.Errorf("credentials: decrypt for %s/%s: plaintext is not {\"url\",\"deployKey\"}: %w", userID, configID, ErrInvalid)
	}
	return Secret(p), nil
}

// kmsCode names the KMS exception without its message.
func kmsCode(err error) string {
	var code interface{ ErrorCode() string }
	if errors.As(err, &code) {
		return code.ErrorCode()
	}
	return "kms error"
}
