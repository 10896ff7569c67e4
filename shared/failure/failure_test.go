package failure_test

import (
	"os"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/failure"
)

// Every class has its own hint, and docs/messages.md names every class's wire value.
func TestClasses(t *testing.T) {
	doc, err := os.ReadFile("../../docs/messages.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[failure.Class]bool{}
	for _, c := range failure.Classes {
		if seen[c] {
			t.Errorf("%s listed twice", c)
		}
		seen[c] = true
		if c != failure.Internal && c.Hint() == failure.Internal.Hint() {
			t.Errorf("%s has no hint of its own", c)
		}
		if c.Hint() == "" {
			t.Errorf("%s has no hint", c)
		}
		if !strings.Contains(string(doc), "`"+string(c)+"`") {
			t.Errorf("docs/messages.md does not name %s", c)
		}
	}
	if got := failure.Class("no_such_class").Hint(); got != failure.Internal.Hint() {
		t.Errorf("hint of an unknown class %q, want Internal's", got)
	}
}
