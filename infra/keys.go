package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
)

// EncryptionContextKeys are the keys of the KMS encryption context the app encrypts the
// deployment credentials with and the deployer decrypts with (shared/credentials).
var EncryptionContextKeys = []string{"userId", "configId"}

// Keys holds the credentials key, the WebSocket token secret and the two roles the app assumes.
type Keys struct {
	// Key encrypts the deployment URL + deploy key (envelope by the app, Decrypt by the deployer).
	Key awskms.Key
	// TokenSecret is the HMAC key that signs WebSocket tokens (its SecretString, 64 characters).
	TokenSecret awssecretsmanager.Secret
	// Publisher is the role the app assumes to encrypt credentials and publish deploy messages:
	// kms:Encrypt (context-bound) and sqs:SendMessage, nothing else.
	Publisher awsiam.Role
	// TokenSigner is the role the app assumes to read TokenSecret and sign browsers' WebSocket
	// tokens. It is not the publisher: reading a secret is not publishing (issue 5), and a leaked
	// publisher credential must not let anyone open another user's status socket.
	TokenSigner awsiam.Role
}

func newKeys(stack awscdk.Stack, p StackProps) *Keys {
	key := awskms.NewKey(stack, jsii.String("CredentialsKey"), &awskms.KeyProps{
		Description:       jsii.String("byod-deployer: envelope of users' Convex deployment credentials"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
	})
	secret := awssecretsmanager.NewSecret(stack, jsii.String("TokenSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("byod-deployer: HMAC-SHA256 key of the WebSocket tokens"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
	})
	var trusted awsiam.IPrincipal = awsiam.NewAccountRootPrincipal()
	if p.PublisherAccountID != "" {
		trusted = awsiam.NewAccountPrincipal(jsii.String(p.PublisherAccountID))
	}
	publisher := awsiam.NewRole(stack, jsii.String("PublisherRole"), &awsiam.RoleProps{
		Description: jsii.String("byod-deployer: the app encrypts credentials and publishes deploy messages"),
		AssumedBy:   trusted,
	})
	// kms:Encrypt only, and only with exactly the design's context keys present. sqs:SendMessage
	// is granted with the queue (queue.go).
	publisher.AddToPolicy(contextBoundStatement("kms:Encrypt", key))
	signer := awsiam.NewRole(stack, jsii.String("TokenSignerRole"), &awsiam.RoleProps{
		Description: jsii.String("byod-deployer: the app reads the WebSocket token secret to sign browsers' tokens"),
		AssumedBy:   trusted,
	})
	secret.GrantRead(signer, nil)
	return &Keys{Key: key, TokenSecret: secret, Publisher: publisher, TokenSigner: signer}
}

// contextBoundStatement allows action on key only when the request's encryption context has
// exactly the keys EncryptionContextKeys: ForAllValues rejects any other key, and the Null
// conditions reject a request that leaves one out (ForAllValues alone passes an empty context).
func contextBoundStatement(action string, key awskms.IKey) awsiam.PolicyStatement {
	null := map[string]interface{}{}
	for _, k := range EncryptionContextKeys {
		null["kms:EncryptionContext:"+k] = "false"
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings(action),
		Resources: jsii.Strings(*key.KeyArn()),
		Conditions: &map[string]interface{}{
			"ForAllValues:StringEquals": map[string]interface{}{
				"kms:EncryptionContextKeys": EncryptionContextKeys,
			},
			"Null": null,
		},
	})
}
