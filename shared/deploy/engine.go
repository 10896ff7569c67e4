package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/convexcli"
	"github.com/byod-deployer/byod-deployer/shared/failure"
)

// DefaultTimeout is the time limit of a deploy when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// Stage is a step of a deploy, as reported in Events.
type Stage string

// The stages, in order. StageIndexing events carry backfill progress in Done/Total.
const (
	StageValidating Stage = "validating" // checking the URL and key
	StagePreflight  Stage = "preflight"  // asking the deployment whether it answers and takes the key
	StagePreparing  Stage = "preparing"  // writing the package into the job directory
	StageBundling   Stage = "bundling"   // the CLI runs and bundles the functions
	StagePushing    Stage = "pushing"    // the CLI uploads the package; the backend checks it
	StageIndexing   Stage = "indexing"   // the backend builds indexes and validates documents
	StageFinishing  Stage = "finishing"  // the new schema and functions go live
	StageVerifying  Stage = "verifying"  // calling functions:ping for the deployed version
	StageDeployed   Stage = "deployed"   // done
)

// Event is one progress report. It never holds the key.
type Event struct {
	Stage       Stage
	Message     string
	Done, Total int // index backfill progress, when known
	At          time.Time
}

// Options tune one deploy.
type Options struct {
	// Timeout bounds the whole deploy (0: DefaultTimeout).
	Timeout time.Duration
	// Progress, if set, gets every Event, one at a time, in order. It must not block for long:
	// the CLI's output waits for it. A panic in it ends the deploy (cleanly) and is re-raised.
	Progress func(Event)
}

// Result describes a successful deploy.
type Result struct {
	URL           string        // the deployment URL, normalised
	SchemaVersion int           // the package version functions:ping answered
	Duration      time.Duration // the whole deploy, validation to verification
	CLIWall       time.Duration // the CLI's run alone
	CLICPU        time.Duration // user+sys CPU of the CLI and the children it waited for
}

// Engine deploys the BYOD package. Set its fields once; an Engine holds no per-deploy state and
// may run several deploys at once (each gets its own job directory and process group).
type Engine struct {
	// CLINodeModules is the read-only node_modules holding the pinned convex package (required),
	// e.g. /opt/convex/node_modules in the image, toolpath.CLINodeModules() in tests.
	CLINodeModules string
	// Node is the node executable ("": node on PATH).
	Node string
	// TempRoot is where job directories are made ("": os.TempDir()).
	TempRoot string
	// SelfHostedHosts are the deployments, besides Convex cloud ones, that may be deployed to, as
	// ParseHosts accepts them: host or host:port (443 when left out), matched exactly. Their key
	// is the deployment's admin key. Plain http is allowed to a loopback host only.
	SelfHostedHosts []string
	// Loopback allows any deployment on this machine (localhost, 127.0.0.0/8, ::1) at any port.
	// The operator's tools and tests set it; the deployer function never does, and nothing
	// implies it: without it a loopback deployment must be listed with its port.
	Loopback bool
	// HTTPClient is used for the preflight and the ping (nil: a client that follows no redirect).
	HTTPClient *http.Client
	// PreflightTimeout bounds the preflight (0: DefaultPreflightTimeout).
	PreflightTimeout time.Duration
	// ProvisionHost and VersionAPIOrigin redirect the CLI's control-plane and version calls
	// (CONVEX_PROVISION_HOST, CONVEX_VERSION_API_ORIGIN). For tests: when ProvisionHost is set,
	// a typed key (`prod:<name>|…`) is passed as CONVEX_DEPLOY_KEY whatever the host, so the
	// deploy-key flow runs against a local deployment.
	ProvisionHost, VersionAPIOrigin string
	// CompileCache, when set, is passed as NODE_COMPILE_CACHE: Node ≥ 22 caches compiled code
	// there, shared between deploys (Node 20 ignores it). It is made 0700 when missing. A cache
	// never fails a deploy: one that cannot be made, is not a directory, is not owned by this
	// process's user, is writable by anyone else, or takes no file is left out of that deploy.
	CompileCache string
	// Grace is the time between SIGTERM and SIGKILL when a deploy is stopped (0: convexcli's).
	Grace time.Duration
	// KeepOutput, if set, gets the scrubbed tails of the CLI's stdout and stderr after every
	// run, failed or stopped ones included, for debugging.
	KeepOutput func(stdout, stderr string)

	jobHook func(dir string) // tests: told each job directory once it is prepared
}

// Deploy installs bundle.Version into the target's deployment and checks that functions:ping
// answers it. The error is always an *Error (see ClassOf); it holds no key. Whatever happens,
// Deploy removes its job directory and leaves no process of the CLI's group behind.
func (e *Engine) Deploy(ctx context.Context, t Target, opts Options) (Result, error) {
	start := time.Now()
	limit := opts.Timeout
	if limit <= 0 {
		limit = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	rep := &reporter{scrub: convexcli.NewScrubber(convexcli.KeySecrets(t.Key)...), fn: opts.Progress, cancel: cancel}

	res, derr := e.deploy(ctx, t, rep)
	if p := rep.panicked(); p != nil {
		panic(p)
	}
	if derr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			derr = stopped(ctxErr, limit, time.Since(start))
		}
		derr.Message = rep.scrub.Scrub(derr.Message)
		derr.Detail = rep.scrub.Scrub(derr.Detail)
		if derr.Err != nil {
			derr.Err = scrubbedError{msg: rep.scrub.Scrub(derr.Err.Error()), err: derr.Err}
		}
		return Result{}, derr.ForTarget(t)
	}
	res.Duration = time.Since(start)
	rep.emit(Event{Stage: StageDeployed, Message: fmt.Sprintf("deployed package version %d to %s", res.SchemaVersion, res.URL)})
	if p := rep.panicked(); p != nil {
		panic(p)
	}
	return res, nil
}

// stopped is the error for a deploy whose context ended: its own time limit, the caller's
// deadline, or the caller's cancel.
func stopped(cause error, limit, elapsed time.Duration) *Error {
	if errors.Is(cause, context.Canceled) {
		return newError(failure.TimedOut, true, fmt.Sprintf("cancelled after %s", elapsed.Round(time.Millisecond)), "", cause)
	}
	if elapsed >= limit {
		return timedOut(limit, cause)
	}
	return timedOut(elapsed, cause) // the caller's own, earlier deadline
}

func (e *Engine) deploy(ctx context.Context, t Target, rep *reporter) (Result, *Error) {
	rep.emit(Event{Stage: StageValidating, Message: "checking the deployment URL and key"})
	tg, verr := validate(t, e.SelfHostedHosts, e.Loopback)
	if verr != nil {
		return Result{}, verr
	}
	if e.CLINodeModules == "" {
		return Result{}, newError(failure.Internal, false, "the engine has no Convex CLI install (CLINodeModules)", "", nil)
	}
	node, err := e.node()
	if err != nil {
		return Result{}, newError(failure.Internal, false, "node is not installed", err.Error(), err)
	}

	rep.emit(Event{Stage: StagePreflight, Message: "contacting " + tg.base})
	if perr := e.preflight(ctx, tg); perr != nil {
		return Result{}, perr
	}
	if ctx.Err() != nil {
		return Result{}, newError(failure.TimedOut, true, "stopped", "", ctx.Err())
	}

	rep.emit(Event{Stage: StagePreparing, Message: fmt.Sprintf("writing package version %d", bundle.Version)})
	job, jerr := e.prepare(tg)
	if job != "" {
		defer os.RemoveAll(job)
	}
	if jerr != nil {
		return Result{}, jerr
	}
	if e.jobHook != nil {
		e.jobHook(job)
	}

	rep.emit(Event{Stage: StageBundling, Message: "running the Convex CLI"})
	runner := &convexcli.Runner{
		Program: node,
		Env:     e.childEnv(node, filepath.Join(job, "tmp"), e.compileCache()),
		Grace:   e.Grace,
		Secrets: convexcli.KeySecrets(t.Key),
		OnLine: func(_, line string) {
			if p, ok := convexcli.ParseLine(line); ok {
				rep.emit(Event{Stage: stageOf(p.Step, rep.last()), Message: p.Message, Done: p.Done, Total: p.Total})
			}
		},
	}
	args := append([]string{convexcli.Entry(e.CLINodeModules)}, deployArgs(job)...)
	run, rerr := runner.Run(ctx, filepath.Join(job, "project"), args...)
	if e.KeepOutput != nil {
		e.KeepOutput(run.Stdout, run.Stderr)
	}
	if rerr != nil {
		if ctx.Err() != nil {
			return Result{}, newError(failure.TimedOut, true, "stopped", "", ctx.Err())
		}
		var xe *convexcli.ExitError
		if !errors.As(rerr, &xe) {
			return Result{}, newError(failure.Internal, false, "the Convex CLI could not run", "", rerr)
		}
		return Result{}, classifyCLI(convexcli.ParseFailure(xe.Stderr), rerr)
	}

	rep.emit(Event{Stage: StageVerifying, Message: "calling functions:ping"})
	if verr := e.verify(ctx, tg, bundle.Version); verr != nil {
		return Result{}, verr
	}
	if ctx.Err() != nil {
		return Result{}, newError(failure.TimedOut, true, "stopped", "", ctx.Err())
	}
	return Result{URL: tg.base, SchemaVersion: bundle.Version, CLIWall: run.Wall, CLICPU: run.CPU}, nil
}

// deployArgs are the CLI's arguments after its entry script (convexcli.Entry). Type-checking ran
// at build time, and the package ships convex/_generated, so both are off; the two confirmations
// a non-interactive run cannot answer are pre-answered.
func deployArgs(job string) []string {
	return []string{"deploy", "--yes", "--typecheck=disable", "--codegen=disable",
		"--skip-large-indexes-check", "--allow-unstaging-schema",
		"--env-file", filepath.Join(job, "target.env")}
}

// prepare makes the job directory: project/ (the package, node_modules linked to the CLI
// install), tmp/ (the child's TMPDIR) and target.env (0600). It returns the directory even when
// it fails half-way, so the caller removes it.
func (e *Engine) prepare(tg target) (string, *Error) {
	root := e.TempRoot
	if root == "" {
		root = os.TempDir()
	}
	job, err := os.MkdirTemp(root, "byod-deploy-") // 0700
	if err != nil {
		return "", newError(failure.Internal, true, "could not make the job directory", err.Error(), err)
	}
	fail := func(what string, err error) (string, *Error) {
		return job, newError(failure.Internal, false, "could not prepare the deploy: "+what, err.Error(), err)
	}
	for _, d := range []string{"project", "tmp"} {
		if err := os.Mkdir(filepath.Join(job, d), 0o700); err != nil {
			return fail("mkdir "+d, err)
		}
	}
	if err := bundle.Materialize(filepath.Join(job, "project"), bundle.Options{NodeModules: e.CLINodeModules}); err != nil {
		return fail("write the package", err)
	}
	if _, err := os.Stat(filepath.Join(job, "project", "convex", "_generated", "server.js")); err != nil {
		return fail("the package ships no convex/_generated (needed with --codegen=disable)", err)
	}
	f, err := os.OpenFile(filepath.Join(job, "target.env"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fail("create the env file", err)
	}
	_, werr := f.WriteString(e.envFile(tg))
	if err := errors.Join(werr, f.Close()); err != nil {
		return fail("write the env file", err)
	}
	return job, nil
}

// envFile is the dotenv text that tells the CLI where to deploy. A cloud deploy key goes in as
// CONVEX_DEPLOY_KEY, the documented path (the CLI resolves the URL through the control plane,
// which also checks the key); a self-hosted deployment gets its URL and admin key, which makes
// the CLI talk to that URL only. validate has ruled out characters dotenv would misread.
func (e *Engine) envFile(tg target) string {
	if tg.cloud || (e.ProvisionHost != "" && typedKey(tg.key)) {
		return "CONVEX_DEPLOY_KEY=" + tg.key + "\n"
	}
	return "CONVEX_SELF_HOSTED_URL=" + tg.base + "\nCONVEX_SELF_HOSTED_ADMIN_KEY=" + tg.key + "\n"
}

func typedKey(key string) bool {
	ident, _, _ := strings.Cut(key, "|")
	return strings.HasPrefix(ident, "prod:") || strings.HasPrefix(ident, "dev:")
}

// childEnv is the CLI's whole environment: nothing of this process's own. cache is the usable
// compile cache ("": none).
func (e *Engine) childEnv(node, tmp, cache string) map[string]string {
	env := map[string]string{
		"CI":     "1",
		"TMPDIR": tmp,
		"PATH":   filepath.Dir(node) + ":/usr/local/bin:/usr/bin:/bin",
	}
	if cache != "" {
		env["NODE_COMPILE_CACHE"] = cache
	}
	if e.ProvisionHost != "" {
		env["CONVEX_PROVISION_HOST"] = e.ProvisionHost
	}
	if e.VersionAPIOrigin != "" {
		env["CONVEX_VERSION_API_ORIGIN"] = e.VersionAPIOrigin
	}
	return env
}

// compileCache returns CompileCache when a deploy can use it, else "" (see CompileCache). It is
// checked on every deploy: /tmp of a warm container may have been cleaned since the last one.
// Node never gets a directory it would have to create: Node 22 spins forever on a cache
// directory it cannot create in some places (e.g. under /proc), and handles a read-only one
// only by silently not caching.
func (e *Engine) compileCache() string {
	dir := e.CompileCache
	if dir == "" {
		return ""
	}
	dir, err := filepath.Abs(dir)
	if err != nil || os.MkdirAll(dir, 0o700) != nil {
		return ""
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return ""
	}
	probe, err := os.CreateTemp(dir, ".probe-")
	if err != nil {
		return ""
	}
	probe.Close()
	if os.Remove(probe.Name()) != nil {
		return ""
	}
	return dir
}

func (e *Engine) node() (string, error) {
	n := e.Node
	if n == "" {
		n = "node"
	}
	p, err := exec.LookPath(n)
	if err != nil {
		return "", fmt.Errorf("deploy: find node %q: %w", n, err)
	}
	return filepath.Abs(p)
}

// stageOf maps a CLI step to a Stage; a retry stays in the current stage.
func stageOf(s convexcli.Step, current Stage) Stage {
	switch s {
	case convexcli.StepBundling:
		return StageBundling
	case convexcli.StepPushing:
		return StagePushing
	case convexcli.StepIndexing:
		return StageIndexing
	case convexcli.StepFinishing, convexcli.StepDeployed:
		return StageFinishing
	}
	return current
}

// reporter serialises Events, scrubs them and keeps a panic of the callback for Deploy to
// re-raise in its own goroutine (the CLI's lines arrive on the runner's goroutines).
type reporter struct {
	scrub  *convexcli.Scrubber
	fn     func(Event)
	cancel context.CancelFunc

	mu    sync.Mutex
	stage Stage
	pv    any
}

func (r *reporter) emit(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stage = ev.Stage
	if r.fn == nil || r.pv != nil {
		return
	}
	ev.Message = r.scrub.Scrub(ev.Message)
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	defer func() {
		if p := recover(); p != nil {
			r.pv = p
			r.cancel()
		}
	}()
	r.fn(ev)
}

func (r *reporter) last() Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stage
}

func (r *reporter) panicked() any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pv
}

// scrubbedError carries a cause whose text had the key removed, keeping it for errors.Is/As.
type scrubbedError struct {
	msg string
	err error
}

func (s scrubbedError) Error() string { return s.msg }
func (s scrubbedError) Unwrap() error { return s.err }
