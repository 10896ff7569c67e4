package local_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/byod-deployer/byod-deployer"

// TestFunctionsNeverLinkLocal fails when a Lambda function's build (not its tests) reaches a
// package that only stands in for AWS or Convex.
func TestFunctionsNeverLinkLocal(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	var shared []string
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == module+"/shared/local" || strings.HasPrefix(pkg, module+"/shared/local/") {
			t.Errorf("a function links %s: stand-ins and local mode live under shared/local and never ship", pkg)
		}
		if strings.HasPrefix(pkg, module+"/shared/") {
			shared = append(shared, strings.TrimPrefix(pkg, module+"/"))
		}
	}
	// The check must have looked at something: the functions link the shipped packages.
	if len(shared) < 5 {
		t.Fatalf("go list found only %v under shared/: the check saw no real dependency graph", shared)
	}
}
