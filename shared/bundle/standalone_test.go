package bundle_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// The repository must stand alone: a person who clones it can open everything it points at. These
// tests read every tracked file (git ls-files), so they guard code comments, tests and docs alike.
//
// The names of the reference notes the project was first built from are assembled here from
// pieces, so that this file, which is scanned like every other, does not name them itself.
var (
	// outsideNotes matches the notes' names as they were cited: "<NAME>.md", "<NAME> §4.3",
	// "<NAME>'s samples/…". The names are upper-case words, which no other tracked text uses.
	outsideNotes = regexp.MustCompile(`\b(` + strings.Join([]string{
		"DE" + "SIGN", "PRO" + "TOCOL", "STAND" + "INS", "ST" + "YLE",
	}, "|") + `)\b`)
	// upShared matches a relative path that climbs out of a directory into a folder named
	// "shared": the notes lay beside the repository there. Such a path is fine only where it
	// resolves to a tracked path inside the repository (docs/package.md links the package that way).
	upShared = regexp.MustCompile(`(?:\.\./)+shared/[^\s` + "`" + `"'()<>\[\]{}#,;]*`)
)

// trackedFiles returns the repository root and its tracked files (slash-separated, relative),
// without the tools folder `make deps` fills.
func trackedFiles(t testing.TB) (string, []string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("%s is not the repository root: %v", root, err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files in %s: %v", root, err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" || f == ".tools" || strings.HasPrefix(f, ".tools/") {
			continue
		}
		files = append(files, f)
	}
	// The check must have seen the repository, not an empty listing.
	if len(files) < 100 {
		t.Fatalf("git ls-files listed only %d files in %s", len(files), root)
	}
	return root, files
}

// TestNothingPointsOutside fails when a tracked file names the reference notes or a path that
// climbs out of the repository into a "shared" folder beside it.
func TestNothingPointsOutside(t *testing.T) {
	root, files := trackedFiles(t)
	tracked := trackedSet(files)
	read := 0
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
			continue // binary
		}
		read++
		for i, line := range strings.Split(string(data), "\n") {
			if m := outsideNotes.FindString(line); m != "" {
				t.Errorf("%s:%d names %q, a note outside the repository; cite the doc under docs/ that holds the fact: %s",
					f, i+1, m, strings.TrimSpace(line))
			}
			for _, ref := range upShared.FindAllString(line, -1) {
				if !inRepo(tracked, path.Join(path.Dir(f), strings.TrimRight(ref, ".:"))) {
					t.Errorf("%s:%d points at %q, which is not a path in the repository: %s",
						f, i+1, ref, strings.TrimSpace(line))
				}
			}
		}
	}
	if read < 100 {
		t.Fatalf("read only %d text files", read)
	}
}

// TestDocLinksResolve fails when a relative link in a tracked markdown file points at a path that
// is not in the repository, or at a heading its target does not have.
func TestDocLinksResolve(t *testing.T) {
	root, files := trackedFiles(t)
	tracked := trackedSet(files)
	anchors := map[string]map[string]bool{}
	anchorsOf := func(f string) map[string]bool {
		if a, ok := anchors[f]; ok {
			return a
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		anchors[f] = headingAnchors(string(data))
		return anchors[f]
	}
	checked := 0
	var docs []string
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			docs = append(docs, f)
		}
	}
	for _, f := range docs {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range markdownLinks(string(data)) {
			if scheme.MatchString(l.target) {
				continue // a URL
			}
			checked++
			p, frag, _ := strings.Cut(l.target, "#")
			target := f
			if p != "" {
				target = path.Join(path.Dir(f), p)
				if !inRepo(tracked, target) {
					t.Errorf("%s:%d links %q: %s is not in the repository", f, l.line, l.target, target)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(target, ".md") && !anchorsOf(target)[frag] {
				t.Errorf("%s:%d links %q: %s has no heading with the anchor #%s (it has: %s)",
					f, l.line, l.target, target, frag, strings.Join(sortedKeys(anchorsOf(target)), ", "))
			}
		}
	}
	// README.md and docs/ link each other in dozens of places: finding few means the parser broke.
	if checked < 20 {
		t.Fatalf("found only %d relative links in %d markdown files", checked, len(docs))
	}
}

var scheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

// trackedSet holds every tracked file and every directory above one.
func trackedSet(files []string) map[string]bool {
	set := map[string]bool{}
	for _, f := range files {
		for p := f; p != "." && p != "/" && !set[p]; p = path.Dir(p) {
			set[p] = true
		}
	}
	return set
}

// inRepo reports whether a slash-separated path relative to the root names a tracked file or a
// directory that holds one.
func inRepo(tracked map[string]bool, p string) bool {
	p = path.Clean(strings.TrimSuffix(p, "/"))
	return p != ".." && !strings.HasPrefix(p, "../") && tracked[p]
}

type link struct {
	line   int
	target string
}

var (
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	codeSpan   = regexp.MustCompile("``[^`]*``|`[^`]*`")
)

// markdownLinks returns the link targets of a markdown text, outside fenced code blocks and code
// spans.
func markdownLinks(doc string) []link {
	var out []link
	fenced := false
	for i, line := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		line = codeSpan.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, link{line: i + 1, target: m[1]})
		}
		if m := refLink.FindStringSubmatch(line); m != nil {
			out = append(out, link{line: i + 1, target: m[1]})
		}
	}
	return out
}

// headingAnchors returns the anchors GitHub gives a markdown text's headings: the text in lower
// case, without punctuation other than "-" and "_", spaces turned into "-", and "-1", "-2", …
// after repeats.
func headingAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(doc, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if text == "" || text[0] != ' ' {
			continue
		}
		text = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(text), "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r), unicode.IsNumber(r), r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			seen[a] = n + 1
			a = fmt.Sprintf("%s-%d", a, n)
		} else {
			seen[a] = 1
		}
		anchors[a] = true
	}
	return anchors
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
