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
	"github.com/byod-deployer/byod-deployer/shared/settings"
)

func main() {
	env, err := settings.ParseNotifier(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "notifier: AWS config: %v\n", err)
		os.Exit(1)
	}
	h := &Handler{
		Connections: &connections.Store{DB: dynamodb.NewFromConfig(cfg), Table: env.ConnectionsTable},
		Poster: apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String(env.WebSocketEndpoint)
		}),
		Log: obs.NewLogger(os.Stdout, env.LogLevel),
	}
	lambda.Start(h.Handle)
}
