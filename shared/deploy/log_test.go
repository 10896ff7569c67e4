package deploy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/failure"
)

// TestErrorLogLeavesOutTheTarget: a real failed deploy whose error names the deployment (an
// unreachable URL), logged as slog JSON, names neither the URL, nor its host, nor the key's ident.
func TestErrorLogLeavesOutTheTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: the preflight cannot connect
	tg := Target{URL: down, Key: "logged-otter-321|" + strings.Repeat("x", 48)}
	_, derr, _ := deployTo(t, testEngine(t), tg, Options{})
	if derr == nil || ClassOf(derr) != failure.Unreachable || !strings.Contains(derr.Error(), down) {
		t.Fatalf("err = %v, want unreachable naming %s (the user's text names their deployment)", derr, down)
	}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Warn("deploy failed", "error", derr)
	u, _ := url.Parse(down)
	for _, word := range []string{down, u.Host, u.Hostname(), "logged-otter-321", strings.Repeat("x", 48)} {
		if strings.Contains(out.String(), word) {
			t.Errorf("the log names %q:\n%s", word, out.String())
		}
	}
	var rec struct {
		Error struct{ Class, Message string } `json:"error"`
	}
	if jerr := json.Unmarshal(out.Bytes(), &rec); jerr != nil || rec.Error.Class != string(failure.Unreachable) ||
		!strings.Contains(rec.Error.Message, "[deployment]") {
		t.Errorf("log record %s: want the class and the message with the target replaced (%v)", out.String(), jerr)
	}
}

func TestErrorLogValueReplacesEveryTargetWord(t *testing.T) {
	tg := Target{URL: "https://Happy-Otter-123.eu-west-1.convex.cloud", Key: "prod:happy-otter-123|c2VjcmV0"}
	e := (&Error{Class: failure.InvalidDeployKey, Message: "could not reach https://happy-otter-123.eu-west-1.convex.cloud",
		Detail: "BadDeployKey: invalid for deployment 'happy-otter-123' (key prod:happy-otter-123)"}).ForTarget(tg)
	got := e.LogValue().Resolve().String()
	if strings.Contains(strings.ToLower(got), "happy-otter") {
		t.Errorf("LogValue = %s, still names the deployment", got)
	}
	if !strings.Contains(got, "could not reach https://[deployment]") || !strings.Contains(got, "deployment '[deployment]'") {
		t.Errorf("LogValue = %s, want the target words replaced in place", got)
	}
	if bare := (&Error{Class: failure.Internal, Message: "plain"}).LogValue().Resolve().String(); !strings.Contains(bare, "plain") {
		t.Errorf("an error without a target logs %s", bare)
	}
}

func TestTargetLogsAndMarshalsRedacted(t *testing.T) {
	tg := Target{URL: "https://happy-otter-123.convex.cloud", Key: "prod:happy-otter-123|c2VjcmV0"}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "target", tg)
	j, err := json.Marshal(struct{ T Target }{tg})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{out.String(), string(j)} {
		if strings.Contains(s, "happy-otter") || strings.Contains(s, "c2VjcmV0") {
			t.Errorf("target shown: %s", s)
		}
	}
}
