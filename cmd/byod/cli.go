package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/byod-deployer/byod-deployer/layers"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// cacheDirName is this tool's folder in the user's cache directory (os.UserCacheDir): the CLI
// installs (cli/<lockfile hash>/) and Node's compile cache (node-compile-cache/).
const cacheDirName = "byod-deployer"

// errNoNPM is wrapped when the CLI has to be installed and npm is not on PATH.
var errNoNPM = errors.New("npm is not on PATH")

// cliLocator finds the node_modules holding the pinned convex package for `byod deploy`, in this
// order: the --cli flag, $BYOD_CLI_NODE_MODULES, the checkout's .tools/cli (when run inside one),
// then the install in the user's cache directory, which it makes on first use from the lockfile
// embedded in this binary.
type cliLocator struct {
	flag     string    // --cli
	cacheDir string    // the user's cache directory ("": none could be found)
	log      io.Writer // told when an install starts and ends
}

// find returns the node_modules to deploy with. A folder named by the flag or the environment
// must hold the convex package: it is never replaced by another install.
func (l cliLocator) find(ctx context.Context) (string, error) {
	for _, named := range []struct{ nm, from string }{{l.flag, "--cli"}, {os.Getenv(toolpath.EnvCLINodeModules), "$" + toolpath.EnvCLINodeModules}} {
		if named.nm == "" {
			continue
		}
		if err := toolpath.CheckCLI(named.nm); err != nil {
			return "", fmt.Errorf("the Convex CLI named by %s: %w", named.from, err)
		}
		return named.nm, nil
	}
	if root, err := toolpath.Root(); err == nil {
		nm := filepath.Join(root, ".tools", "cli", "node_modules")
		if toolpath.CheckCLI(nm) == nil {
			return nm, nil
		}
	}
	if l.cacheDir == "" {
		return "", errors.New("no Convex CLI: no user cache directory to install it into ($XDG_CACHE_HOME or $HOME); pass --cli or set $" + toolpath.EnvCLINodeModules)
	}
	pkg, lock := layers.CLILockfile()
	return installCLI(ctx, filepath.Join(l.cacheDir, cacheDirName, "cli"), pkg, lock, l.log)
}

// lockfileHash names an install: a changed pin installs afresh beside the old one.
func lockfileHash(pkg, lock []byte) string {
	h := sha256.New()
	for _, b := range [][]byte{pkg, lock} {
		fmt.Fprintf(h, "%d\n", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// installCLI returns base/<hash>/node_modules, installing it first when it is not there: npm ci
// (which checks every package against the lockfile's integrity hashes; no install scripts, no
// dev dependencies, as the image) in a fresh directory under base that is renamed into place only
// when complete. A killed install leaves only its staging directory, never a folder that looks
// installed; of concurrent first uses, one rename wins and the others use its result.
func installCLI(ctx context.Context, base string, pkg, lock []byte, log io.Writer) (string, error) {
	final := filepath.Join(base, lockfileHash(pkg, lock))
	nm := filepath.Join(final, "node_modules")
	if toolpath.CheckCLI(nm) == nil {
		return nm, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("the Convex CLI is not installed in %s and %w to install it (install Node.js with npm, or pass --cli / set $%s to a node_modules holding convex): %w",
			base, errNoNPM, toolpath.EnvCLINodeModules, err)
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("install the Convex CLI: %w", err)
	}
	stage, err := os.MkdirTemp(base, ".install-")
	if err != nil {
		return "", fmt.Errorf("install the Convex CLI: %w", err)
	}
	defer os.RemoveAll(stage) // gone once renamed
	fmt.Fprintf(log, "byod: installing the pinned Convex CLI into %s (first use; npm ci from the lockfile built into byod)\n", final)
	if err := npmCI(ctx, npm, stage, pkg, lock); err != nil {
		return "", fmt.Errorf("install the Convex CLI into %s: %w", final, err)
	}
	if err := toolpath.CheckCLI(filepath.Join(stage, "node_modules")); err != nil {
		return "", fmt.Errorf("install the Convex CLI: npm ci succeeded but %w", err)
	}
	if err := os.Rename(stage, final); err != nil {
		if toolpath.CheckCLI(nm) == nil {
			return nm, nil // a concurrent first use installed it first
		}
		return "", fmt.Errorf("install the Convex CLI (remove %s to install afresh): %w", final, err)
	}
	fmt.Fprintf(log, "byod: installed the Convex CLI into %s\n", final)
	return nm, nil
}

// npmCI runs npm ci in dir with the two lockfile files written there. npm gets this process's
// environment (its registry, proxy and cache settings apply) without the CONVEX_* variables (the
// deploy key among them) and with TMPDIR a folder in dir, so nothing of the install is left in
// the system temp dir.
func npmCI(ctx context.Context, npm, dir string, pkg, lock []byte) error {
	for name, b := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, ".tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	cmd.Env = []string{"TMPDIR=" + tmp, "npm_config_update_notifier=false"}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "TMPDIR" && !strings.HasPrefix(k, "CONVEX_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci: %w\n%s", err, tail(out, 2000))
	}
	return os.RemoveAll(tmp)
}

// tail returns at most n bytes of the end of b.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
