package localrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// envRIE names AWS's Runtime Interface Emulator binary (`make deps` installs it into
// .tools/rie; the Makefile's test environment sets this variable).
const envRIE = "BYOD_RIE"

// The differential test's function settings, the same under both runtimes.
const (
	diffTimeout  = 2 * time.Second
	diffMemoryMB = 1769
	diffName     = "difffn"
)

// rieBinary finds the emulator, failing (never skipping) when it is not installed.
func rieBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv(envRIE)
	if path == "" {
		root, err := toolpath.Root()
		if err != nil {
			t.Fatalf("finding aws-lambda-rie: %v", err)
		}
		path = filepath.Join(root, ".tools", "rie", "aws-lambda-rie")
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		t.Fatalf("AWS's Runtime Interface Emulator is not installed at %s (run `make deps`, or set %s): %v", path, envRIE, err)
	}
	return path
}

// buildDiffFn compiles testdata/difffn, the function both runtimes run, into a temp dir.
func buildDiffFn(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/difffn")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/difffn: %v\n%s", err, b)
	}
	return out
}

// startsFile is a file the function appends a line to at every process start.
type startsFile string

func (f startsFile) count(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(string(f))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// outcome is one invocation's answer with what the runtimes put around it taken away: the
// success body, or the error's type and message (a time-out as TimedOut), and how many times
// the function's process has started so far.
type outcome struct {
	Body         string
	ErrorType    string
	ErrorMessage string
	TimedOut     bool
	Failed       bool // an error without an error body (RIE's answer to a failed init)
	Starts       int
}

func (o outcome) String() string {
	b, _ := json.Marshal(o)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// exitPrefix is what Lambda (and RIE) put before the reason of a Runtime.ExitError.
var exitPrefix = regexp.MustCompile(`^RequestId: [0-9a-f-]+ Error: `)

// timedOut matches both runtimes' time-out message.
var timedOut = regexp.MustCompile(`^Task timed out after [0-9.]+ seconds$`)

// runner is one of the two runtimes with the function in it.
type runner interface {
	invoke(t *testing.T, payload string) outcome
}

// rie runs the function under AWS's emulator in classic mode: one process, one invocation at a
// time, a clean environment, loopback only.
type rie struct {
	url    string
	starts startsFile
}

// syncBuffer collects the emulator's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRIE starts the emulator on two free loopback ports with env (the function's
// configuration and nothing of this process's environment) and waits until it accepts
// connections.
func startRIE(t *testing.T, bin, fn string, env []string) string {
	t.Helper()
	api, emu := freePort(t), freePort(t)
	cmd := exec.Command(bin,
		"--runtime-interface-emulator-address", emu,
		"--runtime-api-address", api,
		fn)
	cmd.Env = env
	cmd.Dir = filepath.Dir(fn)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start aws-lambda-rie: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("aws-lambda-rie output:\n%s", out.String())
		}
	})
	// The emulator prints nothing when it listens: wait for its port to accept a connection
	// (a bare connection; any HTTP request to it would be an invocation).
	limit := time.NewTimer(30 * time.Second)
	defer limit.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.Dial("tcp", emu); err == nil {
			c.Close()
			return "http://" + emu + "/2015-03-31/functions/function/invocations"
		}
		select {
		case <-exited:
			t.Fatalf("aws-lambda-rie exited before listening:\n%s", out.String())
		case <-limit.C:
			t.Fatalf("aws-lambda-rie did not listen on %s within 30 s:\n%s", emu, out.String())
		case <-tick.C:
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (r *rie) invoke(t *testing.T, payload string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), diffTimeout+30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.url, strings.NewReader(payload))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("RIE invoke %s: %v", payload, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("RIE invoke %s: reading the answer: %v", payload, err)
	}
	o := outcome{Starts: r.starts.count(t)}
	var fe localrun.FunctionError
	switch {
	case timedOut.Match(body):
		o.TimedOut = true
	case json.Unmarshal(body, &fe) == nil && fe.Type != "":
		// Classic mode answers a handler error with 200 and the error, a crash with 502.
		o.ErrorType, o.ErrorMessage = fe.Type, exitPrefix.ReplaceAllString(fe.Message, "")
	case resp.StatusCode != http.StatusOK:
		o.Failed = true
	default:
		o.Body = string(body)
	}
	return o
}

// proc runs the function under localrun.Process.
type proc struct {
	p      *localrun.Process
	starts startsFile
}

func (r *proc) invoke(t *testing.T, payload string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), diffTimeout)
	defer cancel()
	body, err := r.p.Invoke(ctx, []byte(payload))
	o := outcome{Starts: r.starts.count(t)}
	var fe *localrun.FunctionError
	switch {
	case err == nil:
		o.Body = string(body)
	case errors.As(err, &fe) && fe.Type == localrun.ErrorTypeTimeout && timedOut.MatchString(fe.Message):
		o.TimedOut = true
	case errors.As(err, &fe):
		o.ErrorType, o.ErrorMessage = fe.Type, fe.Message
	default:
		t.Fatalf("Process invoke %s: %v, want a *FunctionError", payload, err)
	}
	return o
}

// diffConfig is the function's own configuration, the same under both runtimes.
func diffConfig(starts string, extra ...string) []string {
	return append([]string{"DIFFFN_STARTS=" + starts}, extra...)
}

// startBoth runs the function under RIE and under Process with the same configuration.
func startBoth(t *testing.T, extra ...string) (*rie, *proc) {
	t.Helper()
	rieBin, fn := rieBinary(t), buildDiffFn(t)
	dir := t.TempDir()
	rieStarts, procStarts := filepath.Join(dir, "rie-starts"), filepath.Join(dir, "process-starts")
	// What the Lambda service sets that RIE takes from its own environment (in AWS's base
	// images some come from the image): the function's name, memory, timeout and region.
	rieEnv := append(diffConfig(rieStarts, extra...),
		"AWS_LAMBDA_FUNCTION_NAME="+diffName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(diffMemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(diffTimeout/time.Second)),
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
	)
	r := &rie{url: startRIE(t, rieBin, fn, rieEnv), starts: startsFile(rieStarts)}
	p := &localrun.Process{Name: diffName, Binary: fn, MemoryMB: diffMemoryMB, Env: diffConfig(procStarts, extra...)}
	t.Cleanup(func() { p.Close() })
	return r, &proc{p: p, starts: startsFile(procStarts)}
}

// diffStep is one invocation of the sequence both runtimes get. want is what both must
// answer; when the two differ on purpose, processWant is Process's answer and why says why.
type diffStep struct {
	name        string
	payload     string
	want        outcome
	processWant *outcome
	why         string
}

func runSteps(t *testing.T, r *rie, p *proc, steps []diffStep) {
	t.Helper()
	for _, s := range steps {
		// One invocation at a time: classic RIE crashes on a concurrent one.
		got := r.invoke(t, s.payload)
		if got != s.want {
			t.Errorf("%s: RIE answered %v, want %v", s.name, got, s.want)
		}
		want := s.want
		if s.processWant != nil {
			want = *s.processWant
		}
		if got := p.invoke(t, s.payload); got != want {
			t.Errorf("%s: Process answered %v, want %v (RIE's: %v)", s.name, got, want, s.want)
		}
	}
}

// TestProcessAgreesWithRIE runs the same function under AWS's Runtime Interface Emulator and
// under localrun.Process, one invocation at a time, and compares the normalised outcomes.
func TestProcessAgreesWithRIE(t *testing.T) {
	r, p := startBoth(t)
	echo := func(n, starts int) outcome {
		return outcome{Body: fmt.Sprintf(`{"invocation":%d,"echo":"hi"}`, n), Starts: starts}
	}
	steps := []diffStep{
		{name: "success", payload: `{"do":"echo","value":"hi"}`, want: echo(1, 1)},
		{name: "handler error", payload: `{"do":"error"}`,
			want: outcome{ErrorType: "errorString", ErrorMessage: "it went wrong", Starts: 1}},
		{name: "custom error type", payload: `{"do":"custom-error"}`,
			want: outcome{ErrorType: "quotaError", ErrorMessage: "quota exceeded: 11 of 10", Starts: 1}},
		{name: "still warm after errors", payload: `{"do":"echo","value":"hi"}`, want: echo(4, 1)},
		{name: "panic", payload: `{"do":"panic"}`,
			want: outcome{ErrorType: "string", ErrorMessage: "function panicked", Starts: 1}},
		{name: "cold start after the panic", payload: `{"do":"echo","value":"hi"}`, want: echo(1, 2)},
		{name: "exit", payload: `{"do":"exit"}`,
			want: outcome{ErrorType: localrun.ErrorTypeExit, ErrorMessage: "Runtime exited with error: exit status 3", Starts: 2}},
		{name: "cold start after the exit", payload: `{"do":"echo","value":"hi"}`, want: echo(1, 3)},
		{name: "hang past the deadline", payload: `{"do":"hang"}`, want: outcome{TimedOut: true, Starts: 3}},
		{name: "cold start after the time-out", payload: `{"do":"echo","value":"hi"}`, want: echo(1, 4)},
		{name: "response over the size limit", payload: `{"do":"oversize","size":7000000}`,
			want: outcome{ErrorType: localrun.ErrorTypeTooLarge, ErrorMessage: "Response payload size exceeded maximum allowed payload size (6291556 bytes).", Starts: 4}},
		// aws-lambda-go exits when the Runtime API refuses its response.
		{name: "cold start after the refused response", payload: `{"do":"echo","value":"hi"}`, want: echo(1, 5)},
		{name: "response at the size limit", payload: fmt.Sprintf(`{"do":"oversize","size":%d}`, localrun.MaxResponseSize-len(`{"invocation":2,"padding":""}`)),
			want: outcome{Body: `{"invocation":2,"padding":"` + strings.Repeat("x", localrun.MaxResponseSize-len(`{"invocation":2,"padding":""}`)) + `"}`, Starts: 5}},
	}
	runSteps(t, r, p, steps)

	// The runtime variables the function sees.
	rieEnv, procEnv := r.env(t), p.env(t)
	for _, k := range sortedKeys(rieEnv, procEnv) {
		rv, inRIE := rieEnv[k]
		pv, inProc := procEnv[k]
		if d, ok := envDifferences[k]; ok {
			if !d.match(inRIE, rv, inProc, pv) {
				t.Errorf("%s: RIE %q (set %v), Process %q (set %v): not the known difference %q", k, rv, inRIE, pv, inProc, d.why)
			}
			continue
		}
		if !inRIE || !inProc || rv != pv {
			t.Errorf("%s: RIE %q (set %v), Process %q (set %v); want the same", k, rv, inRIE, pv, inProc)
		}
	}
}

// TestProcessAgreesWithRIEOnInitFailure: a function that exits during init is started once per
// invocation, and each invocation fails.
func TestProcessAgreesWithRIEOnInitFailure(t *testing.T) {
	r, p := startBoth(t, "DIFFFN_FAIL_INIT=1")
	const why = "RIE's classic mode answers a failed init with 502 and no body; Lambda answers Runtime.ExitError, as RIE does for an exit during an invocation, and so does Process"
	exit := func(starts int) *outcome {
		return &outcome{ErrorType: localrun.ErrorTypeExit, ErrorMessage: "Runtime exited with error: exit status 2", Starts: starts}
	}
	runSteps(t, r, p, []diffStep{
		{name: "first invocation", payload: `{"do":"echo","value":"hi"}`, want: outcome{Failed: true, Starts: 1}, processWant: exit(1), why: why},
		{name: "second invocation", payload: `{"do":"echo","value":"hi"}`, want: outcome{Failed: true, Starts: 2}, processWant: exit(2), why: why},
	})
}

// envDifference is a runtime variable the two set differently on purpose.
type envDifference struct {
	// rie and process match the value under each runtime; nil means the variable is unset.
	rie, process *regexp.Regexp
	why          string
}

func (d envDifference) match(inRIE bool, rv string, inProc bool, pv string) bool {
	ok := func(re *regexp.Regexp, set bool, v string) bool {
		if re == nil {
			return !set
		}
		return set && re.MatchString(v)
	}
	return ok(d.rie, inRIE, rv) && ok(d.process, inProc, pv)
}

var (
	anyValue = regexp.MustCompile(``)
	loopback = regexp.MustCompile(`^127\.0\.0\.1:[0-9]+$`)
)

// envDifferences lists every runtime variable the two runtimes set differently, and why.
var envDifferences = map[string]envDifference{
	"AWS_LAMBDA_RUNTIME_API": {rie: loopback, process: loopback,
		why: "each runtime serves the Runtime API on its own loopback port"},
	"DIFFFN_STARTS": {rie: anyValue, process: anyValue,
		why: "the test gives each runtime its own starts file"},
	"_X_AMZN_TRACE_ID": {rie: anyValue, process: regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=0$`),
		why: "aws-lambda-go sets it from the trace header: RIE sends none (empty), Process sends a trace id of X-Ray's form, as Lambda does"},
	"AWS_LAMBDA_LOG_GROUP_NAME": {rie: regexp.MustCompile(`^/aws/lambda/Functions$`), process: regexp.MustCompile(`^/aws/lambda/` + diffName + `$`),
		why: "RIE's is fixed; Process uses Lambda's default name, /aws/lambda/<function>"},
	"AWS_LAMBDA_LOG_STREAM_NAME": {rie: regexp.MustCompile(`^\$LATEST$`), process: regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`),
		why: "RIE's is fixed; Process uses Lambda's form, <date>/[<version>]<environment id>"},
	"AWS_LAMBDA_METADATA_API": {rie: loopback, process: nil,
		why: "RIE serves a metadata endpoint; Process does not (no function of the product reads it)"},
	"AWS_LAMBDA_METADATA_TOKEN": {rie: anyValue, process: nil,
		why: "the metadata endpoint's token (see AWS_LAMBDA_METADATA_API)"},
	"AWS_ACCESS_KEY_ID": {rie: regexp.MustCompile(`^$`), process: nil,
		why: "hermetic: Process adds no credentials, the function has those its Env gives it (the local pipeline's dummies); RIE forwards its own, empty here"},
	"AWS_SECRET_ACCESS_KEY": {rie: regexp.MustCompile(`^$`), process: nil, why: "see AWS_ACCESS_KEY_ID"},
	"AWS_SESSION_TOKEN":     {rie: regexp.MustCompile(`^$`), process: nil, why: "see AWS_ACCESS_KEY_ID"},
	"AWS_LAMBDA_FUNCTION_TIMEOUT": {rie: regexp.MustCompile(`^2$`), process: nil,
		why: "RIE's own setting, which Lambda does not set; Process takes the timeout from the caller's deadline"},
	"AWS_LAMBDA_INITIALIZATION_TYPE": {rie: nil, process: regexp.MustCompile(`^on-demand$`),
		why: "Lambda sets it; classic RIE does not"},
	"_HANDLER": {rie: nil, process: regexp.MustCompile(`^bootstrap$`),
		why: "Lambda sets the function's handler (the stack's zip functions: bootstrap); RIE only when given one as an argument, which it also passes to the binary"},
	"LAMBDA_TASK_ROOT": {rie: nil, process: anyValue,
		why: "Lambda sets it (/var/task); RIE leaves it to the base image; Process sets the binary's directory"},
	"TZ": {rie: nil, process: regexp.MustCompile(`^:UTC$`),
		why: "Lambda sets it; RIE leaves it to the base image"},
	"LANG": {rie: nil, process: regexp.MustCompile(`^en_US\.UTF-8$`),
		why: "Lambda sets it; RIE leaves it to the base image"},
	"TMPDIR": {rie: nil, process: anyValue,
		why: "hermetic: each of Process's environments gets its own temporary directory, as each Lambda environment has its own /tmp"},
}

// env asks the function for its environment.
func (r *rie) env(t *testing.T) map[string]string {
	return parseEnv(t, "RIE", r.invoke(t, `{"do":"env"}`))
}
func (r *proc) env(t *testing.T) map[string]string {
	return parseEnv(t, "Process", r.invoke(t, `{"do":"env"}`))
}

func parseEnv(t *testing.T, who string, o outcome) map[string]string {
	t.Helper()
	var resp struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal([]byte(o.Body), &resp); err != nil || resp.Env == nil {
		t.Fatalf("%s: environment dump %v: %v", who, o, err)
	}
	return resp.Env
}

func sortedKeys(ms ...map[string]string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}
