package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/convexcli"
	"github.com/byod-deployer/byod-deployer/shared/failure"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
)

// TestDeployLandsThePackage deploys with the real CLI into a local deployment and checks, through
// the deployment's own state, that all nine tables landed with every index, search index and
// vector index of the package, and that functions:ping answers the version.
func TestDeployLandsThePackage(t *testing.T) {
	e := testEngine(t)
	srv, tg := startLocal(t, "happy-cat-123", convexlocal.Options{})
	res, err, rec := deployTo(t, e, tg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SchemaVersion != bundle.Version || res.URL != srv.URL() {
		t.Fatalf("result %+v, want version %d at %s", res, bundle.Version, srv.URL())
	}
	requireStagesInOrder(t, rec.all(), StageDeployed)
	requireNothingLeft(t, e.TempRoot)

	want, err := bundle.ExpectedSchema()
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Tables) != 9 {
		t.Fatalf("the package has %d tables, want 9", len(want.Tables))
	}
	got := map[string]convexlocal.Table{}
	for _, tb := range srv.State().Tables {
		got[tb.Name] = tb
	}
	if len(got) != len(want.Tables) {
		t.Fatalf("deployment has tables %v, want %d", got, len(want.Tables))
	}
	vectors := 0
	for _, wt := range want.Tables {
		gt, ok := got[wt.TableName]
		if !ok {
			t.Errorf("table %s did not land", wt.TableName)
			continue
		}
		landed := map[string]convexlocal.TableIndex{}
		for _, ix := range gt.Indexes {
			landed[ix.Name] = ix
		}
		wantKinds := map[string]string{}
		for _, ix := range wt.Indexes {
			wantKinds[ix.IndexDescriptor] = convexlocal.KindDatabase
			if g := landed[ix.IndexDescriptor]; strings.Join(g.Fields, ",") != strings.Join(ix.Fields, ",") {
				t.Errorf("%s.%s fields %v, want %v", wt.TableName, ix.IndexDescriptor, g.Fields, ix.Fields)
			}
		}
		for _, ix := range wt.SearchIndexes {
			wantKinds[ix.IndexDescriptor] = convexlocal.KindSearch
			if g := landed[ix.IndexDescriptor]; g.SearchField != ix.SearchField || strings.Join(g.FilterFields, ",") != strings.Join(ix.FilterFields, ",") {
				t.Errorf("%s.%s search %q filters %v, want %q %v", wt.TableName, ix.IndexDescriptor, g.SearchField, g.FilterFields, ix.SearchField, ix.FilterFields)
			}
		}
		for _, ix := range wt.VectorIndexes {
			vectors++
			wantKinds[ix.IndexDescriptor] = convexlocal.KindVector
			if g := landed[ix.IndexDescriptor]; g.Dimensions != 1536 || ix.Dimensions != 1536 || g.VectorField != ix.VectorField {
				t.Errorf("%s.%s vector %q dims %d, want %q 1536", wt.TableName, ix.IndexDescriptor, g.VectorField, g.Dimensions, ix.VectorField)
			}
		}
		for name, kind := range wantKinds {
			if g, ok := landed[name]; !ok || g.Kind != kind {
				t.Errorf("%s.%s: landed %+v, want a %s index", wt.TableName, name, g, kind)
			}
		}
		if len(landed) != len(wantKinds) {
			t.Errorf("%s has %d indexes, want %d", wt.TableName, len(landed), len(wantKinds))
		}
	}
	if vectors == 0 {
		t.Fatal("the package has no vector index")
	}
	if v := pingVersion(t, srv.URL()); v != bundle.Version {
		t.Fatalf("functions:ping answers version %d, want %d", v, bundle.Version)
	}
}

func pingVersion(t testing.TB, url string) int {
	t.Helper()
	resp, err := http.Post(url+"/api/query", "application/json", strings.NewReader(`{"path":"functions:ping","args":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Status string
		Value  struct {
			Status  string
			Version int
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || ans.Status != "success" || ans.Value.Status != "ok" {
		t.Fatalf("ping: %+v %v", ans, err)
	}
	return ans.Value.Version
}

// closedURL is a loopback URL where nothing listens.
func closedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestDeployClassifiesFailures reproduces each error class against a local deployment with the
// real CLI and checks the class, the message, the backend's detail, the hint and Retryable.
func TestDeployClassifiesFailures(t *testing.T) {
	tests := []struct {
		name       string
		fail       convexlocal.FailMode
		target     func(t *testing.T, tg Target) Target
		timeout    time.Duration
		class      failure.Class
		retryable  bool
		message    string
		detail     string
		lastStage  Stage
		underFiveS bool
	}{
		{name: "wrong key", class: failure.InvalidDeployKey, message: "rejected the key", detail: "BadAdminKey: The provided admin key was invalid for this instance",
			target: func(t *testing.T, tg Target) Target {
				tg.Key = "happy-cat-123|" + strings.Repeat("0", 48)
				return tg
			}, lastStage: StagePreflight},
		{name: "forbidden key", fail: convexlocal.FailForbidden, class: failure.PermissionDenied, message: "may not deploy",
			detail: "OperationNotPermitted: You do not have permission to perform this operation (deployment:deploy).", lastStage: StagePreflight},
		{name: "hung deployment", fail: convexlocal.FailHang, timeout: 2 * time.Second, class: failure.TimedOut, retryable: true,
			message: "timed out after 2s", lastStage: StagePreflight},
		{name: "500", fail: convexlocal.FailStartPush500, class: failure.Internal, retryable: true, message: "failed with 500",
			detail: "InternalServerError: Your request couldn't be completed. Try again later.", lastStage: StagePushing},
		{name: "schema validation", fail: convexlocal.FailSchema, class: failure.SchemaValidationFailed, message: "does not match the schema",
			detail: "does not match the schema: Object is missing the required field", lastStage: StagePushing},
		{name: "concurrent push", fail: convexlocal.FailRace, class: failure.ConcurrentPush, retryable: true, message: "another push", lastStage: StagePushing},
		{name: "unreachable", class: failure.Unreachable, retryable: true, message: "could not reach", detail: "connection refused", underFiveS: true,
			target: func(t *testing.T, tg Target) Target {
				tg.URL = closedURL(t)
				return tg
			}, lastStage: StagePreflight},
		{name: "not allowed host", class: failure.InvalidTarget, message: "neither a Convex cloud deployment nor an allowed self-hosted host",
			target: func(t *testing.T, tg Target) Target {
				tg.URL = "https://example.com"
				return tg
			}, lastStage: StageValidating},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := testEngine(t)
			_, tg := startLocal(t, "happy-cat-123", convexlocal.Options{Fail: tc.fail})
			if tc.target != nil {
				tg = tc.target(t, tg)
			}
			start := time.Now()
			_, err, rec := deployTo(t, e, tg, Options{Timeout: tc.timeout})
			took := time.Since(start)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if de.Class != tc.class || de.Retryable != tc.retryable || ClassOf(err) != tc.class {
				t.Fatalf("class %s retryable %v, want %s %v (%v)", de.Class, de.Retryable, tc.class, tc.retryable, err)
			}
			if !strings.Contains(de.Message, tc.message) || !strings.Contains(de.Detail, tc.detail) || de.Hint == "" {
				t.Fatalf("message %q detail %q hint %q; want %q, %q and a hint", de.Message, de.Detail, de.Hint, tc.message, tc.detail)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Error() = %q lacks %q", err.Error(), tc.message)
			}
			events := rec.all()
			if last := events[len(events)-1].Stage; last != tc.lastStage {
				t.Fatalf("last stage %s, want %s (%v)", last, tc.lastStage, stages(events))
			}
			if tc.underFiveS && took >= 5*time.Second {
				t.Fatalf("failed after %s, want under 5s", took)
			}
			t.Logf("%s after %s: %v (hint: %s)", de.Class, took.Round(time.Millisecond), err, de.Hint)
			requireNothingLeft(t, e.TempRoot)
		})
	}
}

// TestDeployStopsTheCLI stops a deploy while the real CLI waits for a slow index backfill, by
// the time limit and by cancelling the context: the whole process group must be gone and the
// job directory with its env file removed.
func TestDeployStopsTheCLI(t *testing.T) {
	tests := []struct {
		name     string
		timeouts []time.Duration // tried in turn until the CLI was in the backfill when stopped
		cancel   bool
		reason   error
	}{
		{name: "time limit", timeouts: []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}, reason: context.DeadlineExceeded},
		{name: "cancelled context", timeouts: []time.Duration{0}, cancel: true, reason: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, timeout := range tc.timeouts {
				if stopDuringBackfill(t, timeout, tc.cancel, tc.reason) {
					return
				}
				t.Logf("the CLI had not reached the backfill within %s (busy machine); trying a longer limit", timeout)
			}
			t.Fatal("the CLI never reached the backfill before the stop")
		})
	}
}

// stopDuringBackfill deploys into a deployment whose backfill never ends and stops the deploy by
// its time limit, or by cancelling when the first indexing event arrives. It checks the error,
// that the env file and job dir are gone and that no process of the deploy is alive, and
// reports whether the CLI was in the backfill when it was stopped.
func stopDuringBackfill(t *testing.T, timeout time.Duration, cancelOnIndexing bool, reason error) bool {
	t.Helper()
	e := testEngine(t)
	var jobs []string
	e.jobHook = func(dir string) { jobs = append(jobs, dir) }
	_, tg := startLocal(t, "slow-cat-1", convexlocal.Options{Fail: convexlocal.FailSlowBackfill,
		BackfillSteps: 1_000_000, BackfillStepDelay: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	var once sync.Once
	opts := Options{Timeout: timeout, Progress: func(ev Event) {
		rec.add(ev)
		if cancelOnIndexing && ev.Stage == StageIndexing {
			once.Do(cancel)
		}
	}}
	_, err := e.Deploy(ctx, tg, opts)
	message := "cancelled after"
	if !cancelOnIndexing {
		message = fmt.Sprintf("timed out after %s", timeout)
	}
	if ClassOf(err) != failure.TimedOut || !strings.Contains(err.Error(), message) || !errors.Is(err, reason) {
		t.Fatalf("err = %v, want timed_out %q wrapping %v", err, message, reason)
	}
	if len(jobs) > 1 {
		t.Fatalf("job dirs %v", jobs)
	}
	for _, j := range jobs {
		if _, err := os.Stat(filepath.Join(j, "target.env")); !os.IsNotExist(err) {
			t.Fatalf("env file still there: %v", err)
		}
	}
	requireNothingLeft(t, e.TempRoot)
	for _, ev := range rec.all() {
		if ev.Stage == StageIndexing {
			return len(jobs) == 1
		}
	}
	return false
}

// TestDeployNeverLeaksTheKey runs deploys with a canary key, successful, failing, stopped by the
// time limit and cancelled while the CLI runs, and looks for the key and its secret part in
// every error, event, the CLI's stdout and stderr, and every file left behind.
func TestDeployNeverLeaksTheKey(t *testing.T) {
	const secret = "5ec12e7c4n4ry0000c4n4ry0000c4n4ry0000c4n4ry00"
	key := "canary-cat-7|" + secret
	start := time.Now().Add(-time.Second)
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	endless := convexlocal.Options{Fail: convexlocal.FailSlowBackfill, BackfillSteps: 1_000_000, BackfillStepDelay: 200 * time.Millisecond}
	tests := []struct {
		name     string
		opts     convexlocal.Options
		timeout  time.Duration
		cancel   bool // cancel at the first indexing event
		stopped  bool // the deploy is stopped while the CLI runs
		succeeds bool
	}{
		{name: "deployed", succeeds: true},
		{name: "start_push 500", opts: convexlocal.Options{Fail: convexlocal.FailStartPush500}},
		{name: "forbidden", opts: convexlocal.Options{Fail: convexlocal.FailForbidden}},
		{name: "schema validation", opts: convexlocal.Options{Fail: convexlocal.FailSchema}},
		{name: "time limit", opts: endless, timeout: 5 * time.Second, stopped: true},
		{name: "cancelled", opts: endless, cancel: true, stopped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the file scan would find a sibling's live env file.
			e := testEngine(t)
			e.CompileCache = filepath.Join(t.TempDir(), "compile-cache")
			var stdout, stderr bytes.Buffer
			runs := 0
			e.KeepOutput = func(o, s string) {
				runs++
				stdout.WriteString(o)
				stderr.WriteString(s)
			}
			tc.opts.AdminKey = key
			_, tg := startLocal(t, "canary-cat-7", tc.opts)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := &recorder{}
			_, err := e.Deploy(ctx, tg, Options{Timeout: tc.timeout, Progress: func(ev Event) {
				rec.add(ev)
				if tc.cancel && ev.Stage == StageIndexing {
					cancel()
				}
			}})
			if (err == nil) != tc.succeeds {
				t.Fatalf("err = %v, want success=%v", err, tc.succeeds)
			}
			if tc.stopped && (ClassOf(err) != failure.TimedOut || runs != 1) {
				t.Fatalf("err = %v after %d CLI runs, want timed_out with the CLI stopped", err, runs)
			}
			var texts []string
			if err != nil {
				texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
				for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
					texts = append(texts, u.Error())
				}
			}
			for _, ev := range rec.all() {
				texts = append(texts, fmt.Sprintf("%+v", ev))
			}
			texts = append(texts, stdout.String(), stderr.String(), tg.String(), fmt.Sprintf("%v %+v %#v", tg, tg, tg))
			for _, s := range texts {
				if strings.Contains(s, secret) {
					t.Fatalf("the key leaked: %q", s)
				}
			}
			if tc.succeeds && stderr.Len() == 0 {
				t.Fatal("no CLI output was looked at")
			}
			requireNothingLeft(t, e.TempRoot)
			requireNoFileHolds(t, secret, start, os.TempDir(), filepath.Join(home, ".convex"), filepath.Join(home, ".npm"))
		})
	}
}

// requireNoFileHolds fails when a regular file under one of dirs, modified since `since`, holds
// needle. Unreadable and vanishing files are passed over.
func requireNoFileHolds(t testing.TB, needle string, since time.Time, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil || fi.ModTime().Before(since) || fi.Size() > 8<<20 {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(needle)) {
				t.Errorf("%s holds the key", path)
			}
			return nil
		})
	}
}

// TestConcurrentDeploys runs four deploys at once into four local deployments.
func TestConcurrentDeploys(t *testing.T) {
	e := testEngine(t)
	var mu sync.Mutex
	jobs := map[string]bool{}
	e.jobHook = func(dir string) {
		fi, err := os.Stat(dir)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || fi.Mode().Perm() != 0o700 || filepath.Dir(dir) != e.TempRoot {
			t.Errorf("job dir %s: %v %v", dir, fi.Mode(), err)
		}
		jobs[dir] = true
	}
	var wg sync.WaitGroup
	servers := make([]*convexlocal.Server, 4)
	errs := make([]error, 4)
	for i := range servers {
		srv, tg := startLocal(t, fmt.Sprintf("cat-%d", i), convexlocal.Options{})
		servers[i] = srv
		wg.Go(func() { _, errs[i] = e.Deploy(context.Background(), tg, Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("deploy %d: %v", i, err)
		}
		if st := servers[i].State(); st.PushCount != 1 || len(st.Tables) != 9 {
			t.Errorf("deployment %d: %d pushes, %d tables", i, st.PushCount, len(st.Tables))
		}
	}
	if len(jobs) != 4 {
		t.Fatalf("%d distinct job dirs, want 4: %v", len(jobs), jobs)
	}
	requireNothingLeft(t, e.TempRoot)
}

// TestDeployKeyFlow deploys with a `prod:` deploy key through the CLI's control-plane path,
// pointed at the local deployment.
func TestDeployKeyFlow(t *testing.T) {
	e := testEngine(t)
	key := "prod:happy-cat-123|" + strings.Repeat("ab", 24)
	srv, tg := startLocal(t, "happy-cat-123", convexlocal.Options{AdminKey: key})
	e.ProvisionHost, e.VersionAPIOrigin = srv.URL(), srv.URL()
	if _, err, _ := deployTo(t, e, tg, Options{}); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, r := range srv.Requests() {
		paths[r.Path] = true
	}
	for _, p := range []string{"/api/deployment/url_for_key", "/api/deploy2/finish_push"} {
		if !paths[p] {
			t.Errorf("the CLI never called %s: %v", p, paths)
		}
	}
	requireNothingLeft(t, e.TempRoot)
}

// TestDeployPanicInProgressCleansUp: a panicking progress callback is re-raised by Deploy after
// the CLI's group is killed and the job directory removed.
func TestDeployPanicInProgressCleansUp(t *testing.T) {
	e := testEngine(t)
	_, tg := startLocal(t, "happy-cat-123", convexlocal.Options{})
	var got any
	func() {
		defer func() { got = recover() }()
		_, _ = e.Deploy(context.Background(), tg, Options{Progress: func(ev Event) {
			if ev.Stage == StagePushing {
				panic("callback broke")
			}
		}})
	}()
	if got != "callback broke" {
		t.Fatalf("recovered %v, want the callback's panic", got)
	}
	requireNothingLeft(t, e.TempRoot)
}

// TestDeployWhileTheCLIRuns holds the CLI's start_push at a proxy in front of the local
// deployment and looks at the deploy while the CLI waits for the answer: the job directory is
// 0700, the env file 0600, and the CLI's argv and environment hold no key, turn type-check and
// codegen off, name the env file and carry the compile cache.
func TestDeployWhileTheCLIRuns(t *testing.T) {
	e := testEngine(t)
	e.CompileCache = filepath.Join(t.TempDir(), "compile-cache")
	jobs := make(chan string, 1)
	e.jobHook = func(dir string) { jobs <- dir }
	srv, tg := startLocal(t, "happy-cat-123", convexlocal.Options{})
	_, secret, _ := strings.Cut(tg.Key, "|")
	main := convexcli.Entry(e.CLINodeModules)
	checked := make(chan struct{})
	var once sync.Once
	tg.URL = interpose(t, srv.URL(), func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/deploy2/start_push" {
			once.Do(func() {
				defer close(checked)
				checkRunningDeploy(t, <-jobs, main, tg.Key, secret, e.CompileCache)
			})
		}
		return false
	})
	if _, err, _ := deployTo(t, e, tg, Options{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-checked:
	default:
		t.Fatal("the CLI never called start_push")
	}
	requireNothingLeft(t, e.TempRoot)
}

// checkRunningDeploy looks at a deploy's job directory and processes while its CLI waits.
func checkRunningDeploy(t *testing.T, job, main, key, secret, cache string) {
	t.Helper()
	for _, f := range []struct {
		path string
		perm os.FileMode
		dir  bool
	}{{job, 0o700, true}, {filepath.Join(job, "target.env"), 0o600, false}} {
		fi, err := os.Lstat(f.path)
		if err != nil || fi.IsDir() != f.dir || fi.Mode().Perm() != f.perm {
			t.Errorf("%s while the CLI runs: %v %v, want %v (dir %v)", f.path, fi.Mode(), err, f.perm, f.dir)
		}
	}
	procs := processesUnder(t, filepath.Join(job, "tmp"))
	var leader *cliProcess
	for i, p := range procs {
		if len(p.argv) > 1 && p.argv[1] == main {
			leader = &procs[i]
		}
		for _, s := range append(slices.Clone(p.argv), p.env...) {
			if strings.Contains(s, secret) || strings.Contains(s, key) {
				t.Errorf("process %s %v holds the key in its argv or environment", p.pid, p.argv[:1])
			}
		}
	}
	if leader == nil {
		t.Errorf("no CLI process (%s) among the deploy's processes %+v", main, procs)
		return
	}
	args := strings.Join(leader.argv, " ")
	for _, want := range []string{" deploy ", " --typecheck=disable ", " --codegen=disable ", " --env-file " + filepath.Join(job, "target.env")} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("CLI argv %q lacks %q", args, want)
		}
	}
	names := map[string]string{}
	for _, kv := range leader.env {
		k, v, _ := strings.Cut(kv, "=")
		names[k] = v
		if !convexcli.AllowedEnv[k] {
			t.Errorf("CLI environment holds %s, outside the allow-list", k)
		}
	}
	if names["NODE_COMPILE_CACHE"] != cache || names["CI"] != "1" {
		t.Errorf("CLI environment %v, want NODE_COMPILE_CACHE=%s and CI=1", leader.env, cache)
	}
}

// TestDeployChecksTheVersion: a deployment whose functions:ping answers another version after
// the push fails the deploy as internal (retryable), naming both versions.
func TestDeployChecksTheVersion(t *testing.T) {
	e := testEngine(t)
	srv, tg := startLocal(t, "happy-cat-123", convexlocal.Options{})
	other := bundle.Version + 1
	tg.URL = interpose(t, srv.URL(), func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/query" {
			return false
		}
		fmt.Fprintf(w, `{"status":"success","value":{"status":"ok","version":%d}}`, other)
		return true
	})
	_, err, rec := deployTo(t, e, tg, Options{})
	var de *Error
	if !errors.As(err, &de) || de.Class != failure.Internal || !de.Retryable {
		t.Fatalf("err = %v, want a retryable internal *Error", err)
	}
	for _, want := range []string{fmt.Sprintf("version %d", other), fmt.Sprintf("want %d", bundle.Version)} {
		if !strings.Contains(de.Message, want) {
			t.Errorf("message %q does not name %q", de.Message, want)
		}
	}
	events := rec.all()
	if last := events[len(events)-1].Stage; last != StageVerifying {
		t.Fatalf("last stage %s, want verifying (%v)", last, stages(events))
	}
	if st := srv.State(); st.PushCount != 1 {
		t.Fatalf("%d pushes reached the deployment, want 1", st.PushCount)
	}
	requireNothingLeft(t, e.TempRoot)
}

// Issue 11: the allow-list is host and port. A deployment on a listed host but another port, or on
// this machine when nothing says loopback, is refused before the preflight: the key is never sent
// there. The deployment listed with its own port (HostEntry) is reached, and a real deploy to a
// local deployment listed that way lands.
func TestDeployOnlyToAllowedHostAndPort(t *testing.T) {
	var mu sync.Mutex
	var reached []string // requests the listening "deployment" got, with the key header it saw
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer spy.Close()
	entry, err := HostEntry(spy.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(entry)
	const key = "self-hosted|0123456789abcdef"
	tests := []struct {
		name     string
		hosts    []string
		loopback bool
		refused  bool
	}{
		{name: "nothing listed", refused: true},
		{name: "host listed without a port (443)", hosts: []string{host}, refused: true},
		{name: "host listed with another port", hosts: []string{net.JoinHostPort(host, "1")}, refused: true},
		{name: "another loopback spelling", hosts: []string{strings.Replace(entry, host, "localhost", 1)}, refused: true},
		{name: "listed with its port", hosts: []string{entry}},
		{name: "loopback mode", loopback: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			reached = nil
			mu.Unlock()
			e := testEngine(t)
			e.SelfHostedHosts, e.Loopback = tc.hosts, tc.loopback
			_, err := e.Deploy(context.Background(), Target{URL: spy.URL, Key: key}, Options{})
			mu.Lock()
			got := append([]string(nil), reached...)
			mu.Unlock()
			if tc.refused {
				if ClassOf(err) != failure.InvalidTarget || len(got) != 0 {
					t.Fatalf("Deploy = %v (class %s), requests %q; want invalid_target and no request", err, ClassOf(err), got)
				}
				return
			}
			// The spy is no Convex deployment: the preflight reaches it and fails there.
			if ClassOf(err) == failure.InvalidTarget || len(got) == 0 {
				t.Fatalf("Deploy = %v (class %s), requests %q; want the preflight to reach the listed host:port", err, ClassOf(err), got)
			}
		})
	}

	t.Run("deploys to a local deployment listed by host:port", func(t *testing.T) {
		srv, tg := startLocal(t, "allow-port", convexlocal.Options{})
		e := testEngine(t)
		e.Loopback = false
		if e.SelfHostedHosts, err = ParseHosts("convex.internal, " + mustEntry(t, srv.URL())); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Deploy(context.Background(), tg, Options{}); err != nil {
			t.Fatalf("Deploy to %s listed as %v: %v", srv.URL(), e.SelfHostedHosts, err)
		}
	})
}

func mustEntry(t testing.TB, url string) string {
	t.Helper()
	e, err := HostEntry(url)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
