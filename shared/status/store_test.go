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
	okRec = ok[status.Record]
	okAtt = ok[status.Attempt]
)

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

	rec := v.see(okRec(t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy", Ciphertext: "Y2lwaGVy"})))
	if rec.DeploymentStatus != status.Queued || rec.RequestID != "r1" || rec.Ciphertext != "Y2lwaGVy" || rec.ConnectionStatus != status.ConnectionUnknown {
		t.Fatalf("after Enqueue: %+v", rec)
	}
	rec = v.see(okRec(t)(s.Claim(ctx, ref, "w1", 7*time.Minute)))
	if rec.DeploymentStatus != status.Deploying || rec.LeaseOwner != "w1" || rec.Attempt != 1 ||
		rec.LeaseExpiresAt != clk.Now().Add(7*time.Minute).UnixMilli() {
		t.Fatalf("after Claim: %+v", rec)
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
	rec = v.see(okRec(t)(s.Complete(ctx, ref, "w1", status.Success{SchemaVersion: 3, Duration: 2500 * time.Millisecond})))
	want := status.Record{
		UserID: "u1", ConfigID: "c1", DeploymentStatus: status.Deployed, DeploymentProgress: "Deployed schema v3",
		Stage: status.StageDone, SchemaVersion: 3, LastSchemaDeploy: "2026-11-25T18:00:03.000Z",
		ConnectionStatus: status.ConnectionConnected, Attempt: 1, RequestID: "r1", UpdatedAt: "2026-11-25T18:00:03.000Z",
		Version: rec.Version, Ciphertext: "Y2lwaGVy",
	}
	if rec != want {
		t.Fatalf("after Complete:\n got %+v\nwant %+v", rec, want)
	}
	a := okAtt(t)(s.Attempt(ctx, ref))
	if a.DeploymentStatus != status.Deployed || a.SchemaVersion != 3 || a.DurationMS != 2500 || a.Claims != 1 || a.Type != "deploy" || a.LeaseOwner != "" {
		t.Fatalf("history item: %+v", a)
	}
	if rec.Version != 5 {
		t.Errorf("version %d after 5 writes of the current item", rec.Version)
	}

	// The request is done: neither a redelivery nor a late claim runs it again.
	_, err := s.Enqueue(ctx, ref, status.Request{Type: "deploy"})
	wantErr(t, err, status.ErrDuplicate)
	_, err = s.Claim(ctx, ref, "w2", time.Minute)
	wantErr(t, err, status.ErrDuplicate)
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
				okRec(t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy"}))
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
					_, err := s.Claim(ctx, ref, fmt.Sprintf("w%d", i), 7*time.Minute)
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
	v.see(okRec(t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy"})))
	v.see(okRec(t)(s.Claim(ctx, ref, "crashed", time.Minute)))

	clk.Advance(59 * time.Second)
	_, err := s.Claim(ctx, ref, "w2", time.Minute)
	if ce := wantErr(t, err, status.ErrLeaseHeld); ce.Current.LeaseOwner != "crashed" {
		t.Errorf("explained with %+v", ce.Current)
	}
	// A new request cannot jump in while the lease is live either.
	_, err = s.Enqueue(ctx, status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r2"}, status.Request{Type: "deploy"})
	wantErr(t, err, status.ErrLeaseHeld)

	clk.Advance(2 * time.Second)
	rec := v.see(okRec(t)(s.Claim(ctx, ref, "w2", time.Minute)))
	if rec.LeaseOwner != "w2" || rec.Attempt != 2 || rec.DeploymentStatus != status.Deploying {
		t.Fatalf("after take-over: %+v", rec)
	}
	// The crashed worker, if it wakes up, can write nothing.
	wantErr(t, s.Progress(ctx, ref, "crashed", status.Progress{Stage: "push", Message: "late"}), status.ErrLeaseLost)
	_, err = s.Complete(ctx, ref, "crashed", status.Success{SchemaVersion: 1})
	wantErr(t, err, status.ErrLeaseLost)
	_, err = s.Fail(ctx, ref, "crashed", status.Failure{Class: "timeout", Message: "late"}, 0)
	wantErr(t, err, status.ErrLeaseLost)

	rec = v.see(okRec(t)(s.Fail(ctx, ref, "w2", status.Failure{Class: "auth", Message: "invalid deploy key", Hint: "regenerate the key", Stage: "preflight"}, time.Second)))
	if rec.DeploymentStatus != status.Failed || rec.ErrorClass != "auth" || rec.ConnectionError != "invalid deploy key" ||
		rec.ErrorHint != "regenerate the key" || rec.ConnectionStatus != status.ConnectionError || rec.LeaseOwner != "" || rec.Stage != "preflight" {
		t.Fatalf("after Fail: %+v", rec)
	}
	if a := okAtt(t)(s.Attempt(ctx, ref)); a.Claims != 2 || a.DeploymentStatus != status.Failed || a.Reason != "invalid deploy key" {
		t.Errorf("history item: %+v", a)
	}
}

func TestRetryOnlyFromFailed(t *testing.T) {
	type setup func(t testing.TB, s *status.Store)
	deployTo := func(end status.Status) setup {
		return func(t testing.TB, s *status.Store) {
			t.Helper()
			ref := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r0"}
			okRec(t)(s.Enqueue(ctx, ref, status.Request{Type: "deploy", Ciphertext: "b2xk"}))
			if end == status.Queued {
				return
			}
			okRec(t)(s.Claim(ctx, ref, "w0", time.Minute))
			switch end {
			case status.Deployed:
				okRec(t)(s.Complete(ctx, ref, "w0", status.Success{SchemaVersion: 1}))
			case status.Failed:
				okRec(t)(s.Fail(ctx, ref, "w0", status.Failure{Class: "auth", Message: "bad key"}, 0))
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
			rec, err := s.Enqueue(ctx, ref, status.Request{Type: "retry", Ciphertext: tt.ciphertext})
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.DeploymentStatus != status.Queued || rec.Ciphertext != tt.wantCiphertext || rec.ErrorClass != "" {
				t.Fatalf("after retry Enqueue: %+v", rec)
			}
			rec = okRec(t)(s.Claim(ctx, ref, "w1", time.Minute))
			if rec.Attempt != 2 {
				t.Errorf("attempt %d, want 2", rec.Attempt)
			}
		})
	}
}

func TestRefuseKeepsStatus(t *testing.T) {
	s, _ := newStore(t)
	v := &versions{t: t}
	r0 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r0"}
	okRec(t)(s.Enqueue(ctx, r0, status.Request{Type: "deploy"}))
	okRec(t)(s.Claim(ctx, r0, "w0", time.Minute))
	before := v.see(okRec(t)(s.Complete(ctx, r0, "w0", status.Success{SchemaVersion: 2})))

	r1 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r1"}
	_, err := s.Enqueue(ctx, r1, status.Request{Type: "retry"})
	ce := wantErr(t, err, status.ErrNotFailed)
	reason := fmt.Sprintf("retry refused: the deployment is %s, not failed", ce.Current.DeploymentStatus)
	rec := v.see(okRec(t)(s.Refuse(ctx, r1, "retry", reason)))
	if rec.DeploymentStatus != status.Deployed || rec.RequestID != "r0" || rec.SchemaVersion != 2 || rec.Notice != reason {
		t.Fatalf("after Refuse: %+v (before %+v)", rec, before)
	}
	if a := okAtt(t)(s.Attempt(ctx, r1)); a.DeploymentStatus != status.Refused || a.Reason != reason {
		t.Errorf("history item: %+v", a)
	}
	_, err = s.Refuse(ctx, r1, "retry", reason)
	wantErr(t, err, status.ErrDuplicate)
	_, err = s.Enqueue(ctx, r1, status.Request{Type: "retry"})
	wantErr(t, err, status.ErrDuplicate)

	// The next accepted request clears the notice.
	rec = v.see(okRec(t)(s.Enqueue(ctx, status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r2"}, status.Request{Type: "deploy"})))
	if rec.Notice != "" || rec.SchemaVersion != 2 {
		t.Errorf("after the next Enqueue: %+v", rec)
	}
}

func TestMarkFailed(t *testing.T) {
	bad := status.Failure{Class: "internal", Message: "could not be processed after repeated attempts"}
	r1 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r1"}
	tests := []struct {
		name       string
		setup      func(t testing.TB, s *status.Store)
		wantErr    error
		wantStatus status.Status
		wantReq    string
	}{
		{"no current item", func(testing.TB, *status.Store) {}, nil, status.Failed, "r1"},
		{"same request queued", func(t testing.TB, s *status.Store) {
			okRec(t)(s.Enqueue(ctx, r1, status.Request{Type: "deploy"}))
		}, nil, status.Failed, "r1"},
		{"same request deploying under a live lease", func(t testing.TB, s *status.Store) {
			okRec(t)(s.Enqueue(ctx, r1, status.Request{Type: "deploy"}))
			okRec(t)(s.Claim(ctx, r1, "w1", time.Hour))
		}, nil, status.Failed, "r1"},
		{"same request already deployed", func(t testing.TB, s *status.Store) {
			okRec(t)(s.Enqueue(ctx, r1, status.Request{Type: "deploy"}))
			okRec(t)(s.Claim(ctx, r1, "w1", time.Hour))
			okRec(t)(s.Complete(ctx, r1, "w1", status.Success{SchemaVersion: 1}))
		}, status.ErrDuplicate, status.Deployed, "r1"},
		{"another request deployed", func(t testing.TB, s *status.Store) {
			r2 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r2"}
			okRec(t)(s.Enqueue(ctx, r2, status.Request{Type: "deploy"}))
			okRec(t)(s.Claim(ctx, r2, "w2", time.Hour))
			okRec(t)(s.Complete(ctx, r2, "w2", status.Success{SchemaVersion: 1}))
		}, status.ErrSuperseded, status.Deployed, "r2"},
		{"another request failed", func(t testing.TB, s *status.Store) {
			r2 := status.Ref{UserID: "u1", ConfigID: "c1", RequestID: "r2"}
			okRec(t)(s.Enqueue(ctx, r2, status.Request{Type: "deploy"}))
			okRec(t)(s.Claim(ctx, r2, "w2", time.Hour))
			okRec(t)(s.Fail(ctx, r2, "w2", status.Failure{Class: "auth", Message: "bad key"}, 0))
		}, status.ErrSuperseded, status.Failed, "r2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			tt.setup(t, s)
			before, _ := s.Get(ctx, "u1", "c1")
			_, err := s.MarkFailed(ctx, r1, bad)
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr)
			} else if err != nil {
				t.Fatal(err)
			}
			rec := okRec(t)(s.Get(ctx, "u1", "c1"))
			if rec.DeploymentStatus != tt.wantStatus || rec.RequestID != tt.wantReq || rec.Version <= before.Version && tt.wantErr != status.ErrDuplicate {
				t.Fatalf("current: %+v (before %+v)", rec, before)
			}
			if tt.wantStatus == status.Failed && tt.wantReq == "r1" &&
				(rec.ErrorClass != "internal" || rec.ConnectionError != bad.Message || rec.LeaseOwner != "") {
				t.Errorf("failure fields: %+v", rec)
			}
			if tt.wantErr == status.ErrSuperseded && rec.Notice == "" {
				t.Errorf("no notice on the current item: %+v", rec)
			}
			a := okAtt(t)(s.Attempt(ctx, r1))
			if tt.wantErr != status.ErrDuplicate && (a.DeploymentStatus != status.Failed || a.Reason != bad.Message) {
				t.Errorf("history item: %+v", a)
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
