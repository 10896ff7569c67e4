package wsgateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/coder/websocket"
)

// Route keys API Gateway reserves.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// Defaults for Options, API Gateway's own limits.
const (
	DefaultStage       = "local"
	DefaultAPIID       = "local"
	DefaultMaxPayload  = 128 << 10
	DefaultIdleTimeout = 10 * time.Minute
	DefaultMaxLifetime = 2 * time.Hour
)

// disconnectTimeout bounds one `$disconnect` invocation (it runs after the client has gone, with
// no request to take a deadline from).
const disconnectTimeout = 30 * time.Second

// integrationTimeout is API Gateway's limit on one `$connect` or message route invocation.
const integrationTimeout = 29 * time.Second

// shutdownTimeout bounds how long Close waits for HTTP handlers in flight.
const shutdownTimeout = 5 * time.Second

// Options configures a Gateway. The zero value is usable: loopback, stage "local", no routes.
type Options struct {
	// Addr to listen on; default "127.0.0.1:0" (a free loopback port).
	Addr string
	// Stage is the first path segment; default DefaultStage.
	Stage string
	// APIID is reported as requestContext.apiId; default DefaultAPIID.
	APIID string
	// Routes maps a route key ("$connect", "$disconnect", "$default" or an action name) to the
	// Lambda handler invoked for it, e.g. lambda.NewHandler(h.Handle).
	Routes map[string]lambda.Handler
	// RouteResponses lists the message routes (route keys, e.g. "$default") that have a route
	// response: API Gateway's two-way communication, RouteResponseSelectionExpression `$default`
	// plus a `$default` route response. For them the integration's response body, when not empty,
	// is sent to the client as a message, whatever its statusCode. Every other route is one-way,
	// as on AWS: its response is dropped. `$connect` and `$disconnect` are not message routes.
	RouteResponses []string
	// MaxPayload, IdleTimeout and MaxLifetime default to API Gateway's limits.
	MaxPayload  int64
	IdleTimeout time.Duration
	MaxLifetime time.Duration
	// Logger receives connection events at debug level and failures at warn; default: discarded.
	Logger *slog.Logger
	// Throttle is the stage's default route throttle (DefaultRouteSettings) and RouteThrottles
	// each route's own (RouteSettings, by route key); every route with a limit has its own
	// bucket. A throttled `$connect` is answered 429 and never runs; a throttled message gets
	// `{"message": "Too Many Requests", …}` and never reaches its route. `$disconnect` is never
	// throttled here. Zero: no limit.
	Throttle       Throttle
	RouteThrottles map[string]Throttle
	// Now is the clock the throttles refill by; nil means time.Now. Tests stop it to make a
	// flood's outcome exact.
	Now func() time.Time
}

// Gateway is a running local WebSocket API. Its methods are safe for concurrent use.
type Gateway struct {
	opts Options
	ln   net.Listener
	srv  *http.Server
	mux  *http.ServeMux

	invokeMu  sync.Mutex // see invoke
	throttles *throttles

	mu     sync.Mutex
	conns  map[string]*conn
	closed bool
	wg     sync.WaitGroup // read loops, each ending with its $disconnect invocation
}

// conn is one live client connection.
type conn struct {
	id          string
	ws          *websocket.Conn
	connectedAt time.Time
	lastActive  atomic.Int64 // unix nanoseconds
	sourceIP    string
	userAgent   string
	headers     http.Header
	ready       chan struct{} // closed when the handshake is over; ws is nil if it failed
	idle        *time.Timer   // reset by every message either way
	lifetime    *time.Timer
	closeOnce   sync.Once
	closeCode   atomic.Int32 // the status the gateway closed with; 0 if the client closed
}

func (c *conn) stopTimers() {
	c.idle.Stop()
	c.lifetime.Stop()
}

// Start listens on opts.Addr and serves the gateway until Close.
// It returns an error only if the address cannot be listened on.
func Start(opts Options) (*Gateway, error) {
	g := New(opts)
	ln, err := net.Listen("tcp", g.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("wsgateway: listen %s: %w", g.opts.Addr, err)
	}
	g.ln = ln
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

// New returns a gateway that is not listening: serve it with ServeHTTP on a server of your own
// (URL and ManagementURL are then empty). Start is the usual way.
func New(opts Options) *Gateway {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Stage == "" {
		opts.Stage = DefaultStage
	}
	if opts.APIID == "" {
		opts.APIID = DefaultAPIID
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxLifetime <= 0 {
		opts.MaxLifetime = DefaultMaxLifetime
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{opts: opts, conns: map[string]*conn{}, mux: http.NewServeMux(), throttles: newThrottles(opts)}
	s := "/" + opts.Stage
	g.mux.HandleFunc("GET "+s, g.upgrade)
	g.mux.HandleFunc("POST "+s+"/@connections/{id}", g.post)
	g.mux.HandleFunc("GET "+s+"/@connections/{id}", g.get)
	g.mux.HandleFunc("DELETE "+s+"/@connections/{id}", g.delete)
	g.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
	})
	return g
}

// URL is the WebSocket endpoint clients dial, ws://127.0.0.1:PORT/{stage}.
func (g *Gateway) URL() string {
	if g.ln == nil {
		return ""
	}
	return "ws://" + g.ln.Addr().String() + "/" + g.opts.Stage
}

// ManagementURL is the `@connections` endpoint, http://127.0.0.1:PORT/{stage}: the
// WEBSOCKET_ENDPOINT of the functions and the BaseEndpoint of an apigatewaymanagementapi client.
func (g *Gateway) ManagementURL() string {
	if g.ln == nil {
		return ""
	}
	return "http://" + g.ln.Addr().String() + "/" + g.opts.Stage
}

// ConnectionIDs lists the open connections (order unspecified).
func (g *Gateway) ConnectionIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]string, 0, len(g.conns))
	for id := range g.conns {
		ids = append(ids, id)
	}
	return ids
}

// ServeHTTP serves the WebSocket endpoint and the management API.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// Close stops listening, closes every connection with 1001 Going Away and waits until every
// `$disconnect` route has returned. It is safe to call more than once; it returns the listener's
// close error, if any.
func (g *Gateway) Close() error {
	g.mu.Lock()
	already := g.closed
	g.closed = true
	g.mu.Unlock()
	var err error
	if !already && g.srv != nil {
		// Shutdown, not Close: http.Server.Close would also cut a connection whose upgrade has sent
		// its 101 but not yet finished hijacking. Handlers in flight are bounded (postTimeout, the
		// route's own limit); a stuck one is cut after shutdownTimeout.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if err = g.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			err = g.srv.Close()
		}
		cancel()
	}
	g.mu.Lock()
	open := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		open = append(open, c)
	}
	g.mu.Unlock()
	for _, c := range open {
		g.closeConn(c, websocket.StatusGoingAway, "Going away")
	}
	g.wg.Wait()
	return err
}

// upgrade runs `$connect` and, when it answers 2xx, completes the WebSocket handshake and serves
// the connection until it closes.
func (g *Gateway) upgrade(w http.ResponseWriter, r *http.Request) {
	if status, msg := checkHandshake(r); status != 0 {
		writeError(w, status, "BadRequestException", msg)
		return
	}
	if !g.throttles.allow(RouteConnect) {
		writeError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Too Many Requests")
		return
	}
	c := &conn{
		id:          newConnectionID(),
		connectedAt: time.Now(),
		sourceIP:    sourceIP(r),
		userAgent:   r.UserAgent(),
		headers:     r.Header.Clone(),
	}
	var protocols []string
	if route, ok := g.opts.Routes[RouteConnect]; ok {
		ctx, cancel := context.WithTimeout(r.Context(), integrationTimeout)
		resp, status := g.invoke(ctx, route, g.connectEvent(c, r))
		cancel()
		if status < 200 || status > 299 {
			g.opts.Logger.Debug("wsgateway: $connect refused", "connectionId", c.id, "status", status)
			body := resp.Body
			if body == "" {
				body = fmt.Sprintf(`{"message":%q}`, http.StatusText(status))
			}
			for k, v := range resp.Headers {
				w.Header().Set(k, v)
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return
		}
		// As on AWS, a subprotocol is agreed only when `$connect` answers with one.
		if p := resp.Headers["Sec-WebSocket-Protocol"]; p != "" {
			protocols = []string{p}
		}
	}
	// Registered before the handshake completes, so a client that got its 101 can be posted to at
	// once; management calls wait on c.ready.
	c.ready = make(chan struct{})
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "gateway closing")
		return
	}
	g.conns[c.id] = c
	g.wg.Add(1)
	g.mu.Unlock()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, Subprotocols: protocols})
	if err != nil {
		g.opts.Logger.Warn("wsgateway: accept failed", "connectionId", c.id, "error", err)
		g.forget(c.id)
		close(c.ready)
		// `$connect` accepted it, so `$disconnect` undoes what `$connect` stored.
		g.disconnect(c, websocket.StatusAbnormalClosure)
		g.wg.Done()
		return
	}
	ws.SetReadLimit(g.opts.MaxPayload)
	c.ws = ws
	c.lastActive.Store(time.Now().UnixNano())
	c.idle = time.AfterFunc(g.opts.IdleTimeout, func() { g.closeConn(c, websocket.StatusGoingAway, "Going away: idle timeout") })
	c.lifetime = time.AfterFunc(g.opts.MaxLifetime, func() { g.closeConn(c, websocket.StatusGoingAway, "Going away: connection duration exceeded") })
	close(c.ready)
	g.opts.Logger.Debug("wsgateway: connected", "connectionId", c.id)
	// The handler goroutine must return for the server to forget the hijacked connection; the
	// read loop lives on in its own goroutine, accounted for in g.wg.
	go g.serve(c)
}

// serve reads client messages until the connection closes, then runs `$disconnect`.
func (g *Gateway) serve(c *conn) {
	defer g.wg.Done()
	defer c.stopTimers()
	var err error
	for {
		var typ websocket.MessageType
		var data []byte
		typ, data, err = c.ws.Read(context.Background())
		if err != nil {
			break
		}
		g.touch(c)
		g.message(c, typ, data)
	}
	g.forget(c.id)
	_ = c.ws.CloseNow()
	code := websocket.CloseStatus(err)
	if sent := c.closeCode.Load(); sent != 0 {
		code = websocket.StatusCode(sent) // the gateway began the close; the read error may just be the cut
	}
	g.disconnect(c, code)
}

// disconnect runs the `$disconnect` route, if any, for a connection that ended with code.
func (g *Gateway) disconnect(c *conn, code websocket.StatusCode) {
	g.opts.Logger.Debug("wsgateway: disconnected", "connectionId", c.id, "code", int(code))
	if route, ok := g.opts.Routes[RouteDisconnect]; ok {
		ctx, cancel := context.WithTimeout(context.Background(), disconnectTimeout)
		defer cancel()
		g.invoke(ctx, route, g.disconnectEvent(c, code))
	}
}

// checkHandshake validates a WebSocket opening handshake (RFC 6455 4.2.1) before `$connect`
// runs, as API Gateway does: it returns 0 for a valid one, else the HTTP status and why.
func checkHandshake(r *http.Request) (int, string) {
	hasToken := func(header, token string) bool {
		for _, v := range r.Header.Values(header) {
			for _, t := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(t), token) {
					return true
				}
			}
		}
		return false
	}
	switch {
	case !hasToken("Connection", "upgrade") || !hasToken("Upgrade", "websocket"):
		return http.StatusUpgradeRequired, "WebSocket upgrade required"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusBadRequest, "unsupported Sec-WebSocket-Version (want 13)"
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return http.StatusBadRequest, "missing Sec-WebSocket-Key"
	}
	return 0, ""
}

// message routes one client message and, for a route with a route response, sends its answer
// back on the connection.
func (g *Gateway) message(c *conn, typ websocket.MessageType, data []byte) {
	ev := g.messageEvent(c, typ, data)
	key := routeKey(data)
	route, ok := g.opts.Routes[key]
	if !ok {
		key = RouteDefault
		route, ok = g.opts.Routes[key]
	}
	if !ok {
		g.reply(c, gatewayError("Forbidden", c.id, ev.RequestContext.RequestID))
		return
	}
	ev.RequestContext.RouteKey = key
	if !g.throttles.allow(key) {
		g.reply(c, gatewayError("Too Many Requests", c.id, ev.RequestContext.RequestID))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), integrationTimeout)
	defer cancel()
	resp, status := g.invoke(ctx, route, ev)
	twoWay := slices.Contains(g.opts.RouteResponses, key)
	switch {
	case resp.StatusCode == 0, status >= 500 && !twoWay:
		// The integration failed (handler error, no statusCode), or a one-way route answered 5xx.
		g.reply(c, gatewayError("Internal server error", c.id, ev.RequestContext.RequestID))
	case twoWay && resp.Body != "":
		// A proxy integration's body is the whole payload; there is no integration response.
		g.reply(c, []byte(resp.Body))
	}
}

func (g *Gateway) reply(c *conn, data []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, messageType(data), data); err != nil {
		g.opts.Logger.Debug("wsgateway: reply not delivered", "connectionId", c.id, "error", err)
	}
}

func gatewayError(msg, connectionID, requestID string) []byte {
	return fmt.Appendf(nil, `{"message": %q, "connectionId":%q, "requestId":%q}`, msg, connectionID, requestID)
}

// touch records activity and postpones the idle timeout.
func (g *Gateway) touch(c *conn) {
	c.lastActive.Store(time.Now().UnixNano())
	c.idle.Reset(g.opts.IdleTimeout)
}

// lookup returns the open connection with that id, or nil.
func (g *Gateway) lookup(id string) *conn {
	g.mu.Lock()
	c := g.conns[id]
	g.mu.Unlock()
	if c == nil {
		return nil
	}
	<-c.ready
	if c.ws == nil {
		return nil
	}
	return c
}

// forget removes the connection from the registry; later management calls get 410.
func (g *Gateway) forget(id string) *conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.conns[id]
	delete(g.conns, id)
	return c
}

// closeConn forgets the connection and starts the closing handshake once; the read loop then
// ends and runs `$disconnect`.
func (g *Gateway) closeConn(c *conn, code websocket.StatusCode, reason string) {
	g.forget(c.id)
	<-c.ready
	if c.ws == nil {
		return
	}
	// Not in g.wg: the read loop, which is, ends with the handshake this starts.
	c.closeOnce.Do(func() {
		c.closeCode.Store(int32(code))
		go func() { _ = c.ws.Close(code, reason) }()
	})
}

func newConnectionID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return base64.URLEncoding.EncodeToString(b)
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.URLEncoding.EncodeToString(b)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// errNoStatus marks a handler response without a statusCode.
var errNoStatus = errors.New("wsgateway: malformed Lambda proxy response: no statusCode")
