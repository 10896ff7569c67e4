package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// testEngine is an Engine over the pinned CLI, run on toolpath.Node (the image's Node 22), that deploys to loopback (Loopback), with job directories
// under a fresh temp root. A missing CLI install fails the test.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	nm, err := toolpath.CLINodeModules()
	if err != nil {
		t.Fatal(err)
	}
	node, err := toolpath.Node()
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{CLINodeModules: nm, Node: node, TempRoot: t.TempDir(), Loopback: true}
}

// recorder collects the Events of a deploy.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// startLocal starts a local deployment with a fresh admin key and returns it with the target.
func startLocal(t testing.TB, name string, opts convexlocal.Options) (*convexlocal.Server, Target) {
	t.Helper()
	if opts.AdminKey == "" {
		opts.AdminKey = convexlocaltest.AdminKey(t, name)
	}
	s := convexlocaltest.Start(t, opts)
	return s, Target{URL: s.URL(), Key: opts.AdminKey}
}

func deployTo(t testing.TB, e *Engine, tg Target, opts Options) (Result, error, *recorder) {
	t.Helper()
	rec := &recorder{}
	opts.Progress = rec.add
	res, err := e.Deploy(context.Background(), tg, opts)
	return res, err, rec
}

// requireNothingLeft fails when the temp root holds anything, or when a process still runs
// with its TMPDIR under the root (the CLI and its esbuild service get TMPDIR=<job>/tmp).
func requireNothingLeft(t testing.TB, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in the temp root: %s", e.Name())
	}
	for _, p := range processesUnder(t, root) {
		t.Errorf("process %s (%v) of a deploy is still alive", p.pid, p.argv)
	}
}

// requireStagesInOrder fails unless the events start with validating, end with want, and never
// go back to an earlier stage.
func requireStagesInOrder(t testing.TB, events []Event, want Stage) {
	t.Helper()
	order := map[Stage]int{}
	for i, s := range []Stage{StageValidating, StagePreflight, StagePreparing, StageBundling, StagePushing,
		StageIndexing, StageFinishing, StageVerifying, StageDeployed} {
		order[s] = i
	}
	if len(events) == 0 || events[0].Stage != StageValidating || events[len(events)-1].Stage != want {
		t.Fatalf("events %v: want validating … %s", stages(events), want)
	}
	for i := 1; i < len(events); i++ {
		if order[events[i].Stage] < order[events[i-1].Stage] {
			t.Fatalf("stage went back from %s to %s: %v", events[i-1].Stage, events[i].Stage, stages(events))
		}
	}
}

func stages(events []Event) []Stage {
	out := make([]Stage, len(events))
	for i, e := range events {
		out[i] = e.Stage
	}
	return out
}

// interpose starts a loopback server in front of the deployment at url and returns its URL.
// Every request goes to intercept first, which returns true when it answered the request
// itself; the others are passed on unchanged.
func interpose(t testing.TB, url string, intercept func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// cliProcess is one process of a running deploy, read from /proc.
type cliProcess struct {
	pid  string
	argv []string
	env  []string
}

// processesUnder returns the live processes whose TMPDIR starts with dir: the engine gives the
// CLI, and so the esbuild service it starts, TMPDIR=<job>/tmp. It reports a failure to read /proc
// with t.Errorf (not Fatal), so it may run outside the test's goroutine, as in an HTTP handler.
func processesUnder(t testing.TB, dir string) []cliProcess {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Errorf("read /proc: %v", err)
		return nil
	}
	needle := "TMPDIR=" + dir
	var out []cliProcess
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", p.Name(), "environ"))
		if err != nil {
			continue
		}
		vars := strings.Split(strings.TrimRight(string(env), "\x00"), "\x00")
		if !slices.ContainsFunc(vars, func(kv string) bool { return strings.HasPrefix(kv, needle) }) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		out = append(out, cliProcess{pid: p.Name(), argv: strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"), env: vars})
	}
	return out
}
