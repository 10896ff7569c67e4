package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
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

// validate checks t against the URL and key rules. selfHosted lists the deployments besides
// Convex cloud that may be deployed to, as ParseHosts accepts them, matched on host and port;
// loopback admits any port on this machine. A loopback host is never implied: it is allowed only
// by loopback or by an entry that names it with its port.
func validate(t Target, selfHosted []string, loopback bool) (target, *Error) {
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
	port := urlPort(u)
	if !(loopback && isLoopback(host)) && !hostListed(host, port, selfHosted) {
		return target{}, invalidTarget("%s is neither a Convex cloud deployment nor an allowed self-hosted host (allowed by host and port)", net.JoinHostPort(host, port))
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

// hostListed reports whether an entry of list names exactly host and port. An entry that is not
// one (ParseHosts would refuse it) matches nothing.
func hostListed(host, port string, list []string) bool {
	for _, entry := range list {
		h, p, err := parseEntry(entry)
		if err == nil && h == host && (p == port || p == "*") {
			return true
		}
	}
	return false
}

// defaultEntryPort is the port of an allow-list entry that names none: https.
const defaultEntryPort = "443"

// ErrHostEntry is wrapped by ParseHosts and HostEntry for an entry or URL that names no host and
// port.
var ErrHostEntry = errors.New("deploy: not a host or host:port")

// ParseHosts parses an allow-list of self-hosted deployments (SELF_HOSTED_HOSTS): entries
// separated by commas, each `host` or `host:port` (`[address]:port` for IPv6), the port 1–65535
// and 443 when left out. A deployment is allowed only at exactly that host and port. A loopback
// host may say `:*` (any port): how local mode allows this machine, explicitly. Blank
// entries are skipped; it returns the others trimmed, or an error wrapping ErrHostEntry that names
// every entry that is not one (a scheme, path, user or stray colon included).
func ParseHosts(list string) ([]string, error) {
	var out []string
	var errs []error
	for _, e := range strings.Split(list, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if _, _, err := parseEntry(e); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// HostEntry returns the allow-list entry that names rawURL's host and port exactly (80 for http
// and 443 for https when the URL names none): how local mode allows its own deployment and no
// other. It returns an error wrapping ErrHostEntry when rawURL is not an http(s) URL with a host.
func HostEntry(rawURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%w: %q is not an http(s) URL with a host", ErrHostEntry, rawURL)
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), urlPort(u)), nil
}

// parseEntry splits an allow-list entry into its lower-cased host and canonical port.
func parseEntry(entry string) (host, port string, err error) {
	e := strings.TrimSpace(entry)
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("%w: %q: %s", ErrHostEntry, entry, why)
	}
	if e == "" || strings.ContainsAny(e, "/@?# \t") {
		return bad("want host or host:port, no scheme, path or user")
	}
	host, port = e, defaultEntryPort
	switch {
	case strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]"):
		host = e[1 : len(e)-1]
	case strings.HasPrefix(e, "[") || strings.Count(e, ":") == 1:
		if host, port, err = net.SplitHostPort(e); err != nil {
			return bad("want host or host:port")
		}
	case strings.Contains(e, ":"):
		return bad("write an IPv6 address as [address] or [address]:port")
	}
	if port == "*" && host != "" && isLoopback(strings.ToLower(host)) {
		return strings.ToLower(host), port, nil // local mode: this machine, any port, said so
	}
	n, err := strconv.Atoi(port)
	if host == "" || strings.ContainsAny(host, "[]") || err != nil || n < 1 || n > 65535 {
		return bad("want host or host:port with a port from 1 to 65535")
	}
	return strings.ToLower(host), strconv.Itoa(n), nil
}

// urlPort is the port a URL reaches: its own, else its scheme's.
func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			return strconv.Itoa(n)
		}
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return defaultEntryPort
}
