package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/status"
	"github.com/byod-deployer/byod-deployer/shared/wstoken"
)

// DefaultConfigID is the config a status request without configId asks about (the local tools'
// default config too).
const DefaultConfigID = "default"

// ActionStatus is the client message that asks for a snapshot: {"action":"status","configId":"…"}.
const ActionStatus = "status"

// DefaultSnapshotInterval is how often one connection may be served a snapshot: a page asks on
// (re)connect and the notifier pushes every change, so a second ask within a second is a client
// bug or spam, and each one answered would cost a status read.
const DefaultSnapshotInterval = time.Second

// Connections is the part of the connections store the handler uses.
type Connections interface {
	Put(ctx context.Context, userID, connectionID string, ttl time.Duration) error
	Delete(ctx context.Context, userID, connectionID string) error
	UserOf(ctx context.Context, connectionID string) (string, error)
	ClaimSnapshot(ctx context.Context, userID, connectionID string, interval time.Duration) error
}

// Statuses is the part of the status store the handler uses.
type Statuses interface {
	Get(ctx context.Context, userID, configID string) (status.Record, error)
}

// Handler serves the WebSocket API's $connect, $disconnect and $default routes. The stack
// (infra/websocket.go) and local mode route every client message, {"action":"status"} included,
// to $default, which has a route response (two-way): the handler answers a message with its
// response body, so the function needs no management API access. It holds no per-invocation state.
type Handler struct {
	// Secret is the HMAC key of the tokens (wstoken); Audience the expected aud (TOKEN_AUDIENCE).
	Secret   []byte
	Audience string

	Connections Connections
	Status      Statuses
	Log         *slog.Logger
	// TTL of a stored connection; 0 means connections.DefaultTTL (API Gateway's 2 h maximum).
	TTL time.Duration
	// SnapshotInterval is the least time between two snapshots served on one connection; 0 means
	// DefaultSnapshotInterval. The window is kept on the connection's item (Connections), since
	// the instances serving one connection share no memory.
	SnapshotInterval time.Duration
	// Now is the clock tokens are checked against; nil means time.Now.
	Now func() time.Time
}

// Handle dispatches on the route key.
//   - $connect answers 200 and stores the connection when the query string's token is valid; 401
//     when it is missing, malformed, badly signed, expired or not yet valid, or names an invalid
//     user id; 403 when it is for another audience. Nothing is stored unless it answers 200.
//   - $disconnect removes the connection (already gone is fine) and answers 200.
//   - $default (as would any other route key) answers 200 with one connections.Event as the
//     body: the snapshot for a status request, an error event for anything else, a status
//     request on a connection served one less than SnapshotInterval ago included (the status
//     table is not read for it). API Gateway sends that body to the client through $default's
//     route response.
//
// It returns an error (API Gateway: 500, "Internal server error" to a client message, and an
// Errors metric) only when a dependency failed: storing or deleting the connection, reading the
// status.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	log := h.Log.With("route", rc.RouteKey, "connectionId", rc.ConnectionID)
	switch rc.RouteKey {
	case "$connect":
		return h.connect(ctx, log, req)
	case "$disconnect":
		if err := h.disconnect(ctx, log, rc.ConnectionID); err != nil {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, err
		}
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	ev, err := h.message(ctx, log, rc.ConnectionID, req.Body)
	if err == nil {
		var body []byte
		if body, err = ev.Encode(); err == nil {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: string(body)}, nil
		}
		err = fmt.Errorf("wsconnect: %w", err)
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, err
}

func (h *Handler) connect(ctx context.Context, log *slog.Logger, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	// The token comes in the query string: browsers cannot set headers on a WebSocket upgrade.
	claims, err := wstoken.Verify(h.Secret, req.QueryStringParameters["token"], h.Audience, now())
	// The message contract's id rule: no '#', so an id can never reach into another user's
	// status key.
	if err == nil && !message.ValidID(claims.Subject) {
		err = fmt.Errorf("%w: subject is not a valid user id", wstoken.ErrMalformed)
	}
	switch {
	case errors.Is(err, wstoken.ErrWeakSecret):
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, fmt.Errorf("wsconnect: connect: %w", err)
	case errors.Is(err, wstoken.ErrAudience):
		log.InfoContext(ctx, "connection refused", "reason", err.Error())
		return refuse(http.StatusForbidden), nil
	case err != nil:
		log.InfoContext(ctx, "connection refused", "reason", err.Error())
		return refuse(http.StatusUnauthorized), nil
	}
	ttl := h.TTL
	if ttl <= 0 {
		ttl = connections.DefaultTTL
	}
	if err := h.Connections.Put(ctx, claims.Subject, req.RequestContext.ConnectionID, ttl); err != nil {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, fmt.Errorf("wsconnect: connect: %w", err)
	}
	log.InfoContext(ctx, "connected", "userId", claims.Subject)
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

// refuse is the answer to a refused $connect; API Gateway sends it as the upgrade's HTTP response.
func refuse(code int) events.APIGatewayProxyResponse {
	body, _ := json.Marshal(map[string]string{"message": http.StatusText(code)})
	return events.APIGatewayProxyResponse{StatusCode: code, Body: string(body), Headers: map[string]string{"Content-Type": "application/json"}}
}

func (h *Handler) disconnect(ctx context.Context, log *slog.Logger, connectionID string) error {
	user, err := h.Connections.UserOf(ctx, connectionID)
	if errors.Is(err, connections.ErrNotFound) {
		return nil // never stored, expired, or deleted after a 410
	}
	if err != nil {
		return fmt.Errorf("wsconnect: disconnect: %w", err)
	}
	if err := h.Connections.Delete(ctx, user, connectionID); err != nil {
		return fmt.Errorf("wsconnect: disconnect: %w", err)
	}
	log.InfoContext(ctx, "disconnected", "userId", user)
	return nil
}

// statusRequest is a client message.
type statusRequest struct {
	Action   string `json:"action"`
	ConfigID string `json:"configId"`
}

// message is the answer to a client message: the snapshot for a status request, an error event
// for anything else.
func (h *Handler) message(ctx context.Context, log *slog.Logger, connectionID, body string) (connections.Event, error) {
	var req statusRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil || req.Action != ActionStatus {
		return connections.Event{Type: connections.EventError, Message: `unknown request; send {"action":"status","configId":"…"}`}, nil
	}
	if req.ConfigID == "" {
		req.ConfigID = DefaultConfigID
	}
	if !message.ValidID(req.ConfigID) {
		return connections.Event{Type: connections.EventError, Message: "invalid configId: " + message.IDRule}, nil
	}
	user, err := h.Connections.UserOf(ctx, connectionID)
	if errors.Is(err, connections.ErrNotFound) {
		// Not (yet) visible in the index, or deleted: the client may ask again.
		return connections.Event{Type: connections.EventError, Message: "connection not registered; ask again"}, nil
	}
	if err != nil {
		return connections.Event{}, fmt.Errorf("wsconnect: status: %w", err)
	}
	interval := h.SnapshotInterval
	if interval <= 0 {
		interval = DefaultSnapshotInterval
	}
	err = h.Connections.ClaimSnapshot(ctx, user, connectionID, interval)
	switch {
	case errors.Is(err, connections.ErrTooSoon):
		log.InfoContext(ctx, "snapshot refused: asked again too soon", "userId", user)
		return connections.Event{Type: connections.EventError, Message: fmt.Sprintf("too many status requests on this connection; ask again in %s", interval)}, nil
	case errors.Is(err, connections.ErrNotFound):
		return connections.Event{Type: connections.EventError, Message: "connection not registered; ask again"}, nil
	case err != nil:
		return connections.Event{}, fmt.Errorf("wsconnect: status: %w", err)
	}
	rec, err := h.Status.Get(ctx, user, req.ConfigID)
	switch {
	case errors.Is(err, status.ErrNotFound):
		return connections.Event{Type: connections.EventNone, ConfigID: req.ConfigID}, nil
	case err != nil:
		return connections.Event{}, fmt.Errorf("wsconnect: status: %w", err)
	}
	log.DebugContext(ctx, "snapshot answered", "userId", user, "configId", req.ConfigID, "version", rec.Version)
	return connections.StatusEvent(rec), nil
}
