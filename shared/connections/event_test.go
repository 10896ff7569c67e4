package connections_test

import (
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// TestEventWireShape pins the JSON the browser receives (docs/websocket.md).
func TestEventWireShape(t *testing.T) {
	tests := []struct {
		name string
		ev   connections.Event
		want string
	}{
		{
			name: "status",
			ev: connections.StatusEvent(status.Record{
				UserID: "user-a", ConfigID: "default", DeploymentStatus: status.Deployed, Stage: "deployed",
				SchemaVersion: 3, LastSchemaDeploy: "2026-11-25T18:31:00.000Z", Version: 7,
				LeaseOwner: "worker-1", LeaseExpiresAt: 1764095820000, Ciphertext: "AQICAH-secret",
			}),
			want: `{"type":"status","record":{"userId":"user-a","configId":"default","deploymentStatus":"deployed","stage":"deployed","schemaVersion":3,"lastSchemaDeploy":"2026-11-25T18:31:00.000Z","version":7}}`,
		},
		{name: "none", ev: connections.Event{Type: connections.EventNone, ConfigID: "work"}, want: `{"type":"none","configId":"work"}`},
		{name: "error", ev: connections.Event{Type: connections.EventError, Message: "invalid configId"}, want: `{"type":"error","message":"invalid configId"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Encode =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
