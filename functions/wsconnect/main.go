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
	"github.com/byod-deployer/byod-deployer/shared/status"
)

func main() {
	ctx := context.Background()
	log := obs.NewLogger(os.Stdout, os.Getenv("LOG_LEVEL"))
	conns, statuses, aud := os.Getenv("CONNECTIONS_TABLE"), os.Getenv("STATUS_TABLE"), os.Getenv("TOKEN_AUDIENCE")
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil || conns == "" || statuses == "" || aud == "" {
		fmt.Fprintf(os.Stderr, "wsconnect: CONNECTIONS_TABLE=%q STATUS_TABLE=%q TOKEN_AUDIENCE=%q, AWS config: %v\n", conns, statuses, aud, err)
		os.Exit(1)
	}
	secret, err := tokenSecret(ctx, os.Getenv, secretsmanager.NewFromConfig(cfg))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	h := &Handler{
		Secret:      secret,
		Audience:    aud,
		Connections: &connections.Store{DB: db, Table: conns},
		Status:      &status.Store{DB: db, Table: statuses},
		Log:         log,
	}
	lambda.Start(h.Handle)
}
