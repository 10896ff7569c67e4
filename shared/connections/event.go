package connections

import (
	"encoding/json"
	"fmt"

	"github.com/byod-deployer/byod-deployer/shared/status"
)

// Event types a client receives on its status WebSocket (docs/websocket.md).
const (
	// EventStatus carries a status record: every change (notifier) and every snapshot (wsconnect).
	EventStatus = "status"
	// EventNone answers a snapshot request for a config that has no deployment yet.
	EventNone = "none"
	// EventError answers a client message the server could not serve.
	EventError = "error"
)

// Event is one message sent to a client. Clients order status events by Record.Version and drop
// any with a version they have already seen: delivery is at least once and, across configs and
// retries, not ordered.
type Event struct {
	Type     string         `json:"type"`
	Record   *status.Record `json:"record,omitempty"`
	ConfigID string         `json:"configId,omitempty"`
	Message  string         `json:"message,omitempty"`
}

// StatusEvent is the wire form of a status record.
func StatusEvent(rec status.Record) Event { return Event{Type: EventStatus, Record: &rec} }

// Encode returns the event's JSON. It fails only if the record cannot be encoded, which its
// plain field types rule out; the error is returned rather than assumed away.
func (e Event) Encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("connections: encode %s event: %w", e.Type, err)
	}
	return b, nil
}
