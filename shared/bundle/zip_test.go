package bundle_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"io"
	"strings"
	"testing"
	"time"
)

// makeZip returns the bytes of WriteZip.
func makeZip(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bundle.WriteZip(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readZip opens zip bytes.
func readZip(t testing.TB, data []byte) *zip.Reader {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

// readEntry returns the uncompressed content of a zip entry.
func readEntry(t testing.TB, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	return data
}

// TestZipDeterministic: two runs give the same bytes, and nothing in an entry depends on the
// machine or the clock.
func TestZipDeterministic(t *testing.T) {
	first, second := makeZip(t), makeZip(t)
	if !bytes.Equal(first, second) {
		t.Fatalf("two runs differ: sha256 %x vs %x", sha256.Sum256(first), sha256.Sum256(second))
	}
	epoch := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range readZip(t, first).File {
		if !strings.HasPrefix(f.Name, bundle.ZipName()+"/") {
			t.Errorf("%s is not under %s/", f.Name, bundle.ZipName())
		}
		if len(f.Extra) != 0 {
			t.Errorf("%s has extra fields %x", f.Name, f.Extra)
		}
		if f.Mode() != 0o644 {
			t.Errorf("%s mode %v, want 0644", f.Name, f.Mode())
		}
		if !f.Modified.Equal(epoch) {
			t.Errorf("%s modified %v, want %v", f.Name, f.Modified, epoch)
		}
	}
}

// TestZipListing keeps testdata/zip-listing.golden (name, size, sha256 of every entry) equal to
// the zip, so any change to what users download shows up as a golden diff.
func TestZipListing(t *testing.T) {
	var b strings.Builder
	for _, f := range readZip(t, makeZip(t)).File {
		data := readEntry(t, f)
		fmt.Fprintf(&b, "%x %6d %s\n", sha256.Sum256(data), len(data), f.Name)
	}
	golden(t, "testdata/zip-listing.golden", []byte(b.String()))
}

// TestZipContents: the zip carries the deployed project byte for byte, plus a README with the
// manual steps and a lockfile pinning convex.
func TestZipContents(t *testing.T) {
	entries := map[string][]byte{}
	for _, f := range readZip(t, makeZip(t)).File {
		entries[strings.TrimPrefix(f.Name, bundle.ZipName()+"/")] = readEntry(t, f)
	}
	files, err := bundle.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !bytes.Equal(entries[f.Path], f.Data) {
			t.Errorf("zip %s differs from the deployed file", f.Path)
		}
	}
	if got, want := len(entries), len(files)+2; got != want {
		t.Errorf("zip has %d entries, want %d (project + README.md + package-lock.json)", got, want)
	}

	readmeWants := []string{
		"npm ci", "npx convex deploy", "CONVEX_DEPLOY_KEY", "CONVEX_SELF_HOSTED_URL",
		"CONVEX_SELF_HOSTED_ADMIN_KEY", fmt.Sprintf(`"version":%d`, bundle.Version), "cd " + bundle.ZipName(),
	}
	for _, want := range readmeWants {
		if !bytes.Contains(entries["README.md"], []byte(want)) {
			t.Errorf("README.md lacks %q", want)
		}
	}

	var lock struct {
		Name     string `json:"name"`
		Packages map[string]struct {
			Version      string            `json:"version"`
			Dependencies map[string]string `json:"dependencies"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(entries["package-lock.json"], &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	var pkg struct {
		Name         string            `json:"name"`
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(entries["package.json"], &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"lock name", lock.Name, pkg.Name},
		{"lock root convex dependency", lock.Packages[""].Dependencies["convex"], bundle.ConvexVersion},
		{"lock installed convex", lock.Packages["node_modules/convex"].Version, bundle.ConvexVersion},
		{"package.json convex", pkg.Dependencies["convex"], bundle.ConvexVersion},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(lock.Packages[""].Dependencies) != len(pkg.Dependencies) {
		t.Errorf("lock root dependencies %v, package.json %v: regenerate the lock", lock.Packages[""].Dependencies, pkg.Dependencies)
	}
}
