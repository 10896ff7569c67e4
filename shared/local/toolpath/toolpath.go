// Package toolpath finds the tools that `make deps` installs from the committed lockfiles: the
// pinned Convex CLI (layers/package-lock.json) and the local AWS stand-ins
// (cmd/byod/localdeps/package-lock.json).
//
// Lookups never download anything. When a tool is missing they return an error that names the
// make target that installs it, so a test fails loudly instead of skipping. `byod deploy`, which
// also runs outside a checkout, installs the CLI itself when these lookups find none (see
// cmd/byod/cli.go).
package toolpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Environment variables that override where the tools live. The container image sets
// BYOD_CLI_NODE_MODULES=/opt/convex/node_modules.
const (
	EnvCLINodeModules   = "BYOD_CLI_NODE_MODULES"
	EnvLocalNodeModules = "BYOD_LOCAL_NODE_MODULES"
)

// ErrMissing is wrapped by every lookup that finds no installed tool.
var ErrMissing = errors.New("toolpath: not installed (run `make deps`)")

// ErrNoCheckout is wrapped when the working directory is not inside a byod-deployer checkout.
var ErrNoCheckout = errors.New("toolpath: not inside a byod-deployer checkout")

// Root returns the repository root: the nearest directory at or above the working directory
// that holds go.mod and a layers/ folder. Outside a checkout the error wraps ErrNoCheckout.
func Root() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("toolpath: %w", err)
	}
	for dir := wd; ; {
		if isFile(filepath.Join(dir, "go.mod")) && isDir(filepath.Join(dir, "layers")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.mod beside a layers/ folder at or above %s", ErrNoCheckout, wd)
		}
		dir = parent
	}
}

// cliProbe is the file every install of the convex package holds.
const cliProbe = "convex/bin/main.js"

// CLINodeModules returns the node_modules folder that holds the pinned convex package:
// $BYOD_CLI_NODE_MODULES, else the checkout's .tools/cli/node_modules.
func CLINodeModules() (string, error) {
	return nodeModules(EnvCLINodeModules, "cli", cliProbe)
}

// CheckCLI returns an error wrapping ErrMissing when nm holds no convex package.
func CheckCLI(nm string) error {
	return check(nm, cliProbe)
}

// CLIMain returns the path of the Convex CLI's bin (…/convex/bin/main.js), the entry a person's
// `npx convex` runs; tests of the local Convex deployment drive the CLI through it, as users do.
// The deploy engine runs the bundle that bin imports (convexcli.Entry). Either is run with node
// directly: never through npx or a shell.
func CLIMain() (string, error) {
	nm, err := CLINodeModules()
	if err != nil {
		return "", err
	}
	return filepath.Join(nm, "convex", "bin", "main.js"), nil
}

// LocalNodeModules returns the node_modules folder of the local stand-ins (DynamoDB Local,
// fauxqs, playwright-core).
func LocalNodeModules() (string, error) {
	return nodeModules(EnvLocalNodeModules, "local", "fauxqs/package.json")
}

func nodeModules(env, name, probe string) (string, error) {
	nm := os.Getenv(env)
	if nm == "" {
		root, err := Root()
		if err != nil {
			return "", err
		}
		nm = filepath.Join(root, ".tools", name, "node_modules")
	}
	if err := check(nm, probe); err != nil {
		return "", err
	}
	return nm, nil
}

func check(nm, probe string) error {
	if !isFile(filepath.Join(nm, probe)) {
		return fmt.Errorf("toolpath: %s has no %s: %w", nm, probe, ErrMissing)
	}
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
