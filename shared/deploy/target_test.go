package deploy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/convexcli"
	"github.com/byod-deployer/byod-deployer/shared/failure"
)

func TestValidate(t *testing.T) {
	const secret = "|0123456789abcdef"
	self := []string{"convex.example.org", "convex.internal:8443", "127.0.0.1:3210", "[::1]:3211"}
	tests := []struct {
		name      string
		url, key  string
		loopback  bool   // Engine.Loopback
		wantErr   string // "" for valid
		wantBase  string
		wantCloud bool
	}{
		{name: "cloud", url: "https://happy-cat-123.convex.cloud", key: "prod:happy-cat-123" + secret, wantBase: "https://happy-cat-123.convex.cloud", wantCloud: true},
		{name: "cloud trailing slash, upper case", url: "https://Happy-Cat-123.convex.cloud/", key: "prod:happy-cat-123" + secret, wantBase: "https://happy-cat-123.convex.cloud", wantCloud: true},
		{name: "cloud region", url: "https://happy-cat-123.eu-west-1.convex.cloud", key: "prod:happy-cat-123" + secret, wantBase: "https://happy-cat-123.eu-west-1.convex.cloud", wantCloud: true},
		{name: "cloud dev key", url: "https://happy-cat-123.convex.cloud", key: "dev:happy-cat-123" + secret, wantBase: "https://happy-cat-123.convex.cloud", wantCloud: true},
		{name: "cloud key for another deployment", url: "https://happy-cat-123.convex.cloud", key: "prod:sad-dog-456" + secret, wantErr: `for deployment "sad-dog-456", not for "happy-cat-123"`},
		{name: "cloud over http", url: "http://happy-cat-123.convex.cloud", key: "prod:happy-cat-123" + secret, wantErr: "must use https"},
		{name: "cloud with port", url: "https://happy-cat-123.convex.cloud:8443", key: "prod:happy-cat-123" + secret, wantErr: "no port"},
		{name: "site host", url: "https://happy-cat-123.convex.site", key: "prod:happy-cat-123" + secret, wantErr: "HTTP actions address"},
		{name: "self-hosted", url: "https://convex.example.org", key: "convex-self-hosted" + secret, wantBase: "https://convex.example.org"},
		{name: "self-hosted, port 443 spelled out", url: "https://convex.example.org:443", key: "convex-self-hosted" + secret, wantBase: "https://convex.example.org:443"},
		{name: "self-hosted on a port not listed", url: "https://convex.example.org:8443", key: "convex-self-hosted" + secret, wantErr: "convex.example.org:8443 is neither"},
		{name: "self-hosted listed with its port", url: "https://Convex.Internal:8443", key: "convex-self-hosted" + secret, wantBase: "https://convex.internal:8443"},
		{name: "self-hosted without the listed port", url: "https://convex.internal", key: "convex-self-hosted" + secret, wantErr: "convex.internal:443 is neither"},
		{name: "self-hosted, listed port with leading zero", url: "https://convex.internal:08443", key: "convex-self-hosted" + secret, wantBase: "https://convex.internal:08443"},
		{name: "loopback listed with its port", url: "http://127.0.0.1:3210", key: "local" + secret, wantBase: "http://127.0.0.1:3210"},
		{name: "loopback on a port not listed", url: "http://127.0.0.1:3212", key: "local" + secret, wantErr: "127.0.0.1:3212 is neither"},
		{name: "loopback IPv6 listed", url: "http://[::1]:3211", key: "local" + secret, wantBase: "http://[::1]:3211"},
		{name: "localhost is not implied", url: "http://localhost:3210", key: "local" + secret, wantErr: "localhost:3210 is neither"},
		{name: "loopback mode, any port", url: "http://127.0.0.1:4000", key: "local" + secret, loopback: true, wantBase: "http://127.0.0.1:4000"},
		{name: "loopback mode, localhost", url: "http://localhost:3210", key: "local" + secret, loopback: true, wantBase: "http://localhost:3210"},
		{name: "loopback mode allows no other host", url: "https://convex.internal:9000", key: "x" + secret, loopback: true, wantErr: "convex.internal:9000 is neither"},
		{name: "plain http elsewhere", url: "http://convex.example.org", key: "x" + secret, wantErr: "must use https"},
		{name: "host not allowed", url: "https://evil.example.com", key: "x" + secret, wantErr: "neither a Convex cloud deployment nor an allowed self-hosted host"},
		{name: "user info", url: "https://u:p@happy-cat-123.convex.cloud", key: "prod:happy-cat-123" + secret, wantErr: "user name or password"},
		{name: "query", url: "https://happy-cat-123.convex.cloud?x=1", key: "prod:happy-cat-123" + secret, wantErr: "query or a fragment"},
		{name: "empty query", url: "https://happy-cat-123.convex.cloud?", key: "prod:happy-cat-123" + secret, wantErr: "query or a fragment"},
		{name: "fragment", url: "https://happy-cat-123.convex.cloud#x", key: "prod:happy-cat-123" + secret, wantErr: "query or a fragment"},
		{name: "path", url: "https://happy-cat-123.convex.cloud/api", key: "prod:happy-cat-123" + secret, wantErr: "must not have a path"},
		{name: "ftp", url: "ftp://happy-cat-123.convex.cloud", key: "prod:happy-cat-123" + secret, wantErr: "must use https"},
		{name: "not a URL", url: "happy-cat-123.convex.cloud", key: "prod:happy-cat-123" + secret, wantErr: "not an absolute URL"},
		{name: "key without secret", url: "https://happy-cat-123.convex.cloud", key: "prod:happy-cat-123", wantErr: "not a Convex deploy key"},
		{name: "key with newline", url: "https://happy-cat-123.convex.cloud", key: "prod:happy-cat-123|ab\nCONVEX_DEPLOYMENT=x", wantErr: "not a Convex deploy key"},
		{name: "key with space", url: "https://happy-cat-123.convex.cloud", key: "prod:happy-cat-123|ab cd", wantErr: "not a Convex deploy key"},
		{name: "project key", url: "https://happy-cat-123.convex.cloud", key: "project:team:proj" + secret, wantErr: "is a project key"},
		{name: "preview team key", url: "https://happy-cat-123.convex.cloud", key: "preview:team:proj" + secret, wantErr: "is a preview key"},
		{name: "unknown key type", url: "https://happy-cat-123.convex.cloud", key: "admin:happy-cat-123" + secret, wantErr: "is a admin key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := validate(Target{URL: tc.url, Key: tc.key}, self, tc.loopback)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Message, tc.wantErr) || err.Class != failure.InvalidTarget || err.Retryable {
					t.Fatalf("validate = %+v, %v; want invalid_target %q", tg, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "0123456789abcdef") {
					t.Fatalf("error shows the key: %v", err)
				}
				return
			}
			if err != nil || tg.base != tc.wantBase || tg.cloud != tc.wantCloud {
				t.Fatalf("validate = %+v, %v; want base %s cloud %v", tg, err, tc.wantBase, tc.wantCloud)
			}
		})
	}
}

func TestParseHosts(t *testing.T) {
	tests := []struct {
		name, list string
		want       []string
		wantErr    []string // substrings of the error, nil for none
	}{
		{name: "empty", list: ""},
		{name: "blanks skipped, trimmed", list: " convex.internal, ,convex.internal:8443 ,[::1]:3210,[fd00::1]", want: []string{"convex.internal", "convex.internal:8443", "[::1]:3210", "[fd00::1]"}},
		{name: "scheme", list: "https://convex.internal", wantErr: []string{`"https://convex.internal"`, "no scheme"}},
		{name: "path", list: "convex.internal/api", wantErr: []string{"no scheme, path or user"}},
		{name: "user", list: "me@convex.internal", wantErr: []string{"no scheme, path or user"}},
		{name: "port out of range", list: "convex.internal:70000", wantErr: []string{"1 to 65535"}},
		{name: "port zero", list: "convex.internal:0", wantErr: []string{"1 to 65535"}},
		{name: "port not a number", list: "convex.internal:https", wantErr: []string{"1 to 65535"}},
		{name: "empty port", list: "convex.internal:", wantErr: []string{"1 to 65535"}},
		{name: "bare IPv6", list: "::1", wantErr: []string{"[address]"}},
		{name: "any port on loopback", list: "127.0.0.1:*,localhost:*", want: []string{"127.0.0.1:*", "localhost:*"}},
		{name: "any port elsewhere", list: "convex.internal:*", wantErr: []string{"1 to 65535"}},
		{name: "no host", list: ":8443", wantErr: []string{"1 to 65535"}},
		{name: "every bad entry named", list: "ok.example.org,a:1:2,b:x", wantErr: []string{`"a:1:2"`, `"b:x"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHosts(tc.list)
			if tc.wantErr == nil {
				if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Fatalf("ParseHosts(%q) = %q, %v; want %q", tc.list, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrHostEntry) || got != nil {
				t.Fatalf("ParseHosts(%q) = %q, %v; want an ErrHostEntry", tc.list, got, err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestHostEntry(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://127.0.0.1:3210", "127.0.0.1:3210"},
		{"http://LocalHost", "localhost:80"},
		{"https://convex.internal", "convex.internal:443"},
		{"https://[::1]:8443/", "[::1]:8443"},
		{"ftp://convex.internal", ""},
		{"convex.internal", ""},
	}
	for _, tc := range tests {
		got, err := HostEntry(tc.url)
		if tc.want == "" {
			if !errors.Is(err, ErrHostEntry) {
				t.Errorf("HostEntry(%q) = %q, %v; want an ErrHostEntry", tc.url, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("HostEntry(%q) = %q, %v; want %q", tc.url, got, err, tc.want)
			continue
		}
		// The entry allows that URL and nothing else on the host.
		if _, verr := validate(Target{URL: tc.url, Key: "local|0123456789"}, []string{got}, false); verr != nil {
			t.Errorf("%s not allowed by its own entry %q: %v", tc.url, got, verr)
		}
	}
}

func TestTargetStringRedacts(t *testing.T) {
	tg := Target{URL: "https://happy-cat-123.convex.cloud", Key: "prod:happy-cat-123|s3cr3t"}
	for _, s := range []string{tg.String(), tg.GoString()} {
		if strings.Contains(s, "s3cr3t") || !strings.Contains(s, "prod:happy-cat-123|[REDACTED]") {
			t.Fatalf("%q", s)
		}
	}
}

// TestPreflight runs the preflight against an httptest deployment that answers each way.
func TestPreflight(t *testing.T) {
	const key = "local|00112233"
	type answer struct {
		status int
		body   string
	}
	tests := []struct {
		name          string
		instance, chk answer
		hang          bool
		class         failure.Class // "" for a pass
		retryable     bool
		detail        string
	}{
		{name: "healthy", instance: answer{200, "local"}, chk: answer{200, ""}},
		{name: "no key check endpoint", instance: answer{200, "local"}, chk: answer{404, ""}},
		{name: "not a deployment", instance: answer{404, ""}, class: failure.Unreachable},
		{name: "deployment down", instance: answer{503, "upstream"}, class: failure.Unreachable, retryable: true, detail: "upstream"},
		{name: "bad key", instance: answer{200, "local"}, chk: answer{401, `{"code":"BadAdminKey","message":"The provided admin key was invalid for this instance"}`},
			class: failure.InvalidDeployKey, detail: "BadAdminKey: The provided admin key was invalid"},
		{name: "key of another deployment", instance: answer{200, "local"}, chk: answer{403, `{"code":"BadDeployKey","message":"The provided deploy key was invalid for deployment 'x'."}`},
			class: failure.InvalidDeployKey, detail: "BadDeployKey"},
		{name: "forbidden", instance: answer{200, "local"}, chk: answer{403, `{"code":"OperationNotPermitted","message":"You do not have permission"}`},
			class: failure.PermissionDenied, detail: "OperationNotPermitted"},
		{name: "key check 500", instance: answer{200, "local"}, chk: answer{500, `{"code":"InternalServerError","message":"later"}`},
			class: failure.Internal, retryable: true, detail: "InternalServerError"},
		{name: "hangs", hang: true, class: failure.TimedOut, retryable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.hang {
					<-release
					return
				}
				a := tc.instance
				if r.URL.Path == "/api/check_admin_key" {
					if r.Header.Get("Authorization") != "Convex "+key {
						t.Errorf("key check without the key header")
					}
					a = tc.chk
				}
				w.WriteHeader(a.status)
				_, _ = w.Write([]byte(a.body))
			}))
			defer srv.Close()
			defer close(release)
			e := &Engine{PreflightTimeout: 300 * time.Millisecond}
			err := e.preflight(context.Background(), target{base: srv.URL, key: key})
			if tc.class == "" {
				if err != nil {
					t.Fatalf("preflight: %v", err)
				}
				return
			}
			if err == nil || err.Class != tc.class || err.Retryable != tc.retryable || !strings.Contains(err.Detail, tc.detail) {
				t.Fatalf("preflight = %v, want %s retryable=%v detail %q", err, tc.class, tc.retryable, tc.detail)
			}
		})
	}
}

// TestClassifyCLI classifies the CLI's exact failure texts (docs/convex-protocol.md, "How the CLI prints a failure"), including the
// failures the preflight normally catches first.
func TestClassifyCLI(t *testing.T) {
	const url = "http://127.0.0.1:3210"
	tests := []struct {
		name      string
		stderr    string
		class     failure.Class
		retryable bool
		message   string // a part of Message, when the case names one
		detail    string // a part of Detail, when the case names one
	}{
		{name: "401", class: failure.InvalidDeployKey, stderr: "✖ Error: Unable to pull deployment config from " + url + "\n✖ Error fetching POST  " + url +
			"/api/get_config_hashes 401 Unauthorized: BadAdminKey: The provided admin key was invalid for this instance\nAuthenticate with `npx convex dev`\n"},
		{name: "403", class: failure.PermissionDenied, stderr: "✖ Error: Unable to start push to " + url + "\n✖ You do not have permission to perform this operation (deployment:deploy).\n"},
		{name: "403 with the advice", class: failure.PermissionDenied, stderr: "✖ Error: Unable to start push to " + url + "\n✖ You do not have permission to perform this operation (deployment:deploy).\nThis is determined by the permissions granted to CONVEX_DEPLOY_KEY.\n"},
		{name: "403 BadDeployKey", class: failure.InvalidDeployKey, stderr: "✖ Error: Unable to pull deployment config from " + url +
			"\n✖ The provided deploy key was invalid for deployment 'happy-cat-123'. Double check that the environment this key was generated for matches the desired deployment.\n"},
		{name: "unrecognised block after Unable to", class: failure.Internal, retryable: true, message: "unable to wait for schema from the deployment",
			detail: "ZodError", stderr: "✖ Error: Unable to wait for schema from " + url + "\n✖ ZodError: [\n  {\n    \"code\": \"invalid_union_discriminator\"\n  }\n]\n"},
		{name: "crash text after Unable to", class: failure.Internal, retryable: true, message: "unable to start push to",
			detail: "SyntaxError: Unexpected token", stderr: "✖ Error: Unable to start push to " + url + "\n✖ SyntaxError: Unexpected token '<', \"<html>\" is not valid JSON\n"},
		{name: "Unable to alone", class: failure.Internal, retryable: true, message: "unable to finish push to", stderr: "✖ Error: Unable to finish push to " + url + "\n"},
		{name: "network", class: failure.Unreachable, retryable: true, stderr: "✖ Error: Unable to pull deployment config from " + url + "\n✖ TypeError: fetch failed\n"},
		{name: "schema rule", class: failure.SchemaValidationFailed, stderr: "✖ Error: Unable to start push to " + url + "\n✖ Error fetching POST  " + url +
			"/api/deploy2/evaluate_push 400 Bad Request: InvalidVectorDimensionError: Hit an error while pushing:\nHit an error while evaluating your schema:\nIn table \"documents\": Dimensions 5000 must be between 2 and 4096.\n"},
		{name: "race code", class: failure.ConcurrentPush, retryable: true, stderr: "✖ Error: Unable to finish push to " + url + "\n✖ Error fetching POST  " + url +
			"/api/deploy2/finish_push 409 Conflict: RaceDetected: Schema was overwritten\n"},
		{name: "bundle", class: failure.Internal, stderr: "✘ [ERROR] Could not resolve \"convex/server\"\n"},
		{name: "unknown", class: failure.Internal, retryable: true, stderr: "✖ something else\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := classifyCLI(convexcli.ParseFailure(tc.stderr), nil)
			if err.Class != tc.class || err.Retryable != tc.retryable || err.Hint == "" || err.Message == "" {
				t.Fatalf("classifyCLI = %+v, want %s retryable=%v", err, tc.class, tc.retryable)
			}
			if !strings.Contains(err.Message, tc.message) || !strings.Contains(err.Detail, tc.detail) {
				t.Fatalf("message %q detail %q, want …%s… and …%s…", err.Message, err.Detail, tc.message, tc.detail)
			}
		})
	}
}

// TestVerify runs the post-deploy ping against an httptest deployment that answers each way.
func TestVerify(t *testing.T) {
	const want = 7
	tests := []struct {
		name    string
		status  int
		body    string
		message string // "" for a pass
	}{
		{name: "right version", status: 200, body: `{"status":"success","value":{"status":"ok","version":7}}`},
		{name: "wrong version", status: 200, body: `{"status":"success","value":{"status":"ok","version":6}}`,
			message: "the deployment runs package version 6 after the deploy, want 7"},
		{name: "function failed", status: 200, body: `{"status":"error","errorMessage":"Could not find public function for 'functions:ping'."}`,
			message: "functions:ping failed"},
		{name: "no version", status: 200, body: `{"status":"success","value":{"status":"ok"}}`, message: "did not answer {status: \"ok\", version}"},
		{name: "500", status: 500, body: `{"code":"InternalServerError"}`, message: "answered 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/query" || r.Method != http.MethodPost {
					t.Errorf("%s %s, want POST /api/query", r.Method, r.URL.Path)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			err := (&Engine{}).verify(context.Background(), target{base: srv.URL}, want)
			if tc.message == "" {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			if err == nil || err.Class != failure.Internal || !err.Retryable || !strings.Contains(err.Message, tc.message) {
				t.Fatalf("verify = %v, want retryable internal %q", err, tc.message)
			}
		})
	}
}
