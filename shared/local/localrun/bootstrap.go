package localrun

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// createTables creates the status table (with its stream) and the connections table with the
// owning packages' helpers, which create them as the CDK stack does; it returns the stream ARN.
func createTables(ctx context.Context, db *dynamodb.Client) (streamARN string, err error) {
	if err := connections.CreateTable(ctx, db, ConnectionsTable); err != nil {
		return "", err
	}
	streamARN, err = status.CreateTable(ctx, db, StatusTable)
	if err != nil {
		return "", err
	}
	if streamARN == "" {
		return "", fmt.Errorf("table %s already existed: its stream ARN is unknown", StatusTable)
	}
	return streamARN, nil
}

// createQueues creates the FIFO dead-letter queue and the FIFO deploy queue that redrives to it
// after MaxReceiveCount receives.
func createQueues(ctx context.Context, q *sqs.Client, visibility int) (queueURL, dlqURL string, err error) {
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(DLQName), Attributes: map[string]string{"FifoQueue": "true"}})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", DLQName, err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", fmt.Errorf("queue ARN of %s: %w", DLQName, err)
	}
	main, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(QueueName), Attributes: map[string]string{
		"FifoQueue":         "true",
		"VisibilityTimeout": fmt.Sprint(visibility),
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, attrs.Attributes["QueueArn"], MaxReceiveCount),
	}})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", QueueName, err)
	}
	return aws.ToString(main.QueueUrl), aws.ToString(dlq.QueueUrl), nil
}

// createKey creates the symmetric key the app encrypts credentials with, and its alias.
func createKey(ctx context.Context, k *kms.Client) (keyID string, err error) {
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("byod-deployer local: deploy credentials")})
	if err != nil {
		return "", fmt.Errorf("create KMS key: %w", err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(KeyAlias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("create KMS alias %s: %w", KeyAlias, err)
	}
	return aws.ToString(key.KeyMetadata.Arn), nil
}
