package bundle_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/bundle/bundletest"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// localDeployment starts a local Convex deployment and returns it with its admin key.
func localDeployment(t testing.TB, name string) (*convexlocal.Server, string) {
	t.Helper()
	key := convexlocaltest.AdminKey(t, name)
	return convexlocaltest.Start(t, convexlocal.Options{AdminKey: key}), key
}

// selfHostedEnv is the environment of a CLI run against srv: the target goes in the child's
// environment (never argv, never a file), CI=1 turns Sentry off, and npm is kept offline.
func selfHostedEnv(t testing.TB, srv *convexlocal.Server, key string) []string {
	t.Helper()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"CI=1",
		"TMPDIR=" + t.TempDir(),
		"CONVEX_SELF_HOSTED_URL=" + srv.URL(),
		"CONVEX_SELF_HOSTED_ADMIN_KEY=" + key,
		"npm_config_offline=true",
		"npm_config_update_notifier=false",
		"npm_config_audit=false",
		"npm_config_fund=false",
	}
	// npm needs its cache (filled by `make deps`), found through HOME or npm_config_cache.
	for _, k := range []string{"HOME", "npm_config_cache"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// runCmd runs name args in dir with env (see runTool), failing the test on a non-zero exit or if
// the admin key or its secret shows up in the output. It returns stdout and stderr.
func runCmd(t testing.TB, dir string, env []string, key, name string, args ...string) (string, string) {
	t.Helper()
	stdout, stderr, err := runTool(t, dir, env, name, args...)
	out := string(stdout) + string(stderr)
	if strings.Contains(out, key) || strings.Contains(out, key[strings.Index(key, "|")+1:]) {
		t.Errorf("%s %s printed the admin key", name, strings.Join(args, " "))
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(stdout), string(stderr)
}

// queryPing calls functions:ping over the deployment's HTTP API.
func queryPing(t testing.TB, srv *convexlocal.Server) (status string, version int) {
	t.Helper()
	body := strings.NewReader(`{"path":"functions:ping","args":{},"format":"json"}`)
	resp, err := http.Post(srv.URL()+"/api/query", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Value  struct {
			Status  string `json:"status"`
			Version int    `json:"version"`
		} `json:"value"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" {
		t.Fatalf("functions:ping: %s %s", r.Status, r.ErrorMessage)
	}
	return r.Value.Status, r.Value.Version
}

// TestGeneratedMatchesDeploy deploys the project with the real CLI and codegen on (its default)
// into a local deployment, starting without convex/_generated, and checks that what the CLI
// generates equals the embedded convex/_generated: so deploys may run with --codegen=disable.
// With -update it rewrites the embedded files from the CLI's output.
func TestGeneratedMatchesDeploy(t *testing.T) {
	cliMain, err := toolpath.CLIMain()
	if err != nil {
		t.Fatal(err)
	}
	srv, key := localDeployment(t, "codegen")
	dir := materialized(t)
	gen := filepath.Join(dir, "convex", "_generated")
	if err := os.RemoveAll(gen); err != nil {
		t.Fatal(err)
	}
	runCmd(t, dir, selfHostedEnv(t, srv, key), key, nodeBin(t), cliMain, "deploy", "--typecheck=disable")

	written, err := os.ReadDir(gen)
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := os.ReadDir(filepath.Join("project", "convex", "_generated"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(des []os.DirEntry) (out []string) {
		for _, de := range des {
			out = append(out, de.Name())
		}
		return out
	}
	if !*update && !slices.Equal(names(written), names(embedded)) {
		t.Errorf("the CLI generated %q, the package embeds %q", names(written), names(embedded))
	}
	for _, de := range written {
		data, err := os.ReadFile(filepath.Join(gen, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("project", "convex", "_generated", de.Name()), data)
	}
	bundletest.CheckDeployed(t, srv.State())
	if status, version := queryPing(t, srv); status != "ok" || version != bundle.Version {
		t.Errorf("ping = %s %d, want ok %d", status, version, bundle.Version)
	}
}

// TestZipDeploysByHand follows the zip's README: two runs give the same bytes; it unzips it,
// installs it with `npm ci` from the lockfile it carries (offline, from the npm cache `make deps`
// filled), deploys it with `npx convex deploy` into a local deployment and checks the deployment
// holds every table and index and answers ping with the version, also through `npx convex run`.
func TestZipDeploysByHand(t *testing.T) {
	first, second := makeZip(t), makeZip(t)
	if !bytes.Equal(first, second) {
		t.Fatal("two runs of WriteZip differ")
	}
	root := t.TempDir()
	unzip(t, first, root)
	dir := filepath.Join(root, bundle.ZipName())
	srv, key := localDeployment(t, "byhand")
	env := selfHostedEnv(t, srv, key)

	runCmd(t, dir, env, key, "npm", "ci", "--offline", "--ignore-scripts", "--loglevel=error")
	_, out := runCmd(t, dir, env, key, "npx", "convex", "deploy")
	if !strings.Contains(out, "Deployed Convex functions to "+srv.URL()) {
		t.Errorf("npx convex deploy did not report the deploy:\n%s", out)
	}
	bundletest.CheckDeployed(t, srv.State())
	if status, version := queryPing(t, srv); status != "ok" || version != bundle.Version {
		t.Errorf("ping = %s %d, want ok %d", status, version, bundle.Version)
	}

	out, _ = runCmd(t, dir, env, key, "npx", "convex", "run", "functions:ping")
	var ping struct {
		Status  string `json:"status"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &ping); err != nil {
		t.Fatalf("npx convex run functions:ping printed %q: %v", out, err)
	}
	if ping.Status != "ok" || ping.Version != bundle.Version {
		t.Errorf("npx convex run functions:ping = %+v, want ok %d", ping, bundle.Version)
	}
}

// unzip extracts zip bytes into dir, refusing paths that leave it.
func unzip(t testing.TB, data []byte, dir string) {
	t.Helper()
	for _, f := range readZip(t, data).File {
		if !filepath.IsLocal(f.Name) {
			t.Fatalf("zip entry %q leaves the folder", f.Name)
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, readEntry(t, f), f.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}
