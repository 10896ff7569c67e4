package localrun

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/wstoken"
)

//go:embed web
var webFS embed.FS

// tokenTTL is how long a token minted for the page or `byod watch` is valid.
const tokenTTL = time.Hour

// servePage serves the status page and the dev API on addr:
//
//	GET  /                  the status page (?user=U&config=C)
//	GET  /package.zip       the downloadable BYOD package
//	POST /api/token         {"userId"} → {"token","webSocket"}
//	POST /api/deploy        {"userId","configId"} → {"requestId"}: a deploy to the default target
//	POST /api/retry         {"userId","configId"} → {"requestId"}
//	GET  /api/status        ?userId=&configId= → the current status record
//	GET  /api/queues        → what the SQS pollers delivered, by function (SQSStats)
//
// The POSTs, which act, accept only JSON bodies (a cross-site form cannot send one without a
// CORS preflight, which it never passes). The GETs (the page, the zip, /api/status and
// /api/queues) are read-only, and the server sends no CORS headers, so another origin cannot
// read their answers. Every route answers only for a loopback Host (no DNS rebinding).
func (p *Pipeline) servePage(addr string, log *slog.Logger) error {
	ln, err := listen(addr)
	if err != nil {
		return fmt.Errorf("localrun: status page: %w", err)
	}
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		ln.Close()
		return fmt.Errorf("localrun: status page: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /package.zip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": bundle.ZipName() + ".zip"}))
		if err := bundle.WriteZip(w); err != nil {
			log.Warn("localrun: package.zip", "error", err)
		}
	})
	mux.HandleFunc("POST /api/token", p.api(func(r *http.Request, in apiRequest) (any, error) {
		token, err := wstoken.Sign(p.tokenSecret, in.UserID, TokenAudience, tokenTTL, time.Now())
		if err != nil {
			return nil, err
		}
		return map[string]string{"token": token, "webSocket": p.Endpoints.WebSocket}, nil
	}))
	mux.HandleFunc("POST /api/deploy", p.api(func(r *http.Request, in apiRequest) (any, error) {
		m, err := p.Client.Deploy(r.Context(), in.UserID, in.ConfigID, p.target)
		if err != nil {
			return nil, err
		}
		return map[string]string{"requestId": m.RequestID}, nil
	}))
	mux.HandleFunc("POST /api/retry", p.api(func(r *http.Request, in apiRequest) (any, error) {
		m, err := p.Client.Retry(r.Context(), in.UserID, in.ConfigID, nil)
		if err != nil {
			return nil, err
		}
		return map[string]string{"requestId": m.RequestID}, nil
	}))
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		in := apiRequest{UserID: r.URL.Query().Get("userId"), ConfigID: r.URL.Query().Get("configId")}
		if err := in.validate(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec, found, err := p.Client.Status(r.Context(), in.UserID, in.ConfigID)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		case !found:
			http.Error(w, "no status for this user and config", http.StatusNotFound)
		default:
			writeJSON(w, rec)
		}
	})
	mux.HandleFunc("GET /api/queues", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, p.QueueStats())
	})
	p.page = &http.Server{Handler: loopbackOnly(mux), ReadHeaderTimeout: 10 * time.Second}
	p.Endpoints.Page = "http://" + ln.Addr().String()
	p.Client = NewClient(p.Endpoints) // complete before the first request can arrive
	go func() {
		if err := p.page.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("localrun: status page stopped", "error", err)
		}
	}()
	return nil
}

// apiRequest is the body of the dev API's POSTs.
type apiRequest struct {
	UserID   string `json:"userId"`
	ConfigID string `json:"configId"`
}

func (in *apiRequest) validate() error {
	if in.ConfigID == "" {
		in.ConfigID = DefaultConfigID
	}
	if !message.ValidID(in.UserID) || !message.ValidID(in.ConfigID) {
		return errors.New("userId and configId must be " + message.IDRule)
	}
	return nil
}

// api wraps a JSON POST handler: it decodes and validates the body and encodes the answer.
func (p *Pipeline) api(fn func(*http.Request, apiRequest) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
			return
		}
		var in apiRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil {
			http.Error(w, "bad JSON body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := in.validate(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := fn(r, in)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		writeJSON(w, out)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// loopbackOnly refuses requests whose Host is not a loopback name, so a page from another
// origin cannot reach the dev API through DNS rebinding.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
