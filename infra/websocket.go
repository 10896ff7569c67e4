package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// StageName is the WebSocket API's stage (the last path element of WEBSOCKET_ENDPOINT).
const StageName = "live"

// Limit is one route's throttle: a token bucket of BurstLimit requests refilled at RateLimit per
// second (API Gateway's ThrottlingBurstLimit / ThrottlingRateLimit).
type Limit struct {
	RateLimit  float64
	BurstLimit int
}

// Throttling of the stage, per route (docs/infra.md, "WebSocket limits", has the arithmetic).
// Each route has its own bucket, so a flood of garbage $connects does not take the snapshots of
// connected browsers with it, nor status spam the connects. StageLimit is the default for a
// route added later without its own line here.
var (
	RouteLimits = map[string]Limit{
		"$connect":    {RateLimit: 100, BurstLimit: 200},
		"$disconnect": {RateLimit: 100, BurstLimit: 200},
		"$default":    {RateLimit: 100, BurstLimit: 200},
	}
	StageLimit = Limit{RateLimit: 100, BurstLimit: 200}
)

// WebSocket holds the API Gateway WebSocket API and its stage.
type WebSocket struct {
	API   awsapigatewayv2.WebSocketApi
	Stage awsapigatewayv2.WebSocketStage
}

// newWebSocket routes $connect, $disconnect and $default (which carries {"action":"status"})
// to wsconnect, and lets the notifier (only) post to connections.
//
// $default is two-way: it has a route response (RouteResponseSelectionExpression `$default` and
// a `$default` route response), so API Gateway sends wsconnect's response body (the snapshot) back
// to the client, and wsconnect needs no access to the management API.
func newWebSocket(stack awscdk.Stack, f *Functions, t *Tables) *WebSocket {
	route := func(id string, twoWay bool) *awsapigatewayv2.WebSocketRouteOptions {
		return &awsapigatewayv2.WebSocketRouteOptions{
			Integration:    awsapigatewayv2integrations.NewWebSocketLambdaIntegration(jsii.String(id+"Integration"), f.WSConnect, nil),
			ReturnResponse: jsii.Bool(twoWay),
		}
	}
	api := awsapigatewayv2.NewWebSocketApi(stack, jsii.String("WebSocketApi"), &awsapigatewayv2.WebSocketApiProps{
		Description:            jsii.String("byod-deployer: live deployment status"),
		ConnectRouteOptions:    route("Connect", false),
		DisconnectRouteOptions: route("Disconnect", false),
		DefaultRouteOptions:    route("Default", true),
	})
	stage := awsapigatewayv2.NewWebSocketStage(stack, jsii.String("WebSocketStage"), &awsapigatewayv2.WebSocketStageProps{
		WebSocketApi: api,
		StageName:    jsii.String(StageName),
		AutoDeploy:   jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(StageLimit.RateLimit),
			BurstLimit: jsii.Number(float64(StageLimit.BurstLimit)),
		},
	})
	routes := map[string]interface{}{}
	for key, l := range RouteLimits {
		routes[key] = map[string]interface{}{"ThrottlingRateLimit": l.RateLimit, "ThrottlingBurstLimit": l.BurstLimit}
	}
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetRouteSettings(routes)
	// The notifier pushes status changes: it alone may manage connections, and only POST to this
	// stage's @connections (PostToConnection; no GET or DELETE).
	post := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("execute-api"),
		Resource:     api.ApiId(),
		ResourceName: jsii.String(StageName + "/POST/@connections/*"),
	})
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      f.Notifier,
		Actions:      jsii.Strings("execute-api:ManageConnections"),
		ResourceArns: jsii.Strings(*post),
	})
	f.Notifier.AddEnvironment(jsii.String("WEBSOCKET_ENDPOINT"), stage.CallbackUrl(), nil)
	return &WebSocket{API: api, Stage: stage}
}
