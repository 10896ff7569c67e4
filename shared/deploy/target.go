package deploy

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Target is the deployment to deploy into: its URL and either a Convex cloud deploy key
// (`prod:<name>|<secret>`) or, for a self-hosted deployment, its admin key (`<name>|<secret>`).
type Target struct {
	URL string
	Key string
}

// String shows the URL and the key's public part only: `<type>:<name>|[REDACTED]`.
func (t Target) String() string {
	ident, _, found := strings.Cut(t.Key, "|")
	if !found {
		ident = ""
	}
	return t.URL + " (key " + ident + "|" + redacted + ")"
}

// GoString keeps %#v from printing the key.
func (t Target) GoString() string { return "deploy.Target{" + t.String() + "}" }

// LogValue keeps a logged Target from showing the key or the URL: in the deployer both are
// decrypted values, which never reach a log.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", redacted), slog.String("key", redacted))
}

// MarshalJSON keeps a Target encoded as JSON from showing the key or the URL.
func (t Target) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"url": redacted, "key": redacted})
}

const redacted = "[REDACTED]"

var (
	// A deployment name: lowercase words joined by hyphens, e.g. happy-animal-123.
	nameRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	// A key: no whitespace, quotes, `#` or `$`, so it is one safe token in a dotenv file.
	keyRE = regexp.MustCompile(`^[A-Za-z0-9_.:|+/=-]{3,1000}$`)
)

// target is a validated Target.
type target struct {
	base  string // scheme://host[:port], nothing else
	cloud bool   // a Convex cloud deployment: the key is a deploy key
	name  string // the deployment name the key names
	key   string
}

// cloudName returns the deployment name of a Convex cloud API host (`<name>.convex.cloud` or
// `<name>.<region>.convex.cloud`), or "" when host is not one.
func cloudName(host string) string {
	rest, ok := strings.CutSuffix(host, ".convex.cloud")
	if !ok {
		return ""
	}
	labels := strings.Split(rest, ".")
	if len(labels) > 2 {
		return ""
	}
	for _, l := range labels {
		if !nameRE.MatchString(l) {
			return ""
		}
	}
	return labels[0]
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validate checks t against the URL and key rules. selfHosted lists the hosts besides Convex
// cloud that may be deployed to (a loopback host only when listed).
func validate(t Target, selfHosted []string) (target, *Error) {
	u, err := url.Parse(strings.TrimSpace(t.URL))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return target{}, invalidTarget("the deployment URL is not an absolute URL")
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.User != nil:
		return target{}, invalidTarget("the deployment URL must not hold a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "":
		return target{}, invalidTarget("the deployment URL must not have a query or a fragment")
	case u.Path != "" && u.Path != "/":
		// The CLI drops a path prefix (docs/convex-protocol.md, "Request conventions"), so a
		// path would deploy elsewhere.
		return target{}, invalidTarget("the deployment URL must not have a path")
	case u.Scheme == "http" && !isLoopback(host):
		return target{}, invalidTarget("the deployment URL must use https (plain http only to this machine)")
	case u.Scheme != "https" && u.Scheme != "http":
		return target{}, invalidTarget("the deployment URL must use https")
	case strings.HasSuffix(host, ".convex.site"):
		return target{}, invalidTarget("%s is the deployment's HTTP actions address; use its .convex.cloud URL", host)
	}
	tg := target{base: u.Scheme + "://" + strings.ToLower(u.Host), key: t.Key}
	if !keyRE.MatchString(t.Key) {
		return target{}, invalidTarget("the key is not a Convex deploy key")
	}
	ident, secret, _ := strings.Cut(t.Key, "|")
	if ident == "" || secret == "" {
		return target{}, invalidTarget("the key is not a Convex deploy key (expected prod:<deployment>|<secret>)")
	}
	kind, name, typed := strings.Cut(ident, ":")
	if !typed {
		kind, name = "", ident
	}
	if strings.Contains(name, ":") || kind == "project" || (typed && kind != "prod" && kind != "dev" && kind != "preview") {
		return target{}, invalidTarget("the key is a %s key; a deploy key for the deployment itself is needed", kindName(kind))
	}

	if cn := cloudName(host); cn != "" {
		if u.Scheme != "https" || (u.Port() != "" && u.Port() != "443") {
			return target{}, invalidTarget("a Convex cloud URL is https://<name>.convex.cloud with no port")
		}
		if name != cn {
			return target{}, invalidTarget("the key is for deployment %q, not for %q in the URL", name, cn)
		}
		tg.cloud, tg.name = true, cn
		return tg, nil
	}
	if !hostListed(host, selfHosted) {
		return target{}, invalidTarget("%s is neither a Convex cloud deployment nor an allowed self-hosted host", host)
	}
	tg.name = name
	return tg, nil
}

func kindName(kind string) string {
	if kind == "" {
		return "unknown"
	}
	return kind
}

func hostListed(host string, list []string) bool {
	for _, h := range list {
		if strings.EqualFold(strings.TrimSpace(h), host) {
			return true
		}
	}
	return false
}
