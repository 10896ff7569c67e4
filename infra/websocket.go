package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/jsii-runtime-go"
)

// StageName is the WebSocket API's stage (the last path element of WEBSOCKET_ENDPOINT).
const StageName = "live"

// WebSocket holds the API Gateway WebSocket API and its stage.
type WebSocket struct {
	API   awsapigatewayv2.WebSocketApi
	Stage awsapigatewayv2.WebSocketStage
}

// newWebSocket routes $connect, $disconnect and $default (which carries {"action":"status"})
// to wsconnect, and lets only the notifier post to connections.
func newWebSocket(stack awscdk.Stack, f *Functions, t *Tables) *WebSocket {
	route := func(id string) *awsapigatewayv2.WebSocketRouteOptions {
		return &awsapigatewayv2.WebSocketRouteOptions{
			Integration: awsapigatewayv2integrations.NewWebSocketLambdaIntegration(jsii.String(id+"Integration"), f.WSConnect, nil),
		}
	}
	api := awsapigatewayv2.NewWebSocketApi(stack, jsii.String("WebSocketApi"), &awsapigatewayv2.WebSocketApiProps{
		Description:            jsii.String("byod-deployer: live deployment status"),
		ConnectRouteOptions:    route("Connect"),
		DisconnectRouteOptions: route("Disconnect"),
		DefaultRouteOptions:    route("Default"),
	})
	stage := awsapigatewayv2.NewWebSocketStage(stack, jsii.String("WebSocketStage"), &awsapigatewayv2.WebSocketStageProps{
		WebSocketApi: api,
		StageName:    jsii.String(StageName),
		AutoDeploy:   jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(50),
			BurstLimit: jsii.Number(100),
		},
	})
	// execute-api:ManageConnections on this stage's @connections, for the notifier only.
	stage.GrantManagementApiAccess(f.Notifier)
	f.Notifier.AddEnvironment(jsii.String("WEBSOCKET_ENDPOINT"), stage.CallbackUrl(), nil)
	return &WebSocket{API: api, Stage: stage}
}
