package standins

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config returns an SDK configuration for the stand-ins: fixed region and static, meaningless
// credentials (no stand-in checks them). Give each client its endpoint with BaseEndpoint, e.g.
// dynamodb.NewFromConfig(standins.Config(), func(o *dynamodb.Options) { o.BaseEndpoint = &url }).
func Config() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}
