package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/byod-deployer/byod-deployer/shared/settings"
)

// Sizing of the deployer, from measured figures (docs/infra.md, "Sizing").
const (
	// DeployerTimeoutMinutes is the deployer's timeout, declared beside its environment
	// (shared/settings): DEPLOY_TIMEOUT plus preflight, ping verification and the status writes,
	// shorter than LEASE_DURATION.
	DeployerTimeoutMinutes = int(settings.DeployerFunctionTimeout / time.Minute)
	// VisibilityTimeoutRatio is the queue's visibility timeout over the deployer's timeout.
	VisibilityTimeoutRatio = 6
	// DeployerMemoryMB is declared beside the deployer's environment (shared/settings).
	DeployerMemoryMB = settings.DeployerMemoryMB
	// DeployerEphemeralMB is Lambda's minimum /tmp; a materialised project is well under 5 MB.
	DeployerEphemeralMB = 512
	// MaxReceiveCount is how often a message is received before it moves to the DLQ.
	MaxReceiveCount = 3
)

// Defaults for StackProps fields left empty.
const (
	DefaultTokenAudience       = "byod-deployer"
	DefaultLogLevel            = settings.DefaultLogLevel
	DefaultMetricsNamespace    = settings.DefaultMetricsNamespace
	DefaultReservedConcurrency = 10
	DefaultMaxConcurrency      = 5
)

// Architecture is the Lambda architecture of every function; layers/Dockerfile and `make build`
// (GOARCH) use the same one.
var Architecture = awslambda.Architecture_ARM_64()

// StackProps configures NewStack. Zero values take the defaults above.
type StackProps struct {
	awscdk.StackProps

	// AssetRoot is the repository root: it holds bin/<fn>/bootstrap (`make build`) for the zip
	// functions and is the build context of the deployer image (layers/Dockerfile).
	AssetRoot string
	// TokenAudience is the `aud` the WebSocket tokens must carry (TOKEN_AUDIENCE).
	TokenAudience string
	// LogLevel is every function's LOG_LEVEL.
	LogLevel string
	// MetricsNamespace is the EMF namespace (METRICS_NAMESPACE) the dashboard and alarms read.
	MetricsNamespace string
	// SelfHostedHosts are extra deployment hosts the deployer accepts (SELF_HOSTED_HOSTS).
	SelfHostedHosts string
	// ReservedConcurrency caps the deployer; MaxConcurrency caps the SQS event source below it,
	// so the poller never drives the function into throttling.
	ReservedConcurrency int
	MaxConcurrency      int
	// AlarmEmail, when set, subscribes that address to the alarm topic.
	AlarmEmail string
	// PublisherAccountID is the account whose principals may assume the publisher role; empty
	// means this stack's account.
	PublisherAccountID string
}

// FunctionNames are the four functions, named as their directories under functions/.
var FunctionNames = []string{"deployer", "notifier", "wsconnect", "deadletter"}

// Stack is the synthesized stack and the resources tests and outputs refer to.
type Stack struct {
	awscdk.Stack
	Queue     *Queue
	Tables    *Tables
	Keys      *Keys
	Functions *Functions
	WebSocket *WebSocket
	Dashboard *Dashboard
}

// Errors NewStack wraps.
var (
	// ErrAsset: a file the stack packages is missing.
	ErrAsset = errors.New("infra: asset missing (run `make build`)")
	// ErrProps: StackProps out of range.
	ErrProps = errors.New("infra: invalid stack props")
)

// NewStack defines the whole stack in scope. It returns an error wrapping ErrAsset when a
// bootstrap binary or the deployer's Dockerfile or ignore file is missing under
// props.AssetRoot, one wrapping ErrProps when the concurrency settings are out of range, and
// never contacts AWS.
func NewStack(scope constructs.Construct, id string, props *StackProps) (*Stack, error) {
	p := withDefaults(props)
	// SQS event sources accept a maximum concurrency of 2 to 1000; below the reservation it
	// never lets the poller drive the function into throttling.
	if p.MaxConcurrency < 2 || p.MaxConcurrency >= p.ReservedConcurrency {
		return nil, fmt.Errorf("%w: MaxConcurrency %d must be in [2, ReservedConcurrency %d)", ErrProps, p.MaxConcurrency, p.ReservedConcurrency)
	}
	if err := checkAssets(p.AssetRoot); err != nil {
		return nil, err
	}
	exclude, err := ignorePatterns(filepath.Join(p.AssetRoot, DockerignorePath))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAsset, err)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	s := &Stack{Stack: stack}
	s.Keys = newKeys(stack, p)
	s.Queue = newQueue(stack, s.Keys)
	s.Tables = newTables(stack)
	s.Functions = newFunctions(stack, p, exclude, s.Queue, s.Tables, s.Keys)
	s.WebSocket = newWebSocket(stack, s.Functions, s.Tables)
	s.Dashboard = newDashboard(stack, p, s)
	newOutputs(stack, s, s.Dashboard)
	return s, nil
}

func withDefaults(props *StackProps) StackProps {
	var p StackProps
	if props != nil {
		p = *props
	}
	if p.TokenAudience == "" {
		p.TokenAudience = DefaultTokenAudience
	}
	if p.LogLevel == "" {
		p.LogLevel = DefaultLogLevel
	}
	if p.MetricsNamespace == "" {
		p.MetricsNamespace = DefaultMetricsNamespace
	}
	if p.ReservedConcurrency == 0 {
		p.ReservedConcurrency = DefaultReservedConcurrency
	}
	if p.MaxConcurrency == 0 {
		p.MaxConcurrency = DefaultMaxConcurrency
	}
	return p
}

// checkAssets fails early, with the path, instead of deep inside the jsii runtime.
func checkAssets(root string) error {
	paths := []string{filepath.Join(root, DockerfilePath), filepath.Join(root, DockerignorePath)}
	for _, fn := range FunctionNames {
		paths = append(paths, bootstrapPath(root, fn))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrAsset, p, err)
		}
	}
	return nil
}

// bootstrapPath is where `make build` writes a function's binary.
func bootstrapPath(root, fn string) string {
	return filepath.Join(root, "bin", fn, "bootstrap")
}
