package bundle_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
)

// versionsFile records, for every released schema version, the digest of the project files that
// version deploys. It is append-only: a line, once written, is never rewritten.
const versionsFile = "testdata/versions.golden"

// TestVersionBumpedOnChange fails when the deployed project changed but bundle.Version did not:
// deployments report their version through functions:ping, so two different packages must never
// share a number. -update appends a line for a new Version and never rewrites an existing one.
func TestVersionBumpedOnChange(t *testing.T) {
	files, err := bundle.Files()
	if err != nil {
		t.Fatal(err)
	}
	got := projectDigest(files)
	recorded := readVersions(t)
	want, ok := recorded[bundle.Version]
	switch {
	case ok && want == got:
	case ok:
		t.Errorf("the project files changed but bundle.Version is still %d (recorded %s, now %s): "+
			"bump Version in shared/bundle/bundle.go, then `go test ./shared/bundle -update`", bundle.Version, want, got)
	case *update:
		f, err := os.OpenFile(versionsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := fmt.Fprintf(f, "%d %s\n", bundle.Version, got); err != nil {
			t.Fatal(err)
		}
	default:
		t.Errorf("%s has no line for version %d (run `go test ./shared/bundle -update` to record it)", versionsFile, bundle.Version)
	}
}

// TestProjectDigestSeesEveryFile proves the digest cannot miss a change: altering any one byte
// of any file but version.ts, or a file's path, changes it.
func TestProjectDigestSeesEveryFile(t *testing.T) {
	files, err := bundle.Files()
	if err != nil {
		t.Fatal(err)
	}
	base := projectDigest(files)
	for i := range files {
		if files[i].Path == bundle.VersionFile {
			continue
		}
		changed := append([]bundle.File(nil), files...)
		changed[i].Data = append(bytes.Clone(files[i].Data), ' ')
		if projectDigest(changed) == base {
			t.Errorf("a change to %s leaves the digest unchanged", files[i].Path)
		}
		changed[i] = bundle.File{Path: files[i].Path + "x", Data: files[i].Data}
		if projectDigest(changed) == base {
			t.Errorf("renaming %s leaves the digest unchanged", files[i].Path)
		}
	}
}

// projectDigest hashes every project file except the rendered version.ts (which only carries the
// number being checked), with lengths so that no two file lists hash alike.
func projectDigest(files []bundle.File) string {
	h := sha256.New()
	for _, f := range files {
		if f.Path == bundle.VersionFile {
			continue
		}
		fmt.Fprintf(h, "%d:%s\n%d:", len(f.Path), f.Path, len(f.Data))
		h.Write(f.Data)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func readVersions(t testing.TB) map[int]string {
	t.Helper()
	data, err := os.ReadFile(versionsFile)
	if os.IsNotExist(err) {
		return map[int]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, digest, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("%s: bad line %q (want \"<version> sha256:<hex>\")", versionsFile, line)
		}
		if _, dup := out[n]; dup {
			t.Fatalf("%s: version %d recorded twice", versionsFile, n)
		}
		out[n] = digest
	}
	return out
}
