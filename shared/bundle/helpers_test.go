package bundle_test

import (
	"bytes"
	"context"
	"flag"
	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

// nodeTimeout bounds every Node child of the tests (tsc takes a few seconds on a loaded machine).
const nodeTimeout = 3 * time.Minute

// cliNodeModules returns the pinned CLI install, failing the test (never skipping) when it is
// missing.
func cliNodeModules(t testing.TB) string {
	t.Helper()
	nm, err := toolpath.CLINodeModules()
	if err != nil {
		t.Fatal(err)
	}
	return nm
}

// materialized writes the project into a fresh temp dir with node_modules linked to the CLI
// install and returns the dir.
func materialized(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := bundle.Materialize(dir, bundle.Options{NodeModules: cliNodeModules(t)}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nodeBin is the node the tests run the CLI and tsc with (toolpath.Node: the image's Node 22).
func nodeBin(t testing.TB) string {
	t.Helper()
	node, err := toolpath.Node()
	if err != nil {
		t.Fatal(err)
	}
	return node
}

// runNode runs node with args in dir under a bounded time and a minimal environment. It returns
// stdout, stderr and the run error (an *exec.ExitError for a non-zero exit).
func runNode(t testing.TB, dir string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "CI=1", "TMPDIR=" + t.TempDir()}
	return runTool(t, dir, env, nodeBin(t), args...)
}

// runTool runs the program name (a path, or looked up on PATH) with args in dir and exactly env, killed
// after nodeTimeout, which fails the test. It returns stdout, stderr and the run error.
func runTool(t testing.TB, dir string, env []string, name string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	bin, lerr := exec.LookPath(name)
	if lerr != nil {
		t.Fatal(lerr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env, cmd.WaitDelay = dir, env, 10*time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: no exit within %v", name, strings.Join(args, " "), nodeTimeout)
	}
	return out.Bytes(), errb.Bytes(), err
}

// mustNode is runNode that fails the test on a non-zero exit.
func mustNode(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	out, errb, err := runNode(t, dir, args...)
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errb)
	}
	return out
}

// golden compares got with the file name, or rewrites the file with -update.
func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(name, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run `go test ./shared/bundle -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the current output (review, then `go test ./shared/bundle -update`):\n%s",
			name, firstDiff(want, got))
	}
}

// firstDiff describes the first line where want and got differ.
func firstDiff(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || i >= len(wl) || i >= len(gl) {
			return "line " + strconv.Itoa(i+1) + ":\n  golden: " + w + "\n  now:    " + g
		}
	}
	return "(no line differs; trailing bytes differ)"
}
