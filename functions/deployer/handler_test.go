package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byod-deployer/byod-deployer/shared/credentials"
	"github.com/byod-deployer/byod-deployer/shared/deploy"
	"github.com/byod-deployer/byod-deployer/shared/failure"
	"github.com/byod-deployer/byod-deployer/shared/local/standins"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/obs"
	"github.com/byod-deployer/byod-deployer/shared/status"
	"github.com/byod-deployer/byod-deployer/shared/status/statustest"
)

// One local-kms for the test binary (it can run once per process).
var (
	kmsOnce   sync.Once
	kmsServer *standins.KMS
	kmsDir    string
	kmsClient *kms.Client
	kmsKeyID  string
	kmsErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	statustest.Close()
	if kmsServer != nil {
		kmsServer.Close()
		os.RemoveAll(kmsDir)
	}
	os.Exit(code)
}

func localKMS(t testing.TB) (*kms.Client, string) {
	t.Helper()
	kmsOnce.Do(func() {
		if kmsDir, kmsErr = os.MkdirTemp("", "deployer-kms-"); kmsErr != nil {
			return
		}
		if kmsServer, kmsErr = standins.StartKMS(kmsDir); kmsErr != nil {
			return
		}
		kmsClient = kms.NewFromConfig(standins.Config(), func(o *kms.Options) { o.BaseEndpoint = aws.String(kmsServer.URL) })
		key, err := kmsClient.CreateKey(context.Background(), &kms.CreateKeyInput{})
		if err != nil {
			kmsErr = err
			return
		}
		kmsKeyID = *key.KeyMetadata.KeyId
	})
	if kmsErr != nil {
		t.Fatal(kmsErr)
	}
	return kmsClient, kmsKeyID
}

// encrypt seals a target for (user, default), as the app does.
func encrypt(t testing.TB, user, url, key string) string {
	t.Helper()
	c, keyID := localKMS(t)
	ct, err := credentials.Encrypt(context.Background(), c, keyID, user, "default", credentials.Secret{URL: url, DeployKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// fakeEngine stands in for the deploy engine (the handler's logic is under test here; the real
// engine is tested in shared/deploy and end to end in local mode). It reports the stages a real
// deploy goes through and answers by key.
type fakeEngine struct {
	mu      sync.Mutex
	calls   []deploy.Target
	version int
	// block, if set, is waited on inside Deploy.
	block chan struct{}
	// during, if set, runs after the first event.
	during func()
}

const goodKey, wrongKey = "prod:happy-otter-123|c2VjcmV0LWdvb2Q", "prod:happy-otter-123|d3Jvbmc"

// downURL is a deployment that does not answer; the engine's error names it, as the real one does.
const downURL = "https://Down-Otter-999.convex.cloud"

func (e *fakeEngine) Deploy(ctx context.Context, t deploy.Target, opts deploy.Options) (deploy.Result, error) {
	e.mu.Lock()
	e.calls = append(e.calls, t)
	e.mu.Unlock()
	if e.block != nil {
		select {
		case <-e.block:
		case <-ctx.Done():
			return deploy.Result{}, (&deploy.Error{Class: failure.TimedOut, Message: "stopped", Retryable: true}).ForTarget(t)
		}
	}
	emit := func(s deploy.Stage, msg string, done, total int) {
		opts.Progress(deploy.Event{Stage: s, Message: msg, Done: done, Total: total, At: time.Now()})
	}
	emit(deploy.StageValidating, "checking the deployment URL and key", 0, 0)
	if e.during != nil {
		e.during()
	}
	emit(deploy.StagePreflight, "contacting "+t.URL, 0, 0)
	if ctx.Err() != nil { // as the real engine does when its context ends
		return deploy.Result{}, (&deploy.Error{Class: failure.TimedOut, Message: "stopped", Retryable: true, Err: ctx.Err()}).ForTarget(t)
	}
	if t.URL == downURL {
		// As the real engine's: the URL in the message, the name alone in the backend's words.
		return deploy.Result{}, (&deploy.Error{Class: failure.Unreachable, Retryable: true,
			Message: "could not reach " + strings.ToLower(t.URL), Detail: "dial tcp: connection refused (deployment 'down-otter-999')"}).ForTarget(t)
	}
	if t.Key == wrongKey {
		return deploy.Result{Duration: 40 * time.Millisecond}, (&deploy.Error{
			Class: failure.InvalidDeployKey, Message: "the deployment rejected the key",
			Detail: "BadDeployKey: the deploy key is invalid", Hint: "Regenerate the deploy key in the Convex dashboard.",
		}).ForTarget(t)
	}
	emit(deploy.StagePreparing, "writing package version", 0, 0)
	emit(deploy.StageBundling, "running the Convex CLI", 0, 0)
	emit(deploy.StagePushing, "uploading", 0, 0)
	for i := 1; i <= 200; i++ {
		emit(deploy.StageIndexing, "backfilling indexes", i, 200)
	}
	emit(deploy.StageFinishing, "finishing", 0, 0)
	emit(deploy.StageVerifying, "calling functions:ping", 0, 0)
	emit(deploy.StageDeployed, "deployed", 0, 0)
	return deploy.Result{URL: t.URL, SchemaVersion: e.version, Duration: 1200 * time.Millisecond}, nil
}

func (e *fakeEngine) targets() []deploy.Target {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// progressLog wraps the real store and remembers the progress it was given.
type progressLog struct {
	*status.Store
	mu     sync.Mutex
	writes map[string][]status.Progress // by user
}

func (p *progressLog) Progress(ctx context.Context, ref status.Ref, owner string, pr status.Progress) error {
	p.mu.Lock()
	p.writes[ref.UserID] = append(p.writes[ref.UserID], pr)
	p.mu.Unlock()
	return p.Store.Progress(ctx, ref, owner, pr)
}

type fixture struct {
	h       *Handler
	store   *status.Store
	engine  *fakeEngine
	writes  *progressLog
	logs    *syncBuffer
	metrics *syncBuffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	store, _ := statustest.Store(t)
	c, _ := localKMS(t)
	f := &fixture{store: store, engine: &fakeEngine{version: 2}, logs: &syncBuffer{}, metrics: &syncBuffer{}}
	f.writes = &progressLog{Store: store, writes: map[string][]status.Progress{}}
	f.h = &Handler{
		Store: f.writes, KMS: c, Engine: f.engine,
		Metrics: obs.NewMetrics(f.metrics, ""), Log: obs.NewLogger(f.logs, "debug"),
		SchemaVersion: 2, Lease: 7 * time.Minute, Timeout: 5 * time.Minute,
	}
	return f
}

// invoke sends an SQS event through the Lambda JSON boundary and returns the failed message ids.
func (f *fixture) invoke(t testing.TB, payload []byte) []string {
	t.Helper()
	out, err := lambda.NewHandler(f.h.Handle).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	ids := []string{}
	for _, it := range resp.BatchItemFailures {
		ids = append(ids, it.ItemIdentifier)
	}
	return ids
}

func (f *fixture) get(t testing.TB, user string) status.Record {
	t.Helper()
	rec, err := f.store.Get(context.Background(), user, "default")
	if err != nil {
		t.Fatalf("status of %s: %v", user, err)
	}
	return rec
}

// sqsEvent builds an event of one message per body, as the FIFO queue delivers them.
func sqsEvent(t testing.TB, bodies ...string) []byte {
	t.Helper()
	var ev events.SQSEvent
	for i, b := range bodies {
		m, _ := message.Parse([]byte(b))
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: fmt.Sprintf("msg-%d", i), Body: b, EventSource: "aws:sqs",
			Attributes: map[string]string{"MessageGroupId": m.UserID, "ApproximateReceiveCount": "1"},
		})
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func body(t testing.TB, typ message.Type, user, req, ciphertext string) string {
	t.Helper()
	raw, err := message.Message{V: 1, Type: typ, RequestID: req, UserID: user, ConfigID: "default",
		Credentials: ciphertext, SentAt: time.Now()}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestBatch(t *testing.T) {
	f := newFixture(t)
	ctA := encrypt(t, "u-a", "https://happy-otter-123.convex.cloud", goodKey)
	ctF := encrypt(t, "u-f", "https://quiet-fox-456.convex.cloud", goodKey)
	raw, err := os.ReadFile("testdata/deploy-batch.json")
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.NewReplacer("CIPHERTEXT_FOR_U_A", ctA, "CIPHERTEXT_FOR_U_F", ctF).Replace(string(raw))

	if failed := f.invoke(t, []byte(payload)); len(failed) != 0 {
		t.Fatalf("batch item failures %v, want none:\n%s", failed, f.logs)
	}

	// Exactly two deploys ran: u-a once (m5 is m1 again) and u-f; u-b's stolen ciphertext ran nothing.
	wantTargets := []deploy.Target{
		{URL: "https://happy-otter-123.convex.cloud", Key: goodKey},
		{URL: "https://quiet-fox-456.convex.cloud", Key: goodKey},
	}
	if got := f.engine.targets(); !slices.Equal(got, wantTargets) {
		t.Fatalf("engine calls %v, want %v", got, wantTargets)
	}

	tests := []struct {
		user       string
		wantStatus status.State
		wantClass  failure.Class
		wantText   string // in connectionError or notice
	}{
		{"u-a", status.Deployed, "", ""},
		{"u-b", status.Failed, failure.InvalidCredentials, "could not be decrypted for this user and config"},
		{"u-c", status.Failed, failure.InvalidMessage, `unknown type "destroy"`},
		{"u-d", status.Failed, failure.UnsupportedVersion, "this deployer carries v2"},
		{"u-f", status.Deployed, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			rec := f.get(t, tt.user)
			if rec.DeploymentStatus != tt.wantStatus || rec.ErrorClass != tt.wantClass || !strings.Contains(rec.ConnectionError, tt.wantText) {
				t.Fatalf("got %s %q %q, want %s %q …%q…", rec.DeploymentStatus, rec.ErrorClass, rec.ConnectionError, tt.wantStatus, tt.wantClass, tt.wantText)
			}
			if tt.wantStatus == status.Deployed && (rec.SchemaVersion != 2 || rec.LastSchemaDeploy == "" || rec.Stage != "deployed" || rec.Attempt != 1) {
				t.Errorf("deployed record: %+v", rec)
			}
		})
	}
	// The retry of a config that never deployed is refused and recorded on its history item.
	if a, err := f.store.History(context.Background(), status.Ref{UserID: "u-e", ConfigID: "default", RequestID: "r7"}); err != nil ||
		a.DeploymentStatus != status.Refused || !strings.Contains(a.Reason, "no deployment to retry") {
		t.Errorf("u-e retry: %+v, %v", a, err)
	}
	if _, err := f.store.Get(context.Background(), "u-x", "default"); !errors.Is(err, status.ErrNotFound) {
		t.Errorf("the unparseable message wrote a status: %v", err)
	}

	// Every stage change was written, in order, and the 200 index lines were coalesced.
	wantStages := []string{"validating", "preflight", "preparing", "bundling", "pushing", "indexing", "finishing", "verifying", "deployed"}
	var stages []string
	writes := f.writes.writes["u-a"]
	for _, w := range writes {
		if len(stages) == 0 || stages[len(stages)-1] != string(w.Stage) {
			stages = append(stages, string(w.Stage))
		}
	}
	if !slices.Equal(stages, wantStages) {
		t.Errorf("stages written %v, want %v", stages, wantStages)
	}
	if len(writes) > len(wantStages)+10 {
		t.Errorf("%d progress writes for one deploy: not coalesced", len(writes))
	}

	// Neither a ciphertext nor anything decrypted from one (key or URL) is logged.
	for _, leak := range []string{ctA, ctF, "c2VjcmV0LWdvb2Q", "happy-otter-123.convex.cloud", "quiet-fox-456.convex.cloud"} {
		if strings.Contains(f.logs.String(), leak) {
			t.Errorf("a credential or decrypted value (%.12s…) reached the logs", leak)
		}
	}
	// The requests that never ran count as failed by class but record no duration: only the two
	// deploys that ran have one.
	metrics := f.metrics.String()
	for name, want := range map[string]int{
		`"DeploymentsStarted":1`: 2, `"DeploymentsSucceeded":1`: 2, `"ErrorClass":"invalid_credentials"`: 1,
		`"ErrorClass":"invalid_message"`: 1, `"ErrorClass":"unsupported_version"`: 1,
		`"DeploymentsFailed":1`: 3, `"DeploymentDuration":`: 2,
	} {
		if got := strings.Count(metrics, name); got != want {
			t.Errorf("%d EMF records with %s, want %d", got, name, want)
		}
	}
}

func TestWrongKeyThenRetry(t *testing.T) {
	f := newFixture(t)
	const url = "https://happy-otter-123.convex.cloud"
	steps := []struct {
		name       string
		body       string
		wantStatus status.State
		wantError  string
		wantNotice string
		wantCalls  int
	}{
		{"deploy with a wrong key fails", body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", url, wrongKey)),
			status.Failed, "the deployment rejected the key: BadDeployKey: the deploy key is invalid", "", 1},
		{"retry with the stored credentials fails again", body(t, message.Retry, "u1", "r2", ""),
			status.Failed, "the deployment rejected the key", "", 2},
		{"retry with fixed credentials deploys", body(t, message.Retry, "u1", "r3", encrypt(t, "u1", url, goodKey)),
			status.Deployed, "", "", 3},
		{"retry of a deployed config is refused", body(t, message.Retry, "u1", "r4", ""),
			status.Deployed, "", "retry refused: the deployment is deployed, not failed", 3},
	}
	for _, st := range steps {
		if failed := f.invoke(t, sqsEvent(t, st.body)); len(failed) != 0 {
			t.Fatalf("%s: batch item failures %v:\n%s", st.name, failed, f.logs)
		}
		rec := f.get(t, "u1")
		if rec.DeploymentStatus != st.wantStatus || !strings.HasPrefix(rec.ConnectionError, st.wantError) || rec.Notice != st.wantNotice {
			t.Fatalf("%s: got %s error %q notice %q", st.name, rec.DeploymentStatus, rec.ConnectionError, rec.Notice)
		}
		if st.wantStatus == status.Failed && (rec.ErrorClass != failure.InvalidDeployKey || rec.ErrorHint == "" || rec.Stage != "preflight") {
			t.Errorf("%s: failure fields %+v", st.name, rec)
		}
		if n := len(f.engine.targets()); n != st.wantCalls {
			t.Fatalf("%s: %d engine calls, want %d", st.name, n, st.wantCalls)
		}
	}
}

// A deploy failure names the deployment in its message: the user sees it on the status record,
// the logs never do (the URL is a decrypted value).
func TestFailureLogWithoutURL(t *testing.T) {
	f := newFixture(t)
	if failed := f.invoke(t, sqsEvent(t, body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", downURL, goodKey)))); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	rec := f.get(t, "u1")
	if rec.DeploymentStatus != status.Failed || rec.ErrorClass != failure.Unreachable || !strings.Contains(rec.ConnectionError, "down-otter-999") {
		t.Fatalf("status %+v, want failed / unreachable naming the deployment", rec)
	}
	logs := f.logs.String()
	if strings.Contains(strings.ToLower(logs), "down-otter-999") {
		t.Errorf("the decrypted URL reached the logs:\n%s", logs)
	}
	if !strings.Contains(logs, `could not reach https://[deployment]`) || !strings.Contains(logs, `(deployment '[deployment]')`) {
		t.Errorf("the failure was not logged with the host redacted:\n%s", logs)
	}
}

func TestSameMessageTenTimes(t *testing.T) {
	t.Run("in one batch", func(t *testing.T) {
		f := newFixture(t)
		b := body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", "https://happy-otter-123.convex.cloud", goodKey))
		if failed := f.invoke(t, sqsEvent(t, slices.Repeat([]string{b}, 10)...)); len(failed) != 0 {
			t.Fatalf("batch item failures %v", failed)
		}
		if n := len(f.engine.targets()); n != 1 {
			t.Fatalf("%d deploys, want 1", n)
		}
		if rec := f.get(t, "u1"); rec.DeploymentStatus != status.Deployed || rec.Attempt != 1 {
			t.Fatalf("status %+v", rec)
		}
	})
	t.Run("in ten concurrent invocations", func(t *testing.T) {
		f := newFixture(t)
		f.engine.block = make(chan struct{})
		payload := sqsEvent(t, body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", "https://happy-otter-123.convex.cloud", goodKey)))
		results := make(chan []string, 10)
		for range 10 {
			go func() {
				out, err := lambda.NewHandler(f.h.Handle).Invoke(context.Background(), payload)
				var resp events.SQSEventResponse
				if err == nil {
					err = json.Unmarshal(out, &resp)
				}
				ids := []string{}
				for _, it := range resp.BatchItemFailures {
					ids = append(ids, it.ItemIdentifier)
				}
				if err != nil {
					ids = append(ids, "invoke error: "+err.Error())
				}
				results <- ids
			}()
		}
		// Nine deliveries come back while one deploys; they are returned to the queue because
		// the deployment is leased.
		deadline := time.After(time.Minute)
		var retried int
		for range 9 {
			select {
			case ids := <-results:
				if len(ids) == 1 && ids[0] == "msg-0" {
					retried++
				} else if len(ids) != 0 {
					t.Errorf("unexpected response %v", ids)
				}
			case <-deadline:
				t.Fatalf("nine of ten invocations did not return: more than one is deploying")
			}
		}
		close(f.engine.block)
		select {
		case ids := <-results:
			if len(ids) != 0 {
				t.Errorf("the deploying invocation reported %v", ids)
			}
		case <-deadline:
			t.Fatal("the deploying invocation did not return")
		}
		// SQS delivers the returned copies again: they find the request done.
		for range retried {
			if failed := f.invoke(t, payload); len(failed) != 0 {
				t.Fatalf("redelivery: failures %v", failed)
			}
		}
		if n := len(f.engine.targets()); n != 1 {
			t.Fatalf("%d deploys, want 1", n)
		}
		if rec := f.get(t, "u1"); rec.DeploymentStatus != status.Deployed || rec.Attempt != 1 {
			t.Fatalf("status %+v", rec)
		}
	})
}

// A worker whose lease was taken over stops its deploy and writes nothing more.
func TestLeaseLostStopsTheDeploy(t *testing.T) {
	store, clock := statustest.Store(t)
	f := newFixture(t)
	f.store, f.writes.Store = store, store
	ref := status.Ref{UserID: "u1", ConfigID: "default", RequestID: "r1"}
	f.engine.during = func() {
		// The lease expires (this worker looks crashed) and another delivery takes over.
		clock.Advance(8 * time.Minute)
		if err := store.Claim(context.Background(), ref, "other-worker", 7*time.Minute); err != nil {
			t.Errorf("take-over: %v", err)
		}
	}
	if failed := f.invoke(t, sqsEvent(t, body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", "https://happy-otter-123.convex.cloud", goodKey)))); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	rec := f.get(t, "u1")
	if rec.DeploymentStatus != status.Deploying || rec.LeaseOwner != "other-worker" || rec.Stage != status.StageStarting {
		t.Fatalf("the old worker wrote after losing its lease: %+v", rec)
	}
	// Logged once, where the outcome is handled, not also where it was noticed.
	var lost []string
	for line := range strings.Lines(f.logs.String()) {
		if strings.Contains(line, "lease lost") {
			lost = append(lost, line)
		}
	}
	if len(lost) != 1 || !strings.Contains(lost[0], `"level":"ERROR"`) || !strings.Contains(lost[0], `"stoppedByLeaseLoss":true`) {
		t.Errorf("lease loss logged %d times, want once at ERROR with stoppedByLeaseLoss:\n%s", len(lost), f.logs)
	}
	// The failure was not recorded, so it is not counted either.
	if strings.Contains(f.metrics.String(), `"DeploymentsFailed"`) {
		t.Errorf("a failure metric for an outcome that was not recorded:\n%s", f.metrics)
	}
}

// Transient AWS failures return the message to the queue and leave nothing half-done.
func TestTransientFailures(t *testing.T) {
	t.Run("status table unreachable", func(t *testing.T) {
		f := newFixture(t)
		f.h.Store = &status.Store{DB: dynamodb.NewFromConfig(standins.Config(), func(o *dynamodb.Options) {
			o.BaseEndpoint = aws.String("http://127.0.0.1:1")
			o.RetryMaxAttempts = 1
		}), Table: "status"}
		failed := f.invoke(t, sqsEvent(t,
			body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", "https://happy-otter-123.convex.cloud", goodKey)),
			`{"not":"a message"}`,
			body(t, message.Retry, "u2", "r2", ""),
		))
		if !slices.Equal(failed, []string{"msg-0", "msg-2"}) {
			t.Fatalf("failures %v, want msg-0 and msg-2 (msg-1 names no user and is dropped)", failed)
		}
		if n := len(f.engine.targets()); n != 0 {
			t.Fatalf("%d deploys ran without a status table", n)
		}
	})
	t.Run("KMS unreachable, then back", func(t *testing.T) {
		f := newFixture(t)
		payload := sqsEvent(t, body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", "https://happy-otter-123.convex.cloud", goodKey)))
		good := f.h.KMS
		f.h.KMS = kms.NewFromConfig(standins.Config(), func(o *kms.Options) {
			o.BaseEndpoint = aws.String("http://127.0.0.1:1")
			o.RetryMaxAttempts = 1
		})
		if failed := f.invoke(t, payload); !slices.Equal(failed, []string{"msg-0"}) {
			t.Fatalf("failures %v, want msg-0", failed)
		}
		if rec := f.get(t, "u1"); rec.DeploymentStatus != status.Queued || rec.LeaseOwner != "" {
			t.Fatalf("after a KMS outage: %+v, want queued without a lease", rec)
		}
		f.h.KMS = good
		if failed := f.invoke(t, payload); len(failed) != 0 {
			t.Fatalf("redelivery failures %v", failed)
		}
		if rec := f.get(t, "u1"); rec.DeploymentStatus != status.Deployed || len(f.engine.targets()) != 1 {
			t.Fatalf("after redelivery: %+v, %d deploys", rec, len(f.engine.targets()))
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the handler's concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSupersededFailureNotCounted: an invalid request of a user whose current record belongs to
// another (deployed) request is failed on its own history item only, leaves the user deployed,
// and is not counted in DeploymentsFailed (the user is not left failed; deadletter does the same).
func TestSupersededFailureNotCounted(t *testing.T) {
	f := newFixture(t)
	good := body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", "https://happy-otter-123.convex.cloud", goodKey))
	if failed := f.invoke(t, sqsEvent(t, good)); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	// Same user and config, a new request id, an unknown type: invalid, but identifiable.
	bad := strings.Replace(body(t, message.Deploy, "u1", "r2", "bm90LXVzZWQ="), `"type":"deploy"`, `"type":"redeploy-everything"`, 1)
	if !strings.Contains(bad, "redeploy-everything") {
		t.Fatalf("test message not rewritten: %s", bad)
	}
	if failed := f.invoke(t, sqsEvent(t, bad)); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	if rec := f.get(t, "u1"); rec.DeploymentStatus != status.Deployed || rec.RequestID != "r1" {
		t.Fatalf("current record %+v, want r1 still deployed", rec)
	}
	if !strings.Contains(f.logs.String(), `"outcome":"`+status.HistoryOnly.String()+`"`) {
		t.Errorf("the invalid request did not reach RecordFailure's superseded path:\n%s", f.logs)
	}
	if strings.Contains(f.metrics.String(), `"DeploymentsFailed"`) {
		t.Errorf("a superseded failure was counted:\n%s", f.metrics)
	}
}
