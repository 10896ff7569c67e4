package settings

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: the infra module imports this package (infra/go.mod replaces the main
// module with ../), so anything beyond the standard library here would compile the Lambdas'
// dependencies into the CDK app and need them in infra's go.sum.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const self = "github.com/byod-deployer/byod-deployer/shared/settings"
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != self {
		t.Fatalf("go list -deps printed %q: want the package itself last", deps)
	}
	for _, pkg := range deps[:len(deps)-1] {
		t.Errorf("settings links %s: keep it to the standard library", pkg)
	}
}
