// Command wsconnect is the Lambda behind the status WebSocket API's $connect, $disconnect and
// $default routes: it admits a connection only with a valid signed token, remembers which user it
// belongs to, and answers {"action":"status"} with the current snapshot as its response body
// (the message route has a route response). See handler.go and docs/websocket.md.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/obs"
	"github.com/byod-deployer/byod-deployer/shared/settings"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

func main() {
	ctx := context.Background()
	env, err := settings.ParseWSConnect(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsconnect: AWS config: %v\n", err)
		os.Exit(1)
	}
	secret, err := tokenSecret(ctx, env.TokenSecretARN, env.TokenSecret, secretsmanager.NewFromConfig(cfg))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	h := &Handler{
		Secret:      secret,
		Audience:    env.TokenAudience,
		Connections: &connections.Store{DB: db, Table: env.ConnectionsTable},
		Status:      &status.Store{DB: db, Table: env.StatusTable},
		Log:         obs.NewLogger(os.Stdout, env.LogLevel),
	}
	lambda.Start(h.Handle)
}
