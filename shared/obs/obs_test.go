package obs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/byod-deployer/byod-deployer/shared/obs"
)

func TestLoggerRequestID(t *testing.T) {
	tests := []struct {
		name    string
		ctx     context.Context
		level   string
		logAt   slog.Level
		wantOut bool
		wantID  string
	}{
		{"lambda context", lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"}), "", slog.LevelInfo, true, "req-123"},
		{"no lambda context", context.Background(), "info", slog.LevelInfo, true, ""},
		{"debug filtered at info", context.Background(), "info", slog.LevelDebug, false, ""},
		{"debug shown at DEBUG", context.Background(), "DEBUG", slog.LevelDebug, true, ""},
		{"info filtered at error", context.Background(), "error", slog.LevelInfo, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := obs.NewLogger(&buf, tt.level).With("fn", "deployer")
			log.Log(tt.ctx, tt.logAt, "claimed", "userId", "u1")
			if !tt.wantOut {
				if buf.Len() != 0 {
					t.Fatalf("logged %s, want nothing", buf.String())
				}
				return
			}
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("not one JSON object: %q", buf.String())
			}
			if rec["message"] != "claimed" || rec["userId"] != "u1" || rec["fn"] != "deployer" || rec["timestamp"] == nil {
				t.Errorf("record %v", rec)
			}
			if id, _ := rec["requestId"].(string); id != tt.wantID {
				t.Errorf("requestId = %q, want %q", id, tt.wantID)
			}
		})
	}
}

func TestEMFShape(t *testing.T) {
	at := time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)
	tests := []struct {
		name      string
		namespace string
		emit      func(m *obs.Metrics) error
		want      string
	}{
		{"started", "", func(m *obs.Metrics) error { return m.DeploymentStarted() },
			`{"DeploymentsStarted":1,"_aws":{"CloudWatchMetrics":[{"Namespace":"ByodDeployer","Dimensions":[[]],"Metrics":[{"Name":"DeploymentsStarted","Unit":"Count"}]}],"Timestamp":1795631400000}}`},
		{"succeeded", "Custom", func(m *obs.Metrics) error { return m.DeploymentSucceeded(1500 * time.Millisecond) },
			`{"DeploymentDuration":1500,"DeploymentsSucceeded":1,"_aws":{"CloudWatchMetrics":[{"Namespace":"Custom","Dimensions":[[]],"Metrics":[{"Name":"DeploymentsSucceeded","Unit":"Count"},{"Name":"DeploymentDuration","Unit":"Milliseconds"}]}],"Timestamp":1795631400000}}`},
		{"failed", "", func(m *obs.Metrics) error { return m.DeploymentFailed("auth", 250500*time.Microsecond) },
			`{"DeploymentDuration":250.5,"DeploymentsFailed":1,"ErrorClass":"auth","_aws":{"CloudWatchMetrics":[{"Namespace":"ByodDeployer","Dimensions":[["ErrorClass"],[]],"Metrics":[{"Name":"DeploymentsFailed","Unit":"Count"}]},{"Namespace":"ByodDeployer","Dimensions":[[]],"Metrics":[{"Name":"DeploymentDuration","Unit":"Milliseconds"}]}],"Timestamp":1795631400000}}`},
		{"failed without a class", "", func(m *obs.Metrics) error { return m.DeploymentFailed("", time.Second) },
			`{"DeploymentDuration":1000,"DeploymentsFailed":1,"ErrorClass":"unknown","_aws":{"CloudWatchMetrics":[{"Namespace":"ByodDeployer","Dimensions":[["ErrorClass"],[]],"Metrics":[{"Name":"DeploymentsFailed","Unit":"Count"}]},{"Namespace":"ByodDeployer","Dimensions":[[]],"Metrics":[{"Name":"DeploymentDuration","Unit":"Milliseconds"}]}],"Timestamp":1795631400000}}`},
		// A request that never ran: counted by class, no duration value and no duration directive.
		{"failed before it ran", "", func(m *obs.Metrics) error { return m.DeploymentFailed("invalid_message", 0) },
			`{"DeploymentsFailed":1,"ErrorClass":"invalid_message","_aws":{"CloudWatchMetrics":[{"Namespace":"ByodDeployer","Dimensions":[["ErrorClass"],[]],"Metrics":[{"Name":"DeploymentsFailed","Unit":"Count"}]}],"Timestamp":1795631400000}}`},
		{"failed with a negative duration", "", func(m *obs.Metrics) error { return m.DeploymentFailed("internal", -time.Second) },
			`{"DeploymentsFailed":1,"ErrorClass":"internal","_aws":{"CloudWatchMetrics":[{"Namespace":"ByodDeployer","Dimensions":[["ErrorClass"],[]],"Metrics":[{"Name":"DeploymentsFailed","Unit":"Count"}]}],"Timestamp":1795631400000}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			m := obs.NewMetrics(&buf, tt.namespace)
			m.Now = func() time.Time { return at }
			if err := tt.emit(m); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want+"\n" {
				t.Errorf("EMF:\n got %s\nwant %s", strings.TrimSpace(got), tt.want)
			}
		})
	}
}
