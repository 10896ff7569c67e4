// Command notifier is the Lambda on the status table's stream: it pushes every change of a
// deployment's current status to that user's open WebSockets through the API Gateway management
// API, and forgets connections that are gone (410). See handler.go and docs/websocket.md.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/obs"
)

func main() {
	log := obs.NewLogger(os.Stdout, os.Getenv("LOG_LEVEL"))
	table, endpoint := os.Getenv("CONNECTIONS_TABLE"), os.Getenv("WEBSOCKET_ENDPOINT")
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil || table == "" || endpoint == "" {
		fmt.Fprintf(os.Stderr, "notifier: CONNECTIONS_TABLE=%q WEBSOCKET_ENDPOINT=%q, AWS config: %v\n", table, endpoint, err)
		os.Exit(1)
	}
	h := &Handler{
		Connections: &connections.Store{DB: dynamodb.NewFromConfig(cfg), Table: table},
		Poster: apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String(endpoint)
		}),
		Log: log,
	}
	lambda.Start(h.Handle)
}
