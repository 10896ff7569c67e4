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
)

// Class is the kind of a deploy failure: what the user is told and whether a retry can help.
type Class string

// The failure classes a user sees (docs/messages.md): the five of the product's original spec
// (invalid key, permission denied, timed out, schema rejected, unreachable), plus concurrent_push,
// invalid_target and internal.
const (
	ClassInvalidDeployKey       Class = "invalid_deploy_key"
	ClassPermissionDenied       Class = "permission_denied"
	ClassTimedOut               Class = "timed_out"
	ClassSchemaValidationFailed Class = "schema_validation_failed"
	ClassUnreachable            Class = "unreachable"
	ClassConcurrentPush         Class = "concurrent_push"
	ClassInvalidTarget          Class = "invalid_target"
	ClassInternal               Class = "internal"
)

// The hints a user sees for each class.
const (
	hintInvalidKey  = "Regenerate the deploy key in the Convex dashboard (Settings → Deploy keys) and enter it again."
	hintPermission  = "Check the key's permissions: it must be a production deploy key allowed to deploy."
	hintTimedOut    = "Retry; if it keeps timing out, deploy by hand with the downloadable package."
	hintSchema      = "The deployment rejected the package or its existing data; see the detail below."
	hintUnreachable = "Check the deployment URL (https://<name>.convex.cloud) and that the deployment is running."
	hintRace        = "Another deploy to this deployment ran at the same time; retry when it is done."
	hintTarget      = "Enter the deployment URL from the Convex dashboard and a production deploy key for it."
	hintInternal    = "Retry; if it keeps failing, deploy by hand with the downloadable package."
)

// Error is the error Deploy returns. Its text never holds the key.
type Error struct {
	Class     Class
	Message   string // what went wrong, for the user
	Detail    string // the backend's or the CLI's own words, when there are any
	Hint      string // what the user can do
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

// ClassOf returns the Class of err, or ClassInternal when err is not an *Error.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassInternal
}

func newError(c Class, retryable bool, hint, msg, detail string, cause error) *Error {
	return &Error{Class: c, Message: msg, Detail: detail, Hint: hint, Retryable: retryable, Err: cause}
}

func invalidTarget(format string, args ...any) *Error {
	return newError(ClassInvalidTarget, false, hintTarget, fmt.Sprintf(format, args...), "", nil)
}

func timedOut(after time.Duration, cause error) *Error {
	return newError(ClassTimedOut, true, hintTimedOut, fmt.Sprintf("timed out after %s", after.Round(time.Millisecond)), "", cause)
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
		return newError(ClassConcurrentPush, true, hintRace, "another push changed the deployment's schema during this deploy", detail, cause)
	case f.SchemaValidation != "":
		return newError(ClassSchemaValidationFailed, false, hintSchema, "the deployment's existing data does not match the schema", f.SchemaValidation, cause)
	case f.Status == 401 || codeIs("BadAdminKey", "BadDeployKey", "Unauthenticated") ||
		(f.Status == 403 && convexcli.IsBadDeployKey(f.Message)):
		return newError(ClassInvalidDeployKey, false, hintInvalidKey, "the deployment rejected the key", detail, cause)
	case f.Status == 403 || codeIs("OperationNotPermitted", "Forbidden"):
		return newError(ClassPermissionDenied, false, hintPermission, "the key may not deploy to this deployment", detail, cause)
	case f.Network:
		return newError(ClassUnreachable, true, hintUnreachable, "the deployment stopped answering during the deploy", "fetch failed", cause)
	case f.Status == 400:
		return newError(ClassSchemaValidationFailed, false, hintSchema, "the deployment rejected the package", detail, cause)
	case f.Status == 404:
		return newError(ClassUnreachable, false, hintUnreachable, "no Convex deployment API at this URL", detail, cause)
	case f.Status >= 500 || f.Status == 429:
		return newError(ClassInternal, true, hintInternal, fmt.Sprintf("the deployment failed with %d %s", f.Status, f.StatusText), detail, cause)
	case f.Bundle != "":
		return newError(ClassInternal, false, hintInternal, "the package could not be bundled", f.Bundle, cause)
	case f.Op != "":
		// "Unable to <op>" followed by something unrecognised: not a shape the backend's
		// permission or key errors take, so a retry may help.
		return newError(ClassInternal, true, hintInternal, "the Convex CLI was unable to "+f.Op+" the deployment", f.Text, cause)
	default:
		return newError(ClassInternal, true, hintInternal, "the Convex CLI failed", f.Text, cause)
	}
}
