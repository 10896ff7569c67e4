// Package wsgatewaytest helps tests drive a wsgateway.Gateway as a browser and as a Lambda would:
// WebSocket clients that read with a deadline, and the real SDK management client.
//
// "Received nothing" is proved without waiting: Quiet posts a marker through the management API
// and requires it to be the client's next message, which holds because the gateway writes a
// connection's messages in the order their posts completed.
package wsgatewaytest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/byod-deployer/byod-deployer/shared/local/standins"
	"github.com/byod-deployer/byod-deployer/shared/local/wsgateway"
)

// Wait bounds every wait in these helpers. It is a deadline for something that must happen, not
// an expected duration.
const Wait = 20 * time.Second

// Start starts a gateway with opts and closes it when the test ends.
func Start(t testing.TB, opts wsgateway.Options) *wsgateway.Gateway {
	t.Helper()
	g, err := wsgateway.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// Management returns the real SDK management client pointed at g.
func Management(g *wsgateway.Gateway) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(standins.Config(), func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(g.ManagementURL())
	})
}

// Client is a WebSocket client of a gateway.
type Client struct {
	*websocket.Conn
	// Response is the upgrade's HTTP response.
	Response *http.Response
}

// Dial connects to url (a gateway URL with its query) and fails t if the upgrade is refused.
func Dial(t testing.TB, url string) *Client {
	t.Helper()
	c, resp, err := DialResult(t, url)
	if err != nil {
		t.Fatalf("dial: %v (HTTP %d)", err, status(resp))
	}
	return c
}

// DialResult connects to url and returns the outcome, refused or not; the upgrade's HTTP response
// is returned either way (nil only if there was none).
func DialResult(t testing.TB, url string) (*Client, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(wsgateway.DefaultMaxPayload)
	t.Cleanup(func() { c.CloseNow() })
	return &Client{Conn: c, Response: resp}, resp, nil
}

func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// Next returns the client's next message, failing t if none comes within Wait or the connection
// closes.
func (c *Client) Next(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return data
}

// Send writes a text message, failing t on error.
func (c *Client) Send(t testing.TB, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("client write: %v", err)
	}
}

// Quiet fails t if the client has received anything not yet read: it posts a marker to
// connectionID and requires it to be the next message.
func (c *Client) Quiet(t testing.TB, api *apigatewaymanagementapi.Client, connectionID string) {
	t.Helper()
	const marker = "wsgatewaytest-marker"
	if _, err := api.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: &connectionID, Data: []byte(marker),
	}); err != nil {
		t.Fatalf("post marker: %v", err)
	}
	if got := string(c.Next(t)); got != marker {
		t.Fatalf("client received %q, want nothing", got)
	}
}

// Closed waits until the server closes the connection and returns the close status.
func (c *Client) Closed(t testing.TB) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("connection not closed within %v", Wait)
			}
			return websocket.CloseStatus(err)
		}
	}
}

// Eventually polls cond until it holds, failing t if it does not within Wait.
func Eventually(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("condition not met within %v", Wait)
		case <-tick.C:
		}
	}
}
