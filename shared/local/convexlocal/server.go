package convexlocal

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// FailMode makes the deployment fail the way a real deployment can, for tests and demos.
type FailMode string

// The failure modes. FailNone is a healthy deployment.
const (
	FailNone FailMode = ""
	// FailForbidden: the key is valid but may not deploy: 403 OperationNotPermitted on the push
	// calls and on /api/check_admin_key.
	FailForbidden FailMode = "forbidden"
	// FailHang: connections are accepted and requests read, but nothing is ever answered until
	// the server closes (introspection under /_local/ still answers).
	FailHang FailMode = "hang"
	// FailStartPush500: start_push answers 500 InternalServerError.
	FailStartPush500 FailMode = "start_push_500"
	// FailSchema: wait_for_schema reports that existing data does not match the new schema.
	FailSchema FailMode = "schema_fail"
	// FailRace: wait_for_schema reports that another push overwrote the schema.
	FailRace FailMode = "race"
	// FailSlowBackfill: wait_for_schema answers inProgress with index progress for
	// Options.BackfillSteps polls (DefaultBackfillSteps when unset) before completing.
	FailSlowBackfill FailMode = "slow_backfill"
)

// FailModes lists every failure mode a server accepts, FailNone excluded.
var FailModes = []FailMode{FailForbidden, FailHang, FailStartPush500, FailSchema, FailRace, FailSlowBackfill}

// Defaults for Options fields left zero.
const (
	DefaultBackfillSteps     = 5
	DefaultBackfillStepDelay = 100 * time.Millisecond
	DefaultNodeTimeout       = 30 * time.Second
	DefaultInstanceName      = "local"
	// maxBodyBytes is the backend's MAX_PUSH_BYTES.
	maxBodyBytes = 200_000_000
)

// Options configure a Server.
type Options struct {
	// AdminKey is the only key the deployment accepts (required). `<type>:` prefixed forms of
	// it (`prod:name|secret`) are accepted as the backend does.
	AdminKey string
	// InstanceName is the deployment's name; by default the text before `|` in AdminKey (type
	// prefix removed), else DefaultInstanceName. Deploy keys `prod:<name>|…` must name it.
	InstanceName string
	// Fail selects a failure mode; FailNone for a healthy deployment.
	Fail FailMode
	// BackfillSteps > 0 makes wait_for_schema answer inProgress that many times per push.
	BackfillSteps int
	// BackfillStepDelay is how long each inProgress answer long-polls (capped by timeoutMs).
	BackfillStepDelay time.Duration
	// Node is the node executable that evaluates pushed code; empty means toolpath.Node() (the
	// Node 22 `make deps` installs, the image's version).
	Node string
	// NodeTimeout bounds each Node process that evaluates pushed code.
	NodeTimeout time.Duration
	// Logger receives one line per request; it never receives a key. Discarded when nil.
	Logger *slog.Logger
	// AllowNonLoopback permits Listen on an address outside 127.0.0.0/8 and ::1.
	AllowNonLoopback bool
}

// Server is a local Convex deployment: the deployment HTTP API that `convex deploy` talks to,
// plus the control-plane calls of the deploy-key flow and a read-only introspection endpoint.
// It is safe for concurrent use.
type Server struct {
	opts     Options
	eval     evaluator
	log      *slog.Logger
	mux      *http.ServeMux
	hs       *http.Server
	ln       net.Listener
	url      string
	closing  chan struct{}
	inflight sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	st       deployment
	requests []Request
}

// New validates the options and returns a Server that is not yet listening. It fails when the
// admin key is empty, the failure mode is unknown, or Options.Node is empty and toolpath.Node
// finds no installed node.
func New(opts Options) (*Server, error) {
	if opts.AdminKey == "" {
		return nil, errors.New("convexlocal: new: an admin key is required")
	}
	if opts.Fail != FailNone && !validFailMode(opts.Fail) {
		return nil, fmt.Errorf("convexlocal: new: unknown failure mode %q", opts.Fail)
	}
	if opts.InstanceName == "" {
		opts.InstanceName = keyName(opts.AdminKey)
	}
	if opts.Fail == FailSlowBackfill && opts.BackfillSteps == 0 {
		opts.BackfillSteps = DefaultBackfillSteps
	}
	if opts.BackfillStepDelay == 0 {
		opts.BackfillStepDelay = DefaultBackfillStepDelay
	}
	if opts.Node == "" {
		node, err := toolpath.Node()
		if err != nil {
			return nil, fmt.Errorf("convexlocal: new: %w", err)
		}
		opts.Node = node
	}
	if opts.NodeTimeout == 0 {
		opts.NodeTimeout = DefaultNodeTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:    opts,
		eval:    evaluator{node: opts.Node, timeout: opts.NodeTimeout},
		log:     log,
		closing: make(chan struct{}),
		st:      newDeployment(),
	}
	s.routes()
	return s, nil
}

func validFailMode(m FailMode) bool {
	for _, f := range FailModes {
		if f == m {
			return true
		}
	}
	return false
}

// ParseFailMode returns the failure mode named s ("" or "none" is FailNone), or an error that
// lists the valid names.
func ParseFailMode(s string) (FailMode, error) {
	if s == "" || s == "none" {
		return FailNone, nil
	}
	if validFailMode(FailMode(s)) {
		return FailMode(s), nil
	}
	names := make([]string, len(FailModes))
	for i, f := range FailModes {
		names[i] = string(f)
	}
	return FailNone, fmt.Errorf("convexlocal: unknown failure mode %q (one of: %s)", s, strings.Join(names, ", "))
}

// Listen binds addr (host:port; port 0 picks a free one). It refuses addresses outside the
// loopback network unless Options.AllowNonLoopback is set.
func (s *Server) Listen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("convexlocal: listen %s: %w", addr, err)
	}
	if !s.opts.AllowNonLoopback && !isLoopback(host) {
		return fmt.Errorf("convexlocal: listen %s: not a loopback address (127.0.0.0/8 or ::1)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("convexlocal: listen %s: %w", addr, err)
	}
	if err := s.adopt(ln, "listen "+addr); err != nil {
		ln.Close()
		return err
	}
	return nil
}

// adopt makes ln the server's listener (Listen, UseListener); op names the call in the error
// when the server already listens.
func (s *Server) adopt(ln net.Listener, op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return fmt.Errorf("convexlocal: %s: already listening on %s", op, s.url)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.hs = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve answers requests until Close. It returns nil after Close, and an error when Listen was
// not called or serving failed.
func (s *Server) Serve() error {
	s.mu.Lock()
	hs, ln := s.hs, s.ln
	s.mu.Unlock()
	if hs == nil {
		return errors.New("convexlocal: serve: Listen was not called")
	}
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("convexlocal: serve: %w", err)
	}
	return nil
}

// URL is the deployment URL (`http://127.0.0.1:PORT`), empty before Listen.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// InstanceName is the deployment's name, as /instance_name answers it.
func (s *Server) InstanceName() string { return s.opts.InstanceName }

// Handler is the server's HTTP handler, for mounting it in another server.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops the server: hanging requests are aborted, connections closed, and Close waits for
// every handler (and the Node processes they started) to return. It is safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	hs := s.hs
	close(s.closing)
	s.mu.Unlock()
	var err error
	if hs != nil {
		err = hs.Close()
	}
	s.inflight.Wait()
	if err != nil {
		return fmt.Errorf("convexlocal: close: %w", err)
	}
	return nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	deploy := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.wrap(h, true)) }
	local := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.wrap(h, false)) }

	deploy("POST /api/get_config_hashes", s.getConfigHashes)
	deploy("POST /api/deploy2/evaluate_schema", s.evaluateSchema)
	deploy("POST /api/deploy2/evaluate_push", s.evaluatePush)
	deploy("POST /api/deploy2/start_push", s.startPush)
	deploy("POST /api/deploy2/wait_for_schema", s.waitForSchema)
	deploy("POST /api/deploy2/finish_push", s.finishPush)
	deploy("POST /api/deploy2/report_push_completed", s.reportPushCompleted)
	deploy("GET /api/v1/get_canonical_urls", s.canonicalURLs)
	deploy("GET /instance_name", s.instanceName)
	deploy("GET /api/check_admin_key", s.checkAdminKey)
	deploy("POST /api/check_admin_key", s.checkAdminKey)
	deploy("POST /api/query", s.query)
	deploy("POST /api/function", s.function)
	// Control plane (CONVEX_PROVISION_HOST) and version API (CONVEX_VERSION_API_ORIGIN).
	deploy("POST /api/deployment/url_for_key", s.urlForKey)
	deploy("POST /api/deployment/team_and_project_for_key", s.teamAndProjectForKey)
	deploy("GET /v1/version", s.version)

	// Unknown routes: the backend's plain 404 with an empty body.
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })

	local("GET /_local/state", s.localState)
	local("GET /_local/requests", s.localRequests)
	s.mux = m
}

// statusWriter remembers the status a handler wrote, for the log and the request record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// wrap tracks the handler for Close, applies the hang failure mode to deployment endpoints,
// and logs the request (method, path, status; never a key or a body).
func (s *Server) wrap(h http.HandlerFunc, deployment bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			panic(http.ErrAbortHandler)
		}
		s.inflight.Add(1)
		s.mu.Unlock()
		defer s.inflight.Done()
		if deployment && s.opts.Fail == FailHang {
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
			// Abort without an answer: the client sees the connection drop, never a response.
			panic(http.ErrAbortHandler)
		}
		sw := &statusWriter{ResponseWriter: w}
		rec := &Request{Method: r.Method, Path: r.URL.Path}
		start := time.Now()
		h(sw, r.WithContext(context.WithValue(r.Context(), recordKey{}, rec)))
		rec.Status = sw.status
		if rec.Status == 0 {
			rec.Status = http.StatusOK
		}
		if deployment {
			s.mu.Lock()
			s.requests = append(s.requests, *rec)
			s.mu.Unlock()
		}
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.Status, "duration", time.Since(start))
	})
}

// readBody returns the request body, decompressed when Content-Encoding says br or gzip.
func readBody(r *http.Request) ([]byte, *apiError) {
	var rd io.Reader = http.MaxBytesReader(nil, r.Body, maxBodyBytes)
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "br":
		rd = brotli.NewReader(rd)
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, &apiError{Status: 400, Code: "BadRequest", Message: "invalid gzip body: " + err.Error()}
		}
		rd = zr
	default:
		return nil, &apiError{Status: 415, Code: "UnsupportedContentEncoding", Message: "unsupported Content-Encoding " + enc}
	}
	data, err := io.ReadAll(io.LimitReader(rd, maxBodyBytes+1))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || len(data) > maxBodyBytes {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge}
	}
	if err != nil {
		return nil, &apiError{Status: 400, Code: "BadRequest", Message: "could not read the request body: " + err.Error()}
	}
	return data, nil
}

// decodeJSON reads and decodes the body into v.
func decodeJSON(r *http.Request, v any) *apiError {
	data, aerr := readBody(r)
	if aerr != nil {
		return aerr
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &apiError{Status: 400, Code: "InvalidConfig", Message: "Invalid request body: " + err.Error()}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Code == "" {
		w.WriteHeader(e.Status) // the backend's empty-body errors (413, unknown route)
		return
	}
	writeJSON(w, e.Status, map[string]string{"code": e.Code, "message": e.Message})
}

var (
	errBadAdminKey = &apiError{Status: 401, Code: "BadAdminKey", Message: "The provided admin key was invalid for this instance"}
	errForbidden   = &apiError{Status: 403, Code: "OperationNotPermitted", Message: "You do not have permission to perform this operation (deployment:deploy)."}
	errInternal    = &apiError{Status: 500, Code: "InternalServerError", Message: "Your request couldn't be completed. Try again later."}
)

// stripKeyType removes a `<type>:` prefix that comes before the instance name, as the backend
// does: `prod:name|secret` → `name|secret`.
func stripKeyType(k string) string {
	colon := strings.IndexByte(k, ':')
	bar := strings.IndexByte(k, '|')
	if colon >= 0 && (bar < 0 || colon < bar) {
		return k[colon+1:]
	}
	return k
}

// keyName is the instance name a key is for: the text before `|`, type prefix removed.
func keyName(k string) string {
	k = stripKeyType(k)
	if i := strings.IndexByte(k, '|'); i > 0 {
		return k[:i]
	}
	return DefaultInstanceName
}

// keyOK compares a presented key with the admin key in constant time.
func (s *Server) keyOK(presented string) bool {
	if presented == "" {
		return false
	}
	a, b := []byte(stripKeyType(presented)), []byte(stripKeyType(s.opts.AdminKey))
	return subtle.ConstantTimeCompare(a, b) == 1
}

// headerKey is the key of an `Authorization: Convex <key>` (or `Bearer <key>`) header.
func headerKey(r *http.Request) string {
	if k, ok := adminHeader(r); ok {
		return k
	}
	if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(k)
	}
	return ""
}

// adminHeader is the key of an `Authorization: Convex <key>` header, the scheme in any case as
// the backend reads it; ok is false when the request carries no such header.
func adminHeader(r *http.Request) (key string, ok bool) {
	h := r.Header.Get("Authorization")
	const scheme = "convex "
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(h[len(scheme):]), true
}

// authorize checks the body key (the backend's deploy endpoints authenticate from it), or the
// header when the body has none.
func (s *Server) authorize(r *http.Request, bodyKey string) *apiError {
	k := bodyKey
	if k == "" {
		k = headerKey(r)
	}
	if !s.keyOK(k) {
		return errBadAdminKey
	}
	return nil
}

// keyed is the admin key field of a request body; request structs embed it.
type keyed struct {
	AdminKey string `json:"adminKey"`
}

func (k keyed) key() string { return k.AdminKey }

// readKeyed decodes the body into v and authorizes its key; on failure it has answered the
// request and returns false.
func (s *Server) readKeyed(w http.ResponseWriter, r *http.Request, v interface{ key() string }) bool {
	e := decodeJSON(r, v)
	if e == nil {
		e = s.authorize(r, v.key())
	}
	if e != nil {
		writeError(w, e)
		return false
	}
	return true
}

// wait blocks for d, or until the request or the server ends; it reports whether d passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}
