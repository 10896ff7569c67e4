package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/deploy"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
	"github.com/byod-deployer/byod-deployer/shared/settings"
)

// envDeployKey is where `byod deploy` reads the key when no --key-file is given: the name the
// Convex CLI itself uses. The key is never taken from argv.
const envDeployKey = "CONVEX_DEPLOY_KEY"

func init() {
	commands["deploy"] = command{
		summary: "deploy the BYOD package with the engine (key from " + envDeployKey + " or --key-file)",
		run:     runDeploy,
	}
}

// hostList is a repeatable flag of allow-list entries (deploy.ParseHosts: host or host:port).
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error {
	hosts, err := deploy.ParseHosts(v)
	*h = append(*h, hosts...)
	return err
}

// runDeploy deploys the package into one deployment and prints each stage to stdout. It exits 0
// on success, 1 with the classified error (class, message, detail, hint) on stderr when the
// deploy fails, and 2 for bad usage.
func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "deployment URL: https://<name>.convex.cloud, an allowed self-hosted host, or http://127.0.0.1:<port>")
	keyFile := fs.String("key-file", "", "read the deploy key (or self-hosted admin key) from this file instead of $"+envDeployKey)
	defTimeout := deploy.DefaultTimeout
	if d, err := time.ParseDuration(os.Getenv("DEPLOY_TIMEOUT")); err == nil && d > 0 {
		defTimeout = d
	}
	timeout := fs.Duration("timeout", defTimeout, "time limit of the whole deploy (default $DEPLOY_TIMEOUT, else 5m)")
	var hosts hostList
	fs.Var(&hosts, "allow-host", "self-hosted deployment to allow besides Convex cloud, host or host:port (443 when left out; repeatable; also $SELF_HOSTED_HOSTS); this machine is allowed here at any port")
	cli := fs.String("cli", "", "node_modules holding the pinned convex package (default $"+toolpath.EnvCLINodeModules+", else the checkout's `make deps` install, else the one in the user cache directory, installed with npm on first use)")
	node := fs.String("node", os.Getenv("NODE_BINARY"), "node executable (default $NODE_BINARY, else node on PATH)")
	tempRoot := fs.String("temp-root", "", "where job directories are made (default the system temp dir)")
	compileCache := fs.String("compile-cache", os.Getenv("NODE_COMPILE_CACHE_DIR"), "Node's compile cache directory (absolute), made 0700 when missing; off for none (default $NODE_COMPILE_CACHE_DIR, else "+cacheDirName+"/node-compile-cache in the user cache directory)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "byod deploy: unexpected arguments (the key is never given on the command line; use $%s or --key-file)\n", envDeployKey)
		return 2
	}
	if *url == "" {
		fmt.Fprintln(stderr, "byod deploy: --url is required")
		return 2
	}
	key, err := readKey(*keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "byod deploy: %v\n", err)
		return 2
	}
	if err := hosts.Set(os.Getenv("SELF_HOSTED_HOSTS")); err != nil {
		fmt.Fprintf(stderr, "byod deploy: SELF_HOSTED_HOSTS: %v\n", err)
		return 2
	}
	userCache, _ := os.UserCacheDir() // "" when neither $XDG_CACHE_HOME nor $HOME is set
	cacheDir, err := compileCacheDir(*compileCache, userCache)
	if err != nil {
		fmt.Fprintf(stderr, "byod deploy: %v\n", err)
		return 2
	}
	nm, err := cliLocator{flag: *cli, cacheDir: userCache, log: stderr}.find(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "byod deploy: %v\n", err)
		return 1
	}
	e := &deploy.Engine{
		CLINodeModules:  nm,
		Node:            *node,
		TempRoot:        *tempRoot,
		SelfHostedHosts: hosts,
		// The operator's own tool: it deploys where --url says, this machine included.
		Loopback:     true,
		CompileCache: cacheDir,
	}
	start := time.Now()
	res, err := e.Deploy(ctx, deploy.Target{URL: *url, Key: key}, deploy.Options{
		Timeout: *timeout,
		Progress: func(ev deploy.Event) {
			line := fmt.Sprintf("%6.2fs  %-10s %s", ev.At.Sub(start).Seconds(), ev.Stage, ev.Message)
			if ev.Total > 0 {
				line += fmt.Sprintf(" [%d/%d]", ev.Done, ev.Total)
			}
			fmt.Fprintln(stdout, line)
		},
	})
	if err != nil {
		printDeployError(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "deployed BYOD package version %d to %s in %s\n", res.SchemaVersion, res.URL, res.Duration.Round(time.Millisecond))
	return 0
}

// compileCacheDir resolves --compile-cache: unset, Node's compile cache lives in the user cache
// directory, where it outlasts the deploy (the system temp dir is left as it was found); with no
// user cache directory there is none. Other settings mean what they mean to the deployer
// (settings.CompileCacheDir).
func compileCacheDir(setting, userCache string) (string, error) {
	if setting != "" {
		return settings.CompileCacheDir(setting, "")
	}
	if userCache == "" {
		return "", nil
	}
	return filepath.Join(userCache, cacheDirName, "node-compile-cache"), nil
}

// readKey reads the key from file, or from $CONVEX_DEPLOY_KEY when file is empty.
func readKey(file string) (string, error) {
	if file == "" {
		key := strings.TrimSpace(os.Getenv(envDeployKey))
		if key == "" {
			return "", fmt.Errorf("no key: set $%s or pass --key-file FILE", envDeployKey)
		}
		return key, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("read key file %s: %w", file, err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("key file %s is empty", file)
	}
	return key, nil
}

func printDeployError(w io.Writer, err error) {
	var de *deploy.Error
	if !errors.As(err, &de) {
		fmt.Fprintf(w, "byod deploy: %v\n", err)
		return
	}
	fmt.Fprintf(w, "byod deploy: failed (%s): %s\n", de.Class, de.Message)
	if de.Detail != "" {
		fmt.Fprintf(w, "  detail: %s\n", strings.ReplaceAll(de.Detail, "\n", "\n          "))
	}
	fmt.Fprintf(w, "  hint:   %s\n", de.Hint)
	retry := "no"
	if de.Retryable {
		retry = "yes"
	}
	fmt.Fprintf(w, "  retry:  %s\n", retry)
}
