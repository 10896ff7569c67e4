package status_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/byod-deployer/byod-deployer/shared/failure"
	"github.com/byod-deployer/byod-deployer/shared/status"
	"github.com/byod-deployer/byod-deployer/shared/status/statustest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	statustest.Close()
	os.Exit(code)
}

var newStore = statustest.Store

// versions checks that every record seen has a strictly greater version than the one before.
type versions struct {
	t    testing.TB
	last int64
}

func (v *versions) see(rec status.Record) status.Record {
	v.t.Helper()
	if rec.Version <= v.last {
		v.t.Fatalf("version %d after %d: versions must strictly increase", rec.Version, v.last)
	}
	v.last = rec.Version
	return rec
}

// ok fails the test on an error and returns the value: ok[T](t)(call()).
func ok[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var (
	okRec  = ok[status.Record]
	okHist = ok[status.History]
)

// must fails the test on an error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// current reads the current item of (u1, c1).
func current(t testing.TB, s *status.Store) status.Record {
	t.Helper()
	return okRec(t)(s.Get(ctx, "u1", "c1"))
}

func wantErr(t testing.TB, err, want error) *status.ConditionError {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	var ce *status.ConditionError
	if !errors.As(err, &ce) {
		t.Fatalf("%v is not a *status.ConditionError", err)
	}
	return ce
}

var ctx = context.Background()

func TestLifecycle(t *testing.T) {
	s, clk := newStore(t)
	v := &versions{t: t}
	ref := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r1"}

	if ct := ok[string](t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy", Ciphertext: "Y2lwaGVy"})); ct != "Y2lwaGVy" {
		t.Fatalf("Enqueue returned ciphertext %q, want the request's", ct)
	}
	rec := v.see(current(t, s))
	if rec.DeploymentStatus != status.Queued || rec.RequestID != "r1" || rec.Ciphertext != "Y2lwaGVy" || rec.ConnectionStatus != status.ConnectionUnknown {
		t.Fatalf("after Enqueue: %+v", rec)
	}
	must(t, s.Claim(ctx, ref, "w1", 7*time.Minute))
	rec = v.see(current(t, s))
	if rec.DeploymentStatus != status.Deploying || rec.LeaseOwner != "w1" || rec.Attempt != 1 ||
		rec.LeaseExpiresAt != clk.Now().Add(7*time.Minute).UnixMilli() || rec.Stage != status.StageStarting {
		t.Fatalf("after Claim: %+v", rec)
	}
	// A redelivery while deploying writes nothing and hands back the stored credentials.
	if ct := ok[string](t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy"})); ct != "Y2lwaGVy" {
		t.Fatalf("redelivered Enqueue returned ciphertext %q, want the stored one", ct)
	}
	if got := current(t, s); got.Version != rec.Version {
		t.Fatalf("a redelivered Enqueue wrote the current item: version %d → %d", rec.Version, got.Version)
	}
	for _, p := range []status.Progress{{Stage: "preflight", Message: "Checking the deployment"}, {Stage: "push", Message: "Pushing"}} {
		clk.Advance(time.Second)
		if err := s.Progress(ctx, ref, "w1", p); err != nil {
			t.Fatal(err)
		}
		rec = v.see(okRec(t)(s.Get(ctx, "u1", "c1")))
		if rec.Stage != p.Stage || rec.DeploymentProgress != p.Message {
			t.Fatalf("after Progress %v: %+v", p, rec)
		}
	}
	clk.Advance(time.Second)
	must(t, s.Complete(ctx, ref, "w1", status.Success{SchemaVersion: 3, Duration: 2500 * time.Millisecond}))
	rec = v.see(current(t, s))
	want := status.Record{
		UserID: "u1", ConfigID: "c1", DeploymentStatus: status.Deployed, DeploymentProgress: "Deployed schema v3",
		Stage: status.StageDeployed, SchemaVersion: 3, LastSchemaDeploy: "2026-11-25T18:00:03.000Z",
		ConnectionStatus: status.ConnectionConnected, Attempt: 1, RequestID: "r1", UpdatedAt: "2026-11-25T18:00:03.000Z",
		Version: rec.Version, Ciphertext: "Y2lwaGVy",
	}
	if rec != want {
		t.Fatalf("after Complete:\n got %+v\nwant %+v", rec, want)
	}
	a := okHist(t)(s.History(ctx, ref))
	if a.DeploymentStatus != status.Deployed || a.Stage != status.StageDeployed || a.SchemaVersion != 3 || a.DurationMS != 2500 || a.Claims != 1 || a.Type != "deploy" || a.LeaseOwner != "" {
		t.Fatalf("history item: %+v", a)
	}
	if rec.Version != 5 {
		t.Errorf("version %d after 5 writes of the current item", rec.Version)
	}

	// The request is done: neither a redelivery nor a late claim runs it again.
	_, err := s.Enqueue(ctx, ref, status.Request{Type: "deploy"})
	wantErr(t, err, status.ErrDuplicate)
	wantErr(t, s.Claim(ctx, ref, "w2", time.Minute), status.ErrDuplicate)
	if got := okRec(t)(s.Get(ctx, "u1", "c1")); got.Version != rec.Version {
		t.Errorf("a refused duplicate wrote the current item: version %d → %d", rec.Version, got.Version)
	}
}

func TestConcurrentClaimsOneWins(t *testing.T) {
	tests := []struct {
		name    string
		enqueue bool // each contender also enqueues, as ten deliveries of one message do
	}{
		{"claims of one enqueued request", false},
		{"ten deliveries enqueue and claim", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			ref := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r1"}
			if !tt.enqueue {
				ok[string](t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy"}))
			}
			var wins atomic.Int64
			errs := make(chan error, 10)
			var wg sync.WaitGroup
			for i := range 10 {
				wg.Go(func() {
					if tt.enqueue {
						if _, err := s.Enqueue(ctx, ref, status.Request{Type: "deploy"}); err != nil {
							errs <- fmt.Errorf("enqueue %d: %w", i, err)
							return
						}
					}
					err := s.Claim(ctx, ref, fmt.Sprintf("w%d", i), 7*time.Minute)
					switch {
					case err == nil:
						wins.Add(1)
					case !errors.Is(err, status.ErrLeaseHeld):
						errs <- fmt.Errorf("claim %d: %w", i, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if wins.Load() != 1 {
				t.Fatalf("%d claims won, want exactly 1", wins.Load())
			}
			rec := okRec(t)(s.Get(ctx, "u1", "c1"))
			if rec.Attempt != 1 || rec.DeploymentStatus != status.Deploying {
				t.Errorf("current: %+v", rec)
			}
		})
	}
}

func TestExpiredLeaseIsTakenOver(t *testing.T) {
	s, clk := newStore(t)
	v := &versions{t: t}
	ref := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r1"}
	ok[string](t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy"}))
	v.see(current(t, s))
	must(t, s.Claim(ctx, ref, "crashed", time.Minute))
	v.see(current(t, s))

	clk.Advance(59 * time.Second)
	err := s.Claim(ctx, ref, "w2", time.Minute)
	if ce := wantErr(t, err, status.ErrLeaseHeld); ce.Current.LeaseOwner != "crashed" {
		t.Errorf("explained with %+v", ce.Current)
	}
	// A new request cannot jump in while the lease is live either.
	_, err = s.Enqueue(ctx, status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r2"}, status.Request{Type: "deploy"})
	wantErr(t, err, status.ErrLeaseHeld)

	clk.Advance(2 * time.Second)
	must(t, s.Claim(ctx, ref, "w2", time.Minute))
	rec := v.see(current(t, s))
	if rec.LeaseOwner != "w2" || rec.Attempt != 2 || rec.DeploymentStatus != status.Deploying {
		t.Fatalf("after take-over: %+v", rec)
	}
	// The crashed worker, if it wakes up, can write nothing.
	wantErr(t, s.Progress(ctx, ref, "crashed", status.Progress{Stage: "push", Message: "late"}), status.ErrLeaseLost)
	wantErr(t, s.Complete(ctx, ref, "crashed", status.Success{SchemaVersion: 1}), status.ErrLeaseLost)
	wantErr(t, s.Fail(ctx, ref, "crashed", status.Failure{Class: failure.TimedOut, Message: "late"}, 0), status.ErrLeaseLost)

	must(t, s.Fail(ctx, ref, "w2", status.Failure{Class: failure.InvalidDeployKey, Message: "invalid deploy key", Hint: "regenerate the key", Stage: "preflight"}, time.Second))
	rec = v.see(current(t, s))
	if rec.DeploymentStatus != status.Failed || rec.ErrorClass != failure.InvalidDeployKey || rec.ConnectionError != "invalid deploy key" ||
		rec.ErrorHint != "regenerate the key" || rec.ConnectionStatus != status.ConnectionError || rec.LeaseOwner != "" || rec.Stage != "preflight" {
		t.Fatalf("after Fail: %+v", rec)
	}
	if a := okHist(t)(s.History(ctx, ref)); a.Claims != 2 || a.DeploymentStatus != status.Failed || a.Reason != "invalid deploy key" ||
		a.ErrorClass != failure.InvalidDeployKey || a.Stage != "preflight" {
		t.Errorf("history item: %+v", a)
	}
}

func TestRetryOnlyFromFailed(t *testing.T) {
	type setup func(t testing.TB, s *status.Store)
	deployTo := func(end status.State) setup {
		return func(t testing.TB, s *status.Store) {
			t.Helper()
			ref := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r0"}
			ok[string](t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy", Ciphertext: "b2xk"}))
			if end == status.Queued {
				return
			}
			must(t, s.Claim(ctx, ref, "w0", time.Minute))
			switch end {
			case status.Deployed:
				must(t, s.Complete(ctx, ref, "w0", status.Success{SchemaVersion: 1}))
			case status.Failed:
				must(t, s.Fail(ctx, ref, "w0", status.Failure{Class: failure.InvalidDeployKey, Message: "bad key"}, 0))
			}
		}
	}
	tests := []struct {
		name           string
		setup          setup
		ciphertext     string
		wantErr        error
		wantCiphertext string
	}{
		{"no deployment yet", func(testing.TB, *status.Store) {}, "", status.ErrNotFailed, ""},
		{"queued", deployTo(status.Queued), "", status.ErrNotFailed, ""},
		{"deploying", deployTo(status.Deploying), "", status.ErrNotFailed, ""},
		{"deployed", deployTo(status.Deployed), "", status.ErrNotFailed, ""},
		{"failed, stored credentials", deployTo(status.Failed), "", nil, "b2xk"},
		{"failed, new credentials", deployTo(status.Failed), "bmV3", nil, "bmV3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			tt.setup(t, s)
			ref := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r1"}
			ct, err := s.Enqueue(ctx, ref, status.Request{Type: "retry", Ciphertext: tt.ciphertext})
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ct != tt.wantCiphertext {
				t.Fatalf("retry Enqueue returned ciphertext %q, want %q", ct, tt.wantCiphertext)
			}
			rec := current(t, s)
			if rec.DeploymentStatus != status.Queued || rec.Ciphertext != tt.wantCiphertext || rec.ErrorClass != "" {
				t.Fatalf("after retry Enqueue: %+v", rec)
			}
			must(t, s.Claim(ctx, ref, "w1", time.Minute))
			if rec = current(t, s); rec.Attempt != 2 {
				t.Errorf("attempt %d, want 2", rec.Attempt)
			}
		})
	}
}

func TestRefuseKeepsStatus(t *testing.T) {
	s, _ := newStore(t)
	v := &versions{t: t}
	r0 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r0"}
	ok[string](t)(s.Enqueue(ctx, r0, status.Request{Type: "deploy"}))
	must(t, s.Claim(ctx, r0, "w0", time.Minute))
	must(t, s.Complete(ctx, r0, "w0", status.Success{SchemaVersion: 2}))
	before := v.see(current(t, s))

	r1 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r1"}
	_, err := s.Enqueue(ctx, r1, status.Request{Type: "retry"})
	ce := wantErr(t, err, status.ErrNotFailed)
	reason := fmt.Sprintf("retry refused: the deployment is %s, not failed", ce.Current.DeploymentStatus)
	must(t, s.Refuse(ctx, r1, "retry", reason))
	rec := v.see(current(t, s))
	if rec.DeploymentStatus != status.Deployed || rec.RequestID != "r0" || rec.SchemaVersion != 2 || rec.Notice != reason {
		t.Fatalf("after Refuse: %+v (before %+v)", rec, before)
	}
	if a := okHist(t)(s.History(ctx, r1)); a.DeploymentStatus != status.Refused || a.Reason != reason {
		t.Errorf("history item: %+v", a)
	}
	wantErr(t, s.Refuse(ctx, r1, "retry", reason), status.ErrDuplicate)
	_, err = s.Enqueue(ctx, r1, status.Request{Type: "retry"})
	wantErr(t, err, status.ErrDuplicate)

	// The next accepted request clears the notice.
	ok[string](t)(s.Enqueue(ctx, status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r2"}, status.Request{Type: "deploy"}))
	rec = v.see(current(t, s))
	if rec.Notice != "" || rec.SchemaVersion != 2 {
		t.Errorf("after the next Enqueue: %+v", rec)
	}
}

// RecordFailure: a request that already ended keeps its outcome, one in flight (or with no
// current item) is failed, and another request's current item is never overwritten; only the
// first of these is counted.
func TestRecordFailure(t *testing.T) {
	bad := status.Failure{Class: failure.Internal, Message: "could not be processed after repeated attempts"}
	r1 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r1"}
	r2 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r2"}
	tests := []struct {
		name       string
		setup      func(t testing.TB, s *status.Store)
		want       status.Recorded
		wantStatus status.State
		wantReq    string
	}{
		{"no current item", func(testing.TB, *status.Store) {}, status.LeftFailed, status.Failed, "r1"},
		{"same request queued", func(t testing.TB, s *status.Store) {
			ok[string](t)(s.Enqueue(ctx, r1, status.Request{Type: "deploy"}))
		}, status.LeftFailed, status.Failed, "r1"},
		{"same request deploying under a live lease", func(t testing.TB, s *status.Store) {
			ok[string](t)(s.Enqueue(ctx, r1, status.Request{Type: "deploy"}))
			must(t, s.Claim(ctx, r1, "w1", time.Hour))
		}, status.LeftFailed, status.Failed, "r1"},
		{"same request already deployed", func(t testing.TB, s *status.Store) {
			ok[string](t)(s.Enqueue(ctx, r1, status.Request{Type: "deploy"}))
			must(t, s.Claim(ctx, r1, "w1", time.Hour))
			must(t, s.Complete(ctx, r1, "w1", status.Success{SchemaVersion: 1}))
		}, status.KeptOutcome, status.Deployed, "r1"},
		{"another request deployed", func(t testing.TB, s *status.Store) {
			ok[string](t)(s.Enqueue(ctx, r2, status.Request{Type: "deploy"}))
			must(t, s.Claim(ctx, r2, "w2", time.Hour))
			must(t, s.Complete(ctx, r2, "w2", status.Success{SchemaVersion: 1}))
		}, status.HistoryOnly, status.Deployed, "r2"},
		{"another request failed", func(t testing.TB, s *status.Store) {
			ok[string](t)(s.Enqueue(ctx, r2, status.Request{Type: "deploy"}))
			must(t, s.Claim(ctx, r2, "w2", time.Hour))
			must(t, s.Fail(ctx, r2, "w2", status.Failure{Class: failure.InvalidDeployKey, Message: "bad key"}, 0))
		}, status.HistoryOnly, status.Failed, "r2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			tt.setup(t, s)
			before, _ := s.Get(ctx, "u1", "c1")
			got := ok[status.Recorded](t)(s.RecordFailure(ctx, r1, bad))
			if got != tt.want || got.Counted() != (tt.want == status.LeftFailed) {
				t.Fatalf("RecordFailure: %v (counted %t), want %v", got, got.Counted(), tt.want)
			}
			rec := current(t, s)
			if rec.DeploymentStatus != tt.wantStatus || rec.RequestID != tt.wantReq ||
				tt.want == status.KeptOutcome && rec.Version != before.Version ||
				tt.want != status.KeptOutcome && rec.Version <= before.Version {
				t.Fatalf("current: %+v (before %+v)", rec, before)
			}
			if tt.want == status.LeftFailed &&
				(rec.ErrorClass != failure.Internal || rec.ConnectionError != bad.Message || rec.LeaseOwner != "") {
				t.Errorf("failure fields: %+v", rec)
			}
			if (tt.want == status.HistoryOnly) != (rec.Notice != "") {
				t.Errorf("notice %q on the current item: %+v", rec.Notice, rec)
			}
			a := okHist(t)(s.History(ctx, r1))
			if tt.want != status.KeptOutcome && (a.DeploymentStatus != status.Failed || a.Reason != bad.Message || a.ErrorClass != failure.Internal) {
				t.Errorf("history item: %+v", a)
			}
			if tt.want == status.KeptOutcome && a.DeploymentStatus != status.Deployed {
				t.Errorf("the ended request's history item changed: %+v", a)
			}
		})
	}
}

func TestCreateTableExisting(t *testing.T) {
	s, _ := newStore(t)
	arn, err := status.CreateTable(ctx, s.DB.(*dynamodb.Client), s.Table)
	if err != nil || arn != "" {
		t.Fatalf("second CreateTable: arn %q err %v, want no error and no ARN", arn, err)
	}
}
