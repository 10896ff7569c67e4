package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/failure"
)

// DefaultPreflightTimeout bounds the whole preflight: a dead or wrong URL fails within it
// instead of after the CLI's ~36 s of retries.
const DefaultPreflightTimeout = 4 * time.Second

// backendError is the backend's error body (docs/convex-protocol.md, "Error bodies").
type backendError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// call does one request and returns the status and at most 64 KiB of the body.
func (e *Engine) call(ctx context.Context, method, url, key string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Convex "+key)
	}
	req.Header.Set("Convex-Client", "byod-deployer")
	resp, err := e.httpClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, data, err
}

func (e *Engine) httpClient() *http.Client {
	if e.HTTPClient != nil {
		return e.HTTPClient
	}
	return defaultClient
}

// defaultClient never follows redirects: a deployment that redirects is not one to send a key to.
var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// preflight checks that the deployment answers (GET /instance_name) and accepts the key
// (GET /api/check_admin_key), within DefaultPreflightTimeout.
func (e *Engine) preflight(ctx context.Context, tg target) *Error {
	limit := e.preflightLimit()
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	status, body, err := e.call(pctx, http.MethodGet, tg.base+"/instance_name", "", nil)
	if err != nil {
		return netError(ctx, pctx, tg.base, limit, err)
	}
	switch {
	case status == http.StatusNotFound:
		return newError(failure.Unreachable, false, "no Convex deployment answers at "+tg.base, "404 from /instance_name", nil)
	case status >= 500:
		return newError(failure.Unreachable, true, fmt.Sprintf("the deployment at %s is not serving (%d)", tg.base, status), snippet(body), nil)
	case status/100 != 2:
		return newError(failure.Unreachable, false, fmt.Sprintf("%s does not look like a Convex deployment (%d from /instance_name)", tg.base, status), "", nil)
	}

	status, body, err = e.call(pctx, http.MethodGet, tg.base+"/api/check_admin_key", tg.key, nil)
	if err != nil {
		return netError(ctx, pctx, tg.base, limit, err)
	}
	if status/100 == 2 || status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return nil // accepted, or a backend without the check: the CLI will tell
	}
	var be backendError
	_ = json.Unmarshal(body, &be)
	detail := be.Message
	if be.Code != "" {
		detail = be.Code + ": " + be.Message
	}
	switch {
	case status == http.StatusUnauthorized || be.Code == "BadAdminKey" || be.Code == "BadDeployKey":
		return newError(failure.InvalidDeployKey, false, "the deployment rejected the key", detail, nil)
	case status == http.StatusForbidden:
		return newError(failure.PermissionDenied, false, "the key may not deploy to this deployment", detail, nil)
	case status >= 500:
		return newError(failure.Internal, true, fmt.Sprintf("the deployment failed the key check with %d", status), detail, nil)
	default:
		return newError(failure.Internal, false, fmt.Sprintf("the deployment answered the key check with %d", status), detail, nil)
	}
}

// netError classifies a request that got no answer: the caller's own deadline or cancel, a
// deployment that accepted the connection but did not answer in time, or one that cannot be
// reached at all.
func netError(parent, pctx context.Context, base string, limit time.Duration, err error) *Error {
	if parent.Err() != nil {
		return nil // the caller's deadline or cancel: Deploy reports it
	}
	var ne net.Error
	if errors.Is(pctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		var dial *net.OpError
		if errors.As(err, &dial) && dial.Op == "dial" {
			return newError(failure.Unreachable, true, fmt.Sprintf("could not connect to %s within %s", base, limit), "", err)
		}
		return newError(failure.TimedOut, true, fmt.Sprintf("the deployment at %s did not answer within %s", base, limit), "", err)
	}
	return newError(failure.Unreachable, true, "could not reach "+base, rootCause(err), err)
}

// rootCause is the innermost error's text: "connection refused", "no such host", ….
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// verify calls functions:ping and checks that the deployment runs version want.
func (e *Engine) verify(ctx context.Context, tg target, want int) *Error {
	pctx, cancel := context.WithTimeout(ctx, 2*e.preflightLimit())
	defer cancel()
	status, body, err := e.call(pctx, http.MethodPost, tg.base+"/api/query", "",
		[]byte(`{"path":"functions:ping","args":{},"format":"json"}`))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return newError(failure.Unreachable, true, "the deployment did not answer functions:ping after the deploy", rootCause(err), err)
	}
	var ans struct {
		Status       string `json:"status"`
		ErrorMessage string `json:"errorMessage"`
		Value        struct {
			Status  string `json:"status"`
			Version *int   `json:"version"`
		} `json:"value"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &ans) != nil {
		return newError(failure.Internal, true, fmt.Sprintf("functions:ping answered %d after the deploy", status), snippet(body), nil)
	}
	switch {
	case ans.Status != "success":
		return newError(failure.Internal, true, "functions:ping failed after the deploy", ans.ErrorMessage, nil)
	case ans.Value.Status != "ok" || ans.Value.Version == nil:
		return newError(failure.Internal, true, "functions:ping did not answer {status: \"ok\", version}", snippet(body), nil)
	case *ans.Value.Version != want:
		return newError(failure.Internal, true,
			fmt.Sprintf("the deployment runs package version %d after the deploy, want %d", *ans.Value.Version, want), "", nil)
	}
	return nil
}

func (e *Engine) preflightLimit() time.Duration {
	if e.PreflightTimeout > 0 {
		return e.PreflightTimeout
	}
	return DefaultPreflightTimeout
}
