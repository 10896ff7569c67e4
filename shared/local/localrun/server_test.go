package localrun

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The dev API's guards: the POSTs take only JSON, the read-only GETs and the POSTs alike answer
// only for a loopback Host.
func TestPageGuards(t *testing.T) {
	p := &Pipeline{}
	if err := p.servePage("127.0.0.1:0", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	addr := strings.TrimPrefix(p.Endpoints.Page, "http://")
	tests := []struct {
		name        string
		method      string
		path        string
		host        string // "" = the listener's loopback address
		contentType string
		body        string
		want        int
	}{
		{"queues from loopback", "GET", "/api/queues", "", "", "", http.StatusOK},
		{"queues by localhost", "GET", "/api/queues", "localhost:8080", "", "", http.StatusOK},
		{"queues through a rebound name", "GET", "/api/queues", "rebind.example:8080", "", "", http.StatusForbidden},
		{"status through a rebound name", "GET", "/api/status?userId=u", "rebind.example", "", "", http.StatusForbidden},
		{"page through a rebound name", "GET", "/", "rebind.example:8080", "", "", http.StatusForbidden},
		{"deploy as a form", "POST", "/api/deploy", "", "application/x-www-form-urlencoded", "userId=u", http.StatusUnsupportedMediaType},
		{"deploy through a rebound name", "POST", "/api/deploy", "rebind.example:8080", "application/json", `{"userId":"u"}`, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, (&url.URL{Scheme: "http", Host: addr}).String()+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s (Host %q) = %d %s, want %d", tt.method, tt.path, tt.host, resp.StatusCode, b, tt.want)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("CORS header sent: %v", resp.Header)
			}
		})
	}
}
