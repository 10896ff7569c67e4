package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/byod-deployer/byod-deployer/shared/failure"
)

// Ref names one request of one (user, config).
type Ref struct {
	UserID, ConfigID, RequestID string
}

func (r Ref) String() string { return r.UserID + "/" + r.ConfigID + "/" + r.RequestID }

// Request is what Enqueue records.
type Request struct {
	// Type is "deploy" or "retry"; a retry is accepted only from failed.
	Type string
	// Ciphertext, if not empty, replaces the stored credentials ciphertext.
	Ciphertext string
}

// Failure is a failed outcome.
type Failure struct {
	Class     failure.Class
	Message   string
	Hint      string
	Retryable bool
	// Stage is where it failed; empty keeps the current stage.
	Stage Stage
}

// Success is a successful outcome.
type Success struct {
	SchemaVersion int
	Duration      time.Duration
}

// Progress is one stage or progress line of a running deploy.
type Progress struct {
	Stage   Stage
	Message string
}

// The transitions below write and never read back what they wrote: a caller that wants the
// record after a transition calls Get.

// Enqueue records request ref as queued: it creates the history item and makes ref the current
// request (status queued, version+1). It returns the credentials ciphertext the request is to run
// with: req.Ciphertext, or the stored one when req brings none (a retry with the stored
// credentials, which costs one consistent read). Errors:
//   - ErrDuplicate: ref was already handled;
//   - ErrNotFailed: a retry while the status is not failed (see Refuse to record it);
//   - ErrLeaseHeld: another request is deploying under a live lease (retry later);
//   - ErrSuperseded: ref was queued before but another request has become current.
//
// Enqueue of a request that is already queued or deploying (a redelivered message) writes
// nothing and returns the stored ciphertext: the caller goes on to Claim.
func (s *Store) Enqueue(ctx context.Context, ref Ref, req Request) (ciphertext string, err error) {
	now := s.now()
	ts := now.Format(timeLayout)

	hist := newExpr()
	hist.set("userId", ref.UserID).set("configId", ref.ConfigID).set("requestId", ref.RequestID).
		set("type", req.Type).set("deploymentStatus", Queued).set("stage", StageQueued).
		set("createdAt", ts).set("updatedAt", ts)
	hist.cond = "attribute_not_exists(" + hist.n(attrPK) + ")"

	cur := currentWrite(ref, ts)
	cur.set("deploymentStatus", Queued).set("stage", StageQueued).set("deploymentProgress", "Waiting for a deployer").
		setIfNotExists("connectionStatus", ConnectionUnknown).
		remove("errorClass", "errorHint", "retryable", "notice", "leaseOwner", "leaseExpiresAt")
	if req.Ciphertext != "" {
		cur.set("ciphertext", req.Ciphertext)
	}
	if req.Type == "retry" {
		cur.cond = cur.n("deploymentStatus") + " = " + cur.v(Failed)
	} else {
		cur.cond = "attribute_not_exists(" + cur.n(attrPK) + ") OR " + cur.leaseFree(now)
	}

	reasons, err := s.write(ctx, "enqueue", ref, keyed{HistorySK(ref.RequestID), hist}, keyed{skCurrent, cur})
	switch {
	case err != nil:
		return "", err
	case reasons == nil && req.Ciphertext != "":
		return req.Ciphertext, nil
	case reasons == nil:
		rec, err := s.current(ctx, ref.UserID, ref.ConfigID)
		if err != nil {
			return "", fmt.Errorf("status: enqueue %s: stored credentials: %w", ref, err)
		}
		return rec.Ciphertext, nil
	case !reasons[0].failed:
		return "", s.refusal(ctx, "enqueue", ref, reasons[1], func(cur Record) error {
			if req.Type == "retry" && cur.DeploymentStatus != Failed {
				return ErrNotFailed
			}
			return ErrLeaseHeld
		})
	}
	// ref has a history item already: it ended, was superseded, or is in flight.
	var h History
	if err := attributevalue.UnmarshalMap(reasons[0].item, &h); err != nil {
		return "", fmt.Errorf("status: enqueue %s: %w", ref, err)
	}
	rec, err := s.explain(ctx, ref, reasons[1])
	if err != nil {
		return "", fmt.Errorf("status: enqueue %s: %w", ref, err)
	}
	switch {
	case h.DeploymentStatus.Final():
		return "", &ConditionError{Op: "enqueue", Ref: ref, Err: ErrDuplicate, Current: rec}
	case rec.RequestID != ref.RequestID:
		return "", &ConditionError{Op: "enqueue", Ref: ref, Err: ErrSuperseded, Current: rec}
	}
	return rec.Ciphertext, nil // redelivery of a request in flight
}

// Claim takes the lease on ref for owner until now+lease and moves it to deploying (attempt+1).
// It takes over a deploying request whose lease has expired (a crashed worker). Errors:
//   - ErrLeaseHeld: a live lease is held (by another worker or an earlier delivery);
//   - ErrDuplicate: ref already ended;
//   - ErrSuperseded: another request is current;
//   - ErrNotQueued: ref was never enqueued.
func (s *Store) Claim(ctx context.Context, ref Ref, owner string, lease time.Duration) error {
	now := s.now()
	ts := now.Format(timeLayout)
	expires := now.Add(lease).UnixMilli()

	cur := currentWrite(ref, ts)
	cur.set("deploymentStatus", Deploying).set("stage", StageStarting).set("deploymentProgress", "Starting the deploy").
		set("leaseOwner", owner).set("leaseExpiresAt", expires).add("attempt").remove("notice")
	cur.cond = cur.n("requestId") + " = " + cur.v(ref.RequestID) + " AND (" +
		cur.n("deploymentStatus") + " = " + cur.v(Queued) + " OR (" +
		cur.n("deploymentStatus") + " = " + cur.v(Deploying) + " AND " + cur.leaseFree(now) + "))"

	hist := newExpr()
	hist.set("deploymentStatus", Deploying).set("stage", StageStarting).set("leaseOwner", owner).
		setIfNotExists("startedAt", ts).set("updatedAt", ts).add("claims")
	hist.cond = "attribute_exists(" + hist.n(attrPK) + ") AND " + hist.n("deploymentStatus") + " IN (" +
		hist.v(Queued) + ", " + hist.v(Deploying) + ")"

	reasons, err := s.write(ctx, "claim", ref, keyed{skCurrent, cur}, keyed{HistorySK(ref.RequestID), hist})
	if reasons == nil {
		return err
	}
	return s.refusal(ctx, "claim", ref, reasons[0], func(cur Record) error {
		switch {
		case reasons[1].failed && reasons[1].item == nil:
			return ErrNotQueued
		case reasons[1].failed || (cur.RequestID == ref.RequestID && cur.DeploymentStatus.Final()):
			return ErrDuplicate
		case cur.RequestID != ref.RequestID:
			return ErrSuperseded
		}
		return ErrLeaseHeld
	})
}

// Progress writes a stage or progress line of ref's deploy. Only the lease owner may; otherwise
// ErrLeaseLost.
func (s *Store) Progress(ctx context.Context, ref Ref, owner string, p Progress) error {
	cur := currentWrite(ref, s.now().Format(timeLayout))
	cur.set("stage", p.Stage).set("deploymentProgress", p.Message)
	ownedBy(cur, ref, owner)
	_, err := s.DB.UpdateItem(ctx, s.updateItem(ref, skCurrent, cur))
	return s.leaseErr("progress", ref, err)
}

// Complete ends ref as deployed at d.SchemaVersion and releases the lease. Only the lease owner
// may; otherwise ErrLeaseLost.
func (s *Store) Complete(ctx context.Context, ref Ref, owner string, d Success) error {
	ts := s.now().Format(timeLayout)
	cur := currentWrite(ref, ts)
	cur.set("deploymentStatus", Deployed).set("stage", StageDeployed).
		set("deploymentProgress", fmt.Sprintf("Deployed schema v%d", d.SchemaVersion)).
		set("schemaVersion", d.SchemaVersion).set("lastSchemaDeploy", ts).set("connectionStatus", ConnectionConnected).
		remove("connectionError", "errorClass", "errorHint", "retryable", "leaseOwner", "leaseExpiresAt")
	ownedBy(cur, ref, owner)
	hist := newExpr()
	hist.set("deploymentStatus", Deployed).set("stage", StageDeployed).set("schemaVersion", d.SchemaVersion).
		set("finishedAt", ts).set("updatedAt", ts).set("durationMs", d.Duration.Milliseconds()).remove("leaseOwner")
	return s.finish(ctx, "complete", ref, cur, hist)
}

// Fail ends ref as failed with f and releases the lease. Only the lease owner may; otherwise
// ErrLeaseLost. schemaVersion and lastSchemaDeploy keep describing what is deployed.
func (s *Store) Fail(ctx context.Context, ref Ref, owner string, f Failure, took time.Duration) error {
	ts := s.now().Format(timeLayout)
	cur := failedWrite(ref, ts, f)
	ownedBy(cur, ref, owner)
	hist := failedHistory(ts, f)
	hist.set("durationMs", took.Milliseconds())
	return s.finish(ctx, "fail", ref, cur, hist)
}

// finish writes an outcome: the current item (conditioned on the lease) and the history item.
func (s *Store) finish(ctx context.Context, op string, ref Ref, cur, hist *expr) error {
	reasons, err := s.write(ctx, op, ref, keyed{skCurrent, cur}, keyed{HistorySK(ref.RequestID), hist})
	if reasons == nil {
		return err
	}
	return s.refusal(ctx, op, ref, reasons[0], func(Record) error { return ErrLeaseLost })
}

// Recorded is what RecordFailure did with a failure.
type Recorded int

const (
	// LeftFailed: the user's current record is now failed with the failure.
	LeftFailed Recorded = iota
	// KeptOutcome: the request had already ended; its outcome stands and nothing was written.
	KeptOutcome
	// HistoryOnly: another request is current; only the request's history item says failed,
	// and the current item has a notice saying so.
	HistoryOnly
)

// Counted reports whether the failure counts as a failed deployment (DeploymentsFailed): only
// when it left the user failed. A request that had already ended was counted when its outcome
// was recorded; a superseded one left no user failed.
func (r Recorded) Counted() bool { return r == LeftFailed }

func (r Recorded) String() string {
	switch r {
	case LeftFailed:
		return "the current record is failed"
	case KeptOutcome:
		return "the request had already ended: its outcome was kept"
	case HistoryOnly:
		return "on the history item only: another request is current"
	}
	return fmt.Sprintf("Recorded(%d)", int(r))
}

// RecordFailure records that ref failed with f without holding a lease: a message that cannot be
// processed (bad input, bad credentials, or the dead-letter queue). It is the one place that
// decides what such a failure does, for the deployer and deadletter alike:
//   - a request that already ended keeps its outcome (KeptOutcome);
//   - when there is no current item yet, or it is ref still in flight (queued or deploying,
//     whatever its lease), both items become failed (LeftFailed);
//   - otherwise another request is current and is never overwritten: ref's history item becomes
//     failed and the current item gets a notice (HistoryOnly).
//
// Only LeftFailed is Counted. The error is an AWS failure (nothing to count; retry).
func (s *Store) RecordFailure(ctx context.Context, ref Ref, f Failure) (Recorded, error) {
	ts := s.now().Format(timeLayout)
	hist := failedHistory(ts, f)
	hist.set("userId", ref.UserID).set("configId", ref.ConfigID).set("requestId", ref.RequestID).setIfNotExists("createdAt", ts)
	hist.cond = "attribute_not_exists(" + hist.n(attrPK) + ") OR " + hist.n("deploymentStatus") + " IN (" +
		hist.v(Queued) + ", " + hist.v(Deploying) + ")"
	cur := failedWrite(ref, ts, f)
	cur.cond = "attribute_not_exists(" + cur.n(attrPK) + ") OR (" + cur.n("requestId") + " = " + cur.v(ref.RequestID) +
		" AND " + cur.n("deploymentStatus") + " IN (" + cur.v(Queued) + ", " + cur.v(Deploying) + "))"

	reasons, err := s.write(ctx, "record failure", ref, keyed{HistorySK(ref.RequestID), hist}, keyed{skCurrent, cur})
	switch {
	case err != nil:
		return 0, err
	case reasons == nil:
		return LeftFailed, nil
	case reasons[0].failed:
		return KeptOutcome, nil
	}
	// Another request is current: record the failure on the history item and a notice.
	if _, err := s.DB.UpdateItem(ctx, s.updateItem(ref, HistorySK(ref.RequestID), hist)); err != nil {
		return 0, fmt.Errorf("status: record failure %s: history: %w", ref, err)
	}
	if err := s.notice(ctx, ref, ts, fmt.Sprintf("request %s failed: %s", ref.RequestID, f.Message)); err != nil {
		return 0, fmt.Errorf("status: record failure %s: %w", ref, err)
	}
	return HistoryOnly, nil
}

// Refuse records that ref was not run (e.g. a retry of a deployment that is not failed): the
// history item says refused with reason, and the current item keeps its status but gets
// notice = reason (version+1) so the browser learns why. ErrDuplicate if ref already ended.
func (s *Store) Refuse(ctx context.Context, ref Ref, reqType, reason string) error {
	ts := s.now().Format(timeLayout)
	hist := newExpr()
	hist.set("userId", ref.UserID).set("configId", ref.ConfigID).set("requestId", ref.RequestID).
		set("type", reqType).set("deploymentStatus", Refused).set("reason", reason).
		set("createdAt", ts).set("finishedAt", ts).set("updatedAt", ts)
	hist.cond = "attribute_not_exists(" + hist.n(attrPK) + ")"
	if _, err := s.DB.UpdateItem(ctx, s.updateItem(ref, HistorySK(ref.RequestID), hist)); err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			rec, _ := s.current(ctx, ref.UserID, ref.ConfigID)
			return &ConditionError{Op: "refuse", Ref: ref, Err: ErrDuplicate, Current: rec}
		}
		return fmt.Errorf("status: refuse %s: %w", ref, err)
	}
	if err := s.notice(ctx, ref, ts, reason); err != nil {
		return fmt.Errorf("status: refuse %s: %w", ref, err)
	}
	return nil
}

// notice sets the current item's notice, if there is a current item.
func (s *Store) notice(ctx context.Context, ref Ref, ts, text string) error {
	cur := newExpr()
	cur.set("notice", text).set("updatedAt", ts).add("version")
	cur.cond = "attribute_exists(" + cur.n(attrPK) + ")"
	_, err := s.DB.UpdateItem(ctx, s.updateItem(ref, skCurrent, cur))
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	return err
}

// currentWrite starts a write of the current item: identity, updatedAt and version+1.
func currentWrite(ref Ref, ts string) *expr {
	e := newExpr()
	e.set("userId", ref.UserID).set("configId", ref.ConfigID).set("requestId", ref.RequestID).
		set("updatedAt", ts).add("version")
	return e
}

func failedWrite(ref Ref, ts string, f Failure) *expr {
	cur := currentWrite(ref, ts)
	cur.set("deploymentStatus", Failed).set("deploymentProgress", f.Message).set("connectionStatus", ConnectionError).
		set("connectionError", f.Message).set("errorClass", f.Class).set("retryable", f.Retryable).
		remove("leaseOwner", "leaseExpiresAt")
	if f.Stage != "" {
		cur.set("stage", f.Stage)
	}
	if f.Hint != "" {
		cur.set("errorHint", f.Hint)
	} else {
		cur.remove("errorHint")
	}
	return cur
}

func failedHistory(ts string, f Failure) *expr {
	hist := newExpr()
	hist.set("deploymentStatus", Failed).set("errorClass", f.Class).set("reason", f.Message).
		set("finishedAt", ts).set("updatedAt", ts).remove("leaseOwner")
	if f.Stage != "" {
		hist.set("stage", f.Stage)
	}
	return hist
}

func ownedBy(cur *expr, ref Ref, owner string) {
	cur.cond = cur.n("requestId") + " = " + cur.v(ref.RequestID) + " AND " + cur.n("leaseOwner") + " = " + cur.v(owner) +
		" AND " + cur.n("deploymentStatus") + " = " + cur.v(Deploying)
}

// leaseFree is the condition "no live lease".
func (e *expr) leaseFree(now time.Time) string {
	return "(attribute_not_exists(" + e.n("leaseExpiresAt") + ") OR " + e.n("leaseExpiresAt") + " < " + e.v(now.UnixMilli()) + ")"
}
