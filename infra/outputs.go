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
	OutputTokenSecretARN       = "TokenSecretArn"
	OutputAlarmTopicARN        = "AlarmTopicArn"
	OutputDashboardName        = "DashboardName"
	ExportPublisherRoleARNName = "ByodDeployer-PublisherRoleArn"
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
		Description: jsii.String("role the app assumes: kms:Encrypt, sqs:SendMessage, read the token secret"),
		ExportName:  jsii.String(ExportPublisherRoleARNName),
	})
}
