package deploy

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCompileCache: a usable cache directory is handed to node (made 0700 when missing); one
// that is not usable is left out, so it can never fail or hang a deploy.
func TestCompileCache(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	mkdir := func(name string, perm os.FileMode) string {
		p := filepath.Join(root, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil { // past the umask
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(p, 0o700) })
		return p
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(mkdir("target", 0o700), link); err != nil {
		t.Fatal(err)
	}
	// Root writes into a read-only directory, so for root it is usable.
	readOnlyUsable := os.Geteuid() == 0
	tests := []struct {
		name   string
		dir    string
		usable bool
	}{
		{name: "unset", dir: ""},
		{name: "existing 0700", dir: mkdir("ok", 0o700), usable: true},
		{name: "missing, made", dir: filepath.Join(root, "made", "deeper"), usable: true},
		{name: "read-only", dir: mkdir("ro", 0o500), usable: readOnlyUsable},
		{name: "group-writable", dir: mkdir("gw", 0o770)},
		{name: "world-writable", dir: mkdir("ww", 0o777)},
		{name: "a regular file", dir: file},
		{name: "under a regular file", dir: filepath.Join(file, "cache")},
		{name: "a symlink", dir: link},
		// Node 22 spins forever trying to create this one itself.
		{name: "cannot be made", dir: "/proc/byod-no-such-dir/cache"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{CompileCache: tc.dir}
			got := e.compileCache()
			if (got != "") != tc.usable || (tc.usable && got != tc.dir) {
				t.Fatalf("compileCache() = %q, want usable=%v (%s)", got, tc.usable, tc.dir)
			}
			env := e.childEnv("/usr/bin/node", root, got)
			if v, ok := env["NODE_COMPILE_CACHE"]; ok != tc.usable || v != got {
				t.Fatalf("child env NODE_COMPILE_CACHE = %q, %v; want usable=%v", v, ok, tc.usable)
			}
			if !tc.usable {
				return
			}
			fi, err := os.Stat(got)
			if err != nil || !fi.IsDir() {
				t.Fatalf("cache dir: %v", err)
			}
			if tc.name == "missing, made" && fi.Mode().Perm() != 0o700 {
				t.Fatalf("made the cache dir %v, want 0700", fi.Mode().Perm())
			}
			if left, _ := filepath.Glob(filepath.Join(got, ".probe-*")); len(left) != 0 {
				t.Fatalf("probe files left: %v", left)
			}
		})
	}
}
