package convexcli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/convexcli"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// TestEntryIsWhatTheBinImports: the pinned CLI's bin does nothing but import the bundle Entry
// names, so running Entry directly runs the same program.
func TestEntryIsWhatTheBinImports(t *testing.T) {
	nm, err := toolpath.CLINodeModules()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join(nm, "convex", "bin", "main.js"))
	if err != nil {
		t.Fatal(err)
	}
	var code []string
	for _, l := range strings.Split(string(bin), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#!") && !strings.HasPrefix(l, "//") {
			code = append(code, l)
		}
	}
	if len(code) != 1 || code[0] != `import("../dist/cli.bundle.cjs");` {
		t.Fatalf("convex/bin/main.js is no longer only `import(\"../dist/cli.bundle.cjs\")`:\n%s\n"+
			"check what it does before running Entry in its place", bin)
	}
	entry := convexcli.Entry(nm)
	if want := filepath.Join(filepath.Dir(filepath.Join(nm, "convex", "bin", "main.js")), "..", "dist", "cli.bundle.cjs"); filepath.Clean(want) != entry {
		t.Errorf("Entry = %s, want the file the bin imports, %s", entry, filepath.Clean(want))
	}
	if st, err := os.Stat(entry); err != nil || !st.Mode().IsRegular() {
		t.Errorf("Entry %s is not a file: %v", entry, err)
	}
}
