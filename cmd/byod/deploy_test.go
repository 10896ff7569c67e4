package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
)

// TestDeployCommand runs `byod deploy` through run() with the real CLI against local
// deployments: exit codes, the printed stages and errors, and that the key (a canary) appears
// nowhere in stdout, stderr or the temp root.
func TestDeployCommand(t *testing.T) {
	const secret = "c4n4ryc4n4ryc4n4ryc4n4ryc4n4ry0123456789abcdef"
	key := "cmd-cat-1|" + secret
	deployed := fmt.Sprintf("deployed BYOD package version %d to http://127.0.0.1:", bundle.Version)
	schema, err := bundle.ExpectedSchema()
	if err != nil {
		t.Fatal(err)
	}
	indexes := 0 // every index of a first deploy is backfilled
	for _, tb := range schema.Tables {
		indexes += len(tb.Indexes) + len(tb.SearchIndexes) + len(tb.VectorIndexes)
	}
	tests := []struct {
		name       string
		fail       convexlocal.FailMode
		envKey     string
		keyFile    string // contents; "" for none
		extraArgs  []string
		cache      bool // pass --compile-cache, a dir that does not exist yet
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "key from env", envKey: key, wantCode: 0,
			wantStdout: []string{"validating", "preflight", "preparing", "bundling", "pushing", "finishing", "verifying", deployed}},
		{name: "key from file, compile cache", keyFile: key + "\n", cache: true, wantCode: 0, wantStdout: []string{deployed}},
		{name: "backfill progress", envKey: key, fail: convexlocal.FailSlowBackfill, wantCode: 0, wantStdout: []string{"indexing", fmt.Sprintf("/%d]", indexes)}},
		{name: "classified failure", envKey: key, fail: convexlocal.FailStartPush500, wantCode: 1,
			wantStderr: []string{"failed (internal)", "detail: InternalServerError", "hint:", "retry:  yes"}},
		{name: "wrong key", envKey: "cmd-cat-1|" + strings.Repeat("0", 40), wantCode: 1,
			wantStderr: []string{"failed (invalid_deploy_key)", "BadAdminKey", "Regenerate the deploy key"}},
		{name: "no key", wantCode: 2, wantStderr: []string{"no key: set $CONVEX_DEPLOY_KEY or pass --key-file"}},
		{name: "key on the command line is refused", extraArgs: []string{"--key", key}, wantCode: 2, wantStderr: []string{"flag provided but not defined: -key"}},
		{name: "stray argument is refused", envKey: key, extraArgs: []string{key}, wantCode: 2, wantStderr: []string{"never given on the command line"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := convexlocaltest.Start(t, convexlocal.Options{AdminKey: key, Fail: tc.fail})
			t.Setenv(envDeployKey, tc.envKey)
			t.Setenv("SELF_HOSTED_HOSTS", "")
			root := t.TempDir()
			args := []string{"deploy", "--url", srv.URL(), "--temp-root", root}
			if tc.keyFile != "" {
				f := filepath.Join(t.TempDir(), "key")
				if err := os.WriteFile(f, []byte(tc.keyFile), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--key-file", f)
			}
			cache := filepath.Join(t.TempDir(), "compile-cache")
			if tc.cache {
				args = append(args, "--compile-cache", cache)
			}
			args = append(args, tc.extraArgs...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stdout.String()+stderr.String(), secret) {
				t.Fatalf("the key leaked:\n%s\n%s", stdout.String(), stderr.String())
			}
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Fatalf("left in the temp root: %v", entries)
			}
			if tc.wantCode == 0 && srv.State().PushCount != 1 {
				t.Fatalf("deployment pushed %d times", srv.State().PushCount)
			}
			if fi, err := os.Stat(cache); tc.cache && (err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700) {
				t.Fatalf("compile cache: %v %v, want a 0700 dir", fi, err)
			}
		})
	}
}
