package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// StackName is the CloudFormation stack name `cdk deploy` creates.
const StackName = "ByodDeployer"

func main() {
	defer jsii.Close()
	if err := run(nil); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		jsii.Close()
		os.Exit(1)
	}
}

// run synthesizes the app. nil props means what `cdk synth` passes through the environment
// (CDK_OUTDIR, CDK_CONTEXT_JSON); tests pass their own.
func run(appProps *awscdk.AppProps) error {
	app := awscdk.NewApp(appProps)
	// cdk.json runs this app from infra/; the assets (bin/<fn>/bootstrap, layers/) live one up.
	root, err := filepath.Abs(contextString(app, "assetRoot", ".."))
	if err != nil {
		return fmt.Errorf("asset root: %w", err)
	}
	props := &StackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("byod-deployer: installs the BYOD Convex package into users' own deployments"),
		},
		AssetRoot:          root,
		TokenAudience:      contextString(app, "tokenAudience", ""),
		LogLevel:           contextString(app, "logLevel", ""),
		SelfHostedHosts:    contextString(app, "selfHostedHosts", ""),
		AlarmEmail:         contextString(app, "alarmEmail", ""),
		PublisherAccountID: contextString(app, "publisherAccountId", ""),
	}
	if _, err := NewStack(app, StackName, props); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}

// contextString reads a string from the CDK context (cdk.json or `cdk synth -c key=value`).
func contextString(app awscdk.App, key, fallback string) string {
	if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
		return v
	}
	return fallback
}
