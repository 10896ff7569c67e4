package convexcli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Progress
		ok   bool
	}{
		{name: "bundling", line: "- Bundling component definitions...", want: Progress{Step: StepBundling, Message: "Bundling component definitions..."}, ok: true},
		{name: "spinner start", line: "- Deploying to http://127.0.0.1:3210...", want: Progress{Step: StepBundling, Message: "Deploying to http://127.0.0.1:3210..."}, ok: true},
		{name: "pushing", line: "Pushing code to your Convex deployment...", want: Progress{Step: StepPushing, Message: "Pushing code to your Convex deployment..."}, ok: true},
		{name: "finalizing", line: "Finalizing push...", want: Progress{Step: StepFinishing, Message: "Finalizing push..."}, ok: true},
		{name: "index list", line: "✔ Added table indexes:", want: Progress{Step: StepFinishing, Message: "Added table indexes:"}, ok: true},
		{name: "index entry", line: "  [+] messages.by_embedding (vector)   embedding (1536 dimensions), filters on userId"},
		{name: "uploading", line: "Uploading functions to Convex...", want: Progress{Step: StepPushing, Message: "Uploading functions to Convex..."}, ok: true},
		{name: "backfill", line: "Backfilling indexes (3/27 ready)...", want: Progress{Step: StepIndexing, Message: "Backfilling indexes (3/27 ready)...", Done: 3, Total: 27}, ok: true},
		{name: "backfill and validation", line: "Backfilling indexes (0/2 ready) and checking that documents match your schema...",
			want: Progress{Step: StepIndexing, Message: "Backfilling indexes (0/2 ready) and checking that documents match your schema...", Done: 0, Total: 2}, ok: true},
		{name: "slow backfill of one index", line: "Backfilling index messages.by_conversation (1/4 ready), see progress here: https://dashboard.convex.dev/d/x",
			want: Progress{Step: StepIndexing, Message: "Backfilling index messages.by_conversation (1/4 ready), see progress here: https://dashboard.convex.dev/d/x", Done: 1, Total: 4}, ok: true},
		{name: "validation complete", line: "Schema validation complete.", want: Progress{Step: StepFinishing, Message: "Schema validation complete."}, ok: true},
		{name: "deployed", line: "✔ Deployed Convex functions to http://127.0.0.1:3210", want: Progress{Step: StepDeployed, Message: "Deployed Convex functions to http://127.0.0.1:3210"}, ok: true},
		{name: "retrying", line: "Retrying request (attempt 3/6)...", want: Progress{Step: StepRetrying, Message: "Retrying request (attempt 3/6)..."}, ok: true},
		{name: "error line", line: "✖ Error: Unable to start push to http://127.0.0.1:3210"},
		{name: "blank", line: "   "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseLine(tc.line)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("ParseLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// sampleBody reads one backend error body of testdata/10_error_responses.json (bodies recorded
// from the backend's answers; docs/convex-protocol.md, "What each failure looks like").
func sampleBody(t testing.TB, name string) (code, message string) {
	t.Helper()
	b, err := os.ReadFile("testdata/10_error_responses.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]struct {
		Body struct{ Code, Message string } `json:"body"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	s, ok := all[name]
	if !ok {
		t.Fatalf("no sample %q", name)
	}
	return s.Body.Code, s.Body.Message
}

// TestParseFailure feeds the exact texts the CLI 1.48.0 prints (docs/convex-protocol.md,
// "Schema rules", "How the CLI prints a failure"), built from the backend bodies of
// testdata/10_error_responses.json.
func TestParseFailure(t *testing.T) {
	const url = "http://127.0.0.1:3210"
	badKeyCode, badKeyMsg := sampleBody(t, "bad_admin_key (401 on any admin endpoint; first hit is get_config_hashes)")
	_, forbiddenMsg := sampleBody(t, "permission_denied (403)")
	internalCode, internalMsg := sampleBody(t, "internal_error (500)")
	schemaCode, schemaMsg := sampleBody(t, "schema_error: InvalidVectorDimensionError")
	tests := []struct {
		name   string
		stderr string
		want   Failure
	}{
		{
			name: "401 bad key",
			stderr: "✖ Error: Unable to pull deployment config from " + url + "\n" +
				"✖ Error fetching POST  " + url + "/api/get_config_hashes 401 Unauthorized: " + badKeyCode + ": " + badKeyMsg + "\n" +
				"Authenticate with `npx convex dev`\n",
			want: Failure{Op: "pull deployment config from", Method: "POST", URL: url + "/api/get_config_hashes", Status: 401,
				StatusText: "Unauthorized", Code: badKeyCode, Message: badKeyMsg},
		},
		{
			name: "403 prints the message alone",
			stderr: "✖ Error: Unable to start push to " + url + "\n" +
				"✖ " + forbiddenMsg + "\nThis is determined by the permissions granted to CONVEX_DEPLOY_KEY.\n",
			want: Failure{Op: "start push to", URL: url, Status: 403, Message: forbiddenMsg},
		},
		{
			name:   "403 without a deploy key set",
			stderr: "✖ Error: Unable to start push to " + url + "\n✖ " + forbiddenMsg + "\n",
			want:   Failure{Op: "start push to", URL: url, Status: 403, Message: forbiddenMsg},
		},
		{
			name: "403 BadDeployKey",
			stderr: "✖ Error: Unable to pull deployment config from " + url + "\n" +
				"✖ The provided deploy key was invalid for deployment 'happy-cat-123'. Double check that the environment this key was generated for matches the desired deployment.\n",
			want: Failure{Op: "pull deployment config from", URL: url, Status: 403,
				Message: "The provided deploy key was invalid for deployment 'happy-cat-123'. Double check that the environment this key was generated for matches the desired deployment."},
		},
		{
			name: "403 with some other message and the advice",
			stderr: "✖ Error: Unable to finish push to " + url + "\n" +
				"✖ Deploys are paused for this team.\nThis is determined by the permissions granted to CONVEX_DEPLOY_KEY.\n",
			want: Failure{Op: "finish push to", URL: url, Status: 403, Message: "Deploys are paused for this team."},
		},
		{
			name: "unrecognised block after Unable to",
			stderr: "✖ Error: Unable to wait for schema from " + url + "\n" +
				"✖ ZodError: [\n  {\n    \"code\": \"invalid_union_discriminator\",\n    \"path\": [\"type\"]\n  }\n]\n",
			want: Failure{Op: "wait for schema from", URL: url},
		},
		{
			name:   "crash text after Unable to",
			stderr: "✖ Error: Unable to start push to " + url + "\n✖ SyntaxError: Unexpected token '<', \"<html>\" is not valid JSON\n",
			want:   Failure{Op: "start push to", URL: url},
		},
		{
			name: "500",
			stderr: "✖ Error: Unable to start push to " + url + "\n" +
				"✖ Error fetching POST  " + url + "/api/deploy2/start_push 500 Internal Server Error: " + internalCode + ": " + internalMsg + "\n",
			want: Failure{Op: "start push to", Method: "POST", URL: url + "/api/deploy2/start_push", Status: 500,
				StatusText: "Internal Server Error", Code: internalCode, Message: internalMsg},
		},
		{
			name: "schema error over several lines",
			stderr: "✖ Error: Unable to start push to " + url + "\n" +
				"✖ Error fetching POST  " + url + "/api/deploy2/evaluate_push 400 Bad Request: " + schemaCode + ": " + schemaMsg + "\n",
			want: Failure{Op: "start push to", Method: "POST", URL: url + "/api/deploy2/evaluate_push", Status: 400,
				StatusText: "Bad Request", Code: schemaCode, Message: schemaMsg},
		},
		{
			name:   "network",
			stderr: "Retrying request (attempt 3/6)...\n✖ Error: Unable to pull deployment config from " + url + "\n✖ TypeError: fetch failed\n",
			want:   Failure{Op: "pull deployment config from", URL: url, Network: true},
		},
		{
			name:   "schema validation failed",
			stderr: "✖ Schema validation failed.\nDocument with ID \"k57\" in table \"notes\" does not match the schema: Object is missing the required field `title`.\n",
			want:   Failure{SchemaValidation: "Document with ID \"k57\" in table \"notes\" does not match the schema: Object is missing the required field `title`."},
		},
		{
			name:   "race",
			stderr: "✖ Schema was overwritten by another push.\n",
			want:   Failure{Race: true},
		},
		{
			name:   "bundle",
			stderr: "✘ [ERROR] Could not resolve \"convex/server\"\n\n    convex/schema.ts:1:29:\n",
			want:   Failure{Bundle: "Could not resolve \"convex/server\""},
		},
		{
			name:   "unknown",
			stderr: "✖ No CONVEX_DEPLOYMENT set, run `npx convex dev` to configure a Convex project\n",
			want:   Failure{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseFailure(tc.stderr)
			if got.Text == "" {
				t.Fatalf("Text is empty for %q", tc.stderr)
			}
			got.Text = ""
			if got != tc.want {
				t.Fatalf("ParseFailure:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestKeySecrets(t *testing.T) {
	got := strings.Join(KeySecrets("prod:happy-cat-123|abc"), " ")
	if got != "prod:happy-cat-123|abc abc" {
		t.Fatalf("KeySecrets = %q", got)
	}
}
