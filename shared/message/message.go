package message

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
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
	if name, _ := duplicateMember(json.NewDecoder(bytes.NewReader(body))); name != "" {
		// Checked before the identity fields are read: with two userIds, neither may be trusted.
		return Message{}, &Error{Field: name, Reason: "appears more than once"}
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
		// The decoder skips CR and LF; the schema's pattern (and KMS's output) has none.
		if _, err := base64.StdEncoding.DecodeString(c); err != nil || strings.ContainsAny(c, "\r\n") {
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
	if m.SentAt, err = parseDateTime(s); err != nil {
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

// str reads a string field: ok is false when absent, err non-nil when not a string (null is not
// a string: the schema refuses it, so Parse does too).
func str(raw map[string]json.RawMessage, name string) (s string, ok bool, err error) {
	v, ok := raw[name]
	if !ok {
		return "", false, nil
	}
	if bytes.Equal(v, []byte("null")) {
		return "", true, errors.New("null")
	}
	return s, true, json.Unmarshal(v, &s)
}

// integer reads an integer field; 1.0 is accepted as JSON has one number type.
func integer(raw map[string]json.RawMessage, name string) (n int, ok bool, err error) {
	v, ok := raw[name]
	if !ok {
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

// HasDuplicateMember reports whether body is JSON with an object, at any depth, that names one
// member twice. encoding/json keeps the last one silently, so {"userId":"a","userId":"b"} would
// be read as user b by one reader and user a by another: Parse refuses such a body.
func HasDuplicateMember(body []byte) bool {
	dup, _ := duplicateMember(json.NewDecoder(bytes.NewReader(body)))
	return dup != ""
}

// duplicateMember walks the decoder's tokens and returns the first member name that an object
// repeats ("" if none), or the decoder's error.
func duplicateMember(dec *json.Decoder) (string, error) {
	type frame struct {
		names map[string]bool // nil for an array
		key   bool            // the next token of this object is a member name
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].names != nil && stack[top].key {
			if name, ok := tok.(string); ok {
				if stack[top].names[name] {
					return name, nil
				}
				stack[top].names[name] = true
				stack[top].key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{names: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
			top--
		}
		if top < 0 {
			return "", nil
		}
		if stack[top].names != nil {
			stack[top].key = true // a value ended: a name or '}' comes next
		}
	}
}

// dateTime is RFC 3339's date-time (section 5.6) as docs/message.schema.json's sentAt pattern
// spells it: two-digit fields, T or t, Z or z or a ±hh:mm offset, any number of fraction digits.
var dateTime = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$`)

// parseDateTime reads an RFC 3339 date-time with the ranges the schema's date-time format checks,
// including a leap second (:60), which RFC 3339 allows only at 23:59 UTC. time.Parse is not used
// alone: it takes one-digit hours and refuses lower-case t and z and leap seconds.
func parseDateTime(s string) (time.Time, error) {
	p := dateTime.FindStringSubmatch(s)
	if p == nil {
		return time.Time{}, errors.New("not an RFC 3339 date-time")
	}
	day, err := time.Parse("2006-01-02", p[1])
	if err != nil {
		return time.Time{}, err
	}
	n := func(i int) int { v, _ := strconv.Atoi(p[i]); return v }
	h, m, sec := n(2), n(3), n(4)
	offset := 0
	if p[7] != "" {
		oh, om := n(8), n(9)
		if oh > 23 || om > 59 {
			return time.Time{}, errors.New("offset out of range")
		}
		offset = (oh*60 + om) * 60
		if p[7] == "-" {
			offset = -offset
		}
	}
	if h > 23 || m > 59 || sec > 60 {
		return time.Time{}, errors.New("time out of range")
	}
	var nanos int
	if frac := p[5]; frac != "" {
		digits := (frac[1:] + "000000000")[:9]
		nanos, _ = strconv.Atoi(digits)
	}
	leap := sec == 60
	if leap {
		utc := ((h*60+m)*60 - offset) / 60 % (24 * 60)
		if utc < 0 {
			utc += 24 * 60
		}
		if utc != 23*60+59 {
			return time.Time{}, errors.New("a leap second is only 23:59:60 UTC")
		}
		sec = 59
	}
	loc := time.UTC
	if p[7] != "" {
		loc = time.FixedZone("", offset)
	}
	t := time.Date(day.Year(), day.Month(), day.Day(), h, m, sec, nanos, loc)
	if leap {
		t = t.Add(time.Second) // Go has no :60; the instant is the next second's
	}
	return t, nil
}
