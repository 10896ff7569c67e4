package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/connections/connectionstest"
	"github.com/byod-deployer/byod-deployer/shared/local/wsgateway"
	"github.com/byod-deployer/byod-deployer/shared/local/wsgateway/wsgatewaytest"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

func TestMain(m *testing.M) { connectionstest.Main(m) }

// fixture is a gateway whose `$connect` stores the connection for the `user` query parameter (a
// stand-in for wsconnect, which is tested on its own), a connections table, and the real
// management client.
type fixture struct {
	store *connections.Store
	gw    *wsgateway.Gateway
	api   *apigatewaymanagementapi.Client
	ids   chan string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{store: connectionstest.Store(t), ids: make(chan string, 64)}
	connect := func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		id := ev.RequestContext.ConnectionID
		if err := f.store.Put(ctx, ev.QueryStringParameters["user"], id, 0); err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		f.ids <- id
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	f.gw = wsgatewaytest.Start(t, wsgateway.Options{Routes: map[string]lambda.Handler{wsgateway.RouteConnect: lambda.NewHandler(connect)}})
	f.api = wsgatewaytest.Management(f.gw)
	return f
}

// connect opens a WebSocket for user and returns it with its connection id.
func (f *fixture) connect(t testing.TB, user string) (*wsgatewaytest.Client, string) {
	t.Helper()
	c := wsgatewaytest.Dial(t, f.gw.URL()+"?user="+user)
	return c, <-f.ids
}

func (f *fixture) handler(poster Poster) *Handler {
	if poster == nil {
		poster = f.api
	}
	return &Handler{Connections: f.store, Poster: poster, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
}

func loadEvent(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/stream-event.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invoke runs the handler through its Lambda JSON boundary.
func invoke(t testing.TB, h *Handler, payload []byte) events.DynamoDBEventResponse {
	t.Helper()
	out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return resp
}

func failedIDs(resp events.DynamoDBEventResponse) []string {
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// wantStatus decodes a status event and checks who and which version it is for.
func wantStatus(t testing.TB, data []byte, user string, version int64, st status.State) {
	t.Helper()
	var ev connections.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("event %s: %v", data, err)
	}
	if ev.Type != connections.EventStatus || ev.Record == nil || ev.Record.UserID != user ||
		ev.Record.Version != version || ev.Record.DeploymentStatus != st {
		t.Fatalf("event = %s, want %s's status %s at version %d", data, user, st, version)
	}
	for _, secret := range []string{"ciphertext", "AQICAH", "lease", "worker-1"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("event %s carries %q: only Record's JSON fields may reach the browser", data, secret)
		}
	}
}

// TestHandle sends the stream batch in testdata through the Lambda boundary to real WebSockets.
func TestHandle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a1, a1ID := f.connect(t, "user-a")
	a2, a2ID := f.connect(t, "user-a")
	b1, b1ID := f.connect(t, "user-b")
	c1, c1ID := f.connect(t, "user-c")
	// Connections of user-a that went away without `$disconnect` (this gateway has no such
	// route): one whose client closed, one the gateway never had.
	a3, a3ID := f.connect(t, "user-a")
	a3.Close(1000, "bye")
	wsgatewaytest.Eventually(t, func() bool { return !slices.Contains(f.gw.ConnectionIDs(), a3ID) })
	const neverID = "R1kmxc2VNjMCFIA="
	if err := f.store.Put(ctx, "user-a", neverID, 0); err != nil {
		t.Fatal(err)
	}

	resp := invoke(t, f.handler(nil), loadEvent(t))
	if ids := failedIDs(resp); len(ids) != 0 {
		t.Fatalf("batch item failures %v, want none", ids)
	}

	tests := []struct {
		name    string
		client  *wsgatewaytest.Client
		id      string
		user    string
		version int64
		status  status.State
	}{
		{name: "user-a first connection", client: a1, id: a1ID, user: "user-a", version: 4, status: status.Deploying},
		{name: "user-a second connection", client: a2, id: a2ID, user: "user-a", version: 4, status: status.Deploying},
		{name: "user-b", client: b1, id: b1ID, user: "user-b", version: 1, status: status.Queued},
		{name: "user-c gets nothing", client: c1, id: c1ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.user != "" {
				wantStatus(t, tt.client.Next(t), tt.user, tt.version, tt.status)
			}
			// Nothing else: not the other user's event, not the history item, not the removal.
			tt.client.Quiet(t, f.api, tt.id)
		})
	}
	t.Run("the gone connections were deleted on their first 410", func(t *testing.T) {
		conns, err := f.store.ListByUser(ctx, "user-a")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range conns {
			got = append(got, c.ConnectionID)
		}
		want := []string{a1ID, a2ID}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("user-a's connections = %v, want %v", got, want)
		}
	})
}

// failingPoster fails posts to one connection with an error that is not Gone.
type failingPoster struct {
	Poster
	fail string
}

func (p failingPoster) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, opts ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	if *in.ConnectionId == p.fail {
		return nil, errors.New("throttled")
	}
	return p.Poster.PostToConnection(ctx, in, opts...)
}

func TestHandleFailures(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the handler to run, given the fixture and the connection ids of user-a
		// and user-b.
		setup func(t *testing.T, f *fixture, aID string) *Handler
		// payload edits the testdata batch; nil leaves it as it is.
		payload    func(t *testing.T, ev *events.DynamoDBEvent)
		wantFailed []string
		// bGetsEvent says whether user-b's client receives its record (102).
		bGetsEvent bool
	}{
		{
			name: "a failed post fails that record and stops the batch",
			setup: func(_ *testing.T, f *fixture, aID string) *Handler {
				return f.handler(failingPoster{Poster: f.api, fail: aID})
			},
			wantFailed: []string{"100"},
		},
		{
			name: "listing connections fails",
			setup: func(_ *testing.T, f *fixture, _ string) *Handler {
				h := f.handler(nil)
				h.Connections = &connections.Store{DB: f.store.DB, Table: "no-such-table"}
				return h
			},
			wantFailed: []string{"100"},
		},
		{
			name:  "an undecodable current image is skipped",
			setup: func(_ *testing.T, f *fixture, _ string) *Handler { return f.handler(nil) },
			payload: func(_ *testing.T, ev *events.DynamoDBEvent) {
				ev.Records[0].Change.NewImage["version"] = events.NewStringAttribute("four")
			},
			wantFailed: []string{},
			bGetsEvent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, aID := f.connect(t, "user-a")
			b, bID := f.connect(t, "user-b")
			h := tt.setup(t, f, aID)
			payload := loadEvent(t)
			if tt.payload != nil {
				var ev events.DynamoDBEvent
				if err := json.Unmarshal(payload, &ev); err != nil {
					t.Fatal(err)
				}
				tt.payload(t, &ev)
				payload, _ = json.Marshal(ev)
			}
			if got := failedIDs(invoke(t, h, payload)); !slices.Equal(got, tt.wantFailed) {
				t.Errorf("failed sequence numbers = %v, want %v", got, tt.wantFailed)
			}
			if tt.bGetsEvent {
				wantStatus(t, b.Next(t), "user-b", 1, status.Queued)
			}
			b.Quiet(t, f.api, bID)
		})
	}
}

// gatedPoster holds the first `limit` posts until that many are in flight, and records the most
// that ever were.
type gatedPoster struct {
	Poster
	limit int

	mu       sync.Mutex
	inFlight int
	max      int
	arrived  int
	open     chan struct{}
}

func (p *gatedPoster) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, opts ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	p.mu.Lock()
	p.inFlight++
	p.max = max(p.max, p.inFlight)
	p.arrived++
	if p.arrived == p.limit {
		close(p.open)
	}
	p.mu.Unlock()
	defer func() { p.mu.Lock(); p.inFlight--; p.mu.Unlock() }()
	select {
	case <-p.open:
	case <-time.After(wsgatewaytest.Wait):
		return nil, errors.New("fewer posts in flight than the bound")
	}
	return p.Poster.PostToConnection(ctx, in, opts...)
}

func TestFanOutIsConcurrentAndBounded(t *testing.T) {
	f := newFixture(t)
	var clients []*wsgatewaytest.Client
	for range 6 {
		c, _ := f.connect(t, "user-a")
		clients = append(clients, c)
	}
	p := &gatedPoster{Poster: f.api, limit: 3, open: make(chan struct{})}
	h := f.handler(p)
	h.Concurrency = 3
	// Only the first record, user-a's.
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(loadEvent(t), &ev); err != nil {
		t.Fatal(err)
	}
	ev.Records = ev.Records[:1]
	payload, _ := json.Marshal(ev)
	if got := failedIDs(invoke(t, h, payload)); len(got) != 0 {
		t.Fatalf("failures %v", got)
	}
	if p.max != 3 {
		t.Errorf("at most %d posts in flight, want exactly the bound 3", p.max)
	}
	for _, c := range clients {
		if got := c.Next(t); !strings.Contains(string(got), `"version":4`) {
			t.Errorf("client got %s", got)
		}
	}
}
