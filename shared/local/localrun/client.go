package localrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/coder/websocket"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/credentials"
	"github.com/byod-deployer/byod-deployer/shared/local/standins"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// DefaultConfigID is the config a command uses when none is given.
const DefaultConfigID = "default"

// Client talks to a running local pipeline the way the app and the browser do: it publishes
// messages to the deploy queue (encrypting credentials with KMS), reads the status table, and
// follows the WebSocket. Credentials given to it exist only in memory.
type Client struct {
	Endpoints Endpoints
	SQS       *sqs.Client
	KMS       *kms.Client
	DynamoDB  *dynamodb.Client
	HTTP      *http.Client
}

// NewClient returns a Client for e with SDK clients pointed at its stand-ins.
func NewClient(e Endpoints) *Client {
	cfg := standins.Config()
	return &Client{
		Endpoints: e,
		SQS:       sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(e.SQS) }),
		KMS:       kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(e.KMS) }),
		DynamoDB:  dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(e.DynamoDB) }),
		HTTP:      &http.Client{Timeout: 30 * time.Second},
	}
}

// NewRequestID returns a fresh request id (32 hex digits with dashes, valid in a message).
func NewRequestID() string { return newRequestID() }

// Publish validates m and sends it to the deploy queue, with the user as message group and the
// request id as deduplication id, as the app does.
func (c *Client) Publish(ctx context.Context, m message.Message) error {
	body, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("localrun: publish %s: %w", m.RequestID, err)
	}
	return c.send(ctx, body, m.GroupID(), m.DeduplicationID())
}

func (c *Client) send(ctx context.Context, body []byte, group, dedup string) error {
	_, err := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               aws.String(c.Endpoints.QueueURL),
		MessageBody:            aws.String(string(body)),
		MessageGroupId:         aws.String(group),
		MessageDeduplicationId: aws.String(dedup),
	})
	if err != nil {
		return fmt.Errorf("localrun: send to %s: %w", c.Endpoints.QueueURL, err)
	}
	return nil
}

// Deploy encrypts target for (userID, configID) with the pipeline's KMS key and publishes a deploy
// message. It returns the message sent (whose Credentials is the ciphertext only).
func (c *Client) Deploy(ctx context.Context, userID, configID string, target credentials.Secret) (message.Message, error) {
	return c.request(ctx, message.Deploy, userID, configID, &target)
}

// Retry publishes a retry message; with a non-nil target it carries new credentials.
func (c *Client) Retry(ctx context.Context, userID, configID string, target *credentials.Secret) (message.Message, error) {
	return c.request(ctx, message.Retry, userID, configID, target)
}

func (c *Client) request(ctx context.Context, typ message.Type, userID, configID string, target *credentials.Secret) (message.Message, error) {
	m := message.Message{V: message.Version, Type: typ, RequestID: newRequestID(), UserID: userID, ConfigID: configID, SentAt: time.Now().UTC()}
	if target != nil {
		ct, err := credentials.Encrypt(ctx, c.KMS, c.Endpoints.KMSKeyID, userID, configID, *target)
		if err != nil {
			return m, fmt.Errorf("localrun: %s for %s: %w", typ, userID, err)
		}
		m.Credentials = ct
	}
	return m, c.Publish(ctx, m)
}

// Raw publishes body as it is, for trying bad input. The message group is the body's userId
// when it has one (else "raw"); the deduplication id is dedup, or when empty the body's sha256
// (SQS content-based deduplication), so sending the same body twice within five minutes needs
// two dedup ids.
func (c *Client) Raw(ctx context.Context, body []byte, dedup string) error {
	var ids struct {
		UserID string `json:"userId"`
	}
	_ = json.Unmarshal(body, &ids) // bad JSON is allowed here: that is the point
	group := ids.UserID
	if group == "" || len(group) > 128 {
		group = "raw"
	}
	if dedup == "" {
		sum := sha256.Sum256(body)
		dedup = hex.EncodeToString(sum[:])
	}
	return c.send(ctx, body, group, dedup)
}

// Status reads the current status of (userID, configID) from the status table. found is false
// when the config has never had a request.
func (c *Client) Status(ctx context.Context, userID, configID string) (rec status.Record, found bool, err error) {
	store := &status.Store{DB: c.DynamoDB, Table: c.Endpoints.StatusTable}
	rec, err = store.Get(ctx, userID, configID)
	if errors.Is(err, status.ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("localrun: status of %s/%s: %w", userID, configID, err)
	}
	return rec, true, nil
}

// Token asks the dev server for a WebSocket token for userID (the server holds the secret).
func (c *Client) Token(ctx context.Context, userID string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.api(ctx, "/api/token", map[string]string{"userId": userID}, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

// DeployLocal asks the dev server to deploy to its default deployment (whose key only the server
// holds); it returns the request id.
func (c *Client) DeployLocal(ctx context.Context, userID, configID string) (string, error) {
	var out struct {
		RequestID string `json:"requestId"`
	}
	if err := c.api(ctx, "/api/deploy", map[string]string{"userId": userID, "configId": configID}, &out); err != nil {
		return "", err
	}
	return out.RequestID, nil
}

// QueueStats asks the dev server what its SQS pollers delivered so far, by function name
// (deployer, deadletter).
func (c *Client) QueueStats(ctx context.Context) (map[string]SQSStats, error) {
	var out map[string]SQSStats
	if err := c.api(ctx, "/api/queues", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// api POSTs a JSON body to the dev server (GETs when in is nil) and decodes its JSON answer.
func (c *Client) api(ctx context.Context, path string, in, out any) error {
	method, reqBody := http.MethodGet, io.Reader(http.NoBody)
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("localrun: %s: %w", path, err)
		}
		method, reqBody = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoints.Page+path, reqBody)
	if err != nil {
		return fmt.Errorf("localrun: %s: %w", path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("localrun: %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("localrun: %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("localrun: %s: %w", path, err)
	}
	return nil
}

// Event is one message the WebSocket delivered (docs/websocket.md), with its raw bytes.
type Event struct {
	connections.Event
	// Raw is the message as received.
	Raw json.RawMessage `json:"-"`
}

// Watch connects to the gateway as userID (with a token from the dev server), asks for a
// snapshot ({"action":"status"}) and calls fn for every message until fn returns false or ctx
// ends. It returns nil when fn stopped it, ctx's error when ctx ended, and an error when the
// connection was refused or lost.
func (c *Client) Watch(ctx context.Context, userID string, fn func(Event) bool) error {
	conn, err := c.Dial(ctx, userID)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"action":"status"}`)); err != nil {
		return fmt.Errorf("localrun: watch %s: %w", userID, err)
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("localrun: watch %s: %w", userID, err)
		}
		ev := Event{Raw: data}
		if err := json.Unmarshal(data, &ev.Event); err != nil {
			ev.Event = connections.Event{Type: "unknown"}
		}
		if !fn(ev) {
			conn.Close(websocket.StatusNormalClosure, "done")
			return nil
		}
	}
}

// Dial opens the user's WebSocket with a token from the dev server.
func (c *Client) Dial(ctx context.Context, userID string) (*websocket.Conn, error) {
	token, err := c.Token(ctx, userID)
	if err != nil {
		return nil, err
	}
	conn, resp, err := websocket.Dial(ctx, c.Endpoints.WebSocket+"?token="+url.QueryEscape(token), nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("localrun: connect as %s: refused with HTTP %d: %w", userID, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("localrun: connect as %s: %w", userID, err)
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
