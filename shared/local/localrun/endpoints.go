package localrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Names of the local resources `byod dev` creates.
const (
	StatusTable      = "byod-status"
	ConnectionsTable = "byod-connections"
	QueueName        = "byod-deploy.fifo"
	DLQName          = "byod-deploy-dlq.fifo"
	KeyAlias         = "alias/byod-credentials"
	TokenAudience    = "byod-local"
	// MaxReceiveCount is the deploy queue's redrive limit, as in the CDK stack.
	MaxReceiveCount = 3
)

// Endpoints is what a running local pipeline publishes in .byod/dev.json so that `byod send`,
// `byod status` and `byod watch` find it. It never holds a credential: no deploy or admin key,
// no token secret (tokens are minted by the dev server, which keeps the secret in memory).
type Endpoints struct {
	// Page is the status page and the dev server's API, http://127.0.0.1:PORT.
	Page string `json:"page"`
	// WebSocket is the gateway clients dial (ws://127.0.0.1:PORT/local); Management is its
	// @connections endpoint.
	WebSocket  string `json:"webSocket"`
	Management string `json:"management"`
	// Convex is the deployment deploys go to by default (the local one unless a URL was given).
	Convex string `json:"convex"`
	// ConvexLocal reports whether Convex is the in-process local deployment.
	ConvexLocal bool `json:"convexLocal"`

	DynamoDB string `json:"dynamodb"`
	SQS      string `json:"sqs"`
	KMS      string `json:"kms"`
	Region   string `json:"region"`

	StatusTable      string `json:"statusTable"`
	ConnectionsTable string `json:"connectionsTable"`
	QueueURL         string `json:"queueUrl"`
	DLQURL           string `json:"dlqUrl"`
	KMSKeyID         string `json:"kmsKeyId"`
	TokenAudience    string `json:"tokenAudience"`
	// PID is the dev process, so a stale file can be told from a live one (ReadEndpoints
	// checks it).
	PID int `json:"pid"`
}

// DefaultEndpointsFile is where `byod dev` writes its endpoints, relative to the working directory.
const DefaultEndpointsFile = ".byod/dev.json"

// ErrNotRunning is wrapped by ReadEndpoints when no dev session has written the file.
var ErrNotRunning = errors.New("localrun: no local pipeline running")

// ErrStale is wrapped by ReadEndpoints when the file names a dev process that is no longer
// running (it was killed before it could remove the file, e.g. by SIGKILL).
var ErrStale = errors.New("localrun: no byod dev session is running")

// startHint ends both errors: what to do about them.
const startHint = "start one with `byod dev` or `make dev`"

// WriteEndpoints writes e to path (0600, its folder 0700), replacing the file atomically.
func WriteEndpoints(path string, e Endpoints) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("localrun: write endpoints: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("localrun: write endpoints: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-*.json")
	if err != nil {
		return fmt.Errorf("localrun: write endpoints: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("localrun: write endpoints: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("localrun: write endpoints: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("localrun: write endpoints: %w", err)
	}
	return nil
}

// ReadEndpoints reads the file WriteEndpoints wrote. A missing file is an error wrapping
// ErrNotRunning; a file whose dev process is gone (or that names none) is an error wrapping
// ErrStale, so no command talks to endpoints that died with it.
func ReadEndpoints(path string) (Endpoints, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Endpoints{}, fmt.Errorf("%w (no %s; %s)", ErrNotRunning, path, startHint)
	}
	if err != nil {
		return Endpoints{}, fmt.Errorf("localrun: read endpoints: %w", err)
	}
	var e Endpoints
	if err := json.Unmarshal(b, &e); err != nil {
		return Endpoints{}, fmt.Errorf("localrun: read endpoints %s: %w", path, err)
	}
	if !alive(e.PID) {
		return Endpoints{}, fmt.Errorf("%w (stale %s from pid %d; %s)", ErrStale, path, e.PID, startHint)
	}
	return e, nil
}

// alive reports whether process pid exists, by sending it signal 0. EPERM means it exists but
// belongs to another user.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
