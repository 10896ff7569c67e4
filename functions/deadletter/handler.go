package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/byod-deployer/byod-deployer/shared/batch"
	"github.com/byod-deployer/byod-deployer/shared/failure"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// Reason and Class are what a dead-lettered request is marked failed with (and Class's hint).
const (
	Reason = "could not be processed after repeated attempts"
	Class  = failure.Internal
)

// Store is the part of the status store the handler uses.
type Store interface {
	RecordFailure(ctx context.Context, ref status.Ref, f status.Failure) (status.Recorded, error)
}

// Metrics is the part of obs.Metrics the handler uses.
type Metrics interface {
	DeploymentFailed(errorClass string, d time.Duration) error
}

// Handler marks dead-lettered requests failed. Each one that left its user's current record
// failed is counted in DeploymentsFailed under Class, without a duration (the deploy never
// ran to an outcome); one that had already ended or was superseded by a newer request is not,
// since no user was left failed by it. It holds no per-invocation state.
type Handler struct {
	Store   Store
	Metrics Metrics
	Log     *slog.Logger
}

// Handle processes one batch from the dead-letter queue. A message that names no (user, config,
// request) is logged and dropped; a store failure is a batch item failure (retried).
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return batch.SQS(ctx, ev, h.handle, func(f batch.Failure) {
		h.Log.ErrorContext(ctx, "dead letter not recorded; will retry", "messageId", f.ID, "error", f.Err)
	}), nil
}

func (h *Handler) handle(ctx context.Context, msg events.SQSMessage) error {
	log := h.Log.With("messageId", msg.MessageId, "receiveCount", msg.Attributes["ApproximateReceiveCount"])
	var ref status.Ref
	m, err := message.Parse([]byte(msg.Body))
	var bad *message.Error
	switch {
	case err == nil:
		ref = status.Ref{UserID: m.UserID, ConfigID: m.ConfigID, RequestID: m.RequestID}
	case errors.As(err, &bad) && bad.Identifiable():
		ref = status.Ref{UserID: bad.UserID, ConfigID: bad.ConfigID, RequestID: bad.RequestID}
	default:
		// Never log the body: it may hold a credentials ciphertext.
		log.WarnContext(ctx, "dropped a dead letter that names no user", "error", err)
		return nil
	}
	log = log.With("userId", ref.UserID, "configId", ref.ConfigID, "deployRequestId", ref.RequestID)
	rec, err := h.Store.RecordFailure(ctx, ref, status.Failure{Class: Class, Message: Reason, Hint: Class.Hint(), Retryable: true})
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "dead-lettered request recorded failed", "outcome", rec.String())
	if !rec.Counted() {
		return nil
	}
	// Counted as the deployer counts the failures it records. Metrics never fail the message.
	if err := h.Metrics.DeploymentFailed(string(Class), 0); err != nil {
		log.WarnContext(ctx, "metric not written", "error", err)
	}
	return nil
}
