package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/byod-deployer/byod-deployer/shared/failure"
	"github.com/byod-deployer/byod-deployer/shared/local/standins"
	"github.com/byod-deployer/byod-deployer/shared/obs"
	"github.com/byod-deployer/byod-deployer/shared/status"
	"github.com/byod-deployer/byod-deployer/shared/status/statustest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	statustest.Close()
	os.Exit(code)
}

func readEvent(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/dlq-event.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invoke(t testing.TB, h *Handler, payload []byte) events.SQSEventResponse {
	t.Helper()
	out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return resp
}

// deploy runs one request of user to the given end state.
func deploy(t testing.TB, s *status.Store, user, req string, end status.State) {
	t.Helper()
	ctx := context.Background()
	ref := status.Ref{UserID: user, ConfigID: "default", RequestID: req}
	if _, err := s.Enqueue(ctx, ref, status.Request{Type: "deploy"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, ref, "worker", 7*time.Minute); err != nil {
		t.Fatal(err)
	}
	var err error
	switch end {
	case status.Deployed:
		err = s.Complete(ctx, ref, "worker", status.Success{SchemaVersion: 1})
	case status.Failed:
		err = s.Fail(ctx, ref, "worker", status.Failure{Class: failure.InvalidDeployKey, Message: "invalid deploy key"}, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeadLetters(t *testing.T) {
	s, _ := statustest.Store(t)
	deploy(t, s, "u-stuck", "r-stuck", status.Deploying) // its worker keeps crashing
	deploy(t, s, "u-newer", "r-new", status.Deployed)    // a newer request already deployed
	deploy(t, s, "u-done", "r-done", status.Failed)      // the deployer recorded a clear failure
	var logs, metrics bytes.Buffer
	h := &Handler{Store: s, Metrics: obs.NewMetrics(&metrics, ""), Log: obs.NewLogger(&logs, "debug")}

	resp := invoke(t, h, readEvent(t))
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures %+v, want none", resp.BatchItemFailures)
	}

	tests := []struct {
		user       string
		wantStatus status.State
		wantReq    string
		wantError  string
	}{
		{"u-stuck", status.Failed, "r-stuck", Reason},
		{"u-newer", status.Deployed, "r-new", ""},
		{"u-bad", status.Failed, "r-bad", Reason},
		{"u-done", status.Failed, "r-done", "invalid deploy key"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			rec, err := s.Get(context.Background(), tt.user, "default")
			if err != nil {
				t.Fatal(err)
			}
			if rec.DeploymentStatus != tt.wantStatus || rec.RequestID != tt.wantReq || rec.ConnectionError != tt.wantError {
				t.Fatalf("got %s/%s %q, want %s/%s %q", rec.DeploymentStatus, rec.RequestID, rec.ConnectionError, tt.wantStatus, tt.wantReq, tt.wantError)
			}
			if tt.wantError == Reason && (rec.ErrorClass != Class || rec.ErrorHint != failure.Internal.Hint() || !rec.Retryable || rec.LeaseOwner != "") {
				t.Errorf("failure fields: %+v", rec)
			}
		})
	}
	if _, err := s.Get(context.Background(), "u-unknown", "default"); !errors.Is(err, status.ErrNotFound) {
		t.Errorf("the unparseable message wrote a status: %v", err)
	}
	if a, err := s.History(context.Background(), status.Ref{UserID: "u-newer", ConfigID: "default", RequestID: "r-old"}); err != nil || a.DeploymentStatus != status.Failed {
		t.Errorf("history of the superseded request: %+v, %v", a, err)
	}
	if strings.Contains(logs.String(), "c2VjcmV0") {
		t.Errorf("a credentials ciphertext reached the logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"messageId":"m-garbage"`) {
		t.Errorf("the dropped message was not logged:\n%s", logs.String())
	}

	// Every request that left its user's current record failed (u-stuck, u-bad) is one
	// DeploymentsFailed under the deadletter's class, with no duration. Not counted: the dropped
	// message, the request that had already ended (u-done, counted when it was recorded), and the
	// superseded one (r-old: u-newer is deployed, not failed; only its history item failed).
	var failed int
	for line := range strings.Lines(metrics.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("EMF line %q: %v", line, err)
		}
		if rec[obs.MetricFailed] != float64(1) || rec[obs.DimErrorClass] != string(Class) {
			t.Errorf("EMF record %s, want DeploymentsFailed=1 with ErrorClass %s", line, Class)
		}
		if _, ok := rec[obs.MetricDuration]; ok {
			t.Errorf("EMF record %s has a duration: a dead-lettered request never ran", line)
		}
		failed++
	}
	if failed != 2 {
		t.Errorf("%d DeploymentsFailed records, want 2:\n%s", failed, metrics.String())
	}
}

// When the table cannot be reached, every message that names a user is returned to the queue;
// the unparseable one is still dropped.
func TestStoreDown(t *testing.T) {
	db := dynamodb.NewFromConfig(standins.Config(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:1")
		o.RetryMaxAttempts = 1
	})
	var logs, metrics bytes.Buffer
	h := &Handler{Store: &status.Store{DB: db, Table: "status"}, Metrics: obs.NewMetrics(&metrics, ""), Log: obs.NewLogger(&logs, "info")}
	resp := invoke(t, h, readEvent(t))
	var got []string
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	if want := "m-stuck m-old m-unknown-type m-done"; strings.Join(got, " ") != want {
		t.Fatalf("failures %v, want %s", got, want)
	}
	if metrics.Len() != 0 {
		t.Errorf("failures counted that were not recorded:\n%s", metrics.String())
	}
}
