package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/byod-deployer/byod-deployer/shared/credentials"
	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
)

func init() {
	commands["send"] = command{
		summary: "publish a message to the local deploy queue: send deploy|retry|raw (see byod send -h)",
		run:     runSend,
	}
}

const sendUsage = `usage:
  byod send deploy --user U [--config C] [--url URL --key-file F]
  byod send retry  --user U [--config C] [--url URL --key-file F]
  byod send raw    --file F [--dedup ID]

deploy encrypts the target's URL and deploy key with the local KMS key (encryption context
{userId, configId}) and publishes a deploy message; without --url the target is the dev
session's default deployment, whose key only the dev server holds. retry publishes a retry,
with new credentials when --url is given. raw publishes the file's bytes as they are (for trying
bad input). The key is read from --key-file ("-": stdin), never from an argument.
`

// runSend publishes one message to the running local pipeline and prints its request id.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "deploy" && args[0] != "retry" && args[0] != "raw") {
		fmt.Fprint(stderr, sendUsage)
		return 2
	}
	kind := args[0]
	fs := flag.NewFlagSet("send "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "user id")
	config := fs.String("config", localrun.DefaultConfigID, "config id")
	url := fs.String("url", "", "deployment URL (default: the dev session's deployment)")
	keyFile := fs.String("key-file", "", "file holding the deploy key for --url (\"-\": stdin)")
	file := fs.String("file", "", "raw: the message body to publish")
	dedup := fs.String("dedup", "", "raw: the FIFO deduplication id (default: the body's sha256)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "byod send %s: %v\n", kind, err)
		return code
	}
	if kind == "raw" {
		if *file == "" {
			return fail(2, fmt.Errorf("--file is required"))
		}
	} else if *user == "" {
		return fail(2, fmt.Errorf("--user is required"))
	}
	if (*url == "") != (*keyFile == "") {
		return fail(2, fmt.Errorf("--url and --key-file go together"))
	}
	c, err := loadClient()
	if err != nil {
		return fail(1, err)
	}
	var target *credentials.Secret
	if *url != "" {
		key, err := readKeyFile(*keyFile)
		if err != nil {
			return fail(2, err)
		}
		target = &credentials.Secret{URL: *url, DeployKey: key}
	}
	var requestID string
	switch {
	case kind == "raw":
		body, err := os.ReadFile(*file)
		if err != nil {
			return fail(2, err)
		}
		if err := c.Raw(ctx, body, *dedup); err != nil {
			return fail(1, err)
		}
		fmt.Fprintln(stdout, "sent")
		return 0
	case kind == "deploy" && target == nil:
		requestID, err = c.DeployLocal(ctx, *user, *config)
	case kind == "deploy":
		m, derr := c.Deploy(ctx, *user, *config, *target)
		requestID, err = m.RequestID, derr
	default:
		m, rerr := c.Retry(ctx, *user, *config, target)
		requestID, err = m.RequestID, rerr
	}
	if err != nil {
		return fail(1, err)
	}
	fmt.Fprintln(stdout, requestID)
	return 0
}
