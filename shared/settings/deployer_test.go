package settings

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDeployer(t *testing.T) {
	base := map[string]string{"STATUS_TABLE": "status", "CONVEX_CLI_NODE_MODULES": "/opt/convex/node_modules"}
	// compileCache checks Node's compile cache: by default a directory under the temp root, so
	// warm invocations reuse it; NODE_COMPILE_CACHE_DIR moves it or turns it off.
	compileCache := func(want string) func(t *testing.T, s Deployer) {
		return func(t *testing.T, s Deployer) {
			if s.CompileCache != want {
				t.Errorf("CompileCache = %q, want %q", s.CompileCache, want)
			}
		}
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, s Deployer)
	}{
		{"defaults", base, "", func(t *testing.T, s Deployer) {
			if s.Timeout != 5*time.Minute || s.Lease != 7*time.Minute || s.SelfHostedHosts != nil ||
				s.CompileCache != "/tmp/byod-node-compile-cache" {
				t.Errorf("%+v", s)
			}
		}},
		{"overrides", merge(base, map[string]string{"DEPLOY_TIMEOUT": "90s", "LEASE_DURATION": "3m", "SELF_HOSTED_HOSTS": " a.example.com, ,b.example.com"}), "", func(t *testing.T, s Deployer) {
			if s.Timeout != 90*time.Second || s.Lease != 3*time.Minute || !slices.Equal(s.SelfHostedHosts, []string{"a.example.com", "b.example.com"}) {
				t.Errorf("%+v", s)
			}
		}},
		{"self-hosted host with port", merge(base, map[string]string{"SELF_HOSTED_HOSTS": "convex.internal:8443"}), "", func(t *testing.T, s Deployer) {
			if !slices.Equal(s.SelfHostedHosts, []string{"convex.internal:8443"}) {
				t.Errorf("%+v", s)
			}
		}},
		{"no table", map[string]string{"CONVEX_CLI_NODE_MODULES": "/x"}, "STATUS_TABLE is required", nil},
		{"bad duration", merge(base, map[string]string{"DEPLOY_TIMEOUT": "five minutes"}), `DEPLOY_TIMEOUT="five minutes"`, nil},
		{"lease not longer than the timeout", merge(base, map[string]string{"LEASE_DURATION": "5m"}), "must be longer than DEPLOY_TIMEOUT", nil},
		{"compile cache under TMPDIR", merge(base, map[string]string{"TMPDIR": "/scratch"}), "", compileCache("/scratch/byod-node-compile-cache")},
		{"compile cache: relative TMPDIR ignored", merge(base, map[string]string{"TMPDIR": "tmp"}), "", compileCache("/tmp/byod-node-compile-cache")},
		{"compile cache set", merge(base, map[string]string{"NODE_COMPILE_CACHE_DIR": "/tmp/cc/"}), "", compileCache("/tmp/cc")},
		{"compile cache off", merge(base, map[string]string{"NODE_COMPILE_CACHE_DIR": "off"}), "", compileCache("")},
		{"compile cache relative", merge(base, map[string]string{"NODE_COMPILE_CACHE_DIR": "cache"}), `NODE_COMPILE_CACHE_DIR="cache" is neither an absolute path nor "off"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseDeployer(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want …%s…", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}
