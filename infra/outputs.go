package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Output names of the stack (`cdk deploy --outputs-file`, `aws cloudformation describe-stacks`).
const (
	OutputQueueURL             = "DeployQueueUrl"
	OutputWebSocketURL         = "WebSocketUrl"
	OutputStatusTable          = "StatusTableName"
	OutputConnectionsTable     = "ConnectionsTableName"
	OutputKeyARN               = "CredentialsKeyArn"
	OutputPublisherRoleARN     = "PublisherRoleArn"
	OutputTokenSignerRoleARN   = "TokenSignerRoleArn"
	OutputTokenSecretARN       = "TokenSecretArn"
	OutputAlarmTopicARN        = "AlarmTopicArn"
	OutputDashboardName        = "DashboardName"
	ExportPublisherRoleARNName = "ByodDeployer-PublisherRoleArn"
	// ExportTokenSignerRoleARNName is exported apart from the publisher's, so an app can hand the
	// two roles to different parts of its backend.
	ExportTokenSignerRoleARNName = "ByodDeployer-TokenSignerRoleArn"
)

func newOutputs(stack awscdk.Stack, s *Stack, d *Dashboard) {
	out := func(id string, value *string, what string) awscdk.CfnOutput {
		return awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{
			Value:       value,
			Description: jsii.String(what),
		})
	}
	out(OutputQueueURL, s.Queue.Deploy.QueueUrl(), "FIFO queue the app publishes deploy messages to")
	out(OutputWebSocketURL, s.WebSocket.Stage.Url(), "wss:// URL browsers connect to (?token=…)")
	out(OutputStatusTable, s.Tables.Status.TableName(), "status table")
	out(OutputConnectionsTable, s.Tables.Connections.TableName(), "WebSocket connections table")
	out(OutputKeyARN, s.Keys.Key.KeyArn(), "KMS key the app encrypts credentials with (context userId, configId)")
	out(OutputTokenSecretARN, s.Keys.TokenSecret.SecretArn(), "HMAC key of the WebSocket tokens")
	out(OutputAlarmTopicARN, d.Topic.TopicArn(), "SNS topic the alarms notify")
	out(OutputDashboardName, d.Dashboard.DashboardName(), "CloudWatch dashboard")
	awscdk.NewCfnOutput(stack, jsii.String(OutputPublisherRoleARN), &awscdk.CfnOutputProps{
		Value:       s.Keys.Publisher.RoleArn(),
		Description: jsii.String("role the app assumes to publish: kms:Encrypt (context userId, configId), sqs:SendMessage"),
		ExportName:  jsii.String(ExportPublisherRoleARNName),
	})
	awscdk.NewCfnOutput(stack, jsii.String(OutputTokenSignerRoleARN), &awscdk.CfnOutputProps{
		Value:       s.Keys.TokenSigner.RoleArn(),
		Description: jsii.String("role the app assumes to read the token secret and sign WebSocket tokens"),
		ExportName:  jsii.String(ExportTokenSignerRoleARNName),
	})
}
