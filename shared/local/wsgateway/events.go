package wsgateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/coder/websocket"
)

// requestTimeLayout is API Gateway's requestContext.requestTime format.
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// invoke calls route through its JSON boundary and returns the proxy response and the HTTP status
// it stands for: the response's statusCode, 500 when the handler failed, 502 when its answer is
// not a proxy response with a statusCode.
func (g *Gateway) invoke(ctx context.Context, route lambda.Handler, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, int) {
	var resp events.APIGatewayProxyResponse
	payload, err := json.Marshal(ev)
	if err != nil {
		g.opts.Logger.Warn("wsgateway: encode event", "route", ev.RequestContext.RouteKey, "error", err)
		return resp, http.StatusInternalServerError
	}
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: ev.RequestContext.RequestID})
	// lambda.NewHandler's Invoke returns a slice of a pooled buffer that its next Invoke reuses:
	// invocations are serialised and the answer copied before another may start. (Lambda itself
	// runs one invocation at a time per execution environment.)
	g.invokeMu.Lock()
	out, err := route.Invoke(ctx, payload)
	out = bytes.Clone(out)
	g.invokeMu.Unlock()
	if err != nil {
		g.opts.Logger.Warn("wsgateway: route failed", "route", ev.RequestContext.RouteKey,
			"connectionId", ev.RequestContext.ConnectionID, "requestId", ev.RequestContext.RequestID, "error", err)
		return resp, http.StatusInternalServerError
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		if err == nil {
			err = errNoStatus
		}
		g.opts.Logger.Warn("wsgateway: malformed route response", "route", ev.RequestContext.RouteKey, "error", err)
		return events.APIGatewayProxyResponse{}, http.StatusBadGateway
	}
	return resp, resp.StatusCode
}

// baseEvent fills what every route's event carries.
func (g *Gateway) baseEvent(c *conn, routeKey, eventType string) events.APIGatewayWebsocketProxyRequest {
	now := time.Now()
	id := newRequestID()
	return events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey:          routeKey,
			EventType:         eventType,
			ExtendedRequestID: id,
			RequestID:         id,
			RequestTime:       now.UTC().Format(requestTimeLayout),
			RequestTimeEpoch:  now.UnixMilli(),
			MessageDirection:  "IN",
			Stage:             g.opts.Stage,
			ConnectedAt:       c.connectedAt.UnixMilli(),
			Identity:          events.APIGatewayRequestIdentity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
			DomainName:        g.domainName(),
			ConnectionID:      c.id,
			APIID:             g.opts.APIID,
		},
	}
}

// connectEvent is the `$connect` event: headers and query string of the upgrade request.
func (g *Gateway) connectEvent(c *conn, r *http.Request) events.APIGatewayWebsocketProxyRequest {
	ev := g.baseEvent(c, RouteConnect, "CONNECT")
	ev.Headers, ev.MultiValueHeaders = headerMaps(c.headers)
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		ev.MultiValueQueryStringParameters = q
		for k, v := range q {
			ev.QueryStringParameters[k] = v[len(v)-1]
		}
	}
	return ev
}

// disconnectEvent is the `$disconnect` event, with the close code the connection ended with.
func (g *Gateway) disconnectEvent(c *conn, code websocket.StatusCode) events.APIGatewayWebsocketProxyRequest {
	ev := g.baseEvent(c, RouteDisconnect, "DISCONNECT")
	ev.Headers, ev.MultiValueHeaders = headerMaps(c.headers)
	if code < 0 {
		code = websocket.StatusAbnormalClosure
	}
	ev.RequestContext.DisconnectStatusCode = int64(code)
	reason := ""
	ev.RequestContext.DisconnectReason = &reason
	return ev
}

// messageEvent is a client message's event; binary messages arrive base64-encoded, as on AWS.
func (g *Gateway) messageEvent(c *conn, typ websocket.MessageType, data []byte) events.APIGatewayWebsocketProxyRequest {
	ev := g.baseEvent(c, RouteDefault, "MESSAGE")
	ev.RequestContext.MessageID = newRequestID()
	if typ == websocket.MessageBinary {
		ev.Body = base64.StdEncoding.EncodeToString(data)
		ev.IsBase64Encoded = true
	} else {
		ev.Body = string(data)
	}
	return ev
}

func (g *Gateway) domainName() string {
	if g.ln == nil {
		return "localhost"
	}
	return g.ln.Addr().String()
}

func headerMaps(h http.Header) (map[string]string, map[string][]string) {
	single := make(map[string]string, len(h))
	multi := make(map[string][]string, len(h))
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		single[k] = v[len(v)-1]
		multi[k] = v
	}
	return single, multi
}

// routeKey evaluates the route selection expression `$request.body.action`: the action of a JSON
// object body, or "" (then `$default` applies).
func routeKey(data []byte) string {
	var body struct {
		Action any `json:"action"`
	}
	if json.Unmarshal(data, &body) != nil {
		return ""
	}
	s, _ := body.Action.(string)
	if s == RouteConnect || s == RouteDisconnect {
		return "" // reserved routes are never selected by a client
	}
	return s
}

// messageType sends valid UTF-8 as a text frame, anything else as binary.
func messageType(data []byte) websocket.MessageType {
	if utf8.Valid(data) {
		return websocket.MessageText
	}
	return websocket.MessageBinary
}
