package status

import (
	"errors"
	"fmt"
)

// Sentinel errors. A refused transition returns a *ConditionError wrapping one of them.
var (
	// ErrNotFound: the (user, config) has no current item, or the request no history item.
	ErrNotFound = errors.New("status: not found")
	// ErrDuplicate: the request id was already handled (deployed, failed or refused); nothing runs.
	ErrDuplicate = errors.New("status: request already handled")
	// ErrLeaseHeld: another worker holds a live lease on this (user, config); try again later.
	ErrLeaseHeld = errors.New("status: a live lease is held")
	// ErrNotFailed: a retry was asked for a deployment whose status is not failed.
	ErrNotFailed = errors.New("status: retry refused: the deployment is not failed")
	// ErrLeaseLost: the caller no longer owns the lease (it expired and was taken over).
	ErrLeaseLost = errors.New("status: lease lost")
	// ErrSuperseded: the current item belongs to another request; nothing was written.
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
