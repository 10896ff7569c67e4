// Package wstoken signs and verifies the short-lived tokens a browser presents when it opens the
// status WebSocket (`wss://…/{stage}?token=…`).
//
// A token is `base64url(payload) "." base64url(mac)` with no padding, where payload is the JSON
// object {"sub": userID, "aud": audience, "iat": issued, "exp": expiry} (epoch seconds) and mac is
// HMAC-SHA256 over the ASCII bytes "byod-ws-v1." + base64url(payload), keyed with a shared secret
// of at least MinSecretLen bytes.
//
// Why this and not a JWT: one algorithm, fixed by the code, so there is no header to trust and no
// alg confusion; it is a dozen lines to produce in the app's TypeScript with node:crypto or
// WebCrypto (see docs/websocket.md); and it needs no dependency here.
//
// Invariants: Verify checks the MAC (constant-time) before it parses the payload, so nothing an
// attacker writes is interpreted unless it was signed; a token passes only with the right
// audience, a non-empty subject, exp > now and iat <= now+MaxClockSkew. Secrets and tokens are
// never part of an error message.
package wstoken

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MinSecretLen is the shortest HMAC key Sign and Verify accept (256 bits).
const MinSecretLen = 32

// MaxLen bounds the length of a token Verify will look at.
const MaxLen = 2048

// MaxClockSkew is how far in the future a token's iat may lie (the app server's clock and the
// Lambda's clock differ a little).
const MaxClockSkew = time.Minute

// macPrefix separates this MAC from any other use of the same key.
const macPrefix = "byod-ws-v1."

// Errors returned by Sign and Verify; test with errors.Is.
var (
	// ErrWeakSecret: the secret is shorter than MinSecretLen.
	ErrWeakSecret = errors.New("wstoken: secret shorter than 32 bytes")
	// ErrMalformed: not two base64url parts, too long, or a signed payload that is not valid claims.
	ErrMalformed = errors.New("wstoken: malformed token")
	// ErrSignature: the MAC does not match.
	ErrSignature = errors.New("wstoken: bad signature")
	// ErrExpired: exp <= now.
	ErrExpired = errors.New("wstoken: token expired")
	// ErrNotYetValid: iat is more than MaxClockSkew after now.
	ErrNotYetValid = errors.New("wstoken: token not yet valid")
	// ErrAudience: aud is not the expected audience.
	ErrAudience = errors.New("wstoken: wrong audience")
	// ErrInvalidClaims: Sign was given an empty user id or audience or a non-positive ttl.
	ErrInvalidClaims = errors.New("wstoken: invalid claims")
)

// Claims is what a token asserts.
type Claims struct {
	// Subject is the user id the connection belongs to.
	Subject string `json:"sub"`
	// Audience names the API the token is for (TOKEN_AUDIENCE).
	Audience string `json:"aud"`
	// IssuedAt and ExpiresAt are epoch seconds.
	IssuedAt  int64 `json:"iat"`
	ExpiresAt int64 `json:"exp"`
}

var b64 = base64.RawURLEncoding

// Sign returns a token for userID and audience aud, issued at now and valid for ttl.
// It returns ErrWeakSecret or ErrInvalidClaims (wrapped) when its inputs are unusable.
func Sign(secret []byte, userID, aud string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) < MinSecretLen {
		return "", ErrWeakSecret
	}
	if userID == "" || aud == "" || ttl <= 0 {
		return "", fmt.Errorf("%w: user id and audience must be set and ttl positive", ErrInvalidClaims)
	}
	payload, err := json.Marshal(Claims{
		Subject:   userID,
		Audience:  aud,
		IssuedAt:  now.Unix(),
		ExpiresAt: now.Add(ttl).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("wstoken: sign: %w", err)
	}
	p := b64.EncodeToString(payload)
	token := p + "." + b64.EncodeToString(mac(secret, p))
	if len(token) > MaxLen {
		return "", fmt.Errorf("%w: token longer than %d bytes", ErrInvalidClaims, MaxLen)
	}
	return token, nil
}

// Verify checks token against secret and the expected audience at time now and returns its claims.
// The error is one of the package's sentinels (possibly wrapped): ErrWeakSecret, ErrMalformed,
// ErrSignature, ErrExpired, ErrNotYetValid or ErrAudience.
func Verify(secret []byte, token, aud string, now time.Time) (Claims, error) {
	if len(secret) < MinSecretLen {
		return Claims{}, ErrWeakSecret
	}
	if token == "" || len(token) > MaxLen {
		return Claims{}, ErrMalformed
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok || p == "" || sig == "" || strings.Contains(sig, ".") {
		return Claims{}, ErrMalformed
	}
	gotMAC, err := b64.Strict().DecodeString(sig)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(gotMAC, mac(secret, p)) {
		return Claims{}, ErrSignature
	}
	payload, err := b64.Strict().DecodeString(p)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() || c.Subject == "" || c.ExpiresAt == 0 {
		return Claims{}, ErrMalformed
	}
	switch {
	case c.Audience != aud:
		return Claims{}, ErrAudience
	case now.Unix() >= c.ExpiresAt:
		return Claims{}, ErrExpired
	case c.IssuedAt > now.Add(MaxClockSkew).Unix():
		return Claims{}, ErrNotYetValid
	}
	return c, nil
}

// Expiry returns the claims' expiry as a time.
func (c Claims) Expiry() time.Time { return time.Unix(c.ExpiresAt, 0) }

func mac(secret []byte, payload string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(macPrefix))
	h.Write([]byte(payload))
	return h.Sum(nil)
}
