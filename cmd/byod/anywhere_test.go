package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
)

// TestDeployFromAnywhere builds byod and runs `byod deploy` as a new user would: from a directory
// outside the checkout, with nothing set but PATH, a home, TMPDIR and CONVEX_DEPLOY_KEY. The
// pinned CLI is installed on first use (npm ci from the lockfile built into the binary, offline
// from the npm cache `make deps` filled), the deploy succeeds, and TMPDIR is left as it was found.
// Without npm on PATH it fails with an error that says so, and leaves nothing either.
func TestDeployFromAnywhere(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "byod")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	npmCache, err := exec.Command("npm", "config", "get", "cache").Output()
	if err != nil {
		t.Fatalf("npm config get cache: %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	key := convexlocaltest.AdminKey(t, "anywhere-owl")
	srv := convexlocaltest.Start(t, convexlocal.Options{AdminKey: key})

	run := func(t *testing.T, path string) (code int, stdout, stderr string, tmp, cache string) {
		t.Helper()
		home, work := t.TempDir(), t.TempDir()
		tmp = t.TempDir()
		cache = filepath.Join(home, ".cache")
		cmd := exec.Command(bin, "deploy", "--url", srv.URL())
		cmd.Dir = work
		cmd.Env = []string{"PATH=" + path, "HOME=" + home, "XDG_CACHE_HOME=" + cache, "TMPDIR=" + tmp,
			"CONVEX_DEPLOY_KEY=" + key,
			// npm's own settings: where `make deps` left the packages, and no network.
			"npm_config_cache=" + strings.TrimSpace(string(npmCache)), "npm_config_offline=true"}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), o.String(), e.String(), tmp, cache
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, o.String(), e.String(), tmp, cache
	}
	emptyDir := func(t *testing.T, dir string) {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 0 {
			t.Errorf("TMPDIR %s holds %d entries after the run, first %s", dir, len(ents), ents[0].Name())
		}
	}

	t.Run("first use installs the CLI and deploys", func(t *testing.T) {
		code, stdout, stderr, tmp, cache := run(t, os.Getenv("PATH"))
		if code != 0 || !strings.Contains(stdout, "deployed BYOD package version") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stderr, "installing the pinned Convex CLI") {
			t.Errorf("no first-use install was reported:\n%s", stderr)
		}
		emptyDir(t, tmp)
		mains, _ := filepath.Glob(filepath.Join(cache, cacheDirName, "cli", "*", "node_modules", "convex", "package.json"))
		stages, _ := filepath.Glob(filepath.Join(cache, cacheDirName, "cli", ".install-*"))
		if len(mains) != 1 || len(stages) != 0 {
			t.Errorf("user cache: installs %q, staging folders left %q", mains, stages)
		}
		if strings.Contains(stdout+stderr, key) {
			t.Error("the deploy key was printed")
		}
	})
	t.Run("without npm", func(t *testing.T) {
		onlyNode := t.TempDir()
		if err := os.Symlink(node, filepath.Join(onlyNode, "node")); err != nil {
			t.Fatal(err)
		}
		code, _, stderr, tmp, _ := run(t, onlyNode)
		if code != 1 || !strings.Contains(stderr, "install Node.js with npm") {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		emptyDir(t, tmp)
	})
}
