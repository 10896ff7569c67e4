package bundle_test

import (
	"encoding/json"
	"errors"
	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFile keeps the checked-in convex/version.ts equal to its rendering from Version, so
// the project on disk (what tsc and an editor see) and what is deployed cannot drift.
func TestVersionFile(t *testing.T) {
	golden(t, filepath.Join("project", filepath.FromSlash(bundle.VersionFile)), bundle.VersionTS(bundle.Version))
}

// TestPingAnswersVersion bundles convex/functions.ts the way the CLI does and calls the real
// query handler: it must answer {status:"ok", version:Version}.
func TestPingAnswersVersion(t *testing.T) {
	dir := materialized(t)
	copyFile(t, filepath.Join("testdata", "eval.mjs"), filepath.Join(dir, "eval.mjs"))
	out := mustNode(t, dir, "eval.mjs", "ping")
	var got struct {
		Status  string `json:"status"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("ping answered %q: %v", out, err)
	}
	if got.Status != "ok" || got.Version != bundle.Version {
		t.Errorf("ping = %+v, want {Status:ok Version:%d}", got, bundle.Version)
	}
}

// TestTypeCheck type-checks the project with the pinned typescript against the pinned convex,
// as `make test` must, and proves the check can fail by breaking a copy.
func TestTypeCheck(t *testing.T) {
	cases := []struct {
		name     string
		breakage string // appended to convex/functions.ts; "" leaves the project as shipped
		wantOK   bool
	}{
		{name: "as shipped", wantOK: true},
		{name: "type error", breakage: "\nexport const broken: number = \"not a number\";\n", wantOK: false},
		{name: "ping returns the wrong shape", breakage: "\nimport { query as q } from \"./_generated/server\";\n" +
			"export const bad = q({ args: {}, returns: v.number(), handler: async () => \"x\" });\n", wantOK: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := materialized(t)
			if tc.breakage != "" {
				appendFile(t, filepath.Join(dir, "convex", "functions.ts"), tc.breakage)
			}
			tsc := filepath.Join(cliNodeModules(t), "typescript", "bin", "tsc")
			out, errb, err := runNode(t, dir, tsc, "--noEmit", "--pretty", "false", "-p", "convex")
			ok := err == nil && len(out) == 0 && len(errb) == 0
			if ok != tc.wantOK {
				t.Errorf("tsc ok=%v, want %v (err %v)\nstdout:\n%s\nstderr:\n%s", ok, tc.wantOK, err, out, errb)
			}
			if !tc.wantOK && !strings.Contains(string(out), "error TS") {
				t.Errorf("tsc failed without a TS diagnostic:\n%s%s", out, errb)
			}
		})
	}
}

// TestFiles checks the file set the deployer ships: the deploy needs these, and nothing else.
func TestFiles(t *testing.T) {
	files, err := bundle.Files()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
		if len(f.Data) == 0 {
			t.Errorf("%s is empty", f.Path)
		}
	}
	want := []string{
		"convex/_generated/api.d.ts",
		"convex/_generated/api.js",
		"convex/_generated/dataModel.d.ts",
		"convex/_generated/server.d.ts",
		"convex/_generated/server.js",
		"convex/functions.ts",
		"convex/schema.ts",
		"convex/tsconfig.json",
		"convex/version.ts",
		"package.json",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Files() = %q, want %q", got, want)
	}
}

// TestPackageJSONPinsConvex: the project depends on exactly the convex the CLI runs.
func TestPackageJSONPinsConvex(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	data, err := os.ReadFile(filepath.Join("project", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatal(err)
	}
	if got := pkg.Dependencies["convex"]; got != bundle.ConvexVersion {
		t.Errorf("package.json convex = %q, want %q", got, bundle.ConvexVersion)
	}
	layers, err := os.ReadFile(filepath.Join("..", "..", "layers", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cli struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(layers, &cli); err != nil {
		t.Fatal(err)
	}
	if got := cli.Dependencies["convex"]; got != bundle.ConvexVersion {
		t.Errorf("layers/package.json convex = %q, want ConvexVersion %q", got, bundle.ConvexVersion)
	}
}

func TestMaterialize(t *testing.T) {
	t.Run("writes every file 0600 in 0700 dirs", func(t *testing.T) {
		dir := t.TempDir()
		nm := cliNodeModules(t)
		if err := bundle.Materialize(dir, bundle.Options{NodeModules: nm}); err != nil {
			t.Fatal(err)
		}
		files, err := bundle.Files()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != string(f.Data) {
				t.Errorf("%s: content differs from bundle.Files()", f.Path)
			}
		}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == dir {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				if filepath.Base(p) != "node_modules" {
					t.Errorf("unexpected symlink %s", p)
				}
			case fi.IsDir() && fi.Mode().Perm() != 0o700:
				t.Errorf("dir %s mode %v, want 0700", p, fi.Mode().Perm())
			case fi.Mode().IsRegular() && fi.Mode().Perm() != 0o600:
				t.Errorf("file %s mode %v, want 0600", p, fi.Mode().Perm())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(filepath.Join(dir, "node_modules")); err != nil || got != nm {
			t.Errorf("node_modules -> %q (%v), want %q", got, err, nm)
		}
	})

	failures := []struct {
		name  string
		setup func(t *testing.T) string // returns the dir to materialize into
		is    error                     // the error must wrap this; nil: any error
	}{
		{"missing dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, fs.ErrNotExist},
		{"dir is a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "f")
			writeFile(t, p, "x")
			return p
		}, nil},
		{"existing file is not overwritten", func(t *testing.T) string {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "package.json"), "keep")
			return dir
		}, fs.ErrExist},
		{"existing symlink is not followed", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.Symlink(t.TempDir(), filepath.Join(dir, "convex")); err != nil {
				t.Fatal(err)
			}
			return dir
		}, fs.ErrExist},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t)
			err := bundle.Materialize(dir, bundle.Options{})
			if err == nil {
				t.Fatal("Materialize succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "bundle: materialize") {
				t.Errorf("error %q lacks the bundle: materialize context", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if data, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil && string(data) != "keep" {
				t.Errorf("package.json overwritten: %q", data)
			}
		})
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(data))
}

func writeFile(t testing.TB, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, name, data string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
