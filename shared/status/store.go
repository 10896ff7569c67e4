package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DB is the part of the DynamoDB client the store calls; *dynamodb.Client satisfies it.
type DB interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, params *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is the status table. It holds no per-call state and is safe for concurrent use.
type Store struct {
	DB    DB
	Table string
	// Now is the clock; nil means time.Now. Lease expiry is compared with it.
	Now func() time.Time
}

// Sentinel errors. Condition failures are returned as *ConditionError wrapping one of them.
var (
	// ErrNotFound: the (user, config) has no current item.
	ErrNotFound = errors.New("status: not found")
	// ErrDuplicate: the request id was already handled (deployed, failed or refused); nothing runs.
	ErrDuplicate = errors.New("status: request already handled")
	// ErrLeaseHeld: another worker holds a live lease on this (user, config); try again later.
	ErrLeaseHeld = errors.New("status: a live lease is held")
	// ErrNotFailed: a retry was asked for a deployment whose status is not failed.
	ErrNotFailed = errors.New("status: retry refused: the deployment is not failed")
	// ErrLeaseLost: the caller no longer owns the lease (it expired and was taken over).
	ErrLeaseLost = errors.New("status: lease lost")
	// ErrSuperseded: the current item belongs to another request; only the history item was
	// written (MarkFailed) or nothing was (Claim).
	ErrSuperseded = errors.New("status: another request is current")
	// ErrNotQueued: Claim of a request that was never enqueued.
	ErrNotQueued = errors.New("status: request not enqueued")
)

// ConditionError explains a refused transition: Err is one of the sentinels, Current the current
// item as it was when the condition failed (zero if there was none).
type ConditionError struct {
	Op      string
	Ref     Ref
	Err     error
	Current Record
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("status: %s %s: %v (current: %s request %s)", e.Op, e.Ref, e.Err, e.Current.DeploymentStatus, e.Current.RequestID)
}

func (e *ConditionError) Unwrap() error { return e.Err }

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
	Class     string
	Message   string
	Hint      string
	Retryable bool
	// Stage is where it failed; empty keeps the current stage.
	Stage string
}

// Success is a successful outcome.
type Success struct {
	SchemaVersion int
	Duration      time.Duration
}

// Progress is one stage or progress line of a running deploy.
type Progress struct {
	Stage   string
	Message string
}

// Stages the store itself writes.
const (
	StageQueued   = "queued"
	StageStarting = "starting"
	StageDone     = "deployed"
)

// Attempt is a request's history item.
type Attempt struct {
	UserID           string `dynamodbav:"userId"`
	ConfigID         string `dynamodbav:"configId"`
	RequestID        string `dynamodbav:"requestId"`
	Type             string `dynamodbav:"type,omitempty"`
	DeploymentStatus Status `dynamodbav:"deploymentStatus"`
	Stage            string `dynamodbav:"stage,omitempty"`
	ErrorClass       string `dynamodbav:"errorClass,omitempty"`
	// Reason is the failure or refusal message.
	Reason        string `dynamodbav:"reason,omitempty"`
	SchemaVersion int    `dynamodbav:"schemaVersion,omitempty"`
	// Claims counts the claims of this request (more than one after a lease take-over).
	Claims     int    `dynamodbav:"claims,omitempty"`
	LeaseOwner string `dynamodbav:"leaseOwner,omitempty"`
	CreatedAt  string `dynamodbav:"createdAt,omitempty"`
	StartedAt  string `dynamodbav:"startedAt,omitempty"`
	FinishedAt string `dynamodbav:"finishedAt,omitempty"`
	UpdatedAt  string `dynamodbav:"updatedAt,omitempty"`
	DurationMS int64  `dynamodbav:"durationMs,omitempty"`
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Store) key(userID, configID, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: PK(userID, configID)},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// Get returns the current record of (userID, configID) with a consistent read, or ErrNotFound.
func (s *Store) Get(ctx context.Context, userID, configID string) (Record, error) {
	var rec Record
	found, err := s.get(ctx, userID, configID, skCurrent, &rec)
	if err != nil {
		return Record{}, fmt.Errorf("status: get %s/%s: %w", userID, configID, err)
	}
	if !found {
		return Record{}, fmt.Errorf("status: get %s/%s: %w", userID, configID, ErrNotFound)
	}
	return rec, nil
}

// Attempt returns a request's history item, or ErrNotFound.
func (s *Store) Attempt(ctx context.Context, ref Ref) (Attempt, error) {
	var a Attempt
	found, err := s.get(ctx, ref.UserID, ref.ConfigID, AttemptSK(ref.RequestID), &a)
	if err != nil {
		return Attempt{}, fmt.Errorf("status: attempt %s: %w", ref, err)
	}
	if !found {
		return Attempt{}, fmt.Errorf("status: attempt %s: %w", ref, ErrNotFound)
	}
	return a, nil
}

func (s *Store) get(ctx context.Context, userID, configID, sk string, out any) (bool, error) {
	res, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Table, Key: s.key(userID, configID, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, err
	}
	if res.Item == nil {
		return false, nil
	}
	return true, attributevalue.UnmarshalMap(res.Item, out)
}

// Enqueue records request ref as queued: it creates the history item and makes ref the current
// request (status queued, version+1). Errors:
//   - ErrDuplicate: ref was already handled;
//   - ErrNotFailed: a retry while the status is not failed (see Refuse to record it);
//   - ErrLeaseHeld: another request is deploying under a live lease (retry later);
//   - ErrSuperseded: ref was queued before but another request has become current.
//
// Enqueue of a request that is already queued or deploying (a redelivered message) writes
// nothing and returns the current record: the caller goes on to Claim.
func (s *Store) Enqueue(ctx context.Context, ref Ref, req Request) (Record, error) {
	now := s.now()
	ts := now.Format(timeLayout)

	hist := newExpr()
	hist.set("userId", ref.UserID).set("configId", ref.ConfigID).set("requestId", ref.RequestID).
		set("type", req.Type).set("deploymentStatus", Queued).set("stage", StageQueued).
		set("createdAt", ts).set("updatedAt", ts)
	hist.cond = "attribute_not_exists(" + hist.n(attrPK) + ")"

	cur := s.currentWrite(ref, ts)
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

	reasons, err := s.transact(ctx, s.update(ref, AttemptSK(ref.RequestID), hist), s.update(ref, skCurrent, cur))
	if err == nil {
		return s.Get(ctx, ref.UserID, ref.ConfigID)
	}
	if reasons == nil {
		return Record{}, fmt.Errorf("status: enqueue %s: %w", ref, err)
	}
	if reasons[0].failed {
		var a Attempt
		if err := attributevalue.UnmarshalMap(reasons[0].item, &a); err != nil {
			return Record{}, fmt.Errorf("status: enqueue %s: %w", ref, err)
		}
		rec, err := s.Get(ctx, ref.UserID, ref.ConfigID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Record{}, fmt.Errorf("status: enqueue %s: %w", ref, err)
		}
		switch {
		case a.DeploymentStatus.Final():
			return Record{}, &ConditionError{Op: "enqueue", Ref: ref, Err: ErrDuplicate, Current: rec}
		case rec.RequestID != ref.RequestID:
			return Record{}, &ConditionError{Op: "enqueue", Ref: ref, Err: ErrSuperseded, Current: rec}
		}
		return rec, nil // redelivery of a request in flight
	}
	rec, err := s.explain(ctx, ref, reasons[1])
	if err != nil {
		return Record{}, fmt.Errorf("status: enqueue %s: %w", ref, err)
	}
	why := ErrLeaseHeld
	if req.Type == "retry" && rec.DeploymentStatus != Failed {
		why = ErrNotFailed
	}
	return Record{}, &ConditionError{Op: "enqueue", Ref: ref, Err: why, Current: rec}
}

// Claim takes the lease on ref for owner until now+lease and moves it to deploying (attempt+1).
// It takes over a deploying request whose lease has expired (a crashed worker). Errors:
//   - ErrLeaseHeld: a live lease is held (by another worker or an earlier delivery);
//   - ErrDuplicate: ref already ended;
//   - ErrSuperseded: another request is current;
//   - ErrNotQueued: ref was never enqueued.
func (s *Store) Claim(ctx context.Context, ref Ref, owner string, lease time.Duration) (Record, error) {
	now := s.now()
	ts := now.Format(timeLayout)
	expires := now.Add(lease).UnixMilli()

	cur := s.currentWrite(ref, ts)
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

	reasons, err := s.transact(ctx, s.update(ref, skCurrent, cur), s.update(ref, AttemptSK(ref.RequestID), hist))
	if err == nil {
		return s.Get(ctx, ref.UserID, ref.ConfigID)
	}
	if reasons == nil {
		return Record{}, fmt.Errorf("status: claim %s: %w", ref, err)
	}
	rec, err := s.explain(ctx, ref, reasons[0])
	if err != nil {
		return Record{}, fmt.Errorf("status: claim %s: %w", ref, err)
	}
	var why error
	switch {
	case reasons[1].failed && reasons[1].item == nil:
		why = ErrNotQueued
	case reasons[1].failed || (rec.RequestID == ref.RequestID && rec.DeploymentStatus.Final()):
		why = ErrDuplicate
	case rec.RequestID != ref.RequestID:
		why = ErrSuperseded
	default:
		why = ErrLeaseHeld
	}
	return Record{}, &ConditionError{Op: "claim", Ref: ref, Err: why, Current: rec}
}

// Progress writes a stage or progress line of ref's deploy. Only the lease owner may; otherwise
// ErrLeaseLost.
func (s *Store) Progress(ctx context.Context, ref Ref, owner string, p Progress) error {
	cur := s.currentWrite(ref, s.now().Format(timeLayout))
	cur.set("stage", p.Stage).set("deploymentProgress", p.Message)
	s.ownedBy(cur, ref, owner)
	_, err := s.DB.UpdateItem(ctx, s.updateItem(ref, skCurrent, cur))
	return s.leaseErr(ctx, "progress", ref, err)
}

// Complete ends ref as deployed at d.SchemaVersion and releases the lease. Only the lease owner
// may; otherwise ErrLeaseLost.
func (s *Store) Complete(ctx context.Context, ref Ref, owner string, d Success) (Record, error) {
	ts := s.now().Format(timeLayout)
	cur := s.currentWrite(ref, ts)
	cur.set("deploymentStatus", Deployed).set("stage", StageDone).
		set("deploymentProgress", fmt.Sprintf("Deployed schema v%d", d.SchemaVersion)).
		set("schemaVersion", d.SchemaVersion).set("lastSchemaDeploy", ts).set("connectionStatus", ConnectionConnected).
		remove("connectionError", "errorClass", "errorHint", "retryable", "leaseOwner", "leaseExpiresAt")
	s.ownedBy(cur, ref, owner)
	hist := newExpr()
	hist.set("deploymentStatus", Deployed).set("stage", StageDone).set("schemaVersion", d.SchemaVersion).
		set("finishedAt", ts).set("updatedAt", ts).set("durationMs", d.Duration.Milliseconds()).remove("leaseOwner")
	return s.finish(ctx, "complete", ref, cur, hist)
}

// Fail ends ref as failed with f and releases the lease. Only the lease owner may; otherwise
// ErrLeaseLost. schemaVersion and lastSchemaDeploy keep describing what is deployed.
func (s *Store) Fail(ctx context.Context, ref Ref, owner string, f Failure, took time.Duration) (Record, error) {
	ts := s.now().Format(timeLayout)
	cur := s.failedWrite(ref, ts, f)
	s.ownedBy(cur, ref, owner)
	hist := failedHistory(ts, f)
	hist.set("durationMs", took.Milliseconds())
	return s.finish(ctx, "fail", ref, cur, hist)
}

// MarkFailed records ref as failed without a lease: for a message that cannot be processed (bad
// input, or the dead-letter queue). The history item is written unless ref already ended
// (ErrDuplicate). The current item becomes failed only if there is none yet or it is ref still in
// flight (queued or deploying, whatever its lease); it never overwrites another request's state.
// In that case only its notice is set, and the error wraps ErrSuperseded.
func (s *Store) MarkFailed(ctx context.Context, ref Ref, f Failure) (Record, error) {
	ts := s.now().Format(timeLayout)
	hist := failedHistory(ts, f)
	hist.set("userId", ref.UserID).set("configId", ref.ConfigID).set("requestId", ref.RequestID).setIfNotExists("createdAt", ts)
	hist.cond = "attribute_not_exists(" + hist.n(attrPK) + ") OR " + hist.n("deploymentStatus") + " IN (" +
		hist.v(Queued) + ", " + hist.v(Deploying) + ")"
	cur := s.failedWrite(ref, ts, f)
	cur.cond = "attribute_not_exists(" + cur.n(attrPK) + ") OR (" + cur.n("requestId") + " = " + cur.v(ref.RequestID) +
		" AND " + cur.n("deploymentStatus") + " IN (" + cur.v(Queued) + ", " + cur.v(Deploying) + "))"

	reasons, err := s.transact(ctx, s.update(ref, AttemptSK(ref.RequestID), hist), s.update(ref, skCurrent, cur))
	if err == nil {
		return s.Get(ctx, ref.UserID, ref.ConfigID)
	}
	if reasons == nil {
		return Record{}, fmt.Errorf("status: mark failed %s: %w", ref, err)
	}
	if reasons[0].failed {
		rec, _ := s.Get(ctx, ref.UserID, ref.ConfigID)
		return Record{}, &ConditionError{Op: "mark failed", Ref: ref, Err: ErrDuplicate, Current: rec}
	}
	// Another request is current: record the failure on the history item and a notice.
	if _, err := s.DB.UpdateItem(ctx, s.updateItem(ref, AttemptSK(ref.RequestID), hist)); err != nil {
		return Record{}, fmt.Errorf("status: mark failed %s: history: %w", ref, err)
	}
	rec, err := s.notice(ctx, ref, ts, fmt.Sprintf("request %s failed: %s", ref.RequestID, f.Message))
	if err != nil {
		return Record{}, fmt.Errorf("status: mark failed %s: %w", ref, err)
	}
	return Record{}, &ConditionError{Op: "mark failed", Ref: ref, Err: ErrSuperseded, Current: rec}
}

// Refuse records that ref was not run (e.g. a retry of a deployment that is not failed): the
// history item says refused with reason, and the current item keeps its status but gets
// notice = reason (version+1) so the browser learns why. ErrDuplicate if ref already ended.
func (s *Store) Refuse(ctx context.Context, ref Ref, reqType, reason string) (Record, error) {
	ts := s.now().Format(timeLayout)
	hist := newExpr()
	hist.set("userId", ref.UserID).set("configId", ref.ConfigID).set("requestId", ref.RequestID).
		set("type", reqType).set("deploymentStatus", Refused).set("reason", reason).
		set("createdAt", ts).set("finishedAt", ts).set("updatedAt", ts)
	hist.cond = "attribute_not_exists(" + hist.n(attrPK) + ")"
	if _, err := s.DB.UpdateItem(ctx, s.updateItem(ref, AttemptSK(ref.RequestID), hist)); err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			rec, _ := s.Get(ctx, ref.UserID, ref.ConfigID)
			return Record{}, &ConditionError{Op: "refuse", Ref: ref, Err: ErrDuplicate, Current: rec}
		}
		return Record{}, fmt.Errorf("status: refuse %s: %w", ref, err)
	}
	rec, err := s.notice(ctx, ref, ts, reason)
	if err != nil {
		return Record{}, fmt.Errorf("status: refuse %s: %w", ref, err)
	}
	return rec, nil
}

// notice sets the current item's notice, if there is a current item.
func (s *Store) notice(ctx context.Context, ref Ref, ts, text string) (Record, error) {
	cur := newExpr()
	cur.set("notice", text).set("updatedAt", ts).add("version")
	cur.cond = "attribute_exists(" + cur.n(attrPK) + ")"
	in := s.updateItem(ref, skCurrent, cur)
	in.ReturnValues = types.ReturnValueAllNew
	out, err := s.DB.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, err
	}
	var rec Record
	return rec, attributevalue.UnmarshalMap(out.Attributes, &rec)
}

// currentWrite starts a write of the current item: identity, updatedAt and version+1.
func (s *Store) currentWrite(ref Ref, ts string) *expr {
	e := newExpr()
	e.set("userId", ref.UserID).set("configId", ref.ConfigID).set("requestId", ref.RequestID).
		set("updatedAt", ts).add("version")
	return e
}

func (s *Store) failedWrite(ref Ref, ts string, f Failure) *expr {
	cur := s.currentWrite(ref, ts)
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

func (s *Store) ownedBy(cur *expr, ref Ref, owner string) {
	cur.cond = cur.n("requestId") + " = " + cur.v(ref.RequestID) + " AND " + cur.n("leaseOwner") + " = " + cur.v(owner) +
		" AND " + cur.n("deploymentStatus") + " = " + cur.v(Deploying)
}

// finish writes an outcome: the current item (conditioned on the lease) and the history item.
func (s *Store) finish(ctx context.Context, op string, ref Ref, cur, hist *expr) (Record, error) {
	reasons, err := s.transact(ctx, s.update(ref, skCurrent, cur), s.update(ref, AttemptSK(ref.RequestID), hist))
	if err == nil {
		return s.Get(ctx, ref.UserID, ref.ConfigID)
	}
	if reasons == nil {
		return Record{}, fmt.Errorf("status: %s %s: %w", op, ref, err)
	}
	rec, err := s.explain(ctx, ref, reasons[0])
	if err != nil {
		return Record{}, fmt.Errorf("status: %s %s: %w", op, ref, err)
	}
	return Record{}, &ConditionError{Op: op, Ref: ref, Err: ErrLeaseLost, Current: rec}
}

// leaseErr maps a failed owner-conditioned single write to ErrLeaseLost.
func (s *Store) leaseErr(ctx context.Context, op string, ref Ref, err error) error {
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fmt.Errorf("status: %s %s: %w", op, ref, err)
	}
	var rec Record
	if ccf.Item != nil {
		_ = attributevalue.UnmarshalMap(ccf.Item, &rec)
	}
	return &ConditionError{Op: op, Ref: ref, Err: ErrLeaseLost, Current: rec}
}

// explain decodes the old image of a cancelled transaction item, or reads the current item when
// the stand-in or service did not return it.
func (s *Store) explain(ctx context.Context, ref Ref, r reason) (Record, error) {
	var rec Record
	if r.item != nil {
		return rec, attributevalue.UnmarshalMap(r.item, &rec)
	}
	rec, err := s.Get(ctx, ref.UserID, ref.ConfigID)
	if errors.Is(err, ErrNotFound) {
		return Record{}, nil
	}
	return rec, err
}

func (s *Store) update(ref Ref, sk string, e *expr) types.TransactWriteItem {
	in := s.updateItem(ref, sk, e)
	return types.TransactWriteItem{Update: &types.Update{
		TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
		ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
		ExpressionAttributeValues:           in.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

func (s *Store) updateItem(ref Ref, sk string, e *expr) *dynamodb.UpdateItemInput {
	in := &dynamodb.UpdateItemInput{
		TableName: &s.Table, Key: s.key(ref.UserID, ref.ConfigID, sk), UpdateExpression: aws.String(e.update()),
		ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if e.cond != "" {
		in.ConditionExpression = aws.String(e.cond)
	}
	return in
}

// reason is one item's outcome in a cancelled transaction.
type reason struct {
	failed bool // ConditionalCheckFailed
	item   map[string]types.AttributeValue
}

// transact runs a transaction, retrying a few times when it conflicts with a concurrent one (the
// conditions are then evaluated again, so the outcome is a definite answer). When the
// transaction is cancelled by a condition it returns one reason per item; reasons is nil for
// any other error.
func (s *Store) transact(ctx context.Context, items ...types.TransactWriteItem) ([]reason, error) {
	var err error
	for try := 0; try < 8; try++ {
		_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tce *types.TransactionCanceledException
		if err == nil || !errors.As(err, &tce) {
			return nil, err
		}
		reasons := make([]reason, len(items))
		conflict, failed := false, false
		for i, r := range tce.CancellationReasons {
			if i >= len(reasons) {
				break
			}
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				reasons[i] = reason{failed: true, item: r.Item}
				failed = true
			case "TransactionConflict":
				conflict = true
			}
		}
		if failed {
			return reasons, err
		}
		if !conflict {
			return nil, err
		}
		select { // back off before evaluating the conditions again
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(10<<try) * time.Millisecond):
		}
	}
	return nil, err
}

// leaseFree is the condition "no live lease".
func (e *expr) leaseFree(now time.Time) string {
	return "(attribute_not_exists(" + e.n("leaseExpiresAt") + ") OR " + e.n("leaseExpiresAt") + " < " + e.v(now.UnixMilli()) + ")"
}
