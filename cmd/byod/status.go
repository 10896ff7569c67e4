package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
)

func init() {
	commands["status"] = command{
		summary: "print the current status record of a user's config as JSON (local pipeline)",
		run:     runStatus,
	}
}

// runStatus prints the current status record; exit 1 when there is none.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "user id (required)")
	config := fs.String("config", localrun.DefaultConfigID, "config id")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *user == "" {
		fmt.Fprintln(stderr, "byod status: --user is required")
		return 2
	}
	c, err := loadClient()
	if err != nil {
		fmt.Fprintf(stderr, "byod status: %v\n", err)
		return 1
	}
	rec, found, err := c.Status(ctx, *user, *config)
	if err != nil {
		fmt.Fprintf(stderr, "byod status: %v\n", err)
		return 1
	}
	if !found {
		fmt.Fprintf(stderr, "byod status: no status for %s/%s\n", *user, *config)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rec); err != nil {
		fmt.Fprintf(stderr, "byod status: %v\n", err)
		return 1
	}
	return 0
}
