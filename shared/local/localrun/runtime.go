package localrun

import (
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
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/byod-deployer/byod-deployer/shared/local/standins"
)

// defaultMemoryMB is Lambda's default, for a Process whose MemoryMB is zero. The functions'
// own sizes are shared/settings' DeployerMemoryMB and ZipMemoryMB, as the CDK stack sets them.
const defaultMemoryMB = 128

// MaxResponseSize is the largest response the Runtime API accepts from a function, as AWS's
// Runtime Interface Emulator enforces Lambda's 6 MB limit (6 MiB + 100 bytes). A larger one is
// refused with 413 and fails the invocation with Function.ResponseSizeTooLarge.
const MaxResponseSize = 6<<20 + 100

// Error types of the failures the environment itself reports, Lambda's names for them.
const (
	ErrorTypeExit      = "Runtime.ExitError"
	ErrorTypeTimeout   = "Sandbox.Timedout"
	ErrorTypeTooLarge  = "Function.ResponseSizeTooLarge"
	defaultHandlerName = "bootstrap"
)

// Process is one Lambda execution environment: the function's own binary (its main.go calls
// lambda.Start) running as a child process that fetches invocations from a Lambda Runtime API
// served here, exactly as on AWS. It satisfies lambda.Handler, so pollers and the gateway invoke
// it like an in-process handler; the payload crosses a real JSON boundary.
//
// Like Lambda, it runs one invocation at a time (concurrent Invoke calls wait their turn),
// starts the process on first use (a cold start) and again after it exited, and on an
// invocation's deadline kills the process and reports "Task timed out". A process that fails
// during init is started once per invocation; a response over MaxResponseSize fails the
// invocation. docs/local-mode.md compares it with AWS's Runtime Interface Emulator.
type Process struct {
	// Name is the function name (AWS_LAMBDA_FUNCTION_NAME).
	Name string
	// Binary is the function's executable.
	Binary string
	// Env is the function's environment (the configuration the CDK stack would set), without
	// the runtime's own variables, which Process adds (and which win over Env's).
	Env []string
	// MemoryMB is the function's memory setting (AWS_LAMBDA_FUNCTION_MEMORY_SIZE); zero means
	// Lambda's default, 128.
	MemoryMB int
	// Handler is the function's handler setting (_HANDLER); empty means "bootstrap", the
	// handler of the stack's provided.al2023 functions.
	Handler string
	// Output receives the function's stdout and stderr (its logs); nil discards them.
	Output io.Writer

	startMu  sync.Mutex
	turn     chan struct{} // holds a token while an invocation runs
	ln       net.Listener
	srv      *http.Server
	next     chan *invocation
	cur      *environment // the running (or last) process
	tail     *tailWriter
	closed   bool
	inflight sync.Map // request id → *invocation
}

// environment is one start of the function's process.
type environment struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process is gone
	waitErr error         // cmd.Wait's result, set before exited closes
	initErr string        // what the runtime posted to init/error, guarded by Process.startMu
}

// invocation is one Invoke waiting for the function's answer.
type invocation struct {
	id, arn string
	payload []byte
	timeout time.Duration
	handed  chan time.Time // the deadline, sent when the runtime takes the invocation
	done    chan invokeResult
	once    sync.Once
}

type invokeResult struct {
	body []byte
	err  error
}

func (inv *invocation) finish(r invokeResult) { inv.once.Do(func() { inv.done <- r }) }

// FunctionError is a function's error response, as the Runtime API receives it, or a failure
// Lambda reports in the same shape (ErrorTypeExit, ErrorTypeTimeout, ErrorTypeTooLarge).
type FunctionError struct {
	Function string `json:"-"`
	Type     string `json:"errorType"`
	Message  string `json:"errorMessage"`
	// Output is the end of the function's logs when the environment failed (exit, init
	// failure), for the person reading the error; Lambda keeps it in CloudWatch.
	Output string `json:"-"`
}

func (e *FunctionError) Error() string {
	s := fmt.Sprintf("localrun: %s: %s: %s", e.Function, e.Type, e.Message)
	if e.Output != "" {
		s += "; last output:\n" + e.Output
	}
	return s
}

// Invoke runs one invocation in the function process and returns its response. The request id
// and function ARN come from ctx (lambdacontext) when present. The invocation's timeout is the
// time left until ctx's deadline when Invoke is called (15 minutes without one), and it counts
// from when the runtime takes the invocation, as Lambda's does: time spent waiting behind
// another invocation or in a cold start's init is not charged to it. Cancelling ctx abandons
// the invocation (killing the process if it already runs it); ctx's deadline passing does not.
// Every failure is a *FunctionError: the function's own, Runtime.ExitError for a crash or a
// failed init, Sandbox.Timedout, Function.ResponseSizeTooLarge.
func (p *Process) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	timeout := defaultTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			close(cancelled)
		}
	})
	defer stop()
	turn, err := p.turnChan()
	if err != nil {
		return nil, err
	}
	select {
	case turn <- struct{}{}:
		defer func() { <-turn }()
	case <-cancelled:
		return nil, p.cancelled(ctx)
	}
	if timeout <= 0 {
		return nil, p.timedOut(timeout)
	}
	inv := &invocation{payload: payload, timeout: timeout, handed: make(chan time.Time, 1), done: make(chan invokeResult, 1), id: newRequestID(), arn: Function{Name: p.Name}.ARN()}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		inv.id, inv.arn = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	p.inflight.Store(inv.id, inv)
	defer p.inflight.Delete(inv.id)
	// A warm process that is on its way out (it reported an error and exits, as after a panic)
	// never takes the invocation: start a fresh one, once, as Lambda does. A process started for
	// this invocation that exits before taking it failed its init: that is the answer.
	var env *environment
	for attempt := 0; ; attempt++ {
		var started bool
		if env, started, err = p.ensureRunning(); err != nil {
			return nil, err
		}
		select {
		case p.next <- inv:
		case <-env.exited:
			if !started && attempt == 0 {
				continue
			}
			return nil, p.exitError(env)
		case <-cancelled:
			return nil, p.cancelled(ctx)
		}
		break
	}
	timer := time.NewTimer(time.Until(<-inv.handed))
	defer timer.Stop()
	select {
	case r := <-inv.done:
		return r.body, r.err
	case <-env.exited:
		select {
		case r := <-inv.done: // answered, then exited (a panic)
			return r.body, r.err
		default:
			return nil, p.exitError(env)
		}
	case <-timer.C:
		p.kill()
		return nil, p.timedOut(timeout)
	case <-cancelled:
		p.kill()
		return nil, p.cancelled(ctx)
	}
}

// timedOut is Lambda's answer to an invocation that ran past its deadline; the environment has
// been killed.
func (p *Process) timedOut(timeout time.Duration) error {
	return &FunctionError{Function: p.Name, Type: ErrorTypeTimeout, Message: fmt.Sprintf("Task timed out after %.2f seconds", timeout.Round(10*time.Millisecond).Seconds())}
}

func (p *Process) cancelled(ctx context.Context) error {
	return fmt.Errorf("localrun: %s: invocation cancelled: %w", p.Name, ctx.Err())
}

// exitError is Lambda's answer when the runtime exits without answering (during the
// invocation or during init); an error the runtime posted to init/error is kept in it.
func (p *Process) exitError(env *environment) error {
	<-env.exited
	msg := "Runtime exited without providing a reason"
	var ee *exec.ExitError
	if errors.As(env.waitErr, &ee) {
		msg = "Runtime exited with error: " + ee.ProcessState.String()
	}
	p.startMu.Lock()
	if env.initErr != "" {
		msg += "; init error: " + env.initErr
	}
	p.startMu.Unlock()
	return &FunctionError{Function: p.Name, Type: ErrorTypeExit, Message: msg, Output: p.tail.String()}
}

// turnChan returns the channel whose single slot an invocation holds while it runs.
func (p *Process) turnChan() (chan struct{}, error) {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("localrun: %s: closed", p.Name)
	}
	if p.turn == nil {
		p.turn = make(chan struct{}, 1)
	}
	return p.turn, nil
}

// ensureRunning starts the Runtime API (once) and the process (when none is alive). It returns
// the live environment and whether it was started by this call.
func (p *Process) ensureRunning() (*environment, bool, error) {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if p.closed {
		return nil, false, fmt.Errorf("localrun: %s: closed", p.Name)
	}
	if p.ln == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, false, fmt.Errorf("localrun: %s: runtime API: %w", p.Name, err)
		}
		p.ln, p.next, p.tail = ln, make(chan *invocation), &tailWriter{max: 16 << 10}
		p.srv = &http.Server{Handler: p.runtimeAPI(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = p.srv.Serve(ln) }()
	}
	if p.cur != nil {
		select {
		case <-p.cur.exited:
		default:
			return p.cur, false, nil // alive
		}
	}
	dir, err := os.MkdirTemp("", "byod-fn-"+p.Name+"-")
	if err != nil {
		return nil, false, fmt.Errorf("localrun: %s: %w", p.Name, err)
	}
	cmd := exec.Command(p.Binary)
	cmd.Env = append(append([]string{}, p.Env...), p.runtimeEnv(dir)...)
	var out io.Writer = p.tail
	if p.Output != nil {
		out = io.MultiWriter(p.tail, p.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, false, fmt.Errorf("localrun: %s: start: %w", p.Name, err)
	}
	env := &environment{cmd: cmd, exited: make(chan struct{})}
	p.cur = env
	go func() {
		env.waitErr = cmd.Wait()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the function left behind
		os.RemoveAll(dir)
		close(env.exited)
	}()
	return env, true, nil
}

// runtimeEnv is what Lambda sets in every execution environment of the function (its reserved
// variables and the runtime's defaults), for one start whose temporary directory is tmp.
func (p *Process) runtimeEnv(tmp string) []string {
	memory := p.MemoryMB
	if memory <= 0 {
		memory = defaultMemoryMB
	}
	handler := p.Handler
	if handler == "" {
		handler = defaultHandlerName
	}
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + p.ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + p.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memory),
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + p.Name,
		// Lambda's stream name: the day, the version and the environment's own id.
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
		"AWS_REGION=" + standins.Region,
		"AWS_DEFAULT_REGION=" + standins.Region,
		"_HANDLER=" + handler,
		"LAMBDA_TASK_ROOT=" + filepath.Dir(p.Binary),
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		// Lambda's writable /tmp is the environment's own; so is this directory.
		"TMPDIR=" + tmp,
	}
}

// kill stops the current process group and waits for it.
func (p *Process) kill() {
	p.startMu.Lock()
	env := p.cur
	p.startMu.Unlock()
	if env == nil {
		return
	}
	_ = syscall.Kill(-env.cmd.Process.Pid, syscall.SIGKILL)
	<-env.exited
}

// Close kills the process and stops the Runtime API. It is safe to call more than once.
func (p *Process) Close() error {
	p.startMu.Lock()
	p.closed = true
	srv := p.srv
	p.startMu.Unlock()
	p.kill()
	if srv != nil {
		return srv.Close()
	}
	return nil
}

// runtimeAPI serves the Lambda Runtime API (2018-06-01) for this environment.
func (p *Process) runtimeAPI() http.Handler {
	const base = "/2018-06-01/runtime/"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+"invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-p.next:
			deadline := time.Now().Add(inv.timeout)
			inv.handed <- deadline
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline.UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", inv.arn)
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+strconv.FormatInt(time.Now().Unix(), 16)+"-"+randomHex(12)+";Sampled=0")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	answer := func(w http.ResponseWriter, r *http.Request, fail bool) {
		v, ok := p.inflight.Load(r.PathValue("id"))
		if !ok {
			writeRuntimeError(w, http.StatusBadRequest, "InvalidRequestID", "unknown request id")
			return
		}
		inv := v.(*invocation)
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseSize+1))
		if err != nil {
			writeRuntimeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
			return
		}
		if len(body) > MaxResponseSize {
			// Lambda refuses the response (the runtime sees 413) and fails the invocation.
			inv.finish(invokeResult{err: &FunctionError{Function: p.Name, Type: ErrorTypeTooLarge,
				Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxResponseSize)}})
			writeRuntimeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
				fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponseSize))
			return
		}
		res := invokeResult{body: body}
		if fail {
			fe := &FunctionError{Function: p.Name}
			if json.Unmarshal(body, fe) != nil || fe.Type == "" {
				fe.Type, fe.Message = "Unknown", string(body)
			}
			res = invokeResult{err: fe}
		}
		inv.finish(res)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"OK"}`))
	}
	mux.HandleFunc("POST "+base+"invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) { answer(w, r, false) })
	mux.HandleFunc("POST "+base+"invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) { answer(w, r, true) })
	mux.HandleFunc("POST "+base+"init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		p.startMu.Lock()
		if p.cur != nil {
			p.cur.initErr = string(body)
		}
		p.startMu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

// writeRuntimeError answers a runtime's request with the Runtime API's error shape.
func writeRuntimeError(w http.ResponseWriter, status int, errorType, message string) {
	b, _ := json.Marshal(FunctionError{Type: errorType, Message: message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailWriter) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// BuildFunctions compiles functions/<name> of the repository at root into dir (one binary per
// name, named after it) with one `go build`. It returns the compiler's output on failure.
func BuildFunctions(ctx context.Context, root, dir string, names ...string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("localrun: go build functions: %w\n%s", err, out)
	}
	return nil
}
