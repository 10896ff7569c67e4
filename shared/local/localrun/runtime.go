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
)

// Process is one Lambda execution environment: the function's own binary (its main.go calls
// lambda.Start) running as a child process that fetches invocations from a Lambda Runtime API
// served here, exactly as on AWS. It satisfies lambda.Handler, so pollers and the gateway invoke
// it like an in-process handler; the payload crosses a real JSON boundary.
//
// Like Lambda, it runs one invocation at a time (concurrent Invoke calls wait their turn),
// starts the process on first use (a cold start) and again after it exited, and on an
// invocation's deadline kills the process and reports "Task timed out".
type Process struct {
	// Name is the function name (AWS_LAMBDA_FUNCTION_NAME).
	Name string
	// Binary is the function's executable.
	Binary string
	// Env is the function's environment (the configuration the CDK stack would set), without
	// the runtime's own variables, which Process adds.
	Env []string
	// Output receives the function's stdout and stderr (its logs); nil discards them.
	Output io.Writer

	mu       sync.Mutex // one invocation at a time
	startMu  sync.Mutex
	ln       net.Listener
	srv      *http.Server
	next     chan *invocation
	cmd      *exec.Cmd
	exited   chan struct{}
	tail     *tailWriter
	closed   bool
	initErr  string
	inflight sync.Map // request id → *invocation
}

// invocation is one Invoke waiting for the function's answer.
type invocation struct {
	id, arn  string
	payload  []byte
	deadline time.Time
	done     chan invokeResult
	once     sync.Once
}

type invokeResult struct {
	body []byte
	err  error
}

func (inv *invocation) finish(r invokeResult) { inv.once.Do(func() { inv.done <- r }) }

// FunctionError is a function's error response, as the Runtime API receives it.
type FunctionError struct {
	Function string `json:"-"`
	Type     string `json:"errorType"`
	Message  string `json:"errorMessage"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("localrun: %s: %s: %s", e.Function, e.Type, e.Message)
}

// Invoke runs one invocation in the function process and returns its response. The request id,
// function ARN and deadline come from ctx (lambdacontext and ctx.Deadline) when present. A
// function error is a *FunctionError; a crash or a time-out is an error naming it.
func (p *Process) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inv := &invocation{payload: payload, done: make(chan invokeResult, 1), id: newRequestID(), arn: Function{Name: p.Name}.ARN()}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		inv.id, inv.arn = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	inv.deadline = time.Now().Add(defaultTimeout)
	if d, ok := ctx.Deadline(); ok {
		inv.deadline = d
	}
	p.inflight.Store(inv.id, inv)
	defer p.inflight.Delete(inv.id)
	// A process that is on its way out (it reported an error and exits, as after a panic) never
	// takes the invocation: start a fresh one, once, as Lambda does.
	var exited chan struct{}
	for attempt := 0; ; attempt++ {
		if err := p.ensureRunning(); err != nil {
			return nil, err
		}
		exited = p.exited
		select {
		case p.next <- inv:
		case <-exited:
			if attempt == 0 {
				continue
			}
			return nil, p.crashError()
		case <-ctx.Done():
			return nil, p.timeout(ctx)
		}
		break
	}
	select {
	case r := <-inv.done:
		return r.body, r.err
	case <-exited:
		return nil, p.crashError()
	case <-ctx.Done():
		return nil, p.timeout(ctx)
	}
}

// timeout kills the environment, as Lambda does when a function runs past its deadline.
func (p *Process) timeout(ctx context.Context) error {
	p.kill()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("localrun: %s: Task timed out", p.Name)
	}
	return fmt.Errorf("localrun: %s: invocation cancelled: %w", p.Name, ctx.Err())
}

func (p *Process) crashError() error {
	msg := "Runtime exited"
	p.startMu.Lock()
	if p.initErr != "" {
		msg += ": init error: " + p.initErr
	}
	p.startMu.Unlock()
	return fmt.Errorf("localrun: %s: %s; last output:\n%s", p.Name, msg, p.tail.String())
}

// ensureRunning starts the Runtime API (once) and the process (when none is alive).
func (p *Process) ensureRunning() error {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if p.closed {
		return fmt.Errorf("localrun: %s: closed", p.Name)
	}
	if p.ln == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("localrun: %s: runtime API: %w", p.Name, err)
		}
		p.ln, p.next, p.tail = ln, make(chan *invocation), &tailWriter{max: 16 << 10}
		p.srv = &http.Server{Handler: p.runtimeAPI(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = p.srv.Serve(ln) }()
	}
	if p.exited != nil {
		select {
		case <-p.exited:
		default:
			return nil // alive
		}
	}
	dir, err := os.MkdirTemp("", "byod-fn-"+p.Name+"-")
	if err != nil {
		return fmt.Errorf("localrun: %s: %w", p.Name, err)
	}
	cmd := exec.Command(p.Binary)
	cmd.Env = append(append([]string{}, p.Env...),
		"AWS_LAMBDA_RUNTIME_API="+p.ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME="+p.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"LAMBDA_TASK_ROOT="+filepath.Dir(p.Binary),
		"TMPDIR="+dir,
	)
	var out io.Writer = p.tail
	if p.Output != nil {
		out = io.MultiWriter(p.tail, p.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.initErr = ""
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("localrun: %s: start: %w", p.Name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	go func() {
		_ = cmd.Wait()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the function left behind
		os.RemoveAll(dir)
		close(exited)
	}()
	return nil
}

// kill stops the current process group and waits for it.
func (p *Process) kill() {
	p.startMu.Lock()
	cmd, exited := p.cmd, p.exited
	p.startMu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
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
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
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
			http.Error(w, `{"errorType":"InvalidRequestID","errorMessage":"unknown request id"}`, http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
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
		v.(*invocation).finish(res)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"OK"}`))
	}
	mux.HandleFunc("POST "+base+"invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) { answer(w, r, false) })
	mux.HandleFunc("POST "+base+"invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) { answer(w, r, true) })
	mux.HandleFunc("POST "+base+"init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		p.startMu.Lock()
		p.initErr = string(body)
		p.startMu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
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
