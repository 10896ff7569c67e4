package status_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/byod-deployer/byod-deployer/shared/status"
)

func loadStreamEvent(t testing.TB) events.DynamoDBEvent {
	t.Helper()
	raw, err := os.ReadFile("testdata/stream-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("decode testdata/stream-event.json: %v", err)
	}
	if len(ev.Records) != 2 {
		t.Fatalf("testdata/stream-event.json: %d records, want 2", len(ev.Records))
	}
	return ev
}

func TestFromStreamImage(t *testing.T) {
	ev := loadStreamEvent(t)
	tests := []struct {
		name        string
		image       map[string]events.DynamoDBAttributeValue
		wantCurrent bool
		want        status.Record
		wantErr     error
	}{
		{
			name:        "current item",
			image:       ev.Records[0].Change.NewImage,
			wantCurrent: true,
			want: status.Record{
				UserID: "user-a", ConfigID: "default", DeploymentStatus: status.Deploying,
				DeploymentProgress: "Pushing schema and functions", Stage: "push", SchemaVersion: 3,
				LastSchemaDeploy: "2026-11-24T10:00:00.000Z", ConnectionStatus: status.ConnectionConnected,
				Attempt: 2, RequestID: "req-0002", UpdatedAt: "2026-11-25T18:30:00.123Z", Version: 17,
				LeaseOwner: "worker-1", LeaseExpiresAt: 1764095820000,
			},
		},
		{
			name:        "history item",
			image:       ev.Records[1].Change.NewImage,
			wantCurrent: false,
			want: status.Record{
				UserID: "user-a", ConfigID: "default", DeploymentStatus: status.Queued, RequestID: "req-0002",
			},
		},
		{
			name:    "no keys",
			image:   map[string]events.DynamoDBAttributeValue{"userId": events.NewStringAttribute("u")},
			wantErr: status.ErrNotStatusItem,
		},
		{
			name: "another table's item",
			image: map[string]events.DynamoDBAttributeValue{
				"pk": events.NewStringAttribute("user-a"), "sk": events.NewStringAttribute("conn-1"),
			},
			wantErr: status.ErrNotStatusItem,
		},
		{
			name: "version of the wrong type",
			image: map[string]events.DynamoDBAttributeValue{
				"pk": events.NewStringAttribute("CFG#u#c"), "sk": events.NewStringAttribute("CURRENT"),
				"version": events.NewStringAttribute("seventeen"),
			},
			wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, current, err := status.FromStreamImage(tt.image)
			switch {
			case tt.wantErr == errAny:
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("FromStreamImage: %v", err)
			}
			if current != tt.wantCurrent {
				t.Errorf("current = %v, want %v", current, tt.wantCurrent)
			}
			if got != tt.want {
				t.Errorf("record:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

// The browser's wire shape: exact field names, and no lease fields.
func TestRecordJSONShape(t *testing.T) {
	ev := loadStreamEvent(t)
	rec, _, err := status.FromStreamImage(ev.Records[0].Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"userId":"user-a","configId":"default","deploymentStatus":"deploying",` +
		`"deploymentProgress":"Pushing schema and functions","stage":"push","schemaVersion":3,` +
		`"lastSchemaDeploy":"2026-11-24T10:00:00.000Z","connectionStatus":"connected","attempt":2,` +
		`"requestId":"req-0002","updatedAt":"2026-11-25T18:30:00.123Z","version":17}`
	if string(raw) != want {
		t.Errorf("JSON:\n got %s\nwant %s", raw, want)
	}
	if strings.Contains(string(raw), "lease") {
		t.Errorf("lease fields leaked to the wire: %s", raw)
	}
}
