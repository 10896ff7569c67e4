package message

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"time"
)

// Version is the message version this code reads and writes (field "v").
const Version = 1

// Type is what a message asks for.
type Type string

// The message types.
const (
	// Deploy installs the image's schema version into the deployment named by the credentials.
	Deploy Type = "deploy"
	// Retry repeats the last deploy of a (user, config) whose status is failed; it may carry new
	// credentials, otherwise the ones of the last deploy are used.
	Retry Type = "retry"
)

// MaxCredentialsLen bounds the base64 ciphertext (a KMS ciphertext of a 4 KiB plaintext is
// about 4.2 KiB; base64 adds a third).
const MaxCredentialsLen = 8192

// Message is one deploy request.
type Message struct {
	V         int    `json:"v"`
	Type      Type   `json:"type"`
	RequestID string `json:"requestId"`
	UserID    string `json:"userId"`
	ConfigID  string `json:"configId"`
	// SchemaVersion is the version the app expects; 0 means "whatever the deployer carries".
	SchemaVersion int `json:"schemaVersion,omitempty"`
	// Credentials is the base64 KMS ciphertext of {"url","deployKey"} (see package credentials),
	// encrypted with the context {userId, configId}. Required for deploy, optional for retry.
	Credentials string    `json:"credentials,omitempty"`
	SentAt      time.Time `json:"sentAt"`
}

// GroupID is the FIFO MessageGroupId: one user's deploys never run concurrently.
func (m Message) GroupID() string { return m.UserID }

// DeduplicationID is the FIFO MessageDeduplicationId.
func (m Message) DeduplicationID() string { return m.RequestID }

// Marshal validates m and encodes it. It returns an *Error if m would be rejected by Parse.
func (m Message) Marshal() ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("message: encode: %w", err)
	}
	if _, err := Parse(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// Error is a rejected message. Field is the JSON field at fault ("" for the body as a whole).
// UserID, ConfigID and RequestID are the identity fields that were present and well-formed, even
// though the message as a whole was rejected.
type Error struct {
	Field     string
	Reason    string
	UserID    string
	ConfigID  string
	RequestID string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "message: " + e.Reason
	}
	return fmt.Sprintf("message: field %s: %s", e.Field, e.Reason)
}

// Identifiable reports whether the rejected message names a (user, config, request) well enough
// to record the failure on that user's status.
func (e *Error) Identifiable() bool {
	return e.UserID != "" && e.ConfigID != "" && e.RequestID != ""
}

// idPattern is what user, config and request ids may contain: printable ASCII without '#' (the
// status table's key separator), whitespace or quotes; at most 128 characters (the FIFO
// deduplication id limit). Keep in sync with docs/message.schema.json ($defs.id.pattern; the
// tests check it) and IDRule.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:@|+=-]{1,128}$`)

// IDRule says in words what ValidID accepts, for error messages.
const IDRule = "1-128 characters of A-Z a-z 0-9 . _ : @ | + = -"

// ValidID reports whether s is a valid user, config or request id (IDRule). Every consumer of
// ids from outside (the WebSocket token's subject, the local dev API) checks them with it, so
// the rule lives in one place.
func ValidID(s string) bool { return idPattern.MatchString(s) }

var fields = map[string]bool{
	"v": true, "type": true, "requestId": true, "userId": true, "configId": true,
	"schemaVersion": true, "credentials": true, "sentAt": true,
}

// Parse decodes and validates one message body. Every rejection is an *Error.
func Parse(body []byte) (Message, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return Message{}, &Error{Reason: "body is not a JSON object"}
	}
	e := &Error{
		UserID:    identity(raw, "userId"),
		ConfigID:  identity(raw, "configId"),
		RequestID: identity(raw, "requestId"),
	}
	fail := func(field, format string, args ...any) (Message, error) {
		e.Field, e.Reason = field, fmt.Sprintf(format, args...)
		return Message{}, e
	}
	for _, name := range sortedKeys(raw) {
		if !fields[name] {
			return fail(name, "unknown field")
		}
	}

	var m Message
	v, ok, err := integer(raw, "v")
	switch {
	case !ok:
		return fail("v", "required")
	case err != nil:
		return fail("v", "must be an integer")
	case v != Version:
		return fail("v", "unsupported version %d: this deployer reads version %d", v, Version)
	}
	m.V = v

	t, ok, err := str(raw, "type")
	switch {
	case !ok:
		return fail("type", "required")
	case err != nil:
		return fail("type", "must be a string")
	case Type(t) != Deploy && Type(t) != Retry:
		return fail("type", "unknown type %q: want deploy or retry", t)
	}
	m.Type = Type(t)

	for _, f := range []struct {
		name string
		dst  *string
	}{{"requestId", &m.RequestID}, {"userId", &m.UserID}, {"configId", &m.ConfigID}} {
		s, ok, err := str(raw, f.name)
		switch {
		case !ok:
			return fail(f.name, "required")
		case err != nil:
			return fail(f.name, "must be a string")
		case !idPattern.MatchString(s):
			return fail(f.name, "must be "+IDRule)
		}
		*f.dst = s
	}

	if sv, ok, err := integer(raw, "schemaVersion"); ok {
		if err != nil || sv < 1 {
			return fail("schemaVersion", "must be a positive integer")
		}
		m.SchemaVersion = sv
	}

	c, ok, err := str(raw, "credentials")
	switch {
	case !ok && m.Type == Deploy:
		return fail("credentials", "required for type deploy")
	case !ok:
	case err != nil:
		return fail("credentials", "must be a string")
	case c == "" || len(c) > MaxCredentialsLen:
		return fail("credentials", "must be 1-%d characters of base64", MaxCredentialsLen)
	default:
		if _, err := base64.StdEncoding.DecodeString(c); err != nil {
			return fail("credentials", "must be standard base64 (the KMS CiphertextBlob)")
		}
		m.Credentials = c
	}

	s, ok, err := str(raw, "sentAt")
	switch {
	case !ok:
		return fail("sentAt", "required")
	case err != nil:
		return fail("sentAt", "must be a string")
	}
	if m.SentAt, err = time.Parse(time.RFC3339Nano, s); err != nil {
		return fail("sentAt", "must be an RFC 3339 date-time, e.g. 2026-11-25T18:30:00Z")
	}
	return m, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// str reads a string field: ok is false when absent (or null), err non-nil when not a string.
func str(raw map[string]json.RawMessage, name string) (s string, ok bool, err error) {
	v, ok := raw[name]
	if !ok || bytes.Equal(v, []byte("null")) {
		return "", false, nil
	}
	return s, true, json.Unmarshal(v, &s)
}

// integer reads an integer field; 1.0 is accepted as JSON has one number type.
func integer(raw map[string]json.RawMessage, name string) (n int, ok bool, err error) {
	v, ok := raw[name]
	if !ok || bytes.Equal(v, []byte("null")) {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f != float64(int(f)) {
		return 0, true, fmt.Errorf("not an integer")
	}
	return int(f), true, nil
}

// identity returns a well-formed id field or "".
func identity(raw map[string]json.RawMessage, name string) string {
	s, ok, err := str(raw, name)
	if !ok || err != nil || !idPattern.MatchString(s) {
		return ""
	}
	return s
}
