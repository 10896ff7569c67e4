package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/byod-deployer/byod-deployer/shared/settings"
	"github.com/byod-deployer/byod-deployer/shared/wstoken"
)

// fakeSecrets stands in for Secrets Manager (no stand-in runs here): one secret, by ARN.
type fakeSecrets struct {
	arn string
	out secretsmanager.GetSecretValueOutput
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if aws.ToString(in.SecretId) != f.arn {
		return nil, errors.New("ResourceNotFoundException: Secrets Manager can't find the specified secret")
	}
	return &f.out, nil
}

func TestTokenSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:byod-ws-token-AbCdEf"
	long := strings.Repeat("s", 48)
	tests := []struct {
		name    string
		arn     string
		local   settings.Secret
		secrets fakeSecrets
		want    string
		wantErr error
	}{
		{name: "secret string from the ARN", arn: arn, secrets: fakeSecrets{arn: arn, out: secretsmanager.GetSecretValueOutput{SecretString: aws.String(long)}}, want: long},
		{name: "secret binary from the ARN", arn: arn, secrets: fakeSecrets{arn: arn, out: secretsmanager.GetSecretValueOutput{SecretBinary: []byte(long)}}, want: long},
		{name: "ARN wins over the local variable", arn: arn, local: settings.Secret(strings.Repeat("l", 40)), secrets: fakeSecrets{arn: arn, out: secretsmanager.GetSecretValueOutput{SecretString: aws.String(long)}}, want: long},
		{name: "local mode", local: settings.Secret(long), want: long},
		{name: "nothing set", wantErr: errNoSecret},
		{name: "short secret", local: "too-short-a-key", wantErr: wstoken.ErrWeakSecret},
		{name: "unknown ARN", arn: arn + "x", secrets: fakeSecrets{arn: arn}, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tokenSecret(context.Background(), tt.arn, tt.local, &tt.secrets)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.local != "" && strings.Contains(err.Error(), string(tt.local)) {
					t.Errorf("error %q shows the secret", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("tokenSecret = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// errAny marks a case that must fail, with whatever error.
var errAny = errors.New("any error")
