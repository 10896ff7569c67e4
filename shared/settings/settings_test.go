package settings

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// envSettings is what every function's settings type provides.
type envSettings interface{ Env() map[string]string }

// parsers are the functions' Parse functions, by function name.
var parsers = map[string]func(getenv func(string) string) (envSettings, error){
	"deployer":   func(g func(string) string) (envSettings, error) { return ParseDeployer(g) },
	"notifier":   func(g func(string) string) (envSettings, error) { return ParseNotifier(g) },
	"wsconnect":  func(g func(string) string) (envSettings, error) { return ParseWSConnect(g) },
	"deadletter": func(g func(string) string) (envSettings, error) { return ParseDeadLetter(g) },
}

// full sets every variable of every function to a value that is not its default.
var full = map[string]map[string]string{
	"deployer": {
		"LOG_LEVEL": "debug", "METRICS_NAMESPACE": "Test", "STATUS_TABLE": "status",
		"CONVEX_CLI_NODE_MODULES": "/opt/convex/node_modules", "NODE_BINARY": "/opt/node/bin/node",
		"DEPLOY_TIMEOUT": "1m30s", "LEASE_DURATION": "2h", "SELF_HOSTED_HOSTS": "a.example.com,b.example.com",
		"NODE_COMPILE_CACHE_DIR": "/var/cache/node",
	},
	"notifier": {"LOG_LEVEL": "warn", "CONNECTIONS_TABLE": "connections", "WEBSOCKET_ENDPOINT": "https://api.example.com/live"},
	"wsconnect": {
		"LOG_LEVEL": "error", "CONNECTIONS_TABLE": "connections", "STATUS_TABLE": "status",
		"TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:t", "TOKEN_AUDIENCE": "aud",
		"TOKEN_SECRET": strings.Repeat("k", 40),
	},
	"deadletter": {"LOG_LEVEL": "debug", "METRICS_NAMESPACE": "Test", "STATUS_TABLE": "status"},
}

func lookup(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// TestDeclarationsCoverEveryFunction: Vars, the Parse functions and these tests name the same
// functions, and every declared variable is exercised by full.
func TestDeclarationsCoverEveryFunction(t *testing.T) {
	vars := Vars()
	if got, want := slices.Sorted(maps.Keys(vars)), slices.Sorted(maps.Keys(parsers)); !slices.Equal(got, want) {
		t.Fatalf("Vars declares %v, Parse functions exist for %v", got, want)
	}
	for fn, vs := range vars {
		var names []string
		for _, v := range vs {
			names = append(names, v.Name)
		}
		if got, want := slices.Sorted(slices.Values(names)), slices.Sorted(maps.Keys(full[fn])); !slices.Equal(got, want) {
			t.Errorf("%s declares %v; the test sets %v", fn, got, want)
		}
	}
}

// TestEnvRoundTrip: what Env writes is what Parse read, so the stack and local mode (which
// write) and the functions (which read) cannot disagree about a name or a format.
func TestEnvRoundTrip(t *testing.T) {
	for fn, parse := range parsers {
		t.Run(fn, func(t *testing.T) {
			s, err := parse(lookup(full[fn]))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Env(); !maps.Equal(got, full[fn]) {
				t.Errorf("Env() = %v, want %v", got, full[fn])
			}
			again, err := parse(lookup(s.Env()))
			if err != nil || !reflect.DeepEqual(again, s) {
				t.Errorf("Parse(Env()) = %+v, %v; want %+v", again, err, s)
			}
		})
	}
}

// TestDefaults: an unset variable means exactly the Default its declaration states (with
// $TMPDIR expanded), the one docs/ARCHITECTURE.md shows.
func TestDefaults(t *testing.T) {
	for fn, vs := range Vars() {
		for _, v := range vs {
			if v.Default == "" {
				continue
			}
			t.Run(fn+"/"+v.Name, func(t *testing.T) {
				env := map[string]string{"TMPDIR": "/scratch"}
				for _, r := range vs {
					if r.Required {
						env[r.Name] = full[fn][r.Name]
					}
				}
				unset, err := parsers[fn](lookup(env))
				if err != nil {
					t.Fatal(err)
				}
				env[v.Name] = os.Expand(v.Default, lookup(env))
				set, err := parsers[fn](lookup(env))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(unset, set) {
					t.Errorf("unset: %+v; %s=%s: %+v", unset, v.Name, env[v.Name], set)
				}
			})
		}
	}
}

// TestRequired: each function names every missing required variable at once, prefixed with
// the function's name.
func TestRequired(t *testing.T) {
	for fn, vs := range Vars() {
		t.Run(fn, func(t *testing.T) {
			_, err := parsers[fn](lookup(nil))
			if err == nil {
				t.Fatal("parsed an empty environment")
			}
			if !strings.HasPrefix(err.Error(), fn+": environment: ") {
				t.Errorf("error %q does not start with %q", err, fn+": environment: ")
			}
			for _, v := range vs {
				if got := strings.Contains(err.Error(), v.Name+" is required"); got != v.Required {
					t.Errorf("error %q names %s as required: %v, want %v", err, v.Name, got, v.Required)
				}
			}
		})
	}
}

// TestDeployerTimeouts: the defaults nest as the lease argument needs: one deploy fits an
// invocation, and a lease outlives the invocation holding it.
func TestDeployerTimeouts(t *testing.T) {
	if !(DefaultDeployTimeout < DeployerFunctionTimeout && DeployerFunctionTimeout < DefaultLease) {
		t.Errorf("want DEPLOY_TIMEOUT %s < function timeout %s < LEASE_DURATION %s", DefaultDeployTimeout, DeployerFunctionTimeout, DefaultLease)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "", 5 * time.Minute: "5m", 90 * time.Second: "1m30s", 10 * time.Second: "10s", time.Hour: "1h",
		time.Hour + 10*time.Minute: "1h10m", 1500 * time.Millisecond: "1.5s", 3*time.Hour + 5*time.Second: "3h0m5s",
	} {
		got := formatDuration(d)
		if got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(got); d != 0 && (err != nil || back != d) {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", got, back, err, d)
		}
	}
}

// TestSecretRedacted: printing or logging settings never shows the token secret.
func TestSecretRedacted(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	w := WSConnect{StatusTable: "status", TokenSecret: Secret(key)}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("settings", "wsconnect", w, "secret", w.TokenSecret)
	for _, out := range []string{fmt.Sprint(w), fmt.Sprintf("%+v", w), fmt.Sprintf("%#v", w), fmt.Sprintf("%s", w.TokenSecret), logged.String()} {
		if strings.Contains(out, key) || !strings.Contains(out, "REDACTED") {
			t.Errorf("shows the secret or no redaction: %s", out)
		}
	}
	if string(w.TokenSecret) != key {
		t.Errorf("string(TokenSecret) = %q, want the key", string(w.TokenSecret))
	}
}

func TestList(t *testing.T) {
	for in, want := range map[string][]string{"": nil, " , ": nil, "a": {"a"}, " a.example.com, ,b.example.com ": {"a.example.com", "b.example.com"}} {
		if got := List(in); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", in, got, want)
		}
	}
}
