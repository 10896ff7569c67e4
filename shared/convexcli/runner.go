package convexcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Defaults of a [Runner].
const (
	DefaultOutputLimit = 64 << 10        // bytes of each stream's tail that are kept
	DefaultGrace       = 2 * time.Second // SIGTERM → SIGKILL
	// groupWait bounds how long Run waits for a killed group to leave /proc.
	groupWait = 5 * time.Second
)

// AllowedEnv lists the only variables a child may get. CI=1 turns off Sentry and prompts, TMPDIR
// is the job's own temp dir, PATH finds node's helpers, NODE_COMPILE_CACHE is Node 22's on-disk
// compile cache, and the two control-plane overrides point a deploy-key deploy at a local
// stand-in in tests. HOME is allowed so a caller can point it at a job dir (npx needs one).
var AllowedEnv = map[string]bool{
	"CI":                         true,
	"TMPDIR":                     true,
	"PATH":                       true,
	"HOME":                       true,
	"NODE_COMPILE_CACHE":         true,
	"CONVEX_PROVISION_HOST":      true,
	"CONVEX_VERSION_API_ORIGIN":  true,
	"npm_config_offline":         true,
	"npm_config_cache":           true,
	"npm_config_update_notifier": true,
}

// Runner runs one program (node, normally with the CLI's Entry as first argument) in its own
// process group. The zero value is not usable: Program must be set. A Runner holds no per-run
// state and may be used by several goroutines at once.
type Runner struct {
	// Program is the executable, e.g. the path of node. It is run directly, never through a shell.
	Program string
	// Env is the child's whole environment. Every name must be in AllowedEnv.
	Env map[string]string
	// OutputLimit is the number of bytes of each stream's tail that are kept (0: DefaultOutputLimit).
	OutputLimit int
	// Grace is the time between SIGTERM and SIGKILL when the context ends (0: DefaultGrace).
	Grace time.Duration
	// Secrets are scrubbed from every line and from the kept output (see KeySecrets).
	Secrets []string
	// OnLine, if set, gets each output line, scrubbed and without terminal escapes, as it
	// arrives. stream is "stdout" or "stderr". Calls are serialised per stream only.
	OnLine func(stream, line string)
}

// Result describes a finished run.
type Result struct {
	Stdout, Stderr string        // scrubbed tails, at most OutputLimit bytes each
	Wall           time.Duration // start to exit of the leader
	CPU            time.Duration // user+sys of the leader, the children it waited for, and what the group still held at its exit
	PGID           int           // the process group the run used
}

// ExitError is returned by Run when the program started but did not succeed: it exited non-zero,
// was killed because the context ended, or left a group that could not be ended. Its text holds
// no secret and at most the last lines of stderr.
type ExitError struct {
	Code     int    // exit code, -1 when killed by a signal
	Signal   string // the signal that ended the leader, if any
	Canceled bool   // the context ended before the program did
	Cause    error  // the context's error when Canceled
	Result          // what was captured
}

func (e *ExitError) Error() string {
	var b strings.Builder
	switch {
	case e.Canceled:
		fmt.Fprintf(&b, "convexcli: killed after %s: %v", e.Wall.Round(time.Millisecond), e.Cause)
	case e.Signal != "":
		fmt.Fprintf(&b, "convexcli: ended by signal %s", e.Signal)
	default:
		fmt.Fprintf(&b, "convexcli: exit status %d", e.Code)
	}
	if last := lastLines(e.Stderr, 3); last != "" {
		b.WriteString(": ")
		b.WriteString(last)
	}
	return b.String()
}

// Unwrap returns the context's error for a cancelled run.
func (e *ExitError) Unwrap() error { return e.Cause }

// Run runs Program with args in dir and waits for it and its whole process group to end.
// It returns an error wrapping [ErrEnv] when Env names a variable outside AllowedEnv, a plain
// error when the program cannot start, and an *ExitError when it ran and failed or was killed.
// On every path no process of the group is left alive when Run returns, unless the returned
// error says so.
func (r *Runner) Run(ctx context.Context, dir string, args ...string) (Result, error) {
	env, err := r.environ()
	if err != nil {
		return Result{}, err
	}
	limit := r.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	scrub := NewScrubber(r.Secrets...)
	stdout := newCapture("stdout", scrub, limit, r.OnLine)
	stderr := newCapture("stderr", scrub, limit, r.OnLine)

	// The child writes into pipes this process owns, not into os/exec's copying goroutines: an
	// esbuild service left behind by the CLI inherits them, and Wait must not wait for it.
	outR, outW, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("convexcli: stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return Result{}, fmt.Errorf("convexcli: stderr pipe: %w", err)
	}
	cmd := exec.CommandContext(ctx, r.Program, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = grace // then os/exec SIGKILLs the leader

	start := time.Now()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return Result{}, fmt.Errorf("convexcli: start %s: %w", r.Program, err)
	}
	copied := make(chan struct{}, 2)
	go drain(outR, stdout, copied)
	go drain(errR, stderr, copied)

	pgid := cmd.Process.Pid
	waitErr := cmd.Wait()
	wall := time.Since(start)
	leftCPU, groupErr := endGroup(pgid, time.Now().Add(groupWait))
	// With the group gone the pipes reach EOF at once; a writer outside the group (a process that
	// left it with setsid) could hold them, so the wait is bounded and the read ends are closed.
	timer := time.NewTimer(grace)
	for range 2 {
		select {
		case <-copied:
		case <-timer.C:
			outR.Close()
			errR.Close()
			<-copied
		}
	}
	timer.Stop()
	outR.Close()
	errR.Close()
	stdout.finish()
	stderr.finish()

	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Wall: wall, PGID: pgid}
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	res.CPU += leftCPU
	if waitErr == nil && groupErr == nil {
		return res, nil
	}
	xe := &ExitError{Code: -1, Result: res}
	if ps := cmd.ProcessState; ps != nil {
		xe.Code = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			xe.Signal = ws.Signal().String()
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		xe.Canceled, xe.Cause = true, ctxErr
	}
	if groupErr != nil {
		return res, fmt.Errorf("%w (%v)", xe, groupErr)
	}
	return res, xe
}

// ErrEnv is wrapped when a Runner's Env names a variable outside AllowedEnv.
var ErrEnv = errors.New("convexcli: environment variable not allowed")

func (r *Runner) environ() ([]string, error) {
	if r.Program == "" {
		return nil, errors.New("convexcli: Runner.Program is empty")
	}
	names := make([]string, 0, len(r.Env))
	for k := range r.Env {
		if !AllowedEnv[k] {
			return nil, fmt.Errorf("%w: %s", ErrEnv, k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	env := make([]string, 0, len(names))
	for _, k := range names {
		env = append(env, k+"="+r.Env[k])
	}
	return env, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, " | "))
}

func drain(r io.Reader, w io.Writer, done chan<- struct{}) {
	_, _ = io.Copy(w, r)
	done <- struct{}{}
}
