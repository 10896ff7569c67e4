package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes and the test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLocalConvexServes: the first line of stdout is the URL; the deployment answers there with
// the key from the environment; cancelling the context stops it with exit code 0; the key is
// never printed.
func TestLocalConvexServes(t *testing.T) {
	key := convexlocaltest.AdminKey(t, "demo")
	t.Setenv(envAdminKey, key)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"local-convex", "--addr", "127.0.0.1:0", "--fail", "forbidden"}, outW, &stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line: %v (stderr: %s)", err, stderr.String())
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line = %q, want http://127.0.0.1:PORT", line)
	}
	cases := []struct {
		name, path, auth string
		status           int
		body             string
	}{
		{"instance name from the key", "/instance_name", "", 200, "demo"},
		{"forbidden mode from --fail", "/api/check_admin_key", "Convex " + key, 403, "OperationNotPermitted"},
		{"wrong key", "/api/check_admin_key", "Convex demo|00", 401, "BadAdminKey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", url+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
				t.Errorf("GET %s = %d %s, want %d containing %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
			}
		})
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit code %d, want 0; stderr:\n%s", c, stderr.String())
	}
	if rest, _ := io.ReadAll(outR); len(rest) != 0 {
		t.Errorf("stdout after the URL: %q", rest)
	}
	logs := stderr.String()
	if !strings.Contains(logs, `"path":"/instance_name"`) {
		t.Errorf("stderr lacks the request log:\n%s", logs)
	}
	_, secret, _ := strings.Cut(key, "|")
	if strings.Contains(logs, secret) {
		t.Errorf("stderr contains the key:\n%s", logs)
	}
}

func TestLocalConvexRefuses(t *testing.T) {
	cases := []struct {
		name string
		key  string
		args []string
		code int
		want string
	}{
		{"no key", "", []string{"--addr", "127.0.0.1:0"}, 2, "CONVEX_SELF_HOSTED_ADMIN_KEY is not set"},
		{"non-loopback address", "local|ab", []string{"--addr", "0.0.0.0:0"}, 1, "not a loopback address"},
		{"unknown failure mode", "local|ab", []string{"--fail", "flaky"}, 2, `unknown failure mode "flaky"`},
		{"stray argument", "local|ab", []string{"extra"}, 2, "unexpected arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envAdminKey, tc.key)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"local-convex"}, tc.args...), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.code, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}
