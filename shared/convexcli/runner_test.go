package convexcli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary re-executes itself as a stand-in CLI (the helper-process pattern of
// os/exec's own tests). The environment is allow-listed, so the mode travels in argv after "--".
func helperArgs(mode string, extra ...string) []string {
	return append([]string{"-test.run=^TestHelperProcess$", "--", mode}, extra...)
}

const canary = "prod:canary-deployment|c4n4ry53cr37c4n4ry53cr37"

func TestHelperProcess(t *testing.T) {
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	if len(args) < 2 {
		return // an ordinary test run
	}
	mode, rest := args[1], args[2:]
	switch mode {
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "exit":
		fmt.Fprintln(os.Stderr, "✖ Error: Unable to start push to http://127.0.0.1:1")
		fmt.Fprintln(os.Stderr, "✖ something broke")
		os.Exit(3)
	case "flood":
		line := strings.Repeat("x", 99) + "\n"
		for range 20000 {
			os.Stderr.WriteString(line)
		}
		fmt.Fprintln(os.Stderr, "the last line")
	case "secret":
		// The key whole, its secret part alone, split across writes, and inside an over-long line.
		fmt.Println("key " + canary)
		fmt.Fprintln(os.Stderr, "secret "+canary[strings.IndexByte(canary, '|')+1:])
		half := len(canary) / 2
		os.Stderr.WriteString("split " + canary[:half])
		os.Stderr.Sync()
		os.Stderr.WriteString(canary[half:] + "\n")
		os.Stderr.WriteString(strings.Repeat("y", maxLine-5) + canary + strings.Repeat("z", 100) + "\n")
		os.Exit(1)
	case "orphan":
		// Like the CLI: start a helper that stays behind in the group, holding stderr, and exit.
		startSleeper()
		fmt.Println("leader done")
	case "hang":
		signal.Ignore(syscall.SIGTERM)
		startSleeper()
		fmt.Println("hanging")
		time.Sleep(time.Hour)
	case "subreaper":
		// Stand in for PID 1 of a container: orphans of this process's subtree come to it.
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
			fmt.Println("prctl:", e)
			os.Exit(1)
		}
		r := &Runner{Program: os.Args[0], Env: map[string]string{"CI": "1"}}
		res, err := r.Run(context.Background(), os.TempDir(), helperArgs("orphan")...)
		if err != nil || !strings.Contains(res.Stdout, "sleeper ") {
			fmt.Println("run:", err, res.Stdout)
			os.Exit(1)
		}
		left, err := GroupMembers(res.PGID)
		if err != nil || len(left) != 0 {
			fmt.Printf("group %d still in /proc: %+v %v\n", res.PGID, left, err)
			os.Exit(1)
		}
		fmt.Println("reaped")
	case "sleep":
		if len(rest) > 0 && rest[0] == "ignoreterm" {
			signal.Ignore(syscall.SIGTERM)
		}
		time.Sleep(time.Hour)
	}
	os.Exit(0)
}

func startSleeper() {
	cmd := exec.Command(os.Args[0], helperArgs("sleep", "ignoreterm")...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start sleeper:", err)
		os.Exit(9)
	}
	fmt.Printf("sleeper %d\n", cmd.Process.Pid)
}

func helperRunner(t testing.TB) *Runner {
	t.Helper()
	return &Runner{Program: os.Args[0], Env: map[string]string{"CI": "1", "TMPDIR": t.TempDir()}}
}

// requireGroupGone fails when /proc still lists a live process of the group, or a zombie that
// this process would have to reap.
func requireGroupGone(t testing.TB, pgid int) {
	t.Helper()
	if pgid <= 1 {
		t.Fatalf("no process group recorded (pgid %d)", pgid)
	}
	left, err := GroupMembers(pgid)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range left {
		if m.Alive() {
			t.Fatalf("process group %d still holds %+v", pgid, left)
		}
	}
}

func TestRunEnvironmentIsExactlyTheAllowList(t *testing.T) {
	r := helperRunner(t)
	r.Env["PATH"] = "/usr/bin:/bin"
	t.Setenv("CONVEX_DEPLOY_KEY", canary) // in the parent only: must not reach the child
	res, err := r.Run(context.Background(), t.TempDir(), helperArgs("env")...)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(res.Stdout)
	want := []string{"CI=1", "PATH=/usr/bin:/bin", "TMPDIR=" + r.Env["TMPDIR"]}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("child environment = %q, want %q", got, want)
	}
	requireGroupGone(t, res.PGID)
}

func TestRunRejectsVariablesOutsideTheAllowList(t *testing.T) {
	for _, name := range []string{"CONVEX_DEPLOY_KEY", "CONVEX_SELF_HOSTED_ADMIN_KEY", "NODE_OPTIONS", "LD_PRELOAD"} {
		t.Run(name, func(t *testing.T) {
			r := helperRunner(t)
			r.Env[name] = "x"
			_, err := r.Run(context.Background(), t.TempDir(), helperArgs("env")...)
			if !errors.Is(err, ErrEnv) || !strings.Contains(err.Error(), name) {
				t.Fatalf("err = %v, want ErrEnv naming %s", err, name)
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		program  string
		wantCode int
		wantText string
		exitErr  bool
	}{
		{name: "non-zero exit", args: helperArgs("exit"), wantCode: 3, wantText: "something broke", exitErr: true},
		{name: "missing program", program: "/nonexistent/node", wantText: "start /nonexistent/node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := helperRunner(t)
			if tc.program != "" {
				r.Program = tc.program
			}
			_, err := r.Run(context.Background(), t.TempDir(), tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantText)
			}
			var xe *ExitError
			if errors.As(err, &xe) != tc.exitErr {
				t.Fatalf("err = %#v, ExitError wanted: %v", err, tc.exitErr)
			}
			if xe != nil {
				if xe.Code != tc.wantCode || xe.Canceled {
					t.Fatalf("code %d canceled %v, want %d false", xe.Code, xe.Canceled, tc.wantCode)
				}
				requireGroupGone(t, xe.PGID)
			}
		})
	}
}

func TestRunBoundsCapturedOutput(t *testing.T) {
	r := helperRunner(t)
	r.OutputLimit = 4 << 10
	var lines int
	r.OnLine = func(_, _ string) { lines++ }
	res, err := r.Run(context.Background(), t.TempDir(), helperArgs("flood")...)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stderr) > r.OutputLimit+len("…") {
		t.Fatalf("kept %d bytes of stderr, limit %d", len(res.Stderr), r.OutputLimit)
	}
	if !strings.HasSuffix(res.Stderr, "the last line\n") || !strings.HasPrefix(res.Stderr, "…") {
		t.Fatalf("tail = %q…%q", res.Stderr[:20], res.Stderr[len(res.Stderr)-20:])
	}
	if lines != 20001 {
		t.Fatalf("line callback saw %d lines, want 20001", lines)
	}
}

func TestRunScrubsSecrets(t *testing.T) {
	r := helperRunner(t)
	r.Secrets = KeySecrets(canary)
	var mu sync.Mutex
	var seen []string
	r.OnLine = func(_, line string) {
		mu.Lock()
		seen = append(seen, line)
		mu.Unlock()
	}
	res, err := r.Run(context.Background(), t.TempDir(), helperArgs("secret")...)
	if err == nil {
		t.Fatal("want the helper's exit 1")
	}
	secret := canary[strings.IndexByte(canary, '|')+1:]
	for name, text := range map[string]string{
		"stdout": res.Stdout, "stderr": res.Stderr, "error": err.Error(), "lines": strings.Join(seen, "\n"),
	} {
		if strings.Contains(text, secret) || strings.Contains(text, canary[len(canary)-10:]) {
			t.Errorf("%s leaks the secret: %q", name, text)
		}
	}
	if n := strings.Count(res.Stdout+res.Stderr, Redacted); n != 4 {
		t.Errorf("%d redactions, want 4 (whole key, secret part, split key, key in a long line):\n%s\n%s", n, res.Stdout, res.Stderr)
	}
}

func TestRunEndsWhatTheLeaderLeavesBehind(t *testing.T) {
	r := helperRunner(t)
	res, err := r.Run(context.Background(), t.TempDir(), helperArgs("orphan")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Stdout, "leader done") || !strings.Contains(res.Stdout, "sleeper ") {
		t.Fatalf("stdout = %q", res.Stdout)
	}
	requireGroupGone(t, res.PGID)
}

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

// TestRunReapsOrphansAsSubreaper runs the runner inside a helper that is a child subreaper, as
// the Go process is when it is PID 1 of a container image: the esbuild-like process the leader
// leaves behind is re-parented to it, and Run must reap it, leaving no zombie in /proc.
func TestRunReapsOrphansAsSubreaper(t *testing.T) {
	out, err := exec.Command(os.Args[0], helperArgs("subreaper")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reaped") {
		t.Fatalf("helper: %v\n%s", err, out)
	}
}

func TestRunKillsTheWholeGroupWhenTheContextEnds(t *testing.T) {
	tests := []struct {
		name   string
		reason error
	}{
		{name: "deadline", reason: context.DeadlineExceeded},
		{name: "cancel", reason: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The helper must be ignoring SIGTERM when the context ends, or SIGTERM alone ends it.
			// A cancel waits for its "hanging" line; a deadline cannot, so it is lengthened
			// until the helper was ready in time (a busy machine starts processes slowly).
			for _, limit := range []time.Duration{time.Second, 4 * time.Second, 16 * time.Second} {
				if killedAfterGrace(t, tc.reason, limit) {
					return
				}
				t.Logf("the helper was not ready within %s; trying a longer deadline", limit)
			}
			t.Fatal("the helper never got ready before the deadline")
		})
	}
}

// killedAfterGrace runs the SIGTERM-ignoring helper until the context ends and checks the kill;
// it reports false when the helper had not got ready (deadline case only).
func killedAfterGrace(t *testing.T, reason error, limit time.Duration) bool {
	t.Helper()
	r := helperRunner(t)
	r.Grace = 200 * time.Millisecond // the helper ignores SIGTERM: SIGKILL must follow
	var ctx context.Context
	var cancel context.CancelFunc
	if reason == context.Canceled {
		ctx, cancel = context.WithCancel(context.Background())
		r.OnLine = func(_, line string) {
			if line == "hanging" {
				cancel()
			}
		}
	} else {
		ctx, cancel = context.WithTimeout(context.Background(), limit)
	}
	defer cancel()
	_, err := r.Run(ctx, t.TempDir(), helperArgs("hang")...)
	var xe *ExitError
	if !errors.As(err, &xe) || !xe.Canceled || !errors.Is(err, reason) {
		t.Fatalf("err = %v, want a cancelled ExitError wrapping %v", err, reason)
	}
	requireGroupGone(t, xe.PGID)
	if !strings.Contains(xe.Stdout, "hanging") {
		return false
	}
	if xe.Signal != "killed" {
		t.Fatalf("leader ended by %q, want SIGKILL after the grace period", xe.Signal)
	}
	return true
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		stat string
		want Member
		pgid int
	}{
		{name: "plain", stat: "42 (node) S 7 42 42 0 -1", want: Member{PID: 42, PPID: 7, State: "S", Comm: "node"}, pgid: 42},
		{name: "cpu times", stat: "44 (esbuild) S 1 42 42 0 -1 4194560 535 0 0 0 123 27 0 0 20 0 8 0",
			want: Member{PID: 44, PPID: 1, State: "S", Comm: "esbuild", CPU: 1500 * time.Millisecond}, pgid: 42},
		{name: "comm with spaces and parens", stat: "43 (a (b) c) Z 1 42 42 0", want: Member{PID: 43, PPID: 1, State: "Z", Comm: "a (b) c"}, pgid: 42},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, pg, ok := parseStat(tc.want.PID, tc.stat)
			if !ok || m != tc.want || pg != tc.pgid {
				t.Fatalf("got %+v %d %v, want %+v %d", m, pg, ok, tc.want, tc.pgid)
			}
		})
	}
}

func TestCaptureScrubsSecretsAcrossWritesAndCuts(t *testing.T) {
	secret := canary[strings.IndexByte(canary, '|')+1:]
	long := strings.Repeat("y", maxLine-10) + canary + strings.Repeat("z", maxLine) + secret + "\n"
	for _, chunk := range []int{1, 7, 4096, len(long)} {
		t.Run(fmt.Sprintf("chunk %d", chunk), func(t *testing.T) {
			var lines []string
			c := newCapture("stderr", NewScrubber(KeySecrets(canary)...), 1<<20, func(_, l string) { lines = append(lines, l) })
			for i := 0; i < len(long); i += chunk {
				if _, err := c.Write([]byte(long[i:min(i+chunk, len(long))])); err != nil {
					t.Fatal(err)
				}
			}
			c.finish()
			all := strings.Join(lines, "")
			if strings.Contains(all, secret) || strings.Contains(c.String(), secret) {
				t.Fatalf("secret leaked through %d-byte writes", chunk)
			}
			if n := strings.Count(all, Redacted); n != 2 {
				t.Fatalf("%d redactions, want 2", n)
			}
			if len(all) != len(long)-1-len(canary)-len(secret)+2*len(Redacted) {
				t.Fatalf("lost or duplicated bytes: got %d", len(all))
			}
		})
	}
}
