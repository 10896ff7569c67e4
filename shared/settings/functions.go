package settings

import (
	"fmt"
	"time"
)

// Defaults the CDK stack and local mode size things by.
const (
	// DefaultLogLevel is LOG_LEVEL's default.
	DefaultLogLevel = "info"
	// DefaultMetricsNamespace is METRICS_NAMESPACE's default, the EMF namespace.
	DefaultMetricsNamespace = "ByodDeployer"
	// DefaultDeployTimeout is DEPLOY_TIMEOUT's default: the limit of one deploy.
	DefaultDeployTimeout = 5 * time.Minute
	// DeployerFunctionTimeout is the deployer's invocation timeout: DefaultDeployTimeout plus
	// preflight, the functions:ping verification and the status writes (docs/infra.md, "Sizing").
	DeployerFunctionTimeout = 6 * time.Minute
	// DefaultLease is LEASE_DURATION's default, the status lease: longer than
	// DeployerFunctionTimeout, so a lease outlives any invocation that could still hold it and a
	// crashed worker's lease is taken over.
	DefaultLease = 7 * time.Minute
	// DeployerMemoryMB is the deployer's memory: one full vCPU (Lambda allocates CPU in
	// proportion to memory; 1769 MB is one vCPU). Peak RSS of a deploy is far lower; CPU is what
	// makes a deploy fast. The stack sets it and local mode reports it to the function.
	DeployerMemoryMB = 1769
	// ZipMemoryMB is the memory of the three zip functions (notifier, wsconnect, deadletter).
	ZipMemoryMB = 256
)

// Names the package itself refers to more than once.
const (
	envDeployTimeout = "DEPLOY_TIMEOUT"
	envLease         = "LEASE_DURATION"
	envCompileCache  = "NODE_COMPILE_CACHE_DIR"
)

// Variables several functions read.

func logLevel[S any](at func(*S) *string) field[S] {
	return text(Var{Name: "LOG_LEVEL", Default: DefaultLogLevel}, at)
}

func metricsNamespace[S any](at func(*S) *string) field[S] {
	return text(Var{Name: "METRICS_NAMESPACE", Default: DefaultMetricsNamespace}, at)
}

func statusTable[S any](at func(*S) *string) field[S] {
	return text(Var{Name: "STATUS_TABLE", Required: true}, at)
}

func connectionsTable[S any](at func(*S) *string) field[S] {
	return text(Var{Name: "CONNECTIONS_TABLE", Required: true}, at)
}

// Deployer is the deployer's environment.
type Deployer struct {
	LogLevel         string // LOG_LEVEL
	MetricsNamespace string // METRICS_NAMESPACE
	StatusTable      string // STATUS_TABLE
	// CLINodeModules is the read-only install of the pinned Convex CLI (CONVEX_CLI_NODE_MODULES).
	CLINodeModules string
	Node           string        // NODE_BINARY: the node executable
	Timeout        time.Duration // DEPLOY_TIMEOUT: the limit of one deploy
	Lease          time.Duration // LEASE_DURATION: the status lease, longer than Timeout
	// SelfHostedHosts are deployment hosts allowed besides Convex cloud's (SELF_HOSTED_HOSTS).
	SelfHostedHosts []string
	// CompileCache is Node's compile cache directory, resolved from NODE_COMPILE_CACHE_DIR and
	// TMPDIR by CompileCacheDir; "" is none.
	CompileCache string
}

var deployer = spec[Deployer]{
	function: "deployer",
	fields: []field[Deployer]{
		logLevel(func(s *Deployer) *string { return &s.LogLevel }),
		metricsNamespace(func(s *Deployer) *string { return &s.MetricsNamespace }),
		statusTable(func(s *Deployer) *string { return &s.StatusTable }),
		text(Var{Name: "CONVEX_CLI_NODE_MODULES", Required: true}, func(s *Deployer) *string { return &s.CLINodeModules }),
		text(Var{Name: "NODE_BINARY", Default: "node"}, func(s *Deployer) *string { return &s.Node }),
		duration(envDeployTimeout, DefaultDeployTimeout, func(s *Deployer) *time.Duration { return &s.Timeout }),
		duration(envLease, DefaultLease, func(s *Deployer) *time.Duration { return &s.Lease }),
		list("SELF_HOSTED_HOSTS", func(s *Deployer) *[]string { return &s.SelfHostedHosts }),
		{
			Var: Var{Name: envCompileCache, Default: "$TMPDIR/byod-node-compile-cache"},
			parse: func(s *Deployer, value string, getenv func(string) string) error {
				dir, err := CompileCacheDir(value, getenv("TMPDIR"))
				s.CompileCache = dir
				return err
			},
			format: func(s *Deployer) string {
				if s.CompileCache == "" {
					return CompileCacheOff
				}
				return s.CompileCache
			},
		},
	},
	check: func(s *Deployer) error {
		if s.Lease <= s.Timeout {
			return fmt.Errorf("%s (%s) must be longer than %s (%s)", envLease, s.Lease, envDeployTimeout, s.Timeout)
		}
		return nil
	},
}

// ParseDeployer reads the deployer's environment through getenv. It fails, naming every bad
// variable, when STATUS_TABLE or CONVEX_CLI_NODE_MODULES is missing, a duration does not parse or
// is not positive, the lease is not longer than the deploy timeout (a live deploy's lease must
// never expire under it), or NODE_COMPILE_CACHE_DIR is neither an absolute path nor "off".
func ParseDeployer(getenv func(string) string) (Deployer, error) { return deployer.parse(getenv) }

// Env is the environment ParseDeployer reads back as d. A zero Timeout or Lease is the default.
func (d Deployer) Env() map[string]string { return deployer.env(&d) }

// Notifier is the notifier's environment.
type Notifier struct {
	LogLevel         string // LOG_LEVEL
	ConnectionsTable string // CONNECTIONS_TABLE
	// WebSocketEndpoint is the WebSocket stage's management API (WEBSOCKET_ENDPOINT):
	// https://{apiId}.execute-api.{region}.amazonaws.com/{stage}.
	WebSocketEndpoint string
}

var notifier = spec[Notifier]{
	function: "notifier",
	fields: []field[Notifier]{
		logLevel(func(s *Notifier) *string { return &s.LogLevel }),
		connectionsTable(func(s *Notifier) *string { return &s.ConnectionsTable }),
		text(Var{Name: "WEBSOCKET_ENDPOINT", Required: true}, func(s *Notifier) *string { return &s.WebSocketEndpoint }),
	},
}

// ParseNotifier reads the notifier's environment through getenv. It fails when CONNECTIONS_TABLE
// or WEBSOCKET_ENDPOINT is missing.
func ParseNotifier(getenv func(string) string) (Notifier, error) { return notifier.parse(getenv) }

// Env is the environment ParseNotifier reads back as n.
func (n Notifier) Env() map[string]string { return notifier.env(&n) }

// WSConnect is wsconnect's environment.
type WSConnect struct {
	LogLevel         string // LOG_LEVEL
	ConnectionsTable string // CONNECTIONS_TABLE
	StatusTable      string // STATUS_TABLE
	// TokenSecretARN names the Secrets Manager secret holding the tokens' HMAC key
	// (TOKEN_SECRET_ARN).
	TokenSecretARN string
	// TokenAudience is the `aud` the tokens must carry (TOKEN_AUDIENCE).
	TokenAudience string
	// TokenSecret is the HMAC key itself, in local mode only, used when TokenSecretARN is empty
	// (TOKEN_SECRET).
	TokenSecret Secret
}

var wsconnect = spec[WSConnect]{
	function: "wsconnect",
	fields: []field[WSConnect]{
		logLevel(func(s *WSConnect) *string { return &s.LogLevel }),
		connectionsTable(func(s *WSConnect) *string { return &s.ConnectionsTable }),
		statusTable(func(s *WSConnect) *string { return &s.StatusTable }),
		text(Var{Name: "TOKEN_SECRET_ARN"}, func(s *WSConnect) *string { return &s.TokenSecretARN }),
		text(Var{Name: "TOKEN_AUDIENCE", Required: true}, func(s *WSConnect) *string { return &s.TokenAudience }),
		secret(Var{Name: "TOKEN_SECRET", LocalOnly: true}, func(s *WSConnect) *Secret { return &s.TokenSecret }),
	},
}

// ParseWSConnect reads wsconnect's environment through getenv. It fails when CONNECTIONS_TABLE,
// STATUS_TABLE or TOKEN_AUDIENCE is missing; where the token key comes from is wsconnect's to
// decide (TOKEN_SECRET_ARN, else TOKEN_SECRET).
func ParseWSConnect(getenv func(string) string) (WSConnect, error) { return wsconnect.parse(getenv) }

// Env is the environment ParseWSConnect reads back as w; TOKEN_SECRET only when set.
func (w WSConnect) Env() map[string]string { return wsconnect.env(&w) }

// DeadLetter is the deadletter function's environment.
type DeadLetter struct {
	LogLevel         string // LOG_LEVEL
	MetricsNamespace string // METRICS_NAMESPACE
	StatusTable      string // STATUS_TABLE
}

var deadletter = spec[DeadLetter]{
	function: "deadletter",
	fields: []field[DeadLetter]{
		logLevel(func(s *DeadLetter) *string { return &s.LogLevel }),
		metricsNamespace(func(s *DeadLetter) *string { return &s.MetricsNamespace }),
		statusTable(func(s *DeadLetter) *string { return &s.StatusTable }),
	},
}

// ParseDeadLetter reads the deadletter function's environment through getenv. It fails when
// STATUS_TABLE is missing.
func ParseDeadLetter(getenv func(string) string) (DeadLetter, error) {
	return deadletter.parse(getenv)
}

// Env is the environment ParseDeadLetter reads back as d.
func (d DeadLetter) Env() map[string]string { return deadletter.env(&d) }

// Vars returns the variables each function reads, in declaration order, by function name (its
// directory under functions/).
func Vars() map[string][]Var {
	return map[string][]Var{
		deployer.function:   deployer.vars(),
		notifier.function:   notifier.vars(),
		wsconnect.function:  wsconnect.vars(),
		deadletter.function: deadletter.vars(),
	}
}
