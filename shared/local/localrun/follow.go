package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// Step is one status record of a followed request, with when it arrived after the request was
// sent.
type Step struct {
	After  time.Duration
	Record status.Record
}

// Follow connects to userID's WebSocket, then calls send (which publishes a request and returns
// its id), and collects that request's status records in version order until one is final
// (deployed or failed) or ctx ends. Records of other requests are ignored; repeated or stale
// versions are dropped. onStep, when set, sees each step as it arrives. Because the socket is
// open before the request is sent, no stage can be missed.
func (c *Client) Follow(ctx context.Context, userID string, send func(context.Context) (string, error), onStep func(Step)) ([]Step, error) {
	conn, err := c.Dial(ctx, userID)
	if err != nil {
		return nil, err
	}
	defer conn.CloseNow()
	type msg struct {
		data []byte
		at   time.Time
		err  error
	}
	msgs := make(chan msg, 256)
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	go func() {
		for {
			_, data, err := conn.Read(readCtx)
			select {
			case msgs <- msg{data, time.Now(), err}:
			case <-readCtx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	start := time.Now()
	reqID, err := send(ctx)
	if err != nil {
		return nil, err
	}
	var steps []Step
	last := int64(-1)
	for {
		select {
		case <-ctx.Done():
			return steps, fmt.Errorf("localrun: follow %s: %w", reqID, ctx.Err())
		case m := <-msgs:
			if m.err != nil {
				return steps, fmt.Errorf("localrun: follow %s: %w", reqID, m.err)
			}
			var ev connections.Event
			if json.Unmarshal(m.data, &ev) != nil || ev.Type != connections.EventStatus || ev.Record == nil {
				continue
			}
			r := *ev.Record
			if r.RequestID != reqID || r.Version <= last {
				continue
			}
			last = r.Version
			st := Step{After: m.at.Sub(start), Record: r}
			steps = append(steps, st)
			if onStep != nil {
				onStep(st)
			}
			if r.DeploymentStatus.Final() {
				conn.Close(websocket.StatusNormalClosure, "done")
				return steps, nil
			}
		}
	}
}
