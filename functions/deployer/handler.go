package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/byod-deployer/byod-deployer/shared/batch"
	"github.com/byod-deployer/byod-deployer/shared/credentials"
	"github.com/byod-deployer/byod-deployer/shared/deploy"
	"github.com/byod-deployer/byod-deployer/shared/failure"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// Store is the part of the status store the handler uses (*status.Store).
type Store interface {
	Enqueue(ctx context.Context, ref status.Ref, req status.Request) (ciphertext string, err error)
	Claim(ctx context.Context, ref status.Ref, owner string, lease time.Duration) error
	Progress(ctx context.Context, ref status.Ref, owner string, p status.Progress) error
	Complete(ctx context.Context, ref status.Ref, owner string, d status.Success) error
	Fail(ctx context.Context, ref status.Ref, owner string, f status.Failure, took time.Duration) error
	RecordFailure(ctx context.Context, ref status.Ref, f status.Failure) (status.Recorded, error)
	Refuse(ctx context.Context, ref status.Ref, reqType, reason string) error
}

// Engine is the part of the deploy engine the handler uses (*deploy.Engine).
type Engine interface {
	Deploy(ctx context.Context, t deploy.Target, opts deploy.Options) (deploy.Result, error)
}

// Metrics is the part of obs.Metrics the handler uses.
type Metrics interface {
	DeploymentStarted() error
	DeploymentSucceeded(d time.Duration) error
	DeploymentFailed(errorClass string, d time.Duration) error
}

// Handler deploys the requests of one SQS batch. Set its fields once; it holds no per-invocation
// state.
type Handler struct {
	Store   Store
	KMS     credentials.Decrypter
	Engine  Engine
	Metrics Metrics
	Log     *slog.Logger
	// SchemaVersion is the version this image carries (bundle.Version).
	SchemaVersion int
	// Lease is how long a claim holds the deployment (LEASE_DURATION); longer than Timeout.
	Lease time.Duration
	// Timeout bounds one deploy (DEPLOY_TIMEOUT).
	Timeout time.Duration
	// ProgressInterval is the least time between two progress writes within one stage
	// (0: DefaultProgressInterval). Stage changes are always written.
	ProgressInterval time.Duration
}

// DefaultProgressInterval coalesces the CLI's progress lines into at most four writes a second.
const DefaultProgressInterval = 250 * time.Millisecond

// Handle deploys each message of the batch and reports the ones to retry: only transient failures
// (AWS unavailable, or the deployment still leased by another delivery) are retried; everything
// else ends in a recorded outcome or, when the message names no user, is logged and dropped.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return batch.SQS(ctx, ev, h.handle, func(f batch.Failure) {
		h.Log.ErrorContext(ctx, "message returned to the queue for a retry", "messageId", f.ID, "error", f.Err)
	}), nil
}

func (h *Handler) handle(ctx context.Context, msg events.SQSMessage) error {
	log := h.Log.With("messageId", msg.MessageId, "receiveCount", msg.Attributes["ApproximateReceiveCount"])
	m, err := message.Parse([]byte(msg.Body))
	if err != nil {
		return h.rejectMessage(ctx, log, err)
	}
	ref := status.Ref{UserID: m.UserID, ConfigID: m.ConfigID, RequestID: m.RequestID}
	log = log.With("userId", ref.UserID, "configId", ref.ConfigID, "deployRequestId", ref.RequestID, "type", string(m.Type))

	ciphertext, err := h.Store.Enqueue(ctx, ref, status.Request{Type: string(m.Type), Ciphertext: m.Credentials})
	switch {
	case errors.Is(err, status.ErrDuplicate), errors.Is(err, status.ErrSuperseded):
		log.InfoContext(ctx, "request already handled; nothing to do", "reason", err)
		return nil
	case errors.Is(err, status.ErrNotFailed):
		return h.refuse(ctx, log, ref, m.Type, err)
	case err != nil:
		return err // ErrLeaseHeld or AWS: retried
	}

	// Schema version policy: the image deploys the one version it carries. An older request is
	// deployed at this (newer) version, as deployments only move forward; a newer one cannot be
	// served by this image and fails permanently.
	if m.SchemaVersion > h.SchemaVersion {
		return h.recordFailure(ctx, log, ref, failed(failure.UnsupportedVersion,
			fmt.Sprintf("this deployer carries v%d; the request asks for v%d", h.SchemaVersion, m.SchemaVersion)))
	}
	if m.SchemaVersion != 0 && m.SchemaVersion < h.SchemaVersion {
		log.InfoContext(ctx, "request names an older schema version; deploying this image's", "asked", m.SchemaVersion, "deploying", h.SchemaVersion)
	}

	secret, err := h.decrypt(ctx, ciphertext, ref)
	if errors.Is(err, credentials.ErrInvalid) || errors.Is(err, errNoCredentials) {
		log.WarnContext(ctx, "credentials rejected", "error", err)
		return h.recordFailure(ctx, log, ref, failed(failure.InvalidCredentials, credentialsMessage(err)))
	}
	if err != nil {
		return err // KMS unavailable: retried; nothing is leased yet
	}

	owner := newOwner(ctx)
	if err := h.Store.Claim(ctx, ref, owner, h.Lease); err != nil {
		if errors.Is(err, status.ErrDuplicate) || errors.Is(err, status.ErrSuperseded) {
			log.InfoContext(ctx, "request already handled; nothing to do", "reason", err)
			return nil
		}
		return err // ErrLeaseHeld (another delivery is deploying it) or AWS: retried
	}
	log = log.With("leaseOwner", owner)
	h.metric(ctx, log, h.Metrics.DeploymentStarted())
	log.InfoContext(ctx, "deploying") // never the URL or key: they are decrypted values
	return h.deploy(ctx, log, ref, owner, secret)
}

// deploy runs the engine under the lease and records the outcome. A lease lost during the deploy
// stops the engine; it is logged once, with the outcome that could not be recorded.
func (h *Handler) deploy(ctx context.Context, log *slog.Logger, ref status.Ref, owner string, secret credentials.Secret) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interval := h.ProgressInterval
	if interval <= 0 {
		interval = DefaultProgressInterval
	}
	var stopped atomic.Bool // the lease was lost while deploying and the engine was told to stop
	pw := newProgressWriter(interval, func(p status.Progress) {
		err := h.Store.Progress(ctx, ref, owner, p)
		switch {
		case errors.Is(err, status.ErrLeaseLost):
			stopped.Store(true)
			cancel() // logged below, where the outcome is handled
		case err != nil:
			log.WarnContext(ctx, "progress not recorded", "stage", p.Stage, "error", err)
		}
	})
	start := time.Now()
	res, err := h.Engine.Deploy(ctx, deploy.Target{URL: secret.URL, Key: secret.DeployKey}, deploy.Options{Timeout: h.Timeout, Progress: pw.event})
	lastStage := pw.stop()

	if err != nil {
		f := engineFailure(err)
		f.Stage = lastStage
		took := time.Since(start)
		serr := h.Store.Fail(context.WithoutCancel(ctx), ref, owner, f, took)
		if errors.Is(serr, status.ErrLeaseLost) {
			log.ErrorContext(ctx, "lease lost; deploy failed, outcome not recorded",
				"stoppedByLeaseLoss", stopped.Load(), "errorClass", f.Class, "error", serr, "deployError", err)
			return nil
		}
		if serr != nil {
			return serr
		}
		// The engine's *deploy.Error logs without the deployment's URL, name or key ident.
		log.WarnContext(ctx, "deploy failed", "errorClass", f.Class, "error", err)
		h.metric(ctx, log, h.Metrics.DeploymentFailed(string(f.Class), took))
		return nil
	}
	serr := h.Store.Complete(context.WithoutCancel(ctx), ref, owner, status.Success{SchemaVersion: res.SchemaVersion, Duration: res.Duration})
	if errors.Is(serr, status.ErrLeaseLost) {
		log.ErrorContext(ctx, "lease lost; deployed, outcome not recorded", "stoppedByLeaseLoss", stopped.Load(), "error", serr)
		return nil
	}
	if serr != nil {
		return serr
	}
	log.InfoContext(ctx, "deployed", "schemaVersion", res.SchemaVersion, "durationMs", res.Duration.Milliseconds())
	h.metric(ctx, log, h.Metrics.DeploymentSucceeded(res.Duration))
	return nil
}

// engineFailure turns an engine error into the recorded failure.
func engineFailure(err error) status.Failure {
	var de *deploy.Error
	if !errors.As(err, &de) {
		f := failed(failure.Internal, "the deploy failed unexpectedly")
		f.Retryable = true
		return f
	}
	msg := de.Message
	if de.Detail != "" {
		msg += ": " + de.Detail
	}
	return status.Failure{Class: de.Class, Message: msg, Hint: de.Hint, Retryable: de.Retryable}
}

// failed is a permanent failure of class c with its hint.
func failed(c failure.Class, msg string) status.Failure {
	return status.Failure{Class: c, Message: msg, Hint: c.Hint()}
}

// rejectMessage records an invalid message as failed when it names a user, else drops it.
func (h *Handler) rejectMessage(ctx context.Context, log *slog.Logger, err error) error {
	var bad *message.Error
	if !errors.As(err, &bad) || !bad.Identifiable() {
		// Never log the body: it may hold a credentials ciphertext.
		log.WarnContext(ctx, "dropped a message that names no user", "error", err)
		return nil
	}
	ref := status.Ref{UserID: bad.UserID, ConfigID: bad.ConfigID, RequestID: bad.RequestID}
	log = log.With("userId", ref.UserID, "configId", ref.ConfigID, "deployRequestId", ref.RequestID)
	log.WarnContext(ctx, "invalid message", "error", err)
	return h.recordFailure(ctx, log, ref, failed(failure.InvalidMessage, "the deploy request was invalid: "+bad.Error()))
}

// recordFailure records a permanent failure of a request that never ran; it is counted, without
// a duration, when it left the user failed (status.Recorded.Counted, as in deadletter).
func (h *Handler) recordFailure(ctx context.Context, log *slog.Logger, ref status.Ref, f status.Failure) error {
	rec, err := h.Store.RecordFailure(ctx, ref, f)
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "failure recorded", "outcome", rec.String(), "errorClass", f.Class)
	if rec.Counted() {
		h.metric(ctx, log, h.Metrics.DeploymentFailed(string(f.Class), 0))
	}
	return nil
}

// refuse records a retry of a deployment that is not failed: status unchanged, reason noted.
func (h *Handler) refuse(ctx context.Context, log *slog.Logger, ref status.Ref, t message.Type, cause error) error {
	reason := "retry refused: there is no deployment to retry"
	var ce *status.ConditionError
	if errors.As(cause, &ce) && ce.Current.DeploymentStatus != "" {
		reason = fmt.Sprintf("retry refused: the deployment is %s, not failed", ce.Current.DeploymentStatus)
	}
	if err := h.Store.Refuse(ctx, ref, string(t), reason); err != nil && !errors.Is(err, status.ErrDuplicate) {
		return err
	}
	log.InfoContext(ctx, "retry refused", "reason", reason)
	return nil
}

var errNoCredentials = errors.New("no credentials stored for this config")

func (h *Handler) decrypt(ctx context.Context, ciphertext string, ref status.Ref) (credentials.Secret, error) {
	if ciphertext == "" {
		return credentials.Secret{}, errNoCredentials
	}
	return credentials.Decrypt(ctx, h.KMS, ciphertext, ref.UserID, ref.ConfigID)
}

func credentialsMessage(err error) string {
	if errors.Is(err, errNoCredentials) {
		return "no credentials are stored for this config: send a deploy with credentials"
	}
	return "the credentials could not be decrypted for this user and config"
}

// metric logs a metrics write error; metrics never fail a deploy.
func (h *Handler) metric(ctx context.Context, log *slog.Logger, err error) {
	if err != nil {
		log.WarnContext(ctx, "metric not written", "error", err)
	}
}

// newOwner names one claim: the Lambda request id plus a random suffix, so two deliveries of
// the same message never share a lease owner.
func newOwner(ctx context.Context) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	id := "local"
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		id = lc.AwsRequestID
	}
	return id + "/" + hex.EncodeToString(b)
}
