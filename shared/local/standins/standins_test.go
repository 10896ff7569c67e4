package standins_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/byod-deployer/byod-deployer/shared/local/standins"
)

func TestDynamoDBLocal(t *testing.T) {
	ctx := context.Background()
	p, err := standins.StartDynamoDB(ctx, standins.DynamoDBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	db := dynamodb.NewFromConfig(standins.Config(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(p.URL) })
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("things"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	put := func() error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String("things"),
			Item:                map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}},
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first put: %v", err)
	}
	var ccf *ddbtypes.ConditionalCheckFailedException
	if err := put(); !errors.As(err, &ccf) {
		t.Fatalf("second conditional put: got %v, want ConditionalCheckFailedException", err)
	}
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("things")})
	if err != nil || desc.Table.LatestStreamArn == nil {
		t.Fatalf("DescribeTable: stream ARN missing (err %v)", err)
	}
}

func TestSQSFauxqs(t *testing.T) {
	ctx := context.Background()
	p, err := standins.StartSQS(ctx, standins.SQSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	q := sqs.NewFromConfig(standins.Config(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(p.URL) })
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String("jobs.fifo"),
		Attributes: map[string]string{"FifoQueue": "true"},
	})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	for i := 0; i < 2; i++ { // the second send has the same deduplication id and must be dropped
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: created.QueueUrl, MessageBody: aws.String(`{"n":1}`),
			MessageGroupId: aws.String("u1"), MessageDeduplicationId: aws.String("r1"),
		}); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
	}
	got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != `{"n":1}` {
		t.Fatalf("received %d messages, want the one deduplicated message", len(got.Messages))
	}
}

func TestKMSEncryptionContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, err := standins.StartKMS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	if _, err := standins.StartKMS(t.TempDir()); !errors.Is(err, standins.ErrKMSRunning) {
		t.Fatalf("second StartKMS: got %v, want ErrKMSRunning", err)
	}
	c := kms.NewFromConfig(standins.Config(), func(o *kms.Options) { o.BaseEndpoint = aws.String(k.URL) })
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	ec := map[string]string{"userId": "u1", "configId": "c1"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || string(dec.Plaintext) != "secret" {
		t.Fatalf("Decrypt with the same context: %q, %v", dec.Plaintext, err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"userId": "u2", "configId": "c1"}})
	var bad *kmstypes.InvalidCiphertextException
	if !errors.As(err, &bad) {
		t.Fatalf("Decrypt with another user's context: got %v, want InvalidCiphertextException", err)
	}
}
