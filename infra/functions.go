package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/byod-deployer/byod-deployer/shared/settings"
)

// Paths of the deployer image, relative to StackProps.AssetRoot (the image's build context).
const (
	DockerfilePath   = "layers/Dockerfile"
	DockerignorePath = "layers/Dockerfile.dockerignore"
)

// Where layers/Dockerfile installs the pinned Convex CLI and node (the deployer's
// CONVEX_CLI_NODE_MODULES and NODE_BINARY).
const (
	ImageCLINodeModules = "/opt/convex/node_modules"
	ImageNode           = "/opt/node/bin/node"
)

// Functions holds the four Lambda functions.
type Functions struct {
	Deployer   awslambda.Function
	Notifier   awslambda.Function
	WSConnect  awslambda.Function
	DeadLetter awslambda.Function
}

// All returns the functions in FunctionNames order.
func (f *Functions) All() []awslambda.Function {
	return []awslambda.Function{f.Deployer, f.Notifier, f.WSConnect, f.DeadLetter}
}

func newFunctions(stack awscdk.Stack, p StackProps, imageExclude []string, q *Queue, t *Tables, k *Keys) *Functions {
	f := &Functions{}

	f.Deployer = awslambda.NewDockerImageFunction(stack, jsii.String("Deployer"), &awslambda.DockerImageFunctionProps{
		Description:                  jsii.String("byod-deployer: installs the BYOD package into a user's Convex deployment"),
		Code:                         deployerImage(p.AssetRoot, imageExclude),
		Architecture:                 Architecture,
		MemorySize:                   jsii.Number(DeployerMemoryMB),
		EphemeralStorageSize:         awscdk.Size_Mebibytes(jsii.Number(DeployerEphemeralMB)),
		Timeout:                      awscdk.Duration_Minutes(jsii.Number(DeployerTimeoutMinutes)),
		ReservedConcurrentExecutions: jsii.Number(float64(p.ReservedConcurrency)),
		LogGroup:                     logGroup(stack, "Deployer"),
		Environment: env(settings.Deployer{
			LogLevel:         p.LogLevel,
			MetricsNamespace: p.MetricsNamespace,
			StatusTable:      *t.Status.TableName(),
			CLINodeModules:   ImageCLINodeModules,
			Node:             ImageNode,
			Timeout:          settings.DefaultDeployTimeout,
			Lease:            settings.DefaultLease,
			SelfHostedHosts:  settings.List(p.SelfHostedHosts),
			// Node's compile cache on /tmp, which outlives one invocation in a warm environment:
			// measured in docs/BENCHMARKS.md ("alt node: … + cache").
			CompileCache: settings.DefaultCompileCache("/tmp"),
		}.Env()),
	})
	// One message per invocation: a deploy can take the whole DEPLOY_TIMEOUT, so a batch of
	// several would not fit the function timeout. FIFO order per user is kept by the group id.
	f.Deployer.AddEventSource(awslambdaeventsources.NewSqsEventSource(q.Deploy, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(1),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(float64(p.MaxConcurrency)),
	}))
	grantItems(f.Deployer, t.Status, "", DeployerStatusActions...)
	k.AllowDecrypt(f.Deployer.Role())

	f.Notifier = zipFunction(stack, p, "Notifier", "notifier", "pushes status changes to the user's WebSocket connections",
		// WEBSOCKET_ENDPOINT is the stage's callback URL, which exists only once the WebSocket API
		// does: websocket.go sets it.
		env(settings.Notifier{LogLevel: p.LogLevel, ConnectionsTable: *t.Connections.TableName()}.Env()))
	f.Notifier.AddEventSource(awslambdaeventsources.NewDynamoEventSource(t.Status, &awslambdaeventsources.DynamoEventSourceProps{
		StartingPosition:        awslambda.StartingPosition_LATEST,
		BatchSize:               jsii.Number(100),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(1)),
		RetryAttempts:           jsii.Number(3),
		BisectBatchOnError:      jsii.Bool(true),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxRecordAge:            awscdk.Duration_Hours(jsii.Number(1)),
		OnFailure:               awslambdaeventsources.NewSqsDlq(q.NotifierFailures),
	}))
	grantItems(f.Notifier, t.Connections, "", NotifierConnectionsActions...)

	f.WSConnect = zipFunction(stack, p, "WSConnect", "wsconnect", "WebSocket $connect (token check), $disconnect and status snapshots",
		env(settings.WSConnect{
			LogLevel:         p.LogLevel,
			ConnectionsTable: *t.Connections.TableName(),
			StatusTable:      *t.Status.TableName(),
			TokenSecretARN:   *k.TokenSecret.SecretArn(),
			TokenAudience:    p.TokenAudience,
		}.Env()))
	grantItems(f.WSConnect, t.Connections, "", WSConnectConnectionsActions...)
	grantItems(f.WSConnect, t.Connections, ByConnectionIndex, "dynamodb:Query")
	grantItems(f.WSConnect, t.Status, "", WSConnectStatusActions...)
	k.TokenSecret.GrantRead(f.WSConnect, nil)

	f.DeadLetter = zipFunction(stack, p, "DeadLetter", "deadletter", "marks a dead-lettered deployment failed",
		env(settings.DeadLetter{LogLevel: p.LogLevel, MetricsNamespace: p.MetricsNamespace, StatusTable: *t.Status.TableName()}.Env()))
	f.DeadLetter.AddEventSource(awslambdaeventsources.NewSqsEventSource(q.DeadLetter, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(10),
		ReportBatchItemFailures: jsii.Bool(true),
	}))
	grantItems(f.DeadLetter, t.Status, "", DeadLetterStatusActions...)
	return f
}

// zipFunction is a provided.al2023 function from bin/<dir>/bootstrap.
func zipFunction(stack awscdk.Stack, p StackProps, id, dir, what string, environment *map[string]*string) awslambda.Function {
	return awslambda.NewFunction(stack, jsii.String(id), &awslambda.FunctionProps{
		Description:  jsii.String("byod-deployer: " + what),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Dir(bootstrapPath(p.AssetRoot, dir))), nil),
		Architecture: Architecture,
		MemorySize:   jsii.Number(settings.ZipMemoryMB),
		Timeout:      awscdk.Duration_Minutes(jsii.Number(1)),
		LogGroup:     logGroup(stack, id),
		Environment:  environment,
	})
}

func logGroup(stack awscdk.Stack, id string) awslogs.LogGroup {
	return awslogs.NewLogGroup(stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

// deployerImage stages the repository root as the image's build context, filtered by the
// Dockerfile's ignore patterns. Synth copies the files; only `cdk deploy` runs docker build.
func deployerImage(root string, exclude []string) awslambda.DockerImageCode {
	return awslambda.DockerImageCode_FromImageAsset(jsii.String(root), &awslambda.AssetImageCodeProps{
		File:       jsii.String(DockerfilePath),
		Platform:   awsecrassets.Platform_LINUX_ARM64(),
		Exclude:    jsii.Strings(exclude...),
		IgnoreMode: awscdk.IgnoreMode_DOCKER,
	})
}

// ignorePatterns reads a .dockerignore-format file: one pattern per line, # comments.
func ignorePatterns(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ignore file %s: %w", path, err)
	}
	return out, nil
}

// env is a function's environment, as shared/settings writes it, in jsii's form.
func env(vars map[string]string) *map[string]*string {
	m := make(map[string]*string, len(vars))
	for k, v := range vars {
		m[k] = jsii.String(v)
	}
	return &m
}
