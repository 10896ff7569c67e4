package wsgateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// postTimeout bounds delivering one posted message to a client.
const postTimeout = 10 * time.Second

// post implements PostToConnection: the body is the message, sent as one frame.
func (g *Gateway) post(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, g.opts.MaxPayload+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", "could not read the request body")
		return
	}
	if int64(len(data)) > g.opts.MaxPayload {
		writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException",
			fmt.Sprintf("Data exceeds the %d byte limit", g.opts.MaxPayload))
		return
	}
	c := g.lookup(r.PathValue("id"))
	if c == nil {
		writeGone(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), postTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, messageType(data), data); err != nil {
		// The client went away under us: from now on the connection is gone.
		g.closeConn(c, websocket.StatusGoingAway, "Going away")
		writeGone(w)
		return
	}
	g.touch(c)
	w.WriteHeader(http.StatusOK)
}

// get implements GetConnection.
func (g *Gateway) get(w http.ResponseWriter, r *http.Request) {
	c := g.lookup(r.PathValue("id"))
	if c == nil {
		writeGone(w)
		return
	}
	const layout = "2006-01-02T15:04:05.000Z"
	body, _ := json.Marshal(map[string]any{
		"connectedAt":  c.connectedAt.UTC().Format(layout),
		"lastActiveAt": time.Unix(0, c.lastActive.Load()).UTC().Format(layout),
		"identity":     map[string]string{"sourceIp": c.sourceIP, "userAgent": c.userAgent},
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// delete implements DeleteConnection: the client sees a normal close; `$disconnect` runs.
func (g *Gateway) delete(w http.ResponseWriter, r *http.Request) {
	c := g.lookup(r.PathValue("id"))
	if c == nil {
		writeGone(w)
		return
	}
	g.closeConn(c, websocket.StatusNormalClosure, "")
	w.WriteHeader(http.StatusNoContent)
}

func writeGone(w http.ResponseWriter) {
	writeError(w, http.StatusGone, "GoneException", "")
}

// writeError answers as API Gateway does: the error type in X-Amzn-ErrorType, which the SDK
// turns into a typed error, and a JSON message.
func writeError(w http.ResponseWriter, status int, errorType, msg string) {
	w.Header().Set("X-Amzn-ErrorType", errorType)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var body []byte
	if msg == "" {
		body = []byte(`{"message":null}`)
	} else {
		body, _ = json.Marshal(map[string]string{"message": msg})
	}
	_, _ = w.Write(body)
}
