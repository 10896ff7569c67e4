package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
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
	"github.com/byod-deployer/byod-deployer/shared/wstoken"
)

func TestMain(m *testing.M) { connectionstest.Main(m) }

const aud = "byod-status"

var secret = []byte("wsconnect-test-secret-0123456789") // the key testdata/connect.json's token is signed with

// fixture is the handler on real tables in DynamoDB Local, serving every route of a gateway
// whose $default route has a route response, as the stack configures it. The management client
// is the test's own (Quiet, DeleteConnection); the handler has none.
type fixture struct {
	conns    *connections.Store
	statuses *status.Store
	gw       *wsgateway.Gateway
	api      *apigatewaymanagementapi.Client
}

func newHandler(t testing.TB) (*Handler, *connections.Store, *status.Store) {
	t.Helper()
	conns := connectionstest.Store(t)
	statuses := &status.Store{DB: connectionstest.DynamoDB(t), Table: connectionstest.TableName("status")}
	if _, err := status.CreateTable(context.Background(), connectionstest.DynamoDB(t), statuses.Table); err != nil {
		t.Fatal(err)
	}
	h := &Handler{
		Secret: secret, Audience: aud, Connections: conns, Status: statuses,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	return h, conns, statuses
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	h, conns, statuses := newHandler(t)
	// The tests on the gateway ask for several snapshots on one connection at once; the window is
	// TestSnapshotWindow's. (1 ns: the stored time has millisecond resolution, so every ask passes.)
	h.SnapshotInterval = time.Nanosecond
	route := lambda.NewHandler(h.Handle)
	gw := wsgatewaytest.Start(t, wsgateway.Options{
		Routes: map[string]lambda.Handler{
			wsgateway.RouteConnect: route, wsgateway.RouteDisconnect: route, wsgateway.RouteDefault: route,
		},
		RouteResponses: []string{wsgateway.RouteDefault},
	})
	return &fixture{conns: conns, statuses: statuses, gw: gw, api: wsgatewaytest.Management(gw)}
}

func token(t testing.TB, key []byte, user, audience string, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := wstoken.Sign(key, user, audience, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// stored lists the connection ids stored for user.
func (f *fixture) stored(t testing.TB, user string) []string {
	t.Helper()
	conns, err := f.conns.ListByUser(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, c := range conns {
		ids = append(ids, c.ConnectionID)
	}
	return ids
}

// connect opens a WebSocket for user with a valid token and returns it with its connection id.
func (f *fixture) connect(t testing.TB, user string) (*wsgatewaytest.Client, string) {
	t.Helper()
	before := f.gw.ConnectionIDs()
	c := wsgatewaytest.Dial(t, f.gw.URL()+"?token="+token(t, secret, user, aud, time.Hour, time.Now()))
	for _, id := range f.gw.ConnectionIDs() {
		if !slices.Contains(before, id) {
			return c, id
		}
	}
	t.Fatal("no new connection in the gateway")
	return nil, ""
}

func TestConnect(t *testing.T) {
	now := time.Now()
	valid := token(t, secret, "user-a", aud, time.Hour, now)
	payload, mac, _ := strings.Cut(valid, ".")
	tests := []struct {
		name   string
		query  string
		status int
	}{
		{name: "valid token", query: "?token=" + valid, status: http.StatusSwitchingProtocols},
		{name: "no token", query: "", status: http.StatusUnauthorized},
		{name: "empty token", query: "?token=", status: http.StatusUnauthorized},
		{name: "token in another parameter", query: "?auth=" + valid, status: http.StatusUnauthorized},
		{name: "signed with another secret", query: "?token=" + token(t, bytes.Repeat([]byte("x"), 32), "user-a", aud, time.Hour, now), status: http.StatusUnauthorized},
		{name: "payload of another user with this signature", query: "?token=" + strings.SplitN(token(t, secret, "user-b", aud, time.Hour, now), ".", 2)[0] + "." + mac, status: http.StatusUnauthorized},
		{name: "signature cut off", query: "?token=" + payload, status: http.StatusUnauthorized},
		{name: "expired", query: "?token=" + token(t, secret, "user-a", aud, time.Hour, now.Add(-2*time.Hour)), status: http.StatusUnauthorized},
		{name: "not yet valid", query: "?token=" + token(t, secret, "user-a", aud, time.Hour, now.Add(time.Hour)), status: http.StatusUnauthorized},
		{name: "for another audience", query: "?token=" + token(t, secret, "user-a", "other-api", time.Hour, now), status: http.StatusForbidden},
		{name: "user id that could reach another key", query: "?token=" + token(t, secret, "user-a#x", aud, time.Hour, now), status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c, resp, err := wsgatewaytest.DialResult(t, f.gw.URL()+tt.query)
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("upgrade: response %v, error %v; want HTTP %d", resp, err, tt.status)
			}
			open := f.gw.ConnectionIDs()
			stored := f.stored(t, "user-a")
			if tt.status != http.StatusSwitchingProtocols {
				if len(open) != 0 || len(stored) != 0 || len(f.stored(t, "user-a#x")) != 0 {
					t.Errorf("refused connect left gateway connections %v, stored %v", open, stored)
				}
				return
			}
			if len(open) != 1 || !slices.Equal(stored, open) {
				t.Fatalf("gateway connections %v, stored for user-a %v; want the same one", open, stored)
			}
			conns, _ := f.conns.ListByUser(context.Background(), "user-a")
			if exp := time.Unix(conns[0].ExpiresAt, 0); exp.Before(now.Add(connections.DefaultTTL-time.Minute)) || exp.After(time.Now().Add(connections.DefaultTTL)) {
				t.Errorf("expiresAt %v, want about now + 2 h", exp)
			}
			c.Quiet(t, f.api, open[0])
		})
	}
}

func TestDisconnect(t *testing.T) {
	tests := []struct {
		name  string
		close func(t *testing.T, f *fixture, c *wsgatewaytest.Client, id string)
	}{
		{name: "client closes", close: func(t *testing.T, _ *fixture, c *wsgatewaytest.Client, _ string) {
			c.Close(1000, "bye")
		}},
		{name: "server deletes the connection", close: func(t *testing.T, f *fixture, c *wsgatewaytest.Client, id string) {
			if _, err := f.api.DeleteConnection(context.Background(), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id}); err != nil {
				t.Fatal(err)
			}
			c.Closed(t)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c, id := f.connect(t, "user-a")
			_, other := f.connect(t, "user-a")
			tt.close(t, f, c, id)
			// $disconnect runs after the close; wait for its effect.
			wsgatewaytest.Eventually(t, func() bool { return slices.Equal(f.stored(t, "user-a"), []string{other}) })
		})
	}
}

func enqueue(t testing.TB, s *status.Store, user, config string) status.Record {
	t.Helper()
	if _, err := s.Enqueue(context.Background(), status.Ref{UserID: user, ConfigID: config, RequestID: "req-" + user + "-" + config}, status.Request{Type: "deploy"}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(context.Background(), user, config)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func decode(t testing.TB, data []byte) connections.Event {
	t.Helper()
	var ev connections.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("event %s: %v", data, err)
	}
	return ev
}

func TestStatusSnapshot(t *testing.T) {
	f := newFixture(t)
	a := enqueue(t, f.statuses, "user-a", "default")
	enqueue(t, f.statuses, "user-a", "work")
	enqueue(t, f.statuses, "user-b", "default")
	enqueue(t, f.statuses, "user-b", "private")
	ca, idA := f.connect(t, "user-a")
	cb, idB := f.connect(t, "user-b")

	tests := []struct {
		name       string
		client     *wsgatewaytest.Client
		send       string
		wantType   string
		wantUser   string
		wantConfig string
	}{
		{name: "default config", client: ca, send: `{"action":"status"}`, wantType: connections.EventStatus, wantUser: "user-a", wantConfig: "default"},
		{name: "named config", client: ca, send: `{"action":"status","configId":"work"}`, wantType: connections.EventStatus, wantUser: "user-a", wantConfig: "work"},
		{name: "the other user's own record", client: cb, send: `{"action":"status"}`, wantType: connections.EventStatus, wantUser: "user-b", wantConfig: "default"},
		{name: "a config only the other user has", client: ca, send: `{"action":"status","configId":"private"}`, wantType: connections.EventNone, wantConfig: "private"},
		{name: "config id reaching into another key", client: ca, send: `{"action":"status","configId":"x#CURRENT"}`, wantType: connections.EventError},
		{name: "unknown action", client: ca, send: `{"action":"deploy"}`, wantType: connections.EventError},
		{name: "not JSON", client: ca, send: `status please`, wantType: connections.EventError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.client.Send(t, tt.send)
			ev := decode(t, tt.client.Next(t))
			if ev.Type != tt.wantType {
				t.Fatalf("event type %q (%+v), want %q", ev.Type, ev, tt.wantType)
			}
			switch tt.wantType {
			case connections.EventStatus:
				if ev.Record.UserID != tt.wantUser || ev.Record.ConfigID != tt.wantConfig || ev.Record.DeploymentStatus != status.Queued {
					t.Errorf("record = %+v, want %s/%s queued", ev.Record, tt.wantUser, tt.wantConfig)
				}
			case connections.EventNone:
				if ev.ConfigID != tt.wantConfig || ev.Record != nil {
					t.Errorf("none event = %+v, want config %s and no record", ev, tt.wantConfig)
				}
			case connections.EventError:
				if ev.Message == "" || ev.Record != nil {
					t.Errorf("error event = %+v", ev)
				}
			}
		})
	}
	t.Run("snapshot equals the stored record", func(t *testing.T) {
		ca.Send(t, `{"action":"status","configId":"default"}`)
		got := decode(t, ca.Next(t)).Record
		if got == nil || *got != a {
			t.Errorf("snapshot %+v, want the stored %+v", got, a)
		}
	})
	t.Run("nobody got anything else", func(t *testing.T) {
		ca.Quiet(t, f.api, idA)
		cb.Quiet(t, f.api, idB)
	})
}

// TestTestdataEvents sends API Gateway's own event shapes (testdata/) through the Lambda boundary.
func TestTestdataEvents(t *testing.T) {
	h, conns, statuses := newHandler(t)
	h.Now = func() time.Time { return time.Unix(1764095400+10, 0) } // while testdata's token is valid
	enqueue(t, statuses, "user-a", "default")
	const id = "CN3kZdMsoAMCJ0g="
	invoke := func(t *testing.T, file string) events.APIGatewayProxyResponse {
		t.Helper()
		payload, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload)
		if err != nil {
			t.Fatalf("Invoke %s: %v", file, err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	steps := []struct {
		name  string
		file  string
		check func(t *testing.T, resp events.APIGatewayProxyResponse)
	}{
		{name: "connect stores user-a's connection", file: "connect.json", check: func(t *testing.T, _ events.APIGatewayProxyResponse) {
			if user, err := conns.UserOf(context.Background(), id); err != nil || user != "user-a" {
				t.Errorf("UserOf = %q, %v; want user-a", user, err)
			}
		}},
		{name: "status request answers the snapshot as the response body", file: "status-message.json", check: func(t *testing.T, resp events.APIGatewayProxyResponse) {
			if ev := decode(t, []byte(resp.Body)); ev.Type != connections.EventStatus || ev.Record == nil || ev.Record.UserID != "user-a" || ev.Record.ConfigID != "default" {
				t.Errorf("body %s, want user-a's default status event", resp.Body)
			}
		}},
		{name: "disconnect removes it", file: "disconnect.json", check: func(t *testing.T, _ events.APIGatewayProxyResponse) {
			if _, err := conns.UserOf(context.Background(), id); !errors.Is(err, connections.ErrNotFound) {
				t.Errorf("UserOf after disconnect: %v, want ErrNotFound", err)
			}
		}},
		{name: "a second disconnect is fine", file: "disconnect.json", check: func(*testing.T, events.APIGatewayProxyResponse) {}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			resp := invoke(t, s.file)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("statusCode %d, want 200", resp.StatusCode)
			}
			s.check(t, resp)
		})
	}
	t.Run("status request of a connection no longer stored answers ask again", func(t *testing.T) {
		resp := invoke(t, "status-message.json")
		if ev := decode(t, []byte(resp.Body)); resp.StatusCode != http.StatusOK || ev.Type != connections.EventError || ev.Message == "" {
			t.Errorf("statusCode %d body %s, want 200 with an error event", resp.StatusCode, resp.Body)
		}
	})
	t.Run("the same connect after the token expired is refused", func(t *testing.T) {
		h.Now = func() time.Time { return time.Unix(1764099000, 0) }
		resp := invoke(t, "connect.json")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("statusCode %d, want 401", resp.StatusCode)
		}
		if _, err := conns.UserOf(context.Background(), id); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("refused connect stored the connection: %v", err)
		}
	})
}

// A failed dependency is an error (API Gateway: "Internal server error" to the client and an
// Errors metric), not an answer.
func TestStatusReadFailureIsAnError(t *testing.T) {
	h, conns, _ := newHandler(t)
	h.Status = &status.Store{DB: connectionstest.DynamoDB(t), Table: connectionstest.TableName("missing")}
	const id = "CN3kZdMsoAMCJ0g=" // testdata's connection
	if err := conns.Put(context.Background(), "user-a", id, time.Hour); err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile("testdata/status-message.json")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload); err == nil {
		t.Errorf("Invoke = %s, nil; want the status table's error", out)
	}
}

// A status request on a connection served a snapshot less than the interval ago is refused with an
// error event, without reading the status table, whichever way it arrives; another connection is
// served.
func TestSnapshotWindow(t *testing.T) {
	h, conns, statuses := newHandler(t)
	now := time.Now()
	conns.Now = func() time.Time { return now } // stopped: every ask is inside the window
	enqueue(t, statuses, "user-a", "default")
	for _, id := range []string{"conn-1", "conn-2"} {
		if err := conns.Put(context.Background(), "user-a", id, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	ask := func(id string) connections.Event {
		resp, err := h.Handle(context.Background(), events.APIGatewayWebsocketProxyRequest{
			Body: `{"action":"status"}`, RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: "$default", ConnectionID: id},
		})
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("Handle = %d, %v", resp.StatusCode, err)
		}
		return decode(t, []byte(resp.Body))
	}
	if ev := ask("conn-1"); ev.Type != connections.EventStatus {
		t.Fatalf("first ask: %+v, want the snapshot", ev)
	}
	for range 3 {
		if ev := ask("conn-1"); ev.Type != connections.EventError || !strings.Contains(ev.Message, "too many status requests") {
			t.Fatalf("ask again within the window: %+v, want a too-many error event", ev)
		}
	}
	if ev := ask("conn-2"); ev.Type != connections.EventStatus {
		t.Errorf("another connection: %+v, want the snapshot", ev)
	}
	now = now.Add(DefaultSnapshotInterval)
	if ev := ask("conn-1"); ev.Type != connections.EventStatus {
		t.Errorf("after the window: %+v, want the snapshot", ev)
	}
}
