package main

import (
	"strings"
	"testing"
)

// TestSettingsCompileCache: Node's compile cache defaults to a directory under the temp root, so
// warm invocations reuse it; NODE_COMPILE_CACHE_DIR moves it or turns it off.
func TestSettingsCompileCache(t *testing.T) {
	base := map[string]string{"STATUS_TABLE": "status", "CONVEX_CLI_NODE_MODULES": "/opt/convex/node_modules"}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "default", env: base, want: "/tmp/byod-node-compile-cache"},
		{name: "default under TMPDIR", env: merge(base, map[string]string{"TMPDIR": "/scratch"}), want: "/scratch/byod-node-compile-cache"},
		{name: "relative TMPDIR ignored", env: merge(base, map[string]string{"TMPDIR": "tmp"}), want: "/tmp/byod-node-compile-cache"},
		{name: "set", env: merge(base, map[string]string{"NODE_COMPILE_CACHE_DIR": "/tmp/cc/"}), want: "/tmp/cc"},
		{name: "off", env: merge(base, map[string]string{"NODE_COMPILE_CACHE_DIR": "off"}), want: ""},
		{name: "relative", env: merge(base, map[string]string{"NODE_COMPILE_CACHE_DIR": "cache"}), wantErr: `NODE_COMPILE_CACHE_DIR="cache" is neither an absolute path nor "off"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := settingsFrom(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want …%s…", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.CompileCache != tc.want {
				t.Fatalf("CompileCache = %q, want %q", s.CompileCache, tc.want)
			}
		})
	}
}
