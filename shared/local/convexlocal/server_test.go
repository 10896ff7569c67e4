package convexlocal_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
)

type httpResult struct {
	status int
	body   string
}

// Request body encodings for do: the CLI brotli-compresses its push calls; gzip is the other
// encoding the deployment reads.
const (
	encPlain  = ""
	encBrotli = "br"
	encGzip   = "gzip"
)

// do sends one request, its body compressed with encoding (encPlain, encBrotli or encGzip).
func do(tb testing.TB, method, url, auth string, body []byte, encoding string) httpResult {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		var buf bytes.Buffer
		var w io.WriteCloser
		switch encoding {
		case encBrotli:
			w = brotli.NewWriterLevel(&buf, 4)
		case encGzip:
			w = gzip.NewWriter(&buf)
		}
		if w != nil {
			if _, err := w.Write(body); err != nil {
				tb.Fatal(err)
			}
			if err := w.Close(); err != nil {
				tb.Fatal(err)
			}
			body = buf.Bytes()
		}
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if encoding != encPlain {
		req.Header.Set("Content-Encoding", encoding)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return httpResult{resp.StatusCode, strings.TrimSpace(string(data))}
}

const (
	badKeyBody    = `{"code":"BadAdminKey","message":"The provided admin key was invalid for this instance"}`
	forbiddenBody = `{"code":"OperationNotPermitted","message":"You do not have permission to perform this operation (deployment:deploy)."}`
)

func TestAuthAndPreflight(t *testing.T) {
	srv, key := start(t, convexlocal.Options{})
	forbidden, fkey := start(t, convexlocal.Options{Fail: convexlocal.FailForbidden})
	other := convexlocaltest.AdminKey(t, "local")
	hashes := func(k string) []byte { return []byte(`{"version":"1.48.0","adminKey":"` + k + `"}`) }
	ping := []byte(`{"path":"functions:ping","args":{}}`)
	const notFound = `{"status":"error","errorMessage":"Could not find public function for 'functions:ping'."}`
	cases := []struct {
		name       string
		method     string
		url        string
		auth       string
		body       []byte
		encoding   string
		wantStatus int
		wantBody   string // exact, or a prefix ending in "*"
	}{
		{"instance name", "GET", srv.URL() + "/instance_name", "", nil, encPlain, 200, "local"},
		{"check key", "GET", srv.URL() + "/api/check_admin_key", "Convex " + key, nil, encPlain, 200, ""},
		{"check prefixed key", "GET", srv.URL() + "/api/check_admin_key", "Convex prod:" + key, nil, encPlain, 200, ""},
		{"check wrong key", "GET", srv.URL() + "/api/check_admin_key", "Convex " + other, nil, encPlain, 401, badKeyBody},
		{"check without key", "GET", srv.URL() + "/api/check_admin_key", "", nil, encPlain, 401, badKeyBody},
		{"check forbidden key", "GET", forbidden.URL() + "/api/check_admin_key", "Convex " + fkey, nil, encPlain, 403, forbiddenBody},
		{"check key by POST", "POST", srv.URL() + "/api/check_admin_key", "Convex " + key, nil, encPlain, 200, ""},
		{"check wrong key by POST", "POST", srv.URL() + "/api/check_admin_key", "Convex " + other, nil, encPlain, 401, badKeyBody},
		{"hashes body key", "POST", srv.URL() + "/api/get_config_hashes", "", hashes(key), encPlain, 200,
			`{"config":{"authInfo":[],"functions":"convex/"},"moduleHashes":[],"nodeVersion":null,"udfServerVersion":null}`},
		{"hashes brotli body", "POST", srv.URL() + "/api/get_config_hashes", "", hashes(key), encBrotli, 200, `{"config":*`},
		{"hashes gzip body", "POST", srv.URL() + "/api/get_config_hashes", "", hashes(key), encGzip, 200, `{"config":*`},
		{"hashes bad gzip body", "POST", srv.URL() + "/api/get_config_hashes", "", nil, encGzip, 400, `{"code":"BadRequest",*`},
		// The deploy endpoints authenticate from the body: a right header does not rescue a wrong body key.
		{"hashes wrong body key", "POST", srv.URL() + "/api/get_config_hashes", "Convex " + key, hashes(other), encPlain, 401, badKeyBody},
		{"hashes header key only", "POST", srv.URL() + "/api/get_config_hashes", "Convex " + key, []byte(`{"version":"1.48.0"}`), encPlain, 200, `{"config":*`},
		{"start_push wrong key", "POST", srv.URL() + "/api/deploy2/start_push", "", []byte(`{"adminKey":"` + other + `"}`), encBrotli, 401, badKeyBody},
		{"start_push forbidden", "POST", forbidden.URL() + "/api/deploy2/start_push", "", []byte(`{"adminKey":"` + fkey + `"}`), encBrotli, 403, forbiddenBody},
		{"canonical urls", "GET", srv.URL() + "/api/v1/get_canonical_urls", "Convex " + key, nil, encPlain, 200,
			`{"convexCloudUrl":"` + srv.URL() + `","convexSiteUrl":"` + srv.URL() + `"}`},
		// Function calls: no key is a public call; a wrong admin key is refused like everywhere else.
		{"query without key", "POST", srv.URL() + "/api/query", "", ping, encPlain, 200, notFound},
		{"query wrong key", "POST", srv.URL() + "/api/query", "Convex " + other, ping, encPlain, 401, badKeyBody},
		{"query wrong key, lower-case scheme", "POST", srv.URL() + "/api/query", "convex " + other, ping, encPlain, 401, badKeyBody},
		{"function wrong key", "POST", srv.URL() + "/api/function", "Convex " + other, ping, encPlain, 401, badKeyBody},
		{"function right key", "POST", srv.URL() + "/api/function", "Convex " + key, ping, encPlain, 200, notFound},
		// A Bearer token is a user's token on a real deployment, never an admin key.
		{"query user token", "POST", srv.URL() + "/api/query", "Bearer " + other, ping, encPlain, 200, notFound},
		{"version api", "GET", srv.URL() + "/v1/version", "", nil, encPlain, 200, `{"message":null}`},
		{"unknown route", "GET", srv.URL() + "/api/nope", "", nil, encPlain, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := do(t, tc.method, tc.url, tc.auth, tc.body, tc.encoding)
			match := got.body == tc.wantBody
			if prefix, ok := strings.CutSuffix(tc.wantBody, "*"); ok {
				match = strings.HasPrefix(got.body, prefix)
			}
			if got.status != tc.wantStatus || !match {
				t.Errorf("got %d %s, want %d %s", got.status, got.body, tc.wantStatus, tc.wantBody)
			}
			assertNoKey(t, key, got.body)
		})
	}
}

// pushBody makes the real CLI write its start_push body for the basic project
// (--write-push-request) and returns it.
func pushBody(tb testing.TB, url, key string) []byte {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "push")
	res := runCLI(tb, newProject(tb, nil), nil, "deploy", "--yes", "--typecheck=disable", "--env-file", envFile(tb, url, key), "--write-push-request", out)
	if res.code != 0 {
		tb.Fatalf("write push request: exit %d\n%s", res.code, res.out)
	}
	body, err := os.ReadFile(out + ".json")
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// TestRaceBetweenPushes: a start_push supersedes an unfinished earlier one, whose wait and
// finish then report the race; the newer push completes.
func TestRaceBetweenPushes(t *testing.T) {
	srv, key := start(t, convexlocal.Options{})
	body := pushBody(t, srv.URL(), key)
	startPush := func() json.RawMessage {
		got := do(t, "POST", srv.URL()+"/api/deploy2/start_push", "", body, encBrotli)
		if got.status != 200 {
			t.Fatalf("start_push: %d %s", got.status, got.body)
		}
		return json.RawMessage(got.body)
	}
	call := func(path string, startResp json.RawMessage, encoding string) httpResult {
		var sp struct {
			SchemaChange json.RawMessage `json:"schemaChange"`
		}
		if err := json.Unmarshal(startResp, &sp); err != nil {
			t.Fatal(err)
		}
		req := map[string]any{"adminKey": key, "dryRun": false, "schemaChange": sp.SchemaChange, "timeoutMs": 10000, "startPush": startResp}
		data, _ := json.Marshal(req)
		return do(t, "POST", srv.URL()+path, "", data, encoding)
	}
	first, second := startPush(), startPush()
	cases := []struct {
		name     string
		path     string
		push     json.RawMessage
		encoding string
		status   int
		body     string
	}{
		{"first wait loses", "/api/deploy2/wait_for_schema", first, encPlain, 200, `{"type":"raceDetected"}`},
		{"first finish loses", "/api/deploy2/finish_push", first, encBrotli, 409, `{"code":"RaceDetected",*`},
		{"second wait completes", "/api/deploy2/wait_for_schema", second, encPlain, 200, `{"type":"complete"}`},
		{"second finish commits", "/api/deploy2/finish_push", second, encBrotli, 200, `{"authDiff":*`},
	}
	for _, tc := range cases {
		got := call(tc.path, tc.push, tc.encoding)
		prefix, _ := strings.CutSuffix(tc.body, "*")
		if got.status != tc.status || !strings.HasPrefix(got.body, prefix) {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, got.status, got.body, tc.status, tc.body)
		}
	}
	if st := srv.State(); st.PushCount != 1 || len(st.Tables) != 1 {
		t.Errorf("state after race: %+v", st)
	}
}

// TestHangNeverAnswersAndCloses: in hang mode a request is read but never answered; Close
// aborts it, returns, and leaves no goroutine behind. Introspection still answers.
func TestHangNeverAnswersAndCloses(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, err := convexlocal.New(convexlocal.Options{AdminKey: convexlocaltest.AdminKey(t, "local"), Fail: convexlocal.FailHang})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}

	if got := do(t, "GET", srv.URL()+"/_local/state", "", nil, encPlain); got.status != 200 {
		t.Errorf("/_local/state while hanging: %d %s", got.status, got.body)
	}
	wrote := make(chan struct{})
	answered := make(chan error, 1)
	go func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) },
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/instance_name", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			err = errors.New("got a response: " + resp.Status)
		} else {
			err = nil
		}
		answered <- err
	}()
	<-wrote
	select {
	case err := <-answered:
		t.Fatalf("request returned before Close: %v", err)
	default:
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Error(err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	tr.CloseIdleConnections()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling for goroutines to exit, not synchronising
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestNewAndListenRefuse(t *testing.T) {
	key := convexlocaltest.AdminKey(t, "local")
	cases := []struct {
		name string
		opts convexlocal.Options
		addr string
		want string
	}{
		{"no key", convexlocal.Options{}, "", "an admin key is required"},
		{"unknown failure mode", convexlocal.Options{AdminKey: key, Fail: "flaky"}, "", `unknown failure mode "flaky"`},
		{"all interfaces", convexlocal.Options{AdminKey: key}, "0.0.0.0:0", "not a loopback address"},
		{"empty host", convexlocal.Options{AdminKey: key}, ":0", "not a loopback address"},
		{"no port", convexlocal.Options{AdminKey: key}, "127.0.0.1", "missing port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := convexlocal.New(tc.opts)
			if err == nil {
				defer srv.Close()
				err = srv.Listen(tc.addr)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
			if err != nil {
				assertNoKey(t, key, err.Error())
			}
		})
	}
}

func TestParseFailMode(t *testing.T) {
	for _, m := range convexlocal.FailModes {
		if got, err := convexlocal.ParseFailMode(string(m)); err != nil || got != m {
			t.Errorf("ParseFailMode(%q) = %q, %v", m, got, err)
		}
	}
	if got, err := convexlocal.ParseFailMode("none"); err != nil || got != convexlocal.FailNone {
		t.Errorf("ParseFailMode(none) = %q, %v", got, err)
	}
	if _, err := convexlocal.ParseFailMode("flaky"); err == nil || !strings.Contains(err.Error(), "slow_backfill") {
		t.Errorf("ParseFailMode(flaky) error = %v, want the list of modes", err)
	}
}
