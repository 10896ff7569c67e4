package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// The DynamoDB actions each function calls, no more (the stream read of the notifier's event
// source aside, which CDK grants with the event source). A transaction needs the action of each
// item in it (TransactWriteItems of updates: dynamodb:UpdateItem); nothing here scans, batches or
// describes a table.
var (
	// DeployerStatusActions: shared/status Enqueue, Claim, Progress, Complete, Fail, MarkFailed,
	// Refuse (updates, alone or in transactions) and the Get that follows them.
	DeployerStatusActions = []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}
	// DeadLetterStatusActions: MarkFailed (a transaction of updates, an update) and Get.
	DeadLetterStatusActions = []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}
	// NotifierConnectionsActions: ListByUser (a query of the table) and Delete after a 410.
	NotifierConnectionsActions = []string{"dynamodb:Query", "dynamodb:DeleteItem"}
	// WSConnectConnectionsActions: Put on $connect, Delete on $disconnect, the snapshot window's
	// conditional update; UserOf queries ByConnectionIndex only (granted on the index alone).
	WSConnectConnectionsActions = []string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"}
	// WSConnectStatusActions: the snapshot's Get of one current item. No Query, Scan or
	// BatchGetItem: the internet-facing function cannot read the table (ciphertexts) in bulk.
	WSConnectStatusActions = []string{"dynamodb:GetItem"}
)

// TTLAttribute is the epoch-seconds expiry attribute of both tables (connections always set it;
// the status store may set it on history items).
const TTLAttribute = "expiresAt"

// ByConnectionIndex is the connections table's GSI (shared/connections.ByConnectionIndex):
// partition key connectionId, projecting the keys and expiresAt, because `$disconnect` and
// client messages carry only the connection id.
const ByConnectionIndex = "byConnection"

// Tables holds the status and connections tables (keys as in docs/ARCHITECTURE.md).
type Tables struct {
	// Status: pk = CFG#<userId>#<configId>, sk = CURRENT | ATTEMPT#<requestId>; streamed with
	// NEW_AND_OLD_IMAGES to the notifier. Retained, with deletion protection, when the stack goes.
	Status awsdynamodb.Table
	// Connections: pk = userId, sk = connectionId, GSI ByConnectionIndex. Only live sockets:
	// destroyed with the stack.
	Connections awsdynamodb.Table
}

func newTables(stack awscdk.Stack) *Tables {
	status := table(stack, "StatusTable", "pk", "sk", &awsdynamodb.TableProps{
		Stream:             awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES,
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	connections := table(stack, "ConnectionsTable", "userId", "connectionId", &awsdynamodb.TableProps{
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	connections.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:        jsii.String(ByConnectionIndex),
		PartitionKey:     &awsdynamodb.Attribute{Name: jsii.String("connectionId"), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType:   awsdynamodb.ProjectionType_INCLUDE,
		NonKeyAttributes: jsii.Strings(TTLAttribute),
	})
	return &Tables{Status: status, Connections: connections}
}

// table is an on-demand table with string keys, point-in-time recovery, TTL on TTLAttribute
// and AWS-managed encryption; p adds the rest.
func table(stack awscdk.Stack, id, pk, sk string, p *awsdynamodb.TableProps) awsdynamodb.Table {
	p.PartitionKey = &awsdynamodb.Attribute{Name: jsii.String(pk), Type: awsdynamodb.AttributeType_STRING}
	p.SortKey = &awsdynamodb.Attribute{Name: jsii.String(sk), Type: awsdynamodb.AttributeType_STRING}
	p.BillingMode = awsdynamodb.BillingMode_PAY_PER_REQUEST
	p.PointInTimeRecoverySpecification = &awsdynamodb.PointInTimeRecoverySpecification{
		PointInTimeRecoveryEnabled: jsii.Bool(true),
	}
	p.TimeToLiveAttribute = jsii.String(TTLAttribute)
	p.Encryption = awsdynamodb.TableEncryption_AWS_MANAGED
	return awsdynamodb.NewTable(stack, jsii.String(id), p)
}

// grantItems grants fn exactly actions on table, or with index set, on that index of it alone.
func grantItems(fn awsiam.IGrantable, table awsdynamodb.Table, index string, actions ...string) {
	arn := *table.TableArn()
	if index != "" {
		arn += "/index/" + index
	}
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      fn,
		Actions:      jsii.Strings(actions...),
		ResourceArns: jsii.Strings(arn),
	})
}
