package localrun_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/byod-deployer/byod-deployer/shared/local/standins"
)

// The stand-ins are started once per test binary, on first use, and stopped by TestMain.
var (
	standinsOnce sync.Once
	standinsErr  error
	ddbProc      *standins.Process
	sqsProc      *standins.Process
)

func TestMain(m *testing.M) {
	if os.Getenv(envHelperFunction) == "1" {
		runHelperFunction() // never returns: the test binary is a Lambda function here
	}
	code := m.Run()
	for _, p := range []*standins.Process{ddbProc, sqsProc} {
		if p != nil {
			p.Close()
		}
	}
	os.Exit(code)
}

// clients are SDK clients of the shared stand-ins.
type clients struct {
	ddb     *dynamodb.Client
	streams *dynamodbstreams.Client
	sqs     *sqs.Client
}

// startStandIns starts DynamoDB Local and fauxqs (concurrently, once) and fails t if either is
// missing or does not come up.
func startStandIns(t testing.TB) clients {
	t.Helper()
	standinsOnce.Do(func() {
		ctx := context.Background()
		var wg sync.WaitGroup
		var ddbErr, sqsErr error
		wg.Add(2)
		go func() { defer wg.Done(); ddbProc, ddbErr = standins.StartDynamoDB(ctx, standins.DynamoDBOptions{}) }()
		go func() { defer wg.Done(); sqsProc, sqsErr = standins.StartSQS(ctx, standins.SQSOptions{}) }()
		wg.Wait()
		if ddbErr != nil {
			standinsErr = ddbErr
		} else if sqsErr != nil {
			standinsErr = sqsErr
		}
	})
	if standinsErr != nil {
		t.Fatal(standinsErr)
	}
	cfg := standins.Config()
	return clients{
		ddb:     dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ddbProc.URL) }),
		streams: dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(ddbProc.URL) }),
		sqs:     sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(sqsProc.URL) }),
	}
}
