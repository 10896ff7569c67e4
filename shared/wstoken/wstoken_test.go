package wstoken_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/wstoken"
)

var (
	secret = bytes.Repeat([]byte("k"), wstoken.MinSecretLen)
	other  = bytes.Repeat([]byte("o"), wstoken.MinSecretLen)
	t0     = time.Unix(1_800_000_000, 0)
)

const aud = "byod-status"

func sign(t testing.TB, key []byte, user string, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := wstoken.Sign(key, user, aud, ttl, now)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// forge signs an arbitrary payload with the documented scheme, to test what Verify does with
// payloads Sign would never produce.
func forge(key []byte, payload string) string {
	p := base64.RawURLEncoding.EncodeToString([]byte(payload))
	h := hmac.New(sha256.New, key)
	h.Write([]byte("byod-ws-v1." + p))
	return p + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// flip changes one character of s at i to another base64url character.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestVerify(t *testing.T) {
	good := sign(t, secret, "user-a", time.Hour, t0)
	payload, mac, _ := strings.Cut(good, ".")
	otherUser := sign(t, secret, "user-b", time.Hour, t0)
	otherPayload, _, _ := strings.Cut(otherUser, ".")

	tests := []struct {
		name    string
		key     []byte
		token   string
		aud     string
		now     time.Time
		want    error
		wantSub string
	}{
		{name: "valid", token: good, now: t0, wantSub: "user-a"},
		{name: "valid just before expiry", token: good, now: t0.Add(time.Hour - time.Second), wantSub: "user-a"},
		{name: "valid within clock skew", token: good, now: t0.Add(-wstoken.MaxClockSkew), wantSub: "user-a"},
		{name: "expired at exp", token: good, now: t0.Add(time.Hour), want: wstoken.ErrExpired},
		{name: "expired long ago", token: good, now: t0.Add(48 * time.Hour), want: wstoken.ErrExpired},
		{name: "not yet valid", token: good, now: t0.Add(-wstoken.MaxClockSkew - time.Second), want: wstoken.ErrNotYetValid},
		{name: "wrong audience", token: good, aud: "other-api", now: t0, want: wstoken.ErrAudience},
		{name: "other secret", key: other, token: good, now: t0, want: wstoken.ErrSignature},
		{name: "weak secret", key: secret[:31], token: good, now: t0, want: wstoken.ErrWeakSecret},
		{name: "payload tampered first char", token: flip(payload, 0) + "." + mac, now: t0, want: wstoken.ErrSignature},
		{name: "payload tampered last char", token: flip(payload, len(payload)-1) + "." + mac, now: t0, want: wstoken.ErrSignature},
		{name: "mac tampered first char", token: payload + "." + flip(mac, 0), now: t0, want: wstoken.ErrSignature},
		{name: "mac tampered last char", token: payload + "." + flip(mac, len(mac)-2), now: t0, want: wstoken.ErrSignature},
		{name: "mac truncated to 30 bytes", token: payload + "." + mac[:len(mac)-3], now: t0, want: wstoken.ErrSignature},
		{name: "payload of other user with this mac", token: otherPayload + "." + mac, now: t0, want: wstoken.ErrSignature},
		{name: "empty", token: "", now: t0, want: wstoken.ErrMalformed},
		{name: "no dot", token: payload, now: t0, want: wstoken.ErrMalformed},
		{name: "empty mac", token: payload + ".", now: t0, want: wstoken.ErrMalformed},
		{name: "empty payload", token: "." + mac, now: t0, want: wstoken.ErrMalformed},
		{name: "three parts", token: good + "." + mac, now: t0, want: wstoken.ErrMalformed},
		{name: "padded mac", token: good + "=", now: t0, want: wstoken.ErrMalformed},
		{name: "std base64 in mac", token: payload + "." + strings.ReplaceAll(mac, mac[:1], "+"), now: t0, want: wstoken.ErrMalformed},
		{name: "too long", token: strings.Repeat("a", wstoken.MaxLen) + "." + mac, now: t0, want: wstoken.ErrMalformed},
		{name: "signed non-JSON", token: forge(secret, "not json"), now: t0, want: wstoken.ErrMalformed},
		{name: "signed JSON array", token: forge(secret, `["user-a"]`), now: t0, want: wstoken.ErrMalformed},
		{name: "signed empty subject", token: forge(secret, `{"sub":"","aud":"byod-status","iat":1800000000,"exp":1800003600}`), now: t0, want: wstoken.ErrMalformed},
		{name: "signed no exp", token: forge(secret, `{"sub":"u","aud":"byod-status","iat":1800000000}`), now: t0, want: wstoken.ErrMalformed},
		{name: "signed unknown field", token: forge(secret, `{"sub":"u","aud":"byod-status","iat":1800000000,"exp":1800003600,"admin":true}`), now: t0, want: wstoken.ErrMalformed},
		{name: "signed trailing data", token: forge(secret, `{"sub":"u","aud":"byod-status","iat":1800000000,"exp":1800003600}{}`), now: t0, want: wstoken.ErrMalformed},
		{name: "signed string exp", token: forge(secret, `{"sub":"u","aud":"byod-status","iat":1800000000,"exp":"1800003600"}`), now: t0, want: wstoken.ErrMalformed},
		{name: "hand-built per the documented scheme", token: forge(secret, `{"sub":"u-9","aud":"byod-status","iat":1800000000,"exp":1800000060}`), now: t0, wantSub: "u-9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			if key == nil {
				key = secret
			}
			a := tt.aud
			if a == "" {
				a = aud
			}
			c, err := wstoken.Verify(key, tt.token, a, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if c != (wstoken.Claims{}) {
					t.Errorf("claims on error = %+v, want zero", c)
				}
				return
			}
			if c.Subject != tt.wantSub || c.Audience != aud {
				t.Errorf("claims = %+v, want sub %q aud %q", c, tt.wantSub, aud)
			}
		})
	}
}

func TestSign(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
		user string
		aud  string
		ttl  time.Duration
		want error
	}{
		{name: "ok", key: secret, user: "u", aud: aud, ttl: time.Minute},
		{name: "weak secret", key: []byte("short"), user: "u", aud: aud, ttl: time.Minute, want: wstoken.ErrWeakSecret},
		{name: "empty user", key: secret, user: "", aud: aud, ttl: time.Minute, want: wstoken.ErrInvalidClaims},
		{name: "empty audience", key: secret, user: "u", aud: "", ttl: time.Minute, want: wstoken.ErrInvalidClaims},
		{name: "zero ttl", key: secret, user: "u", aud: aud, ttl: 0, want: wstoken.ErrInvalidClaims},
		{name: "huge user id", key: secret, user: strings.Repeat("u", wstoken.MaxLen), aud: aud, ttl: time.Minute, want: wstoken.ErrInvalidClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := wstoken.Sign(tt.key, tt.user, tt.aud, tt.ttl, t0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Sign error = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				return
			}
			c, err := wstoken.Verify(tt.key, tok, tt.aud, t0)
			if err != nil {
				t.Fatalf("Verify(Sign()) = %v", err)
			}
			want := wstoken.Claims{Subject: tt.user, Audience: tt.aud, IssuedAt: t0.Unix(), ExpiresAt: t0.Add(tt.ttl).Unix()}
			if c != want || !c.Expiry().Equal(t0.Add(tt.ttl)) {
				t.Errorf("claims = %+v, want %+v", c, want)
			}
			if strings.Contains(tok, "=") || strings.Count(tok, ".") != 1 {
				t.Errorf("token %q is not two unpadded base64url parts", tok)
			}
		})
	}
}

// TestNodeSigner checks that the JavaScript signers documented for the app (testdata/sign.mjs with
// node:crypto and testdata/sign-webcrypto.mjs with WebCrypto, the code in docs/websocket.md)
// produce tokens this package accepts, over a real Node run.
func TestNodeSigner(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to check the app's signer: %v", err)
	}
	type testCase struct {
		name   string
		script string
		user   string
		ttl    int
		want   error
	}
	var tests []testCase
	for _, script := range []string{"sign.mjs", "sign-webcrypto.mjs"} {
		tests = append(tests,
			testCase{name: script + " valid", script: script, user: "user_2abc", ttl: 3600},
			testCase{name: script + " unicode user id", script: script, user: "usér-ü", ttl: 60},
			testCase{name: script + " expired", script: script, user: "u", ttl: -1, want: wstoken.ErrExpired},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(node, "testdata/"+tt.script, tt.user, aud, fmt.Sprint(tt.ttl), fmt.Sprint(t0.Unix()))
			cmd.Env = append(os.Environ(), "WSTOKEN_SECRET_HEX="+hex.EncodeToString(secret))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node sign.mjs: %v", err)
			}
			c, err := wstoken.Verify(secret, string(out), aud, t0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(node token) error = %v, want %v", err, tt.want)
			}
			if tt.want == nil && c.Subject != tt.user {
				t.Errorf("subject = %q, want %q", c.Subject, tt.user)
			}
		})
	}
}

// TestDocumentedSigners checks that docs/websocket.md shows the signers TestNodeSigner runs.
func TestDocumentedSigners(t *testing.T) {
	doc, err := os.ReadFile("../../docs/websocket.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{"sign.mjs", "sign-webcrypto.mjs"} {
		t.Run(script, func(t *testing.T) {
			src, err := os.ReadFile("testdata/" + script)
			if err != nil {
				t.Fatal(err)
			}
			code, _, ok := strings.Cut(string(src), "\nconst [userId")
			if !ok {
				t.Fatalf("%s: no command-line part to cut off", script)
			}
			var lines []string
			for _, l := range strings.Split(code, "\n") {
				if len(lines) == 0 && (l == "" || strings.HasPrefix(l, "//")) {
					continue // the header comment
				}
				lines = append(lines, l)
			}
			code = strings.TrimSpace(strings.Join(lines, "\n"))
			if !strings.Contains(string(doc), code) {
				t.Errorf("docs/websocket.md does not show %s's code:\n%s", script, code)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	tok := sign(b, secret, "user-a", time.Hour, t0)
	for b.Loop() {
		if _, err := wstoken.Verify(secret, tok, aud, t0); err != nil {
			b.Fatal(err)
		}
	}
}
