package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

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
		env     map[string]string
		secrets fakeSecrets
		want    string
		wantErr error
	}{
		{name: "secret string from the ARN", env: map[string]string{"TOKEN_SECRET_ARN": arn}, secrets: fakeSecrets{arn: arn, out: secretsmanager.GetSecretValueOutput{SecretString: aws.String(long)}}, want: long},
		{name: "secret binary from the ARN", env: map[string]string{"TOKEN_SECRET_ARN": arn}, secrets: fakeSecrets{arn: arn, out: secretsmanager.GetSecretValueOutput{SecretBinary: []byte(long)}}, want: long},
		{name: "ARN wins over the local variable", env: map[string]string{"TOKEN_SECRET_ARN": arn, "TOKEN_SECRET": strings.Repeat("l", 40)}, secrets: fakeSecrets{arn: arn, out: secretsmanager.GetSecretValueOutput{SecretString: aws.String(long)}}, want: long},
		{name: "local mode", env: map[string]string{"TOKEN_SECRET": long}, want: long},
		{name: "nothing set", env: map[string]string{}, wantErr: errNoSecret},
		{name: "short secret", env: map[string]string{"TOKEN_SECRET": "too-short-a-key"}, wantErr: wstoken.ErrWeakSecret},
		{name: "unknown ARN", env: map[string]string{"TOKEN_SECRET_ARN": arn + "x"}, secrets: fakeSecrets{arn: arn}, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tokenSecret(context.Background(), func(k string) string { return tt.env[k] }, &tt.secrets)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				for _, v := range tt.env {
					if strings.HasPrefix(v, "arn:") {
						continue
					}
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q shows the secret", err)
					}
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
