package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
)

// packageRun runs `byod <args>` through run and returns the exit code, stdout and stderr.
func packageRun(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// wantZip is what bundle.WriteZip produces.
func wantZip(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bundle.WriteZip(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// onlyEntries fails unless dir holds exactly the named entries (no temp file left behind).
func onlyEntries(t testing.TB, dir string, names ...string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func TestPackageWritesZip(t *testing.T) {
	want := wantZip(t)
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) []string // returns the args after "package"
		file  string                                  // relative to dir
	}{
		{"explicit -o", func(t *testing.T, dir string) []string {
			return []string{"-o", filepath.Join(dir, "out.zip")}
		}, "out.zip"},
		{"replaces an existing file", func(t *testing.T, dir string) []string {
			if err := os.WriteFile(filepath.Join(dir, "out.zip"), []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"-o", filepath.Join(dir, "out.zip")}
		}, "out.zip"},
		{"default name in the working directory", func(t *testing.T, dir string) []string {
			t.Chdir(dir)
			return nil
		}, bundle.ZipName() + ".zip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"package"}, tc.setup(t, dir)...)
			code, stdout, stderr := packageRun(t, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			path := filepath.Join(dir, tc.file)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is not bundle.WriteZip's output", path)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode().Perm())
			}
			for _, line := range []string{
				fmt.Sprintf("version %d", bundle.Version),
				fmt.Sprintf("sha256  %x", sha256.Sum256(want)),
				tc.file,
			} {
				if !strings.Contains(stdout, line) {
					t.Errorf("stdout lacks %q:\n%s", line, stdout)
				}
			}
			onlyEntries(t, dir, tc.file)
		})
	}
}

// TestPackageSameBytes: two runs of the command write identical files.
func TestPackageSameBytes(t *testing.T) {
	dir := t.TempDir()
	var zips [][]byte
	for _, name := range []string{"a.zip", "b.zip"} {
		if code, _, stderr := packageRun(t, "package", "-o", filepath.Join(dir, name)); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zips = append(zips, data)
	}
	if !bytes.Equal(zips[0], zips[1]) {
		t.Error("two runs wrote different bytes")
	}
}

func TestPackageErrors(t *testing.T) {
	cases := []struct {
		name     string
		args     func(dir string) []string
		wantCode int
		wantErr  string
	}{
		{"missing directory", func(dir string) []string {
			return []string{"-o", filepath.Join(dir, "no", "such", "out.zip")}
		}, 1, "byod package: write"},
		{"output is a directory", func(dir string) []string {
			return []string{"-o", dir}
		}, 1, "byod package: write"},
		{"extra argument", func(string) []string { return []string{"extra"} }, 2, "unexpected arguments"},
		{"unknown flag", func(string) []string { return []string{"-x"} }, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := packageRun(t, append([]string{"package"}, tc.args(dir)...)...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want empty", stdout)
			}
			onlyEntries(t, dir)
		})
	}
}

func TestPackageHelp(t *testing.T) {
	code, _, stderr := packageRun(t, "package", "-h")
	if code != 0 || !strings.Contains(stderr, "usage: byod package") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, stdout, _ := packageRun(t, "help")
	if code != 0 || !strings.Contains(stdout, "package") {
		t.Errorf("byod help: exit %d, stdout %q lacks the package command", code, stdout)
	}
}
