package message_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/message"
)

// FuzzParse holds Parse to the published JSON Schema: for every body, Parse accepts it exactly when
// docs/message.schema.json does, except for the one thing a JSON Schema cannot see (a duplicate
// member name), which Parse refuses. An accepted message re-encodes to a body that parses to the
// same message. The seed corpus is the documented examples plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		paths, _ := filepath.Glob(filepath.Join(docs, "examples", dir, "*.json"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	s := schema(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := message.Parse(body)
		byParse := err == nil
		bySchema := schemaAccepts(t, s, body)
		if byParse != bySchema {
			if !byParse && message.HasDuplicateMember(body) {
				return // the schema cannot see duplicates; Parse refuses them
			}
			t.Fatalf("Parse accepts=%v (err %v), schema accepts=%v, for %q", byParse, err, bySchema, body)
		}
		if !byParse {
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed message: %v", err)
		}
		m2, err := message.Parse(again)
		if err != nil || !m2.SentAt.Equal(m.SentAt) {
			t.Fatalf("round trip: %v, %v != %v", err, m2.SentAt, m.SentAt)
		}
		m2.SentAt = m.SentAt
		if m2 != m {
			t.Fatalf("round trip changed the message: %+v != %+v", m2, m)
		}
	})
}

// TestParseAgreesWithSchema pins the bodies on which Parse and the schema used to disagree: each
// is accepted or refused by both (a duplicate member by Parse alone, see FuzzParse).
func TestParseAgreesWithSchema(t *testing.T) {
	s := schema(t)
	const ids = `"v":1,"requestId":"r1","userId":"u1","configId":"c1"`
	cases := []struct {
		name   string
		body   string
		accept bool
		field  string // the field Parse names when it refuses
	}{
		{"base64 with CR LF", `{` + ids + `,"type":"deploy","credentials":"AQID\r\nBA==","sentAt":"2026-11-25T18:30:00Z"}`, false, "credentials"},
		{"null credentials on a retry", `{` + ids + `,"type":"retry","credentials":null,"sentAt":"2026-11-25T18:30:00Z"}`, false, "credentials"},
		{"null schemaVersion", `{` + ids + `,"type":"retry","schemaVersion":null,"sentAt":"2026-11-25T18:30:00Z"}`, false, "schemaVersion"},
		{"null sentAt", `{` + ids + `,"type":"retry","sentAt":null}`, false, "sentAt"},
		{"one-digit hour", `{` + ids + `,"type":"retry","sentAt":"2026-11-25T8:30:00Z"}`, false, "sentAt"},
		{"space for T", `{` + ids + `,"type":"retry","sentAt":"2026-11-25 18:30:00Z"}`, false, "sentAt"},
		{"no offset", `{` + ids + `,"type":"retry","sentAt":"2026-11-25T18:30:00"}`, false, "sentAt"},
		{"lower-case t and z", `{` + ids + `,"type":"retry","sentAt":"2026-11-25t18:30:00z"}`, true, ""},
		{"offset and long fraction", `{` + ids + `,"type":"retry","sentAt":"2026-11-25T18:30:00.1234567891+05:30"}`, true, ""},
		{"leap second at 23:59 UTC", `{` + ids + `,"type":"retry","sentAt":"2016-12-31T23:59:60Z"}`, true, ""},
		{"leap second at 23:59 UTC by offset", `{` + ids + `,"type":"retry","sentAt":"2017-01-01T00:59:60+01:00"}`, true, ""},
		{"leap second at another minute", `{` + ids + `,"type":"retry","sentAt":"2016-12-31T22:59:60Z"}`, false, "sentAt"},
		{"February 30", `{` + ids + `,"type":"retry","sentAt":"2026-02-30T18:30:00Z"}`, false, "sentAt"},
		{"offset hour 24", `{` + ids + `,"type":"retry","sentAt":"2026-11-25T18:30:00+24:00"}`, false, "sentAt"},
		{"duplicate userId, last one valid", `{` + ids + `,"type":"retry","userId":"u2","sentAt":"2026-11-25T18:30:00Z"}`, false, "userId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := message.Parse([]byte(c.body))
			if (err == nil) != c.accept {
				t.Fatalf("Parse: accept=%v err=%v, want accept=%v", err == nil, err, c.accept)
			}
			dup := message.HasDuplicateMember([]byte(c.body))
			if bySchema := schemaAccepts(t, s, []byte(c.body)); bySchema != c.accept && !dup {
				t.Errorf("schema accept=%v, Parse accept=%v", bySchema, c.accept)
			}
			if err != nil {
				var me *message.Error
				if !errors.As(err, &me) || me.Field != c.field {
					t.Errorf("Parse error %v, want field %s", err, c.field)
				}
				if dup && me.UserID != "" {
					t.Errorf("a body with two userIds names user %q; it must name none", me.UserID)
				}
				return
			}
			if c.name == "leap second at 23:59 UTC" && !m.SentAt.Equal(time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("leap second read as %v", m.SentAt)
			}
		})
	}
}
