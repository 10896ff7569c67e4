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

// KeyAdminActions are what the account root (and so IAM policies in the account) may do with the
// credentials key: manage it, never use it. Listed one by one, no wildcard: `kms:Create*` would
// include kms:CreateGrant, a grant can carry Decrypt, and no one here needs grants.
var KeyAdminActions = []string{
	"kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
	"kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand", "kms:ListKeyRotations",
	"kms:EnableKey", "kms:DisableKey", "kms:UpdateKeyDescription",
	"kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
	"kms:ListGrants", "kms:RevokeGrant", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
	"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
}

func newKeys(stack awscdk.Stack, p StackProps) *Keys {
	// Not CDK's default key policy (kms:* for the account root, which lets any identity policy in
	// the account that allows kms:Decrypt open every user's credentials): the root may only
	// administer the key; the key policy itself names who may Encrypt (the publisher, here) and
	// Decrypt (the deployer's role, AllowDecrypt), each bound to the encryption context.
	key := awskms.NewKey(stack, jsii.String("CredentialsKey"), &awskms.KeyProps{
		Description:       jsii.String("byod-deployer: envelope of users' Convex deployment credentials"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
		Policy: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("AccountAdministersOnly"),
				Effect:     awsiam.Effect_ALLOW,
				Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
				Actions:    jsii.Strings(KeyAdminActions...),
				Resources:  jsii.Strings("*"),
			}),
		}}),
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
	// kms:Encrypt only, and only with exactly the design's context keys present, in the role's
	// policy and in the key's (which is what lets it). sqs:SendMessage is granted with the queue
	// (queue.go).
	publisher.AddToPolicy(contextBoundStatement("kms:Encrypt", key))
	key.AddToResourcePolicy(keyPolicyStatement("PublisherEncrypts", "kms:Encrypt", publisher), nil)
	signer := awsiam.NewRole(stack, jsii.String("TokenSignerRole"), &awsiam.RoleProps{
		Description: jsii.String("byod-deployer: the app reads the WebSocket token secret to sign browsers' tokens"),
		AssumedBy:   trusted,
	})
	secret.GrantRead(signer, nil)
	return &Keys{Key: key, TokenSecret: secret, Publisher: publisher, TokenSigner: signer}
}

// AllowDecrypt lets role (the deployer's) kms:Decrypt the credentials, context-bound, in the key
// policy and in the role's own policy. No other principal is given Decrypt.
func (k *Keys) AllowDecrypt(role awsiam.IRole) {
	role.AddToPrincipalPolicy(contextBoundStatement("kms:Decrypt", k.Key))
	k.Key.AddToResourcePolicy(keyPolicyStatement("DeployerDecrypts", "kms:Decrypt", role), nil)
}

// keyPolicyStatement is a key policy statement: principal may action on this key under the
// encryption-context conditions of contextBoundStatement.
func keyPolicyStatement(sid, action string, principal awsiam.IRole) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(sid),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(principal.RoleArn())},
		Actions:    jsii.Strings(action),
		Resources:  jsii.Strings("*"), // in a key policy: this key
		Conditions: contextConditions(),
	})
}

// contextBoundStatement allows action on key only when the request's encryption context has
// exactly the keys EncryptionContextKeys: ForAllValues rejects any other key, and the Null
// conditions reject a request that leaves one out (ForAllValues alone passes an empty context).
func contextBoundStatement(action string, key awskms.IKey) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:     awsiam.Effect_ALLOW,
		Actions:    jsii.Strings(action),
		Resources:  jsii.Strings(*key.KeyArn()),
		Conditions: contextConditions(),
	})
}

func contextConditions() *map[string]interface{} {
	null := map[string]interface{}{}
	for _, k := range EncryptionContextKeys {
		null["kms:EncryptionContext:"+k] = "false"
	}
	return &map[string]interface{}{
		"ForAllValues:StringEquals": map[string]interface{}{
			"kms:EncryptionContextKeys": EncryptionContextKeys,
		},
		"Null": null,
	}
}
