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
	"github.com/byod-deployer/byod-deployer/shared/status"
)

func main() {
	log := obs.NewLogger(os.Stdout, os.Getenv("LOG_LEVEL"))
	table := os.Getenv("STATUS_TABLE")
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil || table == "" {
		fmt.Fprintf(os.Stderr, "deadletter: STATUS_TABLE=%q, AWS config: %v\n", table, err)
		os.Exit(1)
	}
	h := &Handler{
		Store:   &status.Store{DB: dynamodb.NewFromConfig(cfg), Table: table},
		Metrics: obs.NewMetrics(os.Stdout, os.Getenv("METRICS_NAMESPACE")),
		Log:     log,
	}
	lambda.Start(h.Handle)
}
