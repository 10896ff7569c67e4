package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
)

func init() {
	commands["watch"] = command{
		summary: "print a user's status events from the WebSocket as they arrive (local pipeline)",
		run:     runWatch,
	}
}

// runWatch prints every message of the user's WebSocket, one JSON line each. With --until it
// exits 0 when a status record reaches that state, and 1 when --timeout passes first.
func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "user id (required)")
	until := fs.String("until", "", "exit when a status reaches this: deployed, failed or final (either)")
	timeout := fs.Duration("timeout", 10*time.Minute, "with --until: give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *user == "" {
		fmt.Fprintln(stderr, "byod watch: --user is required")
		return 2
	}
	switch *until {
	case "", "deployed", "failed", "final":
	default:
		fmt.Fprintf(stderr, "byod watch: --until %q: want deployed, failed or final\n", *until)
		return 2
	}
	c, err := loadClient()
	if err != nil {
		fmt.Fprintf(stderr, "byod watch: %v\n", err)
		return 1
	}
	if *until != "" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	reached := false
	err = c.Watch(ctx, *user, func(ev localrun.Event) bool {
		fmt.Fprintln(stdout, string(ev.Raw))
		if ev.Record == nil || *until == "" {
			return true
		}
		st := ev.Record.DeploymentStatus
		reached = string(st) == *until || (*until == "final" && st.Final())
		return !reached
	})
	switch {
	case reached:
		return 0
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(stderr, "byod watch: no %s status within %s\n", *until, *timeout)
		return 1
	case errors.Is(err, context.Canceled) && *until == "":
		return 0 // Ctrl-C
	case err != nil:
		fmt.Fprintf(stderr, "byod watch: %v\n", err)
		return 1
	}
	return 0
}
