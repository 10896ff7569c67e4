package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/byod-deployer/byod-deployer/shared/settings"
	"github.com/byod-deployer/byod-deployer/shared/wstoken"
)

// SecretGetter is the part of the Secrets Manager client the cold start calls;
// *secretsmanager.Client satisfies it.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// errNoSecret: neither TOKEN_SECRET_ARN nor TOKEN_SECRET is set.
var errNoSecret = errors.New("wsconnect: set TOKEN_SECRET_ARN (or TOKEN_SECRET in local mode)")

// tokenSecret returns the tokens' HMAC key: the value of the secret named by arn
// (TOKEN_SECRET_ARN; SecretString, or SecretBinary), read once at cold start; or, when arn is
// empty, local (TOKEN_SECRET, local mode). It fails when neither is set, the read fails, or the
// key is shorter than wstoken.MinSecretLen. Errors never contain the secret.
func tokenSecret(ctx context.Context, arn string, local settings.Secret, sm SecretGetter) ([]byte, error) {
	var key []byte
	switch {
	case arn != "":
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
		if err != nil {
			return nil, fmt.Errorf("wsconnect: token secret %s: %w", arn, err)
		}
		if out.SecretString != nil {
			key = []byte(*out.SecretString)
		} else {
			key = out.SecretBinary
		}
	case local != "":
		key = []byte(local)
	default:
		return nil, errNoSecret
	}
	if len(key) < wstoken.MinSecretLen {
		return nil, fmt.Errorf("wsconnect: token secret: %w", wstoken.ErrWeakSecret)
	}
	return key, nil
}
