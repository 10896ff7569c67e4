package convexcli

import (
	"regexp"
	"strings"
	"sync"
)

// Redacted replaces every secret in captured output.
const Redacted = "[REDACTED]"

// maxLine bounds one line handed to the line callback; longer lines are cut into pieces.
const maxLine = 16 << 10

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// Scrubber replaces secrets in text. The zero value replaces nothing.
type Scrubber struct {
	secrets []string
	longest int
}

// NewScrubber returns a Scrubber for the given secrets. Empty strings are ignored; for a
// Convex key of the form `<prefix>|<secret>` pass both the whole key and the part after `|`
// (see [KeySecrets]).
func NewScrubber(secrets ...string) *Scrubber {
	s := &Scrubber{}
	for _, v := range secrets {
		if v == "" {
			continue
		}
		s.secrets = append(s.secrets, v)
		s.longest = max(s.longest, len(v))
	}
	// Longest first, so a key is replaced whole before its secret part is looked for.
	for i := 1; i < len(s.secrets); i++ {
		for j := i; j > 0 && len(s.secrets[j]) > len(s.secrets[j-1]); j-- {
			s.secrets[j], s.secrets[j-1] = s.secrets[j-1], s.secrets[j]
		}
	}
	return s
}

// KeySecrets returns the strings to scrub for a Convex deploy or admin key: the key itself and
// the secret part after its first `|`.
func KeySecrets(key string) []string {
	out := []string{key}
	if i := strings.IndexByte(key, '|'); i >= 0 && i+1 < len(key) {
		out = append(out, key[i+1:])
	}
	return out
}

// Scrub returns s with every secret replaced by [Redacted].
func (sc *Scrubber) Scrub(s string) string {
	if sc == nil {
		return s
	}
	for _, v := range sc.secrets {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	return s
}

// capture is an io.Writer for one stream of the child: it splits the stream into lines, strips
// terminal escapes, scrubs secrets, keeps a bounded tail and hands each line to onLine.
type capture struct {
	mu     sync.Mutex
	stream string
	scrub  *Scrubber
	limit  int
	onLine func(stream, line string)

	pending []byte // bytes of the current, unfinished line
	tail    []byte // scrubbed output, at most limit bytes
	cut     bool   // the tail lost its beginning
	total   int64  // bytes written by the child
}

func newCapture(stream string, scrub *Scrubber, limit int, onLine func(stream, line string)) *capture {
	return &capture{stream: stream, scrub: scrub, limit: limit, onLine: onLine}
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += int64(n)
	for len(p) > 0 {
		i := indexLineEnd(p)
		if i < 0 {
			c.pending = append(c.pending, p...)
			if len(c.pending) > maxLine {
				c.flushLong()
			}
			return n, nil
		}
		c.pending = append(c.pending, p[:i]...)
		c.emit(string(c.pending))
		c.pending = c.pending[:0]
		p = p[i+1:]
	}
	return n, nil
}

// flushLong emits the start of an over-long line. It scrubs the whole pending text first and
// keeps the last longest-1 bytes back, so a secret cut at the boundary is completed by the next
// write before it is scrubbed.
func (c *capture) flushLong() {
	text := c.scrub.Scrub(string(c.pending))
	keep := 0
	if c.scrub != nil && c.scrub.longest > 1 {
		keep = min(c.scrub.longest-1, len(text))
	}
	c.emitScrubbed(text[:len(text)-keep])
	c.pending = append(c.pending[:0], text[len(text)-keep:]...)
}

func (c *capture) emit(line string) {
	c.emitScrubbed(c.scrub.Scrub(line))
}

func (c *capture) emitScrubbed(line string) {
	line = strings.TrimRight(ansi.ReplaceAllString(line, ""), "\r")
	c.tail = append(c.tail, line...)
	c.tail = append(c.tail, '\n')
	if over := len(c.tail) - c.limit; over > 0 {
		c.tail = append(c.tail[:0], c.tail[over:]...)
		c.cut = true
	}
	if c.onLine != nil {
		c.onLine(c.stream, line)
	}
}

// finish emits a last line that had no newline.
func (c *capture) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		c.emit(string(c.pending))
		c.pending = c.pending[:0]
	}
}

// String returns the kept tail, scrubbed.
func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return "…" + string(c.tail)
	}
	return string(c.tail)
}

func indexLineEnd(p []byte) int {
	for i, b := range p {
		if b == '\n' {
			return i
		}
	}
	return -1
}
