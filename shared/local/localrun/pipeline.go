package localrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/byod-deployer/byod-deployer/shared/credentials"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/standins"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
	"github.com/byod-deployer/byod-deployer/shared/local/wsgateway"
	"github.com/byod-deployer/byod-deployer/shared/settings"
)

// Options configure a local pipeline. The zero value runs everything locally.
type Options struct {
	// Addr is where the status page and the dev API listen; default 127.0.0.1:0.
	Addr string
	// ConvexURL and ConvexKey name a real deployment as the default target; when ConvexURL is
	// empty a local Convex deployment is started in process. The key stays in memory.
	ConvexURL, ConvexKey string
	// ConvexFail makes the local deployment fail that way (demos and tests).
	ConvexFail convexlocal.FailMode
	// FunctionOutput receives the functions' own stdout and stderr (JSON logs, EMF metrics);
	// nil discards them. LogLevel is their LOG_LEVEL (default info).
	FunctionOutput io.Writer
	LogLevel       string
	// VisibilityTimeout of the deploy queue; default 60 s (the queue's redrive brings a failed
	// message back after it).
	VisibilityTimeout time.Duration
	// DeployerTimeout is the deployer's invocation deadline; default the deployed function's
	// (settings.DeployerFunctionTimeout).
	DeployerTimeout time.Duration
	// Logger receives the stand-ins' and pollers' logs; nil discards.
	Logger *slog.Logger
}

// Pipeline is a running local pipeline: stand-ins, resources, handlers behind pollers and the
// gateway, a Convex deployment and the status page. Close stops all of it.
type Pipeline struct {
	Endpoints Endpoints
	// Client talks to the pipeline as the app and browser do.
	Client *Client
	// Convex is the local deployment; nil when a real one was given.
	Convex *convexlocal.Server

	target      credentials.Secret
	tokenSecret []byte
	page        *http.Server
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	closers     []func() error
	kmsDir      string
	closeOnce   sync.Once
	gateway     *wsgateway.Gateway
	// queues are the SQS pollers by function name (deployer, deadletter).
	queues map[string]*SQSPoller
}

// Start runs a local pipeline. On error everything started so far is stopped again. Only one
// pipeline can run per process (local-kms keeps global state).
func Start(ctx context.Context, opts Options) (_ *Pipeline, err error) {
	log := logger(opts.Logger)
	p := &Pipeline{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	// Compiling the functions takes as long as starting the stand-ins: do both at once.
	functions, err := p.functionProcesses(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := p.startStandIns(ctx, opts); err != nil {
		return nil, err
	}
	e := &p.Endpoints
	cfg := standins.Config()
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(e.DynamoDB) })
	sq := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(e.SQS) })
	km := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(e.KMS) })
	streams := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(e.DynamoDB) })

	visibility := opts.VisibilityTimeout
	if visibility <= 0 {
		visibility = time.Minute
	}
	var streamARN string
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(3)
	go func() { defer wg.Done(); streamARN, errs[0] = createTables(ctx, ddb) }()
	go func() {
		defer wg.Done()
		e.QueueURL, e.DLQURL, errs[1] = createQueues(ctx, sq, int(visibility/time.Second))
	}()
	go func() { defer wg.Done(); e.KMSKeyID, errs[2] = createKey(ctx, km) }()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("localrun: bootstrap: %w", err)
	}
	e.StatusTable, e.ConnectionsTable, e.TokenAudience, e.Region, e.PID = StatusTable, ConnectionsTable, TokenAudience, standins.Region, os.Getpid()

	// Hex text, so the secret can be handed to wsconnect as TOKEN_SECRET unchanged.
	p.tokenSecret = []byte(randomHex(32))
	// The handlers need the gateway's management URL, so the gateway starts first with routes
	// that are bound to the handlers once they exist. The routes are the stack's
	// (infra/websocket.go): $connect, $disconnect and a two-way $default, whose response body
	// (wsconnect's snapshot) goes back to the client.
	wsconnect := &lateHandler{name: "wsconnect"}
	gw, err := wsgateway.Start(wsgateway.Options{Logger: log, Routes: map[string]lambda.Handler{
		wsgateway.RouteConnect: wsconnect, wsgateway.RouteDisconnect: wsconnect, wsgateway.RouteDefault: wsconnect,
	}, RouteResponses: []string{wsgateway.RouteDefault}})
	if err != nil {
		return nil, fmt.Errorf("localrun: gateway: %w", err)
	}
	p.gateway = gw
	e.WebSocket, e.Management = gw.URL(), gw.ManagementURL()

	fns, err := functions(*e, p.tokenSecret)
	if err != nil {
		return nil, fmt.Errorf("localrun: functions: %w", err)
	}
	wsconnect.bind(fns["wsconnect"])

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	p.queues = map[string]*SQSPoller{
		"deployer": {Client: sq, QueueURL: e.QueueURL, Logger: log,
			Function: Function{Name: "deployer", Handler: fns["deployer"], Timeout: opts.deployerTimeout()}},
		"deadletter": {Client: sq, QueueURL: e.DLQURL, Logger: log,
			Function: Function{Name: "deadletter", Handler: fns["deadletter"], Timeout: time.Minute}},
	}
	runners := []interface{ Run(context.Context) error }{
		p.queues["deployer"],
		p.queues["deadletter"],
		&StreamPoller{Client: streams, StreamARN: streamARN, StartingPosition: streamtypes.ShardIteratorTypeTrimHorizon, Logger: log,
			Function: Function{Name: "notifier", Handler: fns["notifier"], Timeout: time.Minute}},
	}
	for _, r := range runners {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := r.Run(runCtx); err != nil {
				log.Error("localrun: poller stopped", "error", err)
			}
		}()
	}

	if err := p.servePage(opts.Addr, log); err != nil {
		return nil, err
	}
	return p, nil
}

// startStandIns starts DynamoDB Local, fauxqs, local-kms and the Convex deployment concurrently.
func (p *Pipeline) startStandIns(ctx context.Context, opts Options) error {
	dir, err := os.MkdirTemp("", "byod-kms-")
	if err != nil {
		return fmt.Errorf("localrun: kms dir: %w", err)
	}
	p.kmsDir = dir
	var wg sync.WaitGroup
	errs := make([]error, 4)
	var ddb, sq *standins.Process
	var k *standins.KMS
	wg.Add(3)
	go func() { defer wg.Done(); ddb, errs[0] = standins.StartDynamoDB(ctx, standins.DynamoDBOptions{}) }()
	go func() { defer wg.Done(); sq, errs[1] = standins.StartSQS(ctx, standins.SQSOptions{}) }()
	go func() { defer wg.Done(); k, errs[2] = standins.StartKMS(dir) }()
	if opts.ConvexURL != "" {
		p.target = credentials.Secret{URL: opts.ConvexURL, DeployKey: opts.ConvexKey}
		p.Endpoints.Convex = opts.ConvexURL
	} else {
		errs[3] = p.startConvex(opts)
	}
	wg.Wait()
	if ddb != nil {
		p.closers = append(p.closers, ddb.Close)
	}
	if sq != nil {
		p.closers = append(p.closers, sq.Close)
	}
	if k != nil {
		p.closers = append(p.closers, k.Close)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("localrun: start stand-ins: %w", err)
	}
	p.Endpoints.DynamoDB, p.Endpoints.SQS, p.Endpoints.KMS = ddb.URL, sq.URL, k.URL
	return nil
}

func (p *Pipeline) startConvex(opts Options) error {
	key := "local|" + randomHex(24)
	s, err := convexlocal.New(convexlocal.Options{AdminKey: key, Fail: opts.ConvexFail, Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("convex: %w", err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		return fmt.Errorf("convex: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	p.closers = append(p.closers, func() error {
		err := s.Close()
		return errors.Join(err, <-done)
	})
	p.Convex = s
	p.target = credentials.Secret{URL: s.URL(), DeployKey: key}
	p.Endpoints.Convex, p.Endpoints.ConvexLocal = s.URL(), true
	return nil
}

// QueueStats returns what each SQS poller delivered so far, by function name (deployer,
// deadletter).
func (p *Pipeline) QueueStats() map[string]SQSStats {
	out := make(map[string]SQSStats, len(p.queues))
	for name, q := range p.queues {
		out[name] = q.Stats()
	}
	return out
}

// lateHandler is a gateway route whose handler is bound after the gateway started; until then
// it answers 503 (the pipeline publishes no endpoint before binding).
type lateHandler struct {
	name string
	h    atomic.Pointer[lambda.Handler]
}

func (l *lateHandler) bind(h lambda.Handler) { l.h.Store(&h) }

// Invoke calls the bound handler.
func (l *lateHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	h := l.h.Load()
	if h == nil {
		return []byte(`{"statusCode":503}`), nil
	}
	return (*h).Invoke(ctx, payload)
}

// Close stops everything Start started, newest first, and waits for the pollers.
func (p *Pipeline) Close() error {
	var errs []error
	p.closeOnce.Do(func() {
		if p.page != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, p.page.Shutdown(ctx))
			cancel()
		}
		if p.cancel != nil {
			p.cancel()
		}
		p.wg.Wait()
		if p.gateway != nil {
			errs = append(errs, p.gateway.Close()) // runs $disconnect while wsconnect still runs
		}
		for i := len(p.closers) - 1; i >= 0; i-- {
			errs = append(errs, p.closers[i]())
		}
		if p.kmsDir != "" {
			errs = append(errs, os.RemoveAll(p.kmsDir))
		}
	})
	return errors.Join(errs...)
}

// listen binds addr, which must be on the loopback network.
func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s is not a loopback address", addr)
	}
	return net.Listen("tcp", addr)
}

// deployerTimeout is DeployerTimeout, or the deployed function's timeout when unset.
func (o Options) deployerTimeout() time.Duration {
	if o.DeployerTimeout > 0 {
		return o.DeployerTimeout
	}
	return settings.DeployerFunctionTimeout
}

// functionNames are the functions/<name> packages the pipeline runs.
var functionNames = []string{"deployer", "notifier", "wsconnect", "deadletter"}

// functionProcesses starts building the four function binaries and returns a function that waits
// for the build and makes a Process of each, keyed by name, with its environment as
// shared/settings declares it, pointed at the stand-ins (AWS_ENDPOINT_URL_<SERVICE>) and never at
// AWS.
func (p *Pipeline) functionProcesses(ctx context.Context, opts Options) (func(e Endpoints, tokenSecret []byte) (map[string]*Process, error), error) {
	root, err := toolpath.Root()
	if err != nil {
		return nil, fmt.Errorf("localrun: functions: %w", err)
	}
	cliNM, err := toolpath.CLINodeModules()
	if err != nil {
		return nil, fmt.Errorf("localrun: functions: %w", err)
	}
	node, err := toolpath.Node()
	if err != nil {
		return nil, fmt.Errorf("localrun: functions: %w", err)
	}
	dir, err := os.MkdirTemp("", "byod-functions-")
	if err != nil {
		return nil, fmt.Errorf("localrun: functions: %w", err)
	}
	p.closers = append(p.closers, func() error { return os.RemoveAll(dir) })
	built, done := make(chan error, 1), make(chan struct{})
	buildCtx, cancelBuild := context.WithCancel(ctx)
	go func() {
		defer close(done)
		built <- BuildFunctions(buildCtx, root, dir, functionNames...)
	}()
	p.closers = append(p.closers, func() error { cancelBuild(); <-done; return nil })
	return func(e Endpoints, tokenSecret []byte) (map[string]*Process, error) {
		if err := <-built; err != nil {
			return nil, err
		}
		common := []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + os.Getenv("HOME"),
			"AWS_REGION=" + e.Region,
			"AWS_ACCESS_KEY_ID=local",
			"AWS_SECRET_ACCESS_KEY=local",
			"AWS_EC2_METADATA_DISABLED=true",
			// Any service without its own endpoint below goes nowhere instead of to AWS.
			"AWS_ENDPOINT_URL=http://127.0.0.1:1",
			"AWS_ENDPOINT_URL_DYNAMODB=" + e.DynamoDB,
			"AWS_ENDPOINT_URL_SQS=" + e.SQS,
			"AWS_ENDPOINT_URL_KMS=" + e.KMS,
			"AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI=" + e.Management,
		}
		// A deploy ends 30 s before the invocation's deadline; its lease outlives the deadline.
		fnTimeout := opts.deployerTimeout()
		perFunction := map[string]map[string]string{
			"deployer": settings.Deployer{
				LogLevel: opts.LogLevel, MetricsNamespace: localMetricsNamespace, StatusTable: e.StatusTable,
				CLINodeModules: cliNM, Node: node,
				Timeout: fnTimeout - 30*time.Second, Lease: fnTimeout + time.Minute,
				// Local mode says so: this machine at any port (loopback is never implied).
				SelfHostedHosts: []string{"127.0.0.1:*", "localhost:*"},
				// Where the deployer puts it by default: the processes get no TMPDIR.
				CompileCache: settings.DefaultCompileCache(""),
			}.Env(),
			"notifier": settings.Notifier{LogLevel: opts.LogLevel, ConnectionsTable: e.ConnectionsTable, WebSocketEndpoint: e.Management}.Env(),
			"wsconnect": settings.WSConnect{LogLevel: opts.LogLevel, ConnectionsTable: e.ConnectionsTable, StatusTable: e.StatusTable,
				TokenSecret: settings.Secret(tokenSecret), TokenAudience: e.TokenAudience}.Env(),
			"deadletter": settings.DeadLetter{LogLevel: opts.LogLevel, MetricsNamespace: localMetricsNamespace, StatusTable: e.StatusTable}.Env(),
		}
		procs := map[string]*Process{}
		for _, name := range functionNames {
			proc := &Process{Name: name, Binary: filepath.Join(dir, name), Env: append(append([]string{}, common...), environ(perFunction[name])...), MemoryMB: settings.ZipMemoryMB, Output: opts.FunctionOutput}
			if name == "deployer" {
				proc.MemoryMB = settings.DeployerMemoryMB
			}
			p.closers = append(p.closers, proc.Close)
			procs[name] = proc
		}
		return procs, nil
	}, nil
}

// localMetricsNamespace keeps local mode's metrics apart from a deployed stack's.
const localMetricsNamespace = "ByodDeployerLocal"

// environ is env as NAME=value entries, sorted by name.
func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, name := range slices.Sorted(maps.Keys(env)) {
		out = append(out, name+"="+env[name])
	}
	return out
}
