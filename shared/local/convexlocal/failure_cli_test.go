package convexlocal_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
)

// TestCLIFailureModes: each way a deployment fails produces the CLI output a real deployment
// causes (docs/convex-protocol.md, "How the CLI prints a failure"), exit code 1, no printed key and no committed push.
func TestCLIFailureModes(t *testing.T) {
	cases := []struct {
		name     string
		fail     convexlocal.FailMode
		wrongKey bool
		want     []string
	}{
		{"wrong key", convexlocal.FailNone, true, []string{
			"Unable to pull deployment config from",
			"/api/get_config_hashes 401 Unauthorized: BadAdminKey: The provided admin key was invalid for this instance",
			"Authenticate with `npx convex dev`",
		}},
		{"forbidden key", convexlocal.FailForbidden, false, []string{
			"Unable to start push to",
			"You do not have permission to perform this operation (deployment:deploy).",
		}},
		{"start_push 500", convexlocal.FailStartPush500, false, []string{
			"/api/deploy2/start_push 500 Internal Server Error: InternalServerError: Your request couldn't be completed. Try again later.",
		}},
		{"schema validation failure", convexlocal.FailSchema, false, []string{
			"Schema validation failed.",
			`in table "documents" does not match the schema: Object is missing the required field ` + "`author`.",
		}},
		{"race", convexlocal.FailRace, false, []string{"Schema was overwritten by another push."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, key := start(t, convexlocal.Options{Fail: tc.fail})
			used := key
			if tc.wrongKey {
				used = convexlocaltest.AdminKey(t, "local")
			}
			res := deploy(t, srv.URL(), used, newProject(t, nil))
			if res.code != 1 {
				t.Fatalf("exit code %d, want 1:\n%s", res.code, res.out)
			}
			for _, want := range tc.want {
				if !strings.Contains(res.out, want) {
					t.Errorf("CLI output lacks %q:\n%s", want, res.out)
				}
			}
			assertNoKey(t, key, res.out)
			assertNoKey(t, used, res.out)
			if st := srv.State(); st.PushCount != 0 {
				t.Errorf("failed deploy committed a push: %+v", st)
			}
		})
	}
}

// TestCLISlowBackfill: wait_for_schema answers inProgress with index progress for each step,
// the CLI reports the backfill and then succeeds.
func TestCLISlowBackfill(t *testing.T) {
	const steps = 3
	srv, key := start(t, convexlocal.Options{Fail: convexlocal.FailSlowBackfill, BackfillSteps: steps})
	out := mustDeploy(t, srv.URL(), key, newProject(t, nil))
	for _, want := range []string{"Backfilling indexes (0/3 ready)", "Backfilling indexes (2/3 ready)", "Schema validation complete."} {
		if !strings.Contains(out, want) {
			t.Errorf("CLI output lacks %q:\n%s", want, out)
		}
	}
	waits := 0
	for _, r := range srv.Requests() {
		if r.Path == "/api/deploy2/wait_for_schema" {
			waits++
		}
	}
	if waits != steps+1 {
		t.Errorf("wait_for_schema calls = %d, want %d", waits, steps+1)
	}
	if st := srv.State(); st.PushCount != 1 {
		t.Errorf("push count %d, want 1", st.PushCount)
	}
}

// TestCLIDeployKeyFlow: with CONVEX_DEPLOY_KEY=prod:<name>|<secret> and the control plane and
// version API pointed at the deployment, the CLI resolves the URL through url_for_key and
// deploys; a key for another deployment is refused.
func TestCLIDeployKeyFlow(t *testing.T) {
	cases := []struct {
		name     string
		deployTo string // instance name in the deploy key
		wantCode int
		want     string
	}{
		{"own key", "local", 0, "Deployed Convex functions to "},
		{"other deployment", "elsewhere", 1, "The provided deploy key was invalid for deployment 'elsewhere'."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, key := start(t, convexlocal.Options{})
			_, secret, _ := strings.Cut(key, "|")
			deployKey := "prod:" + tc.deployTo + "|" + secret
			env := []string{"CONVEX_DEPLOY_KEY=" + deployKey, "CONVEX_PROVISION_HOST=" + srv.URL(), "CONVEX_VERSION_API_ORIGIN=" + srv.URL()}
			res := runCLI(t, newProject(t, nil), env, "deploy", "--yes", "--typecheck=disable")
			if res.code != tc.wantCode || !strings.Contains(res.out, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q?\n%s", res.code, tc.wantCode, tc.want, res.out)
			}
			assertNoKey(t, key, res.out)
			if tc.wantCode != 0 {
				return
			}
			var paths []string
			for _, r := range srv.Requests() {
				paths = append(paths, r.Path)
			}
			joined := strings.Join(paths, " ")
			if !strings.HasPrefix(joined, "/api/deployment/url_for_key /api/deployment/team_and_project_for_key /v1/version /api/get_config_hashes") {
				t.Errorf("request sequence = %q", paths)
			}
			if srv.State().PushCount != 1 {
				t.Errorf("deploy-key push not committed")
			}
		})
	}
}

func postJSON(tb testing.TB, url, auth string, body any) map[string]any {
	tb.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	if auth != "" {
		auth = "Convex " + auth
	}
	got := do(tb, http.MethodPost, url, auth, data, encPlain)
	var out map[string]any
	if err := json.Unmarshal([]byte(got.body), &out); err != nil {
		tb.Fatalf("%s: %d %q: %v", url, got.status, got.body, err)
	}
	out["httpStatus"] = float64(got.status)
	return out
}

// TestQueryAfterDeploy: deployed public queries answer through /api/query and /api/function,
// with the backend's answers for missing, internal and database-touching functions; `convex
// run` reaches the same function.
func TestQueryAfterDeploy(t *testing.T) {
	srv, key := start(t, convexlocal.Options{})
	dir := newProject(t, nil)
	mustDeploy(t, srv.URL(), key, dir)

	cases := []struct {
		name     string
		endpoint string
		auth     string
		body     map[string]any
		want     map[string]any
	}{
		{"ping", "/api/query", "", map[string]any{"path": "functions:ping", "args": map[string]any{}, "format": "json"},
			map[string]any{"status": "success", "value": "pong", "httpStatus": 200.0}},
		{"ping with .js and array args", "/api/query", "", map[string]any{"path": "functions.js:ping", "args": []any{map[string]any{}}},
			map[string]any{"status": "success", "value": "pong", "httpStatus": 200.0}},
		{"object result", "/api/query", "", map[string]any{"path": "functions:info", "args": map[string]any{"name": "ada"}},
			map[string]any{"status": "success", "value": map[string]any{"hello": "ada", "version": 1.0}, "httpStatus": 200.0}},
		{"log lines", "/api/query", "", map[string]any{"path": "functions:greet", "args": map[string]any{"name": "ada"}},
			map[string]any{"status": "success", "value": "hi ada", "logLines": []any{"[LOG] 'greeting' 'ada'"}, "httpStatus": 200.0}},
		{"missing function", "/api/query", "", map[string]any{"path": "functions:nope", "args": map[string]any{}},
			map[string]any{"status": "error", "errorMessage": "Could not find public function for 'functions:nope'.", "httpStatus": 200.0}},
		{"internal via query", "/api/query", "", map[string]any{"path": "functions:secret", "args": map[string]any{}},
			map[string]any{"status": "error", "errorMessage": "Could not find public function for 'functions:secret'.", "httpStatus": 200.0}},
		{"internal via function with admin key", "/api/function", key, map[string]any{"path": "functions:secret", "args": map[string]any{}, "format": "convex_encoded_json"},
			map[string]any{"status": "success", "value": "internal", "httpStatus": 200.0}},
		// The backend validates arguments against the function's validator before running it.
		{"extra argument", "/api/query", "", map[string]any{"path": "functions:ping", "args": map[string]any{"x": 1}},
			map[string]any{"status": "error", "errorMessage": "ArgumentValidationError: Object contains extra field `x` that is not in the validator.\n\nObject: {x: 1.0}\nValidator: v.object({})", "httpStatus": 200.0}},
		{"missing argument", "/api/function", key, map[string]any{"path": "functions:info", "args": map[string]any{}, "format": "convex_encoded_json"},
			map[string]any{"status": "error", "errorMessage": "ArgumentValidationError: Object is missing the required field `name`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: {}\nValidator: v.object({name: v.string()})", "httpStatus": 200.0}},
		{"malformed path", "/api/query", "", map[string]any{"path": "functions:a:b", "args": map[string]any{}},
			map[string]any{"code": "BadConvexFunctionIdentifier", "message": `Couldn't parse function path "functions:a:b"`, "httpStatus": 400.0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := postJSON(t, srv.URL()+tc.endpoint, tc.auth, tc.body)
			if !jsonEqual(got, tc.want) {
				t.Errorf("%s %v = %v, want %v", tc.endpoint, tc.body, got, tc.want)
			}
		})
	}
	t.Run("database access fails", func(t *testing.T) {
		got := postJSON(t, srv.URL()+"/api/query", "", map[string]any{"path": "functions:count", "args": map[string]any{}})
		msg, _ := got["errorMessage"].(string)
		if got["status"] != "error" || !strings.Contains(msg, "not supported by the local Convex deployment") {
			t.Errorf("functions:count = %v, want an error naming the missing database", got)
		}
	})
	t.Run("convex run", func(t *testing.T) {
		res := runCLI(t, dir, nil, "run", "functions:ping", "--env-file", envFile(t, srv.URL(), key))
		if res.code != 0 || !strings.Contains(res.out, `"pong"`) {
			t.Errorf("convex run exited %d:\n%s", res.code, res.out)
		}
	})
	t.Run("convex run with a wrong argument", func(t *testing.T) {
		res := runCLI(t, dir, nil, "run", "functions:ping", `{"x":1}`, "--env-file", envFile(t, srv.URL(), key))
		want := "ArgumentValidationError: Object contains extra field `x` that is not in the validator."
		if res.code != 1 || !strings.Contains(res.out, want) {
			t.Errorf("convex run functions:ping {x:1} exited %d, want 1 with %q:\n%s", res.code, want, res.out)
		}
	})
	t.Run("convex run with a wrong key", func(t *testing.T) {
		other := convexlocaltest.AdminKey(t, "local")
		res := runCLI(t, dir, nil, "run", "functions:ping", "--env-file", envFile(t, srv.URL(), other))
		want := `Failed to run function "functions:ping":` + "\nError: " + badKeyBody
		if res.code != 1 || !strings.Contains(res.out, want) {
			t.Errorf("convex run with a wrong key exited %d, want 1 with %q:\n%s", res.code, want, res.out)
		}
		assertNoKey(t, other, res.out)
	})
}

func jsonEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
