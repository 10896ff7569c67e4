package convexlocal_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// TestCLINodeIsTheImageNode: the node every real-CLI test runs the CLI with (toolpath.Node) is
// the release layers/Dockerfile puts in the image, so the suite cannot fall back to another node
// on PATH unnoticed.
func TestCLINodeIsTheImageNode(t *testing.T) {
	root, err := toolpath.Root()
	if err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "layers", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ARG NODE_VERSION=(\S+)$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("layers/Dockerfile sets no ARG NODE_VERSION")
	}
	node, err := toolpath.Node()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "-p", "process.version").Output()
	if err != nil {
		t.Fatalf("%s -p process.version: %v", node, err)
	}
	if got, want := strings.TrimSpace(string(out)), "v"+string(m[1]); got != want {
		t.Errorf("the tests run the CLI on %s, which reports %s; the image's node is %s", node, got, want)
	}
}
