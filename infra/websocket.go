package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
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
// to wsconnect, and lets the notifier and wsconnect (only) post to connections.
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
	// The notifier pushes status changes and wsconnect posts the {"action":"status"} snapshot:
	// both may only POST to this stage's @connections (PostToConnection; no GET or DELETE).
	post := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("execute-api"),
		Resource:     api.ApiId(),
		ResourceName: jsii.String(StageName + "/POST/@connections/*"),
	})
	for _, fn := range []awslambda.Function{f.Notifier, f.WSConnect} {
		awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
			Grantee:      fn,
			Actions:      jsii.Strings("execute-api:ManageConnections"),
			ResourceArns: jsii.Strings(*post),
		})
		fn.AddEnvironment(jsii.String("WEBSOCKET_ENDPOINT"), stage.CallbackUrl(), nil)
	}
	return &WebSocket{API: api, Stage: stage}
}
