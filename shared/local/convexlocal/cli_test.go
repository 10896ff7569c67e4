package convexlocal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// cliRunLimit only stops a wedged CLI from blocking the suite; no test asserts on time.
const cliRunLimit = 3 * time.Minute

type cliResult struct {
	out  string
	code int
}

// newProject copies testdata/basic (a Convex project with a schema and functions) into a temp
// dir, links node_modules to the pinned CLI install, and writes the overlay files over it.
func newProject(tb testing.TB, overlay map[string]string) string {
	tb.Helper()
	nm, err := toolpath.CLINodeModules()
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(tb.TempDir(), "proj")
	src := filepath.Join("testdata", "basic")
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(nm, filepath.Join(dir, "node_modules")); err != nil {
		tb.Fatal(err)
	}
	for rel, text := range overlay {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// runCLI runs the real Convex CLI in dir with only CI=1, PATH, TMPDIR and extraEnv.
func runCLI(tb testing.TB, dir string, extraEnv []string, args ...string) cliResult {
	tb.Helper()
	main, err := toolpath.CLIMain()
	if err != nil {
		tb.Fatal(err)
	}
	node, err := toolpath.Node()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliRunLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{main}, args...)...)
	cmd.Dir = dir
	cmd.Env = append([]string{"CI=1", "PATH=" + os.Getenv("PATH"), "TMPDIR=" + tb.TempDir()}, extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return cliResult{out: out.String()}
	case errors.As(err, &exit):
		return cliResult{out: out.String(), code: exit.ExitCode()}
	default:
		tb.Fatalf("run convex CLI: %v\n%s", err, out.String())
		return cliResult{}
	}
}

// envFile writes a 0600 dotenv file that points the CLI at a self-hosted deployment.
func envFile(tb testing.TB, url, key string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "deploy.env")
	text := "CONVEX_SELF_HOSTED_URL=" + url + "\nCONVEX_SELF_HOSTED_ADMIN_KEY=" + key + "\n"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// deploy runs `convex deploy --yes --typecheck=disable --env-file F` in dir against url.
func deploy(tb testing.TB, url, key, dir string, args ...string) cliResult {
	tb.Helper()
	base := []string{"deploy", "--yes", "--typecheck=disable", "--env-file", envFile(tb, url, key)}
	return runCLI(tb, dir, nil, append(base, args...)...)
}

func mustDeploy(tb testing.TB, url, key, dir string, args ...string) string {
	tb.Helper()
	res := deploy(tb, url, key, dir, args...)
	if res.code != 0 {
		tb.Fatalf("convex deploy exited %d:\n%s", res.code, res.out)
	}
	return res.out
}

// start starts a deployment with a fresh key and returns it with the key.
func start(tb testing.TB, opts convexlocal.Options) (*convexlocal.Server, string) {
	tb.Helper()
	opts.AdminKey = convexlocaltest.AdminKey(tb, "local")
	return convexlocaltest.Start(tb, opts), opts.AdminKey
}

func assertNoKey(tb testing.TB, key, text string) {
	tb.Helper()
	_, secret, _ := strings.Cut(key, "|")
	if strings.Contains(text, secret) {
		tb.Errorf("output contains the admin key's secret:\n%s", text)
	}
}

func TestCLIDeployListsIndexesAndFunctions(t *testing.T) {
	srv, key := start(t, convexlocal.Options{})
	out := mustDeploy(t, srv.URL(), key, newProject(t, nil))
	assertNoKey(t, key, out)
	for _, want := range []string{
		"documents.by_author",
		"documents.search_body (text)",
		"documents.by_embedding (vector)   embedding (1536 dimensions), filter on category",
		"Deployed Convex functions to " + srv.URL(),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("CLI output lacks %q:\n%s", want, out)
		}
	}
	st := srv.State()
	want := []convexlocal.Table{{Name: "documents", Indexes: []convexlocal.TableIndex{
		{Name: "by_author", Kind: convexlocal.KindDatabase, Fields: []string{"author"}},
		{Name: "search_body", Kind: convexlocal.KindSearch, SearchField: "body", FilterFields: []string{"author", "category"}},
		{Name: "by_embedding", Kind: convexlocal.KindVector, VectorField: "embedding", Dimensions: 1536, FilterFields: []string{"category"}},
	}}}
	if !reflect.DeepEqual(st.Tables, want) {
		t.Errorf("tables = %+v, want %+v", st.Tables, want)
	}
	var fns []string
	for _, f := range st.Functions {
		fns = append(fns, f.Path+" "+f.UDFType+" "+f.Visibility)
	}
	wantFns := []string{"functions:count Query public", "functions:greet Query public", "functions:info Query public", "functions:ping Query public",
		"functions:secret Query internal", "functions:touch Mutation public"}
	if !slices.Equal(fns, wantFns) {
		t.Errorf("functions = %q, want %q", fns, wantFns)
	}
	if st.PushCount != 1 || st.UDFServerVersion != "1.48.0" {
		t.Errorf("pushCount %d, udfServerVersion %q; want 1, 1.48.0", st.PushCount, st.UDFServerVersion)
	}

	// The same state over HTTP, without the key.
	resp, err := http.Get(srv.URL() + "/_local/state")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assertNoKey(t, key, string(body))
	var overHTTP convexlocal.State
	if err := json.Unmarshal(body, &overHTTP); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(overHTTP, st) {
		t.Errorf("GET /_local/state = %+v, want %+v", overHTTP, st)
	}
}

func pushRequests(srv *convexlocal.Server) []convexlocal.Request {
	var out []convexlocal.Request
	for _, r := range srv.Requests() {
		if r.Path == "/api/deploy2/start_push" {
			out = append(out, r)
		}
	}
	return out
}

func TestCLIRedeploySendsUnchangedModulesByHash(t *testing.T) {
	srv, key := start(t, convexlocal.Options{})
	dir := newProject(t, nil)
	mustDeploy(t, srv.URL(), key, dir)
	before := srv.State().Modules
	mustDeploy(t, srv.URL(), key, dir)
	pushes := pushRequests(srv)
	if len(pushes) != 2 {
		t.Fatalf("start_push calls = %d, want 2", len(pushes))
	}
	if got := pushes[0].ChangedModules; !slices.Equal(got, []string{"functions.js"}) {
		t.Errorf("first push sent in full %q, want [functions.js]", got)
	}
	if got := pushes[1].ChangedModules; len(got) != 0 {
		t.Errorf("redeploy sent in full %q, want nothing", got)
	}
	if got := pushes[1].UnchangedModules; !slices.Equal(got, []string{"functions.js"}) {
		t.Errorf("redeploy sent by hash %q, want [functions.js]", got)
	}
	if after := srv.State(); !reflect.DeepEqual(after.Modules, before) || after.PushCount != 2 {
		t.Errorf("after redeploy modules %+v push count %d; want %+v and 2", after.Modules, after.PushCount, before)
	}
}

const schemaHead = `import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
`

// smallerSchema drops the search and vector indexes and adds a database index.
const smallerSchema = schemaHead + `
export default defineSchema({
  documents: defineTable({
    title: v.string(), body: v.string(), author: v.string(), category: v.string(), embedding: v.array(v.float64()),
  }).index("by_author", ["author"]).index("by_category", ["category", "author"]),
});
`

func TestCLIDryRunChangesNothing(t *testing.T) {
	srv, key := start(t, convexlocal.Options{})
	mustDeploy(t, srv.URL(), key, newProject(t, nil))
	before := srv.State()
	out := mustDeploy(t, srv.URL(), key, newProject(t, map[string]string{"convex/schema.ts": smallerSchema}), "--dry-run")
	if !strings.Contains(out, "Would have") {
		t.Errorf("dry run output lacks \"Would have\":\n%s", out)
	}
	if after := srv.State(); !reflect.DeepEqual(after, before) {
		t.Errorf("dry run changed the state:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestCLIIndexDiffBetweenPushes(t *testing.T) {
	srv, key := start(t, convexlocal.Options{})
	mustDeploy(t, srv.URL(), key, newProject(t, nil))
	out := mustDeploy(t, srv.URL(), key, newProject(t, map[string]string{"convex/schema.ts": smallerSchema}))
	for _, want := range []string{"[+] documents.by_category", "[-] documents.search_body", "[-] documents.by_embedding"} {
		if !strings.Contains(out, want) {
			t.Errorf("CLI output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "documents.by_author") {
		t.Errorf("unchanged index documents.by_author reported as changed:\n%s", out)
	}
	var names []string
	for _, ix := range srv.State().Tables[0].Indexes {
		names = append(names, ix.Name)
	}
	if want := []string{"by_author", "by_category"}; !slices.Equal(names, want) {
		t.Errorf("indexes after second push = %q, want %q", names, want)
	}
}

// TestCLIDeployUsesEvaluateSchema: the CLI falls back to evaluate_push without a word when
// evaluate_schema fails, so a broken evaluate_schema would go unnoticed by every other deploy
// test. A good deploy, and a redeploy that drops indexes, must get evaluate_schema answered 200
// before start_push, and no evaluate_push at all.
func TestCLIDeployUsesEvaluateSchema(t *testing.T) {
	srv, key := start(t, convexlocal.Options{})
	mustDeploy(t, srv.URL(), key, newProject(t, nil))
	mustDeploy(t, srv.URL(), key, newProject(t, map[string]string{"convex/schema.ts": smallerSchema}))
	var seq []string
	for _, r := range srv.Requests() {
		if r.Path == "/api/deploy2/report_push_completed" {
			continue // fire-and-forget: with CI=1 the CLI usually exits before sending it
		}
		if r.Status != http.StatusOK {
			t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
		}
		seq = append(seq, strings.TrimPrefix(r.Path, "/api/"))
	}
	push := []string{"get_config_hashes", "deploy2/evaluate_schema", "deploy2/start_push", "deploy2/wait_for_schema", "deploy2/finish_push"}
	if want := append(slices.Clone(push), push...); !slices.Equal(seq, want) {
		t.Errorf("requests of two deploys:\n got %q\nwant %q", seq, want)
	}
}
