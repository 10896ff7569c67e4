package convexcli

import (
	"regexp"
	"strconv"
	"strings"
)

// Step is a phase of `convex deploy` recognised in its output.
type Step string

// The steps ParseLine recognises, in the order the CLI goes through them.
const (
	StepBundling  Step = "bundling"  // esbuild bundles the functions and the schema
	StepPushing   Step = "pushing"   // start_push: the backend evaluates the schema and modules
	StepIndexing  Step = "indexing"  // wait_for_schema: index backfill and document validation
	StepFinishing Step = "finishing" // finish_push: the new code goes live
	StepDeployed  Step = "deployed"  // the CLI reported success
	StepRetrying  Step = "retrying"  // the CLI is retrying a request
)

// Progress is what one CLI output line says about the deploy.
type Progress struct {
	Step        Step
	Message     string // the line without the CLI's status glyph
	Done, Total int    // index backfill progress when Step is StepIndexing and the CLI gave it
}

var (
	backfillRE = regexp.MustCompile(`Backfilling index(?:es)?(?: \S+)? \((\d+)/(\d+) ready\)`)
	glyphs     = "✔✖✘⚠-•›"
)

// ParseLine reads one line of the CLI's output. It reports false for lines that say nothing
// about progress (blank lines, table listings, warnings, errors).
func ParseLine(line string) (Progress, bool) {
	msg := trimGlyph(line)
	p := Progress{Message: msg}
	switch {
	case msg == "":
		return Progress{}, false
	case strings.HasPrefix(msg, "Bundling"), strings.HasPrefix(msg, "Deploying to "):
		p.Step = StepBundling
	case strings.HasPrefix(msg, "Verifying that the push"),
		strings.HasPrefix(msg, "Uploading functions"),
		strings.HasPrefix(msg, "Running TypeScript"),
		strings.HasPrefix(msg, "Pushing code to your Convex deployment"),
		strings.HasPrefix(msg, "Analyzing"):
		p.Step = StepPushing
	case strings.HasPrefix(msg, "Backfilling"):
		p.Step = StepIndexing
		if m := backfillRE.FindStringSubmatch(msg); m != nil {
			p.Done, _ = strconv.Atoi(m[1])
			p.Total, _ = strconv.Atoi(m[2])
		}
	case strings.HasPrefix(msg, "Checking that documents match your schema"):
		p.Step = StepIndexing
	case strings.HasPrefix(msg, "Schema validation complete"),
		strings.HasPrefix(msg, "Finalizing push"),
		strings.HasPrefix(msg, "Added table indexes"),
		strings.HasPrefix(msg, "Deleted table indexes"):
		p.Step = StepFinishing
	case strings.HasPrefix(msg, "Deployed Convex functions to"):
		p.Step = StepDeployed
	case strings.HasPrefix(msg, "Retrying request"):
		p.Step = StepRetrying
	default:
		return Progress{}, false
	}
	return p, true
}

func trimGlyph(line string) string {
	s := strings.TrimSpace(line)
	for {
		t := strings.TrimLeft(s, glyphs)
		t = strings.TrimSpace(t)
		if t == s {
			return s
		}
		s = t
	}
}

// Failure is what a failed CLI run printed about why, read from its stderr (docs/convex-protocol.md,
// "How the CLI prints a failure").
// Fields the output did not carry are zero.
type Failure struct {
	// Op is the step that failed as the CLI names it: "pull deployment config from",
	// "start push to", "finish push to", "wait for schema from", …
	Op string
	// Method, URL, Status and StatusText come from the "Error fetching" line of an HTTP error.
	Method, URL string
	Status      int
	StatusText  string
	// Code and Message are the backend's own error code and message ({"code","message"}). For a
	// 403 the CLI prints only the message after the "Unable to" line: ParseFailure recognises
	// that shape (see forbiddenShape) and sets Status 403 with the Message and no Code.
	Code, Message string
	// Network is set when the request never got an answer ("TypeError: fetch failed").
	Network bool
	// SchemaValidation holds the backend's error when wait_for_schema reported "failed".
	SchemaValidation string
	// Race is set when another push overwrote the schema ("raceDetected").
	Race bool
	// Bundle holds esbuild's error text when bundling failed.
	Bundle string
	// Text is the last error the CLI printed, for failures none of the fields above describe.
	Text string
}

var (
	unableRE   = regexp.MustCompile(`^Error: Unable to (.+?) (https?://\S+)$`)
	fetchingRE = regexp.MustCompile(`^Error fetching (GET|POST|PUT|DELETE|PATCH)\s+(\S+) (\d{3}) ([^:]*?)(?:: (.*))?$`)
	codeRE     = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*): ([\s\S]*)$`)
)

// ParseFailure reads the stderr of a failed CLI run. It never fails: output it does not know ends
// up in Text.
func ParseFailure(stderr string) Failure {
	var f Failure
	blocks := errorBlocks(stderr)
	for i := 0; i < len(blocks); i++ {
		b := blocks[i]
		first, rest, _ := strings.Cut(b, "\n")
		switch {
		case unableRE.MatchString(first):
			m := unableRE.FindStringSubmatch(first)
			f.Op, f.URL = m[1], m[2]
			// A 403 prints the backend's message alone in the next block. Any other block stays
			// unrecognised and ends up in Text.
			if i+1 < len(blocks) && !isKnownBlock(blocks[i+1]) && forbiddenShape(blocks[i+1]) {
				i++
				f.Status = 403
				f.Message = stripAdvice(blocks[i])
			}
		case fetchingRE.MatchString(first):
			m := fetchingRE.FindStringSubmatch(first)
			f.Method, f.URL, f.StatusText = m[1], m[2], strings.TrimSpace(m[4])
			f.Status, _ = strconv.Atoi(m[3])
			detail := m[5]
			if rest != "" {
				detail += "\n" + rest
			}
			detail = strings.TrimSuffix(strings.TrimSpace(detail), "\nAuthenticate with `npx convex dev`")
			if cm := codeRE.FindStringSubmatch(detail); cm != nil {
				f.Code, f.Message = cm[1], strings.TrimSpace(cm[2])
			} else {
				f.Message = detail
			}
		case strings.HasPrefix(first, "TypeError: fetch failed"):
			f.Network = true
		case strings.HasPrefix(first, "Schema validation failed"):
			if i+1 < len(blocks) {
				i++
				f.SchemaValidation = strings.TrimSpace(blocks[i])
			} else {
				f.SchemaValidation = strings.TrimSpace(rest)
			}
		case strings.Contains(first, "Schema was overwritten by another push"):
			f.Race = true
		case strings.HasPrefix(first, "[ERROR]"):
			f.Bundle = strings.TrimSpace(strings.TrimPrefix(b, "[ERROR]"))
		}
		f.Text = strings.TrimSpace(b)
	}
	if f.Code == "RaceDetected" {
		f.Race = true
	}
	return f
}

func isKnownBlock(b string) bool {
	first, _, _ := strings.Cut(b, "\n")
	return unableRE.MatchString(first) || fetchingRE.MatchString(first) ||
		strings.HasPrefix(first, "TypeError: fetch failed")
}

// The texts that mark a 403 the CLI printed as the backend's message alone (docs/convex-protocol.md,
// "What each failure looks like", "How the CLI prints a failure"):
// the advice it adds when a deploy key is set, and the backend's two 403 messages.
const (
	permissionAdvice  = "This is determined by the permissions granted to"
	operationDenied   = "You do not have permission to perform this operation"
	badDeployKeyStart = "The provided deploy key was invalid for deployment"
)

// forbiddenShape reports whether a block printed after "Unable to …" is a 403's message. Other
// blocks there (a crash's own text, a response the CLI could not parse) are not: they must not
// pass for a permission problem, which no retry can fix.
func forbiddenShape(b string) bool {
	b = strings.TrimSpace(b)
	return strings.Contains(b, "\n"+permissionAdvice) ||
		strings.HasPrefix(b, operationDenied) || strings.HasPrefix(b, badDeployKeyStart)
}

// IsBadDeployKey reports whether a 403's message is the backend's BadDeployKey text (a key of
// another deployment, or one that is not an admin's), which the CLI prints without its code.
func IsBadDeployKey(message string) bool {
	return strings.HasPrefix(message, badDeployKeyStart)
}

func stripAdvice(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n"+permissionAdvice); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// errorBlocks splits output into the CLI's error messages: each starts at a line marked ✖ or ✘
// and runs on over the unmarked lines after it, until a marked line of another kind or a blank.
func errorBlocks(out string) []string {
	var blocks []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimRight(ansi.ReplaceAllString(raw, ""), "\r ")
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "✖") || strings.HasPrefix(t, "✘"):
			flush()
			cur = []string{strings.TrimSpace(strings.TrimLeft(t, "✖✘ "))}
		case t == "" || strings.HasPrefix(t, "✔") || strings.HasPrefix(t, "⚠") || strings.HasPrefix(t, "- "):
			flush()
		case cur != nil:
			cur = append(cur, line)
		}
	}
	flush()
	return blocks
}
