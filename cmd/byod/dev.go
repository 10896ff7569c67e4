package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
	"github.com/byod-deployer/byod-deployer/shared/obs"
)

// envDevFile overrides where dev writes and the other local commands read the endpoints.
const envDevFile = "BYOD_DEV_FILE"

func init() {
	commands["dev"] = command{
		summary: "run the whole pipeline locally (stand-ins, handlers, gateway, status page) until Ctrl-C",
		run:     runDev,
	}
	commands["demo"] = command{
		summary: "start the local pipeline, deploy once, follow it to the end, print the timeline, stop",
		run:     runDemo,
	}
}

// devFile is the endpoints file: $BYOD_DEV_FILE or .byod/dev.json.
func devFile() string {
	if f := os.Getenv(envDevFile); f != "" {
		return f
	}
	return localrun.DefaultEndpointsFile
}

// pipelineFlags are the flags dev and demo share.
type pipelineFlags struct {
	convexURL, keyFile, fail, logLevel string
	functionLogs                       bool
}

func (f *pipelineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.convexURL, "convex-url", "", "deploy to this Convex deployment instead of a local one (needs --key-file)")
	fs.StringVar(&f.keyFile, "key-file", "", "file holding the deploy key of --convex-url (\"-\": stdin); never pass a key as an argument")
	fs.StringVar(&f.fail, "fail", "", "make the local Convex deployment fail: "+failModes())
	fs.StringVar(&f.logLevel, "log-level", cmp.Or(f.logLevel, "info"), "log level of the functions and pollers (JSON on stderr)")
}

func failModes() string {
	names := make([]string, len(convexlocal.FailModes))
	for i, m := range convexlocal.FailModes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// options turns the flags into pipeline options; the key is read into memory only.
func (f *pipelineFlags) options(addr string, stderr io.Writer) (localrun.Options, error) {
	mode, err := convexlocal.ParseFailMode(f.fail)
	if err != nil {
		return localrun.Options{}, err
	}
	opts := localrun.Options{Addr: addr, ConvexFail: mode, Logger: obs.NewLogger(stderr, f.logLevel), LogLevel: f.logLevel}
	if f.functionLogs {
		opts.FunctionOutput = stderr
	}
	if (f.convexURL == "") != (f.keyFile == "") {
		return opts, errors.New("--convex-url and --key-file go together")
	}
	if f.convexURL != "" {
		key, err := readKeyFile(f.keyFile)
		if err != nil {
			return opts, err
		}
		opts.ConvexURL, opts.ConvexKey = f.convexURL, key
	}
	return opts, nil
}

// readKeyFile reads a deploy key from a file (or stdin for "-"), trimmed of whitespace.
func readKeyFile(path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 8192))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("read key file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("key file %s is empty", path)
	}
	return key, nil
}

// runDev starts the pipeline, writes the endpoints file, prints the endpoints and runs until ctx
// ends (Ctrl-C), then stops everything and removes the file.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "status page and dev API address (loopback only)")
	pf := pipelineFlags{functionLogs: true}
	pf.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts, err := pf.options(*addr, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "byod dev: %v\n", err)
		return 2
	}
	start := time.Now()
	p, err := localrun.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "byod dev: %v\n", err)
		return 1
	}
	defer p.Close()
	file := devFile()
	if err := localrun.WriteEndpoints(file, p.Endpoints); err != nil {
		fmt.Fprintf(stderr, "byod dev: %v\n", err)
		return 1
	}
	defer os.Remove(file)
	printEndpoints(stdout, p.Endpoints, file, time.Since(start))
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping…")
	if err := p.Close(); err != nil {
		fmt.Fprintf(stderr, "byod dev: stop: %v\n", err)
		return 1
	}
	return 0
}

func printEndpoints(w io.Writer, e localrun.Endpoints, file string, took time.Duration) {
	convex := e.Convex
	if e.ConvexLocal {
		convex += " (local deployment)"
	}
	fmt.Fprintf(w, "byod dev: the local pipeline is up (%.1f s)\n", took.Seconds())
	for _, row := range [][2]string{
		{"status page", e.Page + "/?user=demo-user"},
		{"websocket", e.WebSocket},
		{"@connections", e.Management},
		{"convex", convex},
		{"dynamodb", e.DynamoDB + "  tables " + e.StatusTable + ", " + e.ConnectionsTable},
		{"sqs", e.QueueURL + "  (DLQ " + e.DLQURL + ")"},
		{"kms", e.KMS + "  key " + e.KMSKeyID},
		{"endpoints file", file},
	} {
		fmt.Fprintf(w, "  %-15s %s\n", row[0], row[1])
	}
	fmt.Fprintln(w, "try: byod send deploy --user demo-user; byod watch --user demo-user; Ctrl-C stops everything")
}

// loadClient reads the endpoints of the running pipeline.
func loadClient() (*localrun.Client, error) {
	e, err := localrun.ReadEndpoints(devFile())
	if err != nil {
		return nil, err
	}
	return localrun.NewClient(e), nil
}

// runDemo is `make demo`: the local pipeline, one deploy of demo-user followed on the WebSocket
// from queued to the end, the timeline, and a last line naming what was deployed where.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "demo-user", "user id of the demo deploy")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	pf := pipelineFlags{logLevel: "warn"}
	pf.register(fs)
	fs.BoolVar(&pf.functionLogs, "v", false, "show the functions' logs (stderr)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts, err := pf.options("127.0.0.1:0", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "byod demo: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	p, err := localrun.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "byod demo: %v\n", err)
		return 1
	}
	defer p.Close()
	fmt.Fprintf(stdout, "local pipeline up in %.1f s; status page %s/?user=%s\n", time.Since(start).Seconds(), p.Endpoints.Page, *user)
	code := demo(ctx, p.Client, *user, localrun.DefaultConfigID, stdout, stderr)
	if err := p.Close(); err != nil {
		fmt.Fprintf(stderr, "byod demo: stop: %v\n", err)
		return 1
	}
	return code
}

// demo sends one deploy the way `byod send deploy` does, follows it and prints the timeline.
func demo(ctx context.Context, c *localrun.Client, user, config string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "deploying for %s/%s to %s\n", user, config, c.Endpoints.Convex)
	steps, err := c.Follow(ctx, user, func(ctx context.Context) (string, error) {
		return c.DeployLocal(ctx, user, config)
	}, func(s localrun.Step) { fmt.Fprintln(stdout, formatStep(s)) })
	if err != nil {
		fmt.Fprintf(stderr, "byod demo: %v\n", err)
		return 1
	}
	last := steps[len(steps)-1]
	r := last.Record
	if r.DeploymentStatus != "deployed" {
		fmt.Fprintf(stdout, "%s: %s (%s)\n", r.DeploymentStatus, r.ConnectionError, r.ErrorHint)
		return 1
	}
	fmt.Fprintf(stdout, "deployed schema v%d to %s in %.1f s\n", r.SchemaVersion, c.Endpoints.Convex, last.After.Seconds())
	return 0
}

// formatStep is one timeline line: time since send, status, stage, progress.
func formatStep(s localrun.Step) string {
	r := s.Record
	line := fmt.Sprintf("  +%6.2fs  %-9s", s.After.Seconds(), r.DeploymentStatus)
	if r.Stage != "" {
		line += "  " + string(r.Stage)
	}
	if r.DeploymentProgress != "" {
		line += "  " + r.DeploymentProgress
	}
	if r.ConnectionError != "" {
		line += "  error: " + r.ConnectionError
	}
	return line
}
