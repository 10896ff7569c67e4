package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
)

// envAdminKey is where local-convex reads its admin key: the name the Convex CLI itself uses.
const envAdminKey = "CONVEX_SELF_HOSTED_ADMIN_KEY"

func init() {
	commands["local-convex"] = command{
		summary: "serve a local Convex deployment (key from " + envAdminKey + ")",
		run:     runLocalConvex,
	}
}

// runLocalConvex serves the local Convex deployment until ctx ends. The first line of stdout is
// the deployment URL; request logs go to stderr as JSON.
func runLocalConvex(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local-convex", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:3210", "listen address (host:port, port 0 picks a free one)")
	fail := fs.String("fail", "", "failure mode: forbidden, hang, start_push_500, schema_fail, race, slow_backfill")
	steps := fs.Int("backfill-steps", 0, "answer wait_for_schema with inProgress this many times per push")
	name := fs.String("instance-name", "", "deployment name (default: taken from the admin key)")
	node := fs.String("node", "", "node executable (default $BYOD_NODE, else the Node 22 `make deps` installs)")
	anyAddr := fs.Bool("allow-non-loopback", false, "allow listening outside 127.0.0.0/8 and ::1")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "byod local-convex: unexpected arguments %q\n", fs.Args())
		return 2
	}
	mode, err := convexlocal.ParseFailMode(*fail)
	if err != nil {
		fmt.Fprintf(stderr, "byod local-convex: %v\n", err)
		return 2
	}
	key := os.Getenv(envAdminKey)
	if key == "" {
		fmt.Fprintf(stderr, "byod local-convex: %s is not set: it holds the admin key the deployment accepts (e.g. local|<hex>)\n", envAdminKey)
		return 2
	}
	srv, err := convexlocal.New(convexlocal.Options{
		AdminKey:         key,
		InstanceName:     *name,
		Fail:             mode,
		BackfillSteps:    *steps,
		Node:             *node,
		AllowNonLoopback: *anyAddr,
		Logger:           slog.New(slog.NewJSONHandler(stderr, nil)),
	})
	if err != nil {
		fmt.Fprintf(stderr, "byod local-convex: %v\n", err)
		return 1
	}
	if err := srv.Listen(*addr); err != nil {
		fmt.Fprintf(stderr, "byod local-convex: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, srv.URL())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case <-ctx.Done():
		if err := srv.Close(); err != nil {
			fmt.Fprintf(stderr, "byod local-convex: %v\n", err)
			return 1
		}
		if err := <-done; err != nil {
			fmt.Fprintf(stderr, "byod local-convex: %v\n", err)
			return 1
		}
		return 0
	case err := <-done:
		_ = srv.Close()
		if err == nil {
			err = errors.New("server stopped")
		}
		fmt.Fprintf(stderr, "byod local-convex: %v\n", err)
		return 1
	}
}
