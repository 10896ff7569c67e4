// Command deployer is the Lambda behind the SQS FIFO deploy queue: it decrypts each request's
// credentials with KMS, claims the deployment in the status table, runs the deploy engine and
// records every stage and the outcome.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/deploy"
	"github.com/byod-deployer/byod-deployer/shared/obs"
	"github.com/byod-deployer/byod-deployer/shared/settings"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

func main() {
	env, err := settings.ParseDeployer(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "deployer: AWS config: %v\n", err)
		os.Exit(1)
	}
	// One engine for the container's life: warm invocations share its compile cache.
	engine, err := newEngine(env)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h := &Handler{
		Store:         &status.Store{DB: dynamodb.NewFromConfig(cfg), Table: env.StatusTable},
		KMS:           kms.NewFromConfig(cfg),
		Engine:        engine,
		Metrics:       obs.NewMetrics(os.Stdout, env.MetricsNamespace),
		Log:           obs.NewLogger(os.Stdout, env.LogLevel),
		SchemaVersion: bundle.Version,
		Lease:         env.Lease,
		Timeout:       env.Timeout,
	}
	lambda.Start(h.Handle)
}

// newEngine is the deploy engine the settings describe. Its error names SELF_HOSTED_HOSTS when an
// allow-list entry is not a host or host:port (deploy.ParseHosts).
func newEngine(env settings.Deployer) (*deploy.Engine, error) {
	hosts, err := deploy.ParseHosts(strings.Join(env.SelfHostedHosts, ","))
	if err != nil {
		return nil, fmt.Errorf("deployer: environment: SELF_HOSTED_HOSTS: %w", err)
	}
	return &deploy.Engine{CLINodeModules: env.CLINodeModules, Node: env.Node, SelfHostedHosts: hosts,
		CompileCache: env.CompileCache}, nil
}
