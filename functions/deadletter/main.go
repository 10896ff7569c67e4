// Command deadletter is the Lambda behind the deploy queue's dead-letter queue: it marks each
// request that exhausted its retries as failed, so no browser waits forever on "deploying".
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/byod-deployer/byod-deployer/shared/obs"
	"github.com/byod-deployer/byod-deployer/shared/settings"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

func main() {
	env, err := settings.ParseDeadLetter(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "deadletter: AWS config: %v\n", err)
		os.Exit(1)
	}
	h := &Handler{
		Store:   &status.Store{DB: dynamodb.NewFromConfig(cfg), Table: env.StatusTable},
		Metrics: obs.NewMetrics(os.Stdout, env.MetricsNamespace),
		Log:     obs.NewLogger(os.Stdout, env.LogLevel),
	}
	lambda.Start(h.Handle)
}
