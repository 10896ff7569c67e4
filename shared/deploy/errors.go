package deploy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/convexcli"
	"github.com/byod-deployer/byod-deployer/shared/failure"
)

// Error is the error Deploy returns. Its text never holds the key.
type Error struct {
	Class     failure.Class
	Message   string // what went wrong, for the user
	Detail    string // the backend's or the CLI's own words, when there are any
	Hint      string // what the user can do: the class's hint (failure.Class.Hint)
	Retryable bool   // whether the same deploy may succeed later
	Err       error  // the cause, scrubbed; may be nil

	// target replaces the deployment's URL, host, name and key ident in what LogValue shows.
	target *strings.Replacer
}

// LogValue is what a log record shows of the error: its class, whether a retry may help, and its
// text and cause with the deployment's URL, host, name and key ident replaced by "[deployment]".
// They are decrypted values, which never reach a log; Message and Detail keep them
// for the user, whose deployment they name. The key itself is scrubbed from every field already.
func (e *Error) LogValue() slog.Value {
	clean := func(s string) string {
		if e.target == nil {
			return s
		}
		return e.target.Replace(s)
	}
	attrs := []slog.Attr{
		slog.String("class", string(e.Class)),
		slog.Bool("retryable", e.Retryable),
		slog.String("message", clean(e.Error())),
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("cause", clean(e.Err.Error())))
	}
	return slog.GroupValue(attrs...)
}

// ForTarget makes LogValue leave out t's URL, host, name and key ident, and returns e. Every error
// Engine.Deploy returns has it; a stand-in for the engine in a test should call it too.
func (e *Error) ForTarget(t Target) *Error {
	e.target = targetWords(t)
	return e
}

// targetWords are the words of t that name the deployment: the URL as given, its host with and
// without the port, the deployment name of a cloud host, the key's ident and its name, longest
// first (so a longer word is replaced before a word inside it). Words under four characters are
// left out: they would blot out ordinary text and name nothing.
func targetWords(t Target) *strings.Replacer {
	words := map[string]bool{strings.TrimSpace(t.URL): true}
	if u, err := url.Parse(strings.TrimSpace(t.URL)); err == nil {
		host := strings.ToLower(u.Hostname())
		words[u.Host], words[strings.ToLower(u.Host)], words[host] = true, true, true
		if n, _, ok := strings.Cut(host, "."); ok && strings.HasSuffix(host, ".convex.cloud") {
			words[n] = true
		}
	}
	if ident, _, ok := strings.Cut(t.Key, "|"); ok {
		words[ident] = true
		if _, name, typed := strings.Cut(ident, ":"); typed {
			words[name] = true
		}
	}
	var list []string
	for w := range words {
		if len(w) >= 4 {
			list = append(list, w)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if len(list[i]) != len(list[j]) {
			return len(list[i]) > len(list[j])
		}
		return list[i] < list[j]
	})
	var pairs []string
	for _, w := range list {
		pairs = append(pairs, w, "[deployment]")
	}
	return strings.NewReplacer(pairs...)
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deploy: %s: %s", e.Class, e.Message)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err, or failure.Internal when err is not an *Error.
func ClassOf(err error) failure.Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return failure.Internal
}

func newError(c failure.Class, retryable bool, msg, detail string, cause error) *Error {
	return &Error{Class: c, Message: msg, Detail: detail, Hint: c.Hint(), Retryable: retryable, Err: cause}
}

func invalidTarget(format string, args ...any) *Error {
	return newError(failure.InvalidTarget, false, fmt.Sprintf(format, args...), "", nil)
}

func timedOut(after time.Duration, cause error) *Error {
	return newError(failure.TimedOut, true, fmt.Sprintf("timed out after %s", after.Round(time.Millisecond)), "", cause)
}

// classifyCLI turns a failed CLI run into an Error, from what the CLI printed (docs/convex-protocol.md,
// "How the CLI prints a failure").
func classifyCLI(f convexcli.Failure, cause error) *Error {
	detail := f.Message
	if f.Code != "" {
		detail = f.Code + ": " + f.Message
	}
	codeIs := func(codes ...string) bool {
		for _, c := range codes {
			if f.Code == c {
				return true
			}
		}
		return false
	}
	switch {
	case f.Race:
		return newError(failure.ConcurrentPush, true, "another push changed the deployment's schema during this deploy", detail, cause)
	case f.SchemaValidation != "":
		return newError(failure.SchemaValidationFailed, false, "the deployment's existing data does not match the schema", f.SchemaValidation, cause)
	case f.Status == 401 || codeIs("BadAdminKey", "BadDeployKey", "Unauthenticated") ||
		(f.Status == 403 && convexcli.IsBadDeployKey(f.Message)):
		return newError(failure.InvalidDeployKey, false, "the deployment rejected the key", detail, cause)
	case f.Status == 403 || codeIs("OperationNotPermitted", "Forbidden"):
		return newError(failure.PermissionDenied, false, "the key may not deploy to this deployment", detail, cause)
	case f.Network:
		return newError(failure.Unreachable, true, "the deployment stopped answering during the deploy", "fetch failed", cause)
	case f.Status == 400:
		return newError(failure.SchemaValidationFailed, false, "the deployment rejected the package", detail, cause)
	case f.Status == 404:
		return newError(failure.Unreachable, false, "no Convex deployment API at this URL", detail, cause)
	case f.Status >= 500 || f.Status == 429:
		return newError(failure.Internal, true, fmt.Sprintf("the deployment failed with %d %s", f.Status, f.StatusText), detail, cause)
	case f.Bundle != "":
		return newError(failure.Internal, false, "the package could not be bundled", f.Bundle, cause)
	case f.Op != "":
		// "Unable to <op>" followed by something unrecognised: not a shape the backend's
		// permission or key errors take, so a retry may help.
		return newError(failure.Internal, true, "the Convex CLI was unable to "+f.Op+" the deployment", f.Text, cause)
	default:
		return newError(failure.Internal, true, "the Convex CLI failed", f.Text, cause)
	}
}
