package wsgateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/byod-deployer/byod-deployer/shared/local/wsgateway"
	"github.com/byod-deployer/byod-deployer/shared/local/wsgateway/wsgatewaytest"
)

// wait bounds every wait for an event in these tests; it is a deadline, not an expectation.
const wait = wsgatewaytest.Wait

// recorder is a set of routes that report every event they receive on channels.
type recorder struct {
	connects    chan events.APIGatewayWebsocketProxyRequest
	disconnects chan events.APIGatewayWebsocketProxyRequest
	messages    chan events.APIGatewayWebsocketProxyRequest
}

func newRecorder() *recorder {
	return &recorder{
		connects:    make(chan events.APIGatewayWebsocketProxyRequest, 16),
		disconnects: make(chan events.APIGatewayWebsocketProxyRequest, 16),
		messages:    make(chan events.APIGatewayWebsocketProxyRequest, 16),
	}
}

// routes answers `$connect` with the status in the `want` query parameter (default 200).
func (r *recorder) routes() map[string]lambda.Handler {
	return map[string]lambda.Handler{
		wsgateway.RouteConnect: lambda.NewHandler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			r.connects <- ev
			switch ev.QueryStringParameters["want"] {
			case "401":
				return events.APIGatewayProxyResponse{StatusCode: 401, Body: `{"message":"Unauthorized"}`}, nil
			case "error":
				return events.APIGatewayProxyResponse{}, errors.New("handler failed")
			case "nostatus":
				return events.APIGatewayProxyResponse{}, nil
			}
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}),
		wsgateway.RouteDisconnect: lambda.NewHandler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			r.disconnects <- ev
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}),
		"echo": lambda.NewHandler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			r.messages <- ev
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "echo:" + ev.Body}, nil
		}),
		"fail": lambda.NewHandler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			r.messages <- ev
			return events.APIGatewayProxyResponse{}, errors.New("boom")
		}),
		"empty": lambda.NewHandler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			r.messages <- ev
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}),
		"refuse": lambda.NewHandler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			r.messages <- ev
			return events.APIGatewayProxyResponse{StatusCode: 500, Body: `{"refused":true}`}, nil
		}),
	}
}

// dial connects a client and returns it with the connection id `$connect` saw.
func dial(t testing.TB, g *wsgateway.Gateway, rec *recorder) (*wsgatewaytest.Client, string) {
	t.Helper()
	c := wsgatewaytest.Dial(t, g.URL()+"?token=secret-token")
	return c, receive(t, rec.connects).RequestContext.ConnectionID
}

func receive[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("nothing received within %v", wait)
		panic("unreachable")
	}
}

// disconnectOf waits for the `$disconnect` of connection id, skipping those of other connections
// (earlier subtests' clients close when their subtest ends).
func disconnectOf(t testing.TB, rec *recorder, id string) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	for {
		if ev := receive(t, rec.disconnects); ev.RequestContext.ConnectionID == id {
			return ev
		}
	}
}

func read(t testing.TB, c *wsgatewaytest.Client) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return typ, string(data)
}

func isGone(err error) bool {
	var gone *types.GoneException
	return errors.As(err, &gone)
}

// TestManagementAPI drives the gateway with the real SDK management client.
func TestManagementAPI(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	g := wsgatewaytest.Start(t, wsgateway.Options{Routes: rec.routes()})
	api := wsgatewaytest.Management(g)

	t.Run("post delivers to the client", func(t *testing.T) {
		c, id := dial(t, g, rec)
		if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(`{"type":"status"}`)}); err != nil {
			t.Fatalf("PostToConnection: %v", err)
		}
		if typ, got := read(t, c); typ != websocket.MessageText || got != `{"type":"status"}` {
			t.Errorf("client got %v %q", typ, got)
		}
		bin := []byte{0xff, 0x00, 0xfe}
		if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: bin}); err != nil {
			t.Fatalf("PostToConnection binary: %v", err)
		}
		if typ, got := read(t, c); typ != websocket.MessageBinary || got != string(bin) {
			t.Errorf("client got %v %q, want binary %q", typ, got, bin)
		}
	})
	t.Run("get on a live connection", func(t *testing.T) {
		_, id := dial(t, g, rec)
		out, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
		if err != nil {
			t.Fatalf("GetConnection: %v", err)
		}
		if out.ConnectedAt == nil || out.LastActiveAt == nil || out.Identity == nil ||
			aws.ToString(out.Identity.SourceIp) != "127.0.0.1" || aws.ToString(out.Identity.UserAgent) == "" {
			t.Errorf("GetConnection = %+v / identity %+v", out, out.Identity)
		}
		if out.LastActiveAt.Before(*out.ConnectedAt) || time.Since(*out.ConnectedAt) > time.Hour {
			t.Errorf("connectedAt %v, lastActiveAt %v", out.ConnectedAt, out.LastActiveAt)
		}
	})
	t.Run("unknown connection is a typed GoneException", func(t *testing.T) {
		unknown := "AAAAAAAAAAAAAAA="
		calls := []struct {
			name string
			call func() error
		}{
			{"post", func() error {
				_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &unknown, Data: []byte("x")})
				return err
			}},
			{"get", func() error {
				_, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &unknown})
				return err
			}},
			{"delete", func() error {
				_, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &unknown})
				return err
			}},
		}
		for _, c := range calls {
			if err := c.call(); !isGone(err) {
				t.Errorf("%s unknown: err = %v, want *types.GoneException", c.name, err)
			}
		}
	})
	t.Run("delete closes the socket and runs $disconnect", func(t *testing.T) {
		c, id := dial(t, g, rec)
		if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id}); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
		if code := c.Closed(t); code != websocket.StatusNormalClosure {
			t.Errorf("close status = %v, want 1000", code)
		}
		if ev := disconnectOf(t, rec, id); ev.RequestContext.EventType != "DISCONNECT" || ev.RequestContext.DisconnectStatusCode != int64(websocket.StatusNormalClosure) {
			t.Errorf("$disconnect event = %+v", ev.RequestContext)
		}
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
		if !isGone(err) {
			t.Errorf("post after delete: err = %v, want GoneException", err)
		}
	})
	t.Run("post after the client closed is Gone", func(t *testing.T) {
		c, id := dial(t, g, rec)
		c.Close(websocket.StatusNormalClosure, "bye")
		if ev := disconnectOf(t, rec, id); ev.RequestContext.DisconnectStatusCode != int64(websocket.StatusNormalClosure) {
			t.Errorf("$disconnect = %+v, want code 1000", ev.RequestContext)
		}
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
		if !isGone(err) {
			t.Errorf("post after client close: err = %v, want GoneException", err)
		}
	})
	t.Run("posted data over 128 KiB is PayloadTooLarge", func(t *testing.T) {
		c, id := dial(t, g, rec)
		big := bytes.Repeat([]byte("a"), wsgateway.DefaultMaxPayload+1)
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: big})
		var tooLarge *types.PayloadTooLargeException
		if !errors.As(err, &tooLarge) {
			t.Fatalf("post 128 KiB + 1: err = %v, want PayloadTooLargeException", err)
		}
		exact := big[:wsgateway.DefaultMaxPayload]
		if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: exact}); err != nil {
			t.Fatalf("post exactly 128 KiB: %v", err)
		}
		if got := c.Next(t); len(got) != len(exact) {
			t.Errorf("client got %d bytes, want %d", len(got), len(exact))
		}
	})
}

func TestConnect(t *testing.T) {
	rec := newRecorder()
	g := wsgatewaytest.Start(t, wsgateway.Options{Routes: rec.routes(), Stage: "dev"})
	tests := []struct {
		name   string
		query  string
		status int
	}{
		{name: "accepted", query: "token=abc&want=200", status: http.StatusSwitchingProtocols},
		{name: "refused by the handler", query: "token=abc&want=401", status: http.StatusUnauthorized},
		{name: "handler error", query: "want=error", status: http.StatusInternalServerError},
		{name: "response without statusCode", query: "want=nostatus", status: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, g.URL()+"?"+tt.query, &websocket.DialOptions{
				HTTPHeader: http.Header{"X-Probe": {"1"}, "User-Agent": {"probe/1"}},
			})
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("upgrade response = %v (err %v), want HTTP %d", resp, err, tt.status)
			}
			ev := receive(t, rec.connects)
			rc := ev.RequestContext
			if rc.RouteKey != "$connect" || rc.EventType != "CONNECT" || rc.Stage != "dev" || rc.MessageDirection != "IN" ||
				rc.RequestID == "" || rc.ConnectedAt == 0 || rc.Identity.SourceIP != "127.0.0.1" || rc.Identity.UserAgent != "probe/1" {
				t.Errorf("$connect requestContext = %+v", rc)
			}
			if ev.Headers["X-Probe"] != "1" || ev.MultiValueHeaders["X-Probe"][0] != "1" {
				t.Errorf("$connect headers = %v", ev.Headers)
			}
			if !strings.Contains(tt.query, "token") != (ev.QueryStringParameters["token"] == "") {
				t.Errorf("$connect query = %v for %q", ev.QueryStringParameters, tt.query)
			}
			id := rc.ConnectionID
			if len(id) != 16 || strings.ContainsAny(id, "/+") {
				t.Errorf("connection id %q: want 16 url-safe characters", id)
			}
			open := g.ConnectionIDs()
			if err != nil {
				if len(open) != 0 {
					t.Errorf("refused upgrade left connections %v", open)
				}
				return
			}
			defer c.CloseNow()
			if len(open) != 1 || open[0] != id {
				t.Errorf("open connections = %v, want [%s]", open, id)
			}
			c.Close(websocket.StatusNormalClosure, "")
			disconnectOf(t, rec, id)
		})
	}
	t.Run("invalid handshakes never reach $connect", func(t *testing.T) {
		handshakes := []struct {
			name   string
			header http.Header
			status int
		}{
			{"no upgrade", http.Header{}, http.StatusUpgradeRequired},
			{"upgrade without Connection", http.Header{"Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, http.StatusUpgradeRequired},
			{"old version", http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"8"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, http.StatusBadRequest},
			{"no key", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}}, http.StatusBadRequest},
		}
		for _, hs := range handshakes {
			req, _ := http.NewRequest(http.MethodGet, g.ManagementURL()+"?token=abc", nil)
			req.Header = hs.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != hs.status {
				t.Errorf("%s: HTTP %d, want %d", hs.name, resp.StatusCode, hs.status)
			}
		}
		if n := len(rec.connects); n != 0 {
			t.Errorf("$connect ran %d times for invalid handshakes", n)
		}
	})
	t.Run("other stage is forbidden", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, strings.TrimSuffix(g.URL(), "/dev")+"/prod", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("dial other stage: resp %v err %v, want 403", resp, err)
		}
	})
}

func TestMessages(t *testing.T) {
	rec := newRecorder()
	tests := []struct {
		name           string
		routeResponses []string
		withDefault    bool
		send           string
		wantRoute      string // "" = no route invoked
		wantReply      string // substring of the reply; "" = no reply expected
	}{
		{name: "action selects its route, one-way: the answer is dropped", send: `{"action":"echo","x":1}`, wantRoute: "echo"},
		{name: "route response sends the body back", routeResponses: []string{"echo"}, send: `{"action":"echo"}`, wantRoute: "echo", wantReply: `echo:{"action":"echo"}`},
		{name: "route response on $default answers what falls back to it", routeResponses: []string{wsgateway.RouteDefault}, withDefault: true, send: `{"action":"nope"}`, wantRoute: "$default", wantReply: `echo:{"action":"nope"}`},
		{name: "route response is per route", routeResponses: []string{wsgateway.RouteDefault}, withDefault: true, send: `{"action":"echo"}`, wantRoute: "echo"},
		{name: "route response with an empty body sends nothing", routeResponses: []string{"empty"}, send: `{"action":"empty"}`, wantRoute: "empty"},
		{name: "route response sends the body whatever the statusCode", routeResponses: []string{"refuse"}, send: `{"action":"refuse"}`, wantRoute: "refuse", wantReply: `{"refused":true}`},
		{name: "one-way route answering 5xx is an Internal server error", send: `{"action":"refuse"}`, wantRoute: "refuse", wantReply: `"message": "Internal server error"`},
		{name: "handler error on a two-way route is an Internal server error", routeResponses: []string{"fail"}, send: `{"action":"fail"}`, wantRoute: "fail", wantReply: `"message": "Internal server error"`},
		{name: "unknown action falls back to $default", withDefault: true, send: `{"action":"nope"}`, wantRoute: "$default"},
		{name: "non-JSON body goes to $default", withDefault: true, send: `hello`, wantRoute: "$default"},
		{name: "reserved action is not selectable", withDefault: true, send: `{"action":"$disconnect"}`, wantRoute: "$default"},
		{name: "no route and no $default is Forbidden", send: `{"action":"nope"}`, wantReply: `"message": "Forbidden"`},
		{name: "handler error answers Internal server error", send: `{"action":"fail"}`, wantRoute: "fail", wantReply: `"message": "Internal server error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := rec.routes()
			if tt.withDefault {
				routes[wsgateway.RouteDefault] = routes["echo"]
			}
			// Messages of one connection are handled in order, so what the sync route posts arrives
			// after any reply to the message before it.
			var api *apigatewaymanagementapi.Client
			routes["sync"] = lambda.NewHandler(func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
					ConnectionId: &ev.RequestContext.ConnectionID, Data: []byte("marker"),
				})
				return events.APIGatewayProxyResponse{StatusCode: 200}, err
			})
			g := wsgatewaytest.Start(t, wsgateway.Options{Routes: routes, RouteResponses: tt.routeResponses})
			api = wsgatewaytest.Management(g)
			c, id := dial(t, g, rec)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			for _, m := range []string{tt.send, `{"action":"sync"}`} {
				if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.wantRoute != "" {
				ev := receive(t, rec.messages)
				rc := ev.RequestContext
				if rc.RouteKey != tt.wantRoute || rc.EventType != "MESSAGE" || rc.ConnectionID != id || ev.Body != tt.send || ev.IsBase64Encoded {
					t.Errorf("message event: route %q type %q conn %q body %q", rc.RouteKey, rc.EventType, rc.ConnectionID, ev.Body)
				}
			}
			got := string(c.Next(t))
			if tt.wantReply == "" {
				if got != "marker" {
					t.Errorf("unexpected reply %q", got)
				}
				return
			}
			if !strings.Contains(got, tt.wantReply) {
				t.Errorf("reply = %q, want it to contain %q", got, tt.wantReply)
			}
			if got := string(c.Next(t)); got != "marker" {
				t.Errorf("after the reply got %q, want the marker", got)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name     string
		opts     wsgateway.Options
		send     int // bytes the client sends first; 0 = nothing
		wantCode websocket.StatusCode
	}{
		{name: "client message over the payload limit", opts: wsgateway.Options{MaxPayload: 1024}, send: 1025, wantCode: websocket.StatusMessageTooBig},
		{name: "idle timeout", opts: wsgateway.Options{IdleTimeout: 100 * time.Millisecond}, wantCode: websocket.StatusGoingAway},
		{name: "maximum connection duration", opts: wsgateway.Options{MaxLifetime: 100 * time.Millisecond}, wantCode: websocket.StatusGoingAway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			tt.opts.Routes = rec.routes()
			g := wsgatewaytest.Start(t, tt.opts)
			c, id := dial(t, g, rec)
			if tt.send > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				defer cancel()
				msg, _ := json.Marshal(map[string]string{"action": "echo", "pad": strings.Repeat("p", tt.send)})
				_ = c.Write(ctx, websocket.MessageText, msg)
			}
			if code := c.Closed(t); code != tt.wantCode {
				t.Errorf("close status = %v, want %v", code, tt.wantCode)
			}
			disconnectOf(t, rec, id)
		})
	}
}

func TestCloseDisconnectsEveryone(t *testing.T) {
	rec := newRecorder()
	g, err := wsgateway.Start(wsgateway.Options{Routes: rec.routes()})
	if err != nil {
		t.Fatal(err)
	}
	codes := make(chan websocket.StatusCode, 2)
	for range 2 {
		c, _ := dial(t, g, rec)
		// The clients read, so they answer the closing handshake as a browser would.
		go func() { codes <- c.Closed(t) }()
	}
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close returned, so both $disconnect routes have already run.
	if n := len(rec.disconnects); n != 2 {
		t.Errorf("$disconnect ran %d times before Close returned, want 2", n)
	}
	for range 2 {
		if code := receive(t, codes); code != websocket.StatusGoingAway {
			t.Errorf("close status = %v, want 1001", code)
		}
	}
	if ids := g.ConnectionIDs(); len(ids) != 0 {
		t.Errorf("connections after Close: %v", ids)
	}
}

// BenchmarkPostToConnection measures one PostToConnection through the real SDK client until the
// client has read the message.
func BenchmarkPostToConnection(b *testing.B) {
	rec := newRecorder()
	g := wsgatewaytest.Start(b, wsgateway.Options{Routes: rec.routes()})
	api := wsgatewaytest.Management(g)
	c, id := dial(b, g, rec)
	data := []byte(`{"type":"status","record":{"userId":"user-a","configId":"default","deploymentStatus":"deploying","version":4}}`)
	ctx := context.Background()
	for b.Loop() {
		if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: data}); err != nil {
			b.Fatal(err)
		}
		c.Next(b)
	}
}

// stoppedClock is a clock that moves only when told to.
type stoppedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stoppedClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stoppedClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Route throttling as API Gateway's route settings: each route its own bucket, shared by every
// client. With the clock stopped the burst is exact: a throttled $connect is answered 429 and
// never runs; a throttled message gets "Too Many Requests" and never reaches its route; one
// route's flood leaves the other's budget alone; time refills at the rate.
func TestThrottle(t *testing.T) {
	clock := &stoppedClock{t: time.Unix(1764000000, 0)}
	var mu sync.Mutex
	ran := map[string]int{}
	count := func(key string, body string) lambda.Handler {
		return lambda.NewHandler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			mu.Lock()
			ran[key]++
			mu.Unlock()
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: body}, nil
		})
	}
	gw := wsgatewaytest.Start(t, wsgateway.Options{
		Routes:         map[string]lambda.Handler{wsgateway.RouteConnect: count("$connect", ""), wsgateway.RouteDefault: count("$default", "ok")},
		RouteResponses: []string{wsgateway.RouteDefault},
		Throttle:       wsgateway.Throttle{RateLimit: 1, BurstLimit: 2},
		RouteThrottles: map[string]wsgateway.Throttle{wsgateway.RouteDefault: {RateLimit: 2, BurstLimit: 3}},
		Now:            clock.now,
	})
	a := wsgatewaytest.Dial(t, gw.URL())
	b := wsgatewaytest.Dial(t, gw.URL())
	_, resp, err := wsgatewaytest.DialResult(t, gw.URL())
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connect within the burst of 2: %v, %v; want 429", resp, err)
	}
	// $default has its own bucket of 3: a's flood of 4 spends it, and then b is throttled too.
	var got []string
	for range 4 {
		a.Send(t, "hello")
		got = append(got, string(a.Next(t)))
	}
	b.Send(t, "hello")
	got = append(got, string(b.Next(t)))
	for i, want := range []string{"ok", "ok", "ok", "Too Many Requests", "Too Many Requests"} {
		if !strings.Contains(got[i], want) {
			t.Errorf("message %d answered %q, want %q", i, got[i], want)
		}
	}
	mu.Lock()
	if ran["$connect"] != 2 || ran["$default"] != 3 {
		t.Errorf("routes ran %v, want $connect 2 and $default 3: throttled requests never reach a route", ran)
	}
	mu.Unlock()
	// One second refills 1 connect and 2 messages.
	clock.advance(time.Second)
	wsgatewaytest.Dial(t, gw.URL())
	for i, want := range []string{"ok", "ok", "Too Many Requests"} {
		b.Send(t, "hello")
		if got := string(b.Next(t)); !strings.Contains(got, want) {
			t.Errorf("after a second, message %d answered %q, want %q", i, got, want)
		}
	}
}
