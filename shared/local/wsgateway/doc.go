// Package wsgateway is the project's local stand-in for an API Gateway WebSocket API and its
// `@connections` management API, for tests and `byod dev`.
//
// One HTTP server on 127.0.0.1 serves both, as API Gateway serves both on one host:
//
//	GET    /{stage}                            WebSocket upgrade (clients: ws://127.0.0.1:PORT/{stage}?token=…)
//	POST   /{stage}/@connections/{connectionId}  send Data to the client     → 200, 410 GoneException, 413 PayloadTooLargeException
//	GET    /{stage}/@connections/{connectionId}  connectedAt, identity, lastActiveAt → 200, 410 GoneException
//	DELETE /{stage}/@connections/{connectionId}  close the connection        → 204, 410 GoneException
//
// Errors carry `X-Amzn-ErrorType` and a `{"message": …}` body, as AWS sends them, so the real
// aws-sdk-go-v2 apigatewaymanagementapi client (BaseEndpoint = ManagementURL()) returns typed
// errors: `errors.As(err, new(*types.GoneException))` works.
//
// Routes are Lambda handlers called in-process through their JSON boundary (lambda.Handler, e.g.
// lambda.NewHandler(h.Handle)); each receives an events.APIGatewayWebsocketProxyRequest shaped as
// API Gateway sends it:
//   - `$connect` runs before the upgrade completes (an invalid opening handshake is answered 426 or
//     400 first and never reaches it); a response statusCode outside 2xx (or a
//     handler error: 500, or no statusCode: 502) refuses the upgrade with that HTTP status, and
//     the connection never exists. Without a `$connect` route every upgrade is accepted.
//   - client messages are routed on `$request.body.action` (a route named after the action), else
//     `$default`; with neither, the client gets `{"message":"Forbidden",…}` as from AWS. A handler
//     error sends `{"message":"Internal server error",…}` to the client.
//   - a message route listed in Options.RouteResponses is two-way, as a route with a route
//     response (selection expression `$default`, route response `$default`) is on AWS: the
//     handler's response body, when not empty, is sent to the client as one message, after the
//     handler returned and before the connection's next message is routed. Any other route is
//     one-way: its response is dropped (a 5xx still sends "Internal server error").
//   - `$disconnect` runs after the connection closed, for whatever reason, best effort.
//
// Limits, as API Gateway's: a client message or a posted Data longer than MaxPayload (128 KiB)
// closes the connection with 1009 / is refused with 413; a connection idle (no message either
// way) for IdleTimeout (10 min) or open for MaxLifetime (2 h) is closed with 1001 Going Away.
// Throttling, when Options set it, as route settings: a token bucket per route (RateLimit per
// second, BurstLimit at once) shared by every client, as on AWS; a throttled `$connect` is
// answered 429, a throttled message `{"message":"Too Many Requests",…}`.
// Not modelled: the 32 KiB frame size (frames are reassembled into messages here), the account's
// limits, throttling of `$disconnect`, SigV4 (any caller of the management API is accepted: the server listens on loopback only),
// Origin checks (API Gateway does none either).
//
// Invariants: connection ids are 16 characters of unpadded-URL-safe base64 plus "=" padding like
// AWS's (never "/"); a connection is in the registry only between a successful upgrade and its
// close or DELETE, so a POST outside that window is always a typed 410; Close returns after every
// connection is closed and every `$disconnect` route has returned. The query string (which holds
// the token) is never logged.
package wsgateway
