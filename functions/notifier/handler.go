package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/byod-deployer/byod-deployer/shared/batch"
	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// DefaultConcurrency bounds the posts in flight for one record when Handler.Concurrency is 0.
const DefaultConcurrency = 8

// Connections is the part of the connections store the notifier uses.
type Connections interface {
	ListByUser(ctx context.Context, userID string) ([]connections.Connection, error)
	Delete(ctx context.Context, userID, connectionID string) error
}

// Poster is the part of the API Gateway management client the notifier calls;
// *apigatewaymanagementapi.Client satisfies it.
type Poster interface {
	PostToConnection(ctx context.Context, params *apigatewaymanagementapi.PostToConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

// Handler forwards status changes to their user's WebSockets. It holds no per-invocation state.
type Handler struct {
	Connections Connections
	Poster      Poster
	Log         *slog.Logger
	// Concurrency bounds the posts in flight for one record; 0 means DefaultConcurrency.
	Concurrency int
}

// Handle processes one batch of status-table stream records in order. For each new image of a
// current item it posts connections.StatusEvent to every live connection of that user; a 410
// Gone deletes the connection. Records that are not current images (history items, removals,
// foreign or undecodable images) are skipped: retrying cannot change them. Any other failure
// (listing connections, a post or a delete) fails that record, and the batch stops there so
// Lambda retries the shard from it (shared/batch); connections that already got the event may
// get it again, which clients absorb by its version. The returned error is always nil.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return batch.Stream(ctx, ev, h.record, func(f batch.Failure) {
		h.Log.ErrorContext(ctx, "status change not delivered; the shard will be retried from it", "sequenceNumber", f.ID, "error", f.Err)
	}), nil
}

func (h *Handler) record(ctx context.Context, r events.DynamoDBEventRecord) error {
	log := h.Log.With("eventId", r.EventID, "sequenceNumber", r.Change.SequenceNumber)
	if len(r.Change.NewImage) == 0 {
		return nil // REMOVE, or a stream without new images
	}
	rec, current, err := status.FromStreamImage(r.Change.NewImage)
	if err != nil {
		log.WarnContext(ctx, "skipped a stream record that is not a status item", "error", err)
		return nil
	}
	if !current {
		return nil
	}
	log = log.With("userId", rec.UserID, "configId", rec.ConfigID, "version", rec.Version)
	conns, err := h.Connections.ListByUser(ctx, rec.UserID)
	if err != nil {
		return fmt.Errorf("notifier: %s/%s v%d: %w", rec.UserID, rec.ConfigID, rec.Version, err)
	}
	if len(conns) == 0 {
		return nil
	}
	data, err := connections.StatusEvent(rec).Encode()
	if err != nil {
		return fmt.Errorf("notifier: %s/%s v%d: %w", rec.UserID, rec.ConfigID, rec.Version, err)
	}
	sent, gone, errs := h.fanOut(ctx, rec.UserID, conns, data)
	log.DebugContext(ctx, "status change delivered", "sent", sent, "gone", gone, "failed", len(errs))
	if len(errs) > 0 {
		return fmt.Errorf("notifier: %s/%s v%d: %w", rec.UserID, rec.ConfigID, rec.Version, errors.Join(errs...))
	}
	return nil
}

// fanOut posts data to every connection with at most Concurrency posts in flight and deletes the
// connections that are gone. It returns how many got it, how many were gone, and the failures.
func (h *Handler) fanOut(ctx context.Context, userID string, conns []connections.Connection, data []byte) (sent, gone int, errs []error) {
	limit := h.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, limit)
	)
	for _, c := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			wasGone, err := h.post(ctx, userID, c.ConnectionID, data)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case wasGone:
				gone++
			default:
				sent++
			}
		}()
	}
	wg.Wait()
	return sent, gone, errs
}

// post sends data to one connection; a GoneException deletes the connection and is not an error.
func (h *Handler) post(ctx context.Context, userID, connectionID string, data []byte) (gone bool, err error) {
	_, err = h.Poster.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &connectionID, Data: data})
	var goneErr *types.GoneException
	if !errors.As(err, &goneErr) {
		if err != nil {
			return false, fmt.Errorf("post to %s: %w", connectionID, err)
		}
		return false, nil
	}
	if err := h.Connections.Delete(ctx, userID, connectionID); err != nil {
		return true, fmt.Errorf("delete gone connection %s: %w", connectionID, err)
	}
	h.Log.InfoContext(ctx, "deleted a connection that is gone", "userId", userID, "connectionId", connectionID)
	return true, nil
}
