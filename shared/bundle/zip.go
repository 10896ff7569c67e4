package bundle

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"sort"
	"text/template"
)

// download holds the files only the downloadable zip carries: the lockfile that pins convex (made
// once with `npm install --package-lock-only` from project/package.json) and the README template.
var (
	//go:embed download/package-lock.json
	packageLock []byte
	//go:embed download/README.md.tmpl
	readmeTemplate string
)

var readme = template.Must(template.New("README.md").Option("missingkey=error").Parse(readmeTemplate))

// ZipName is the name of the downloadable project: the folder at the root of the zip and the
// default file name (plus ".zip") of `byod package`.
func ZipName() string { return fmt.Sprintf("byod-convex-v%d", Version) }

// zipTime is the fixed MS-DOS modification time of every entry (1980-01-01 00:00, the epoch of
// the format), so the bytes do not depend on when or where the zip is made.
const (
	zipDate = 1<<5 | 1 // day 1, month 1, year 1980+0
	zipTime = 0
)

// ZipFiles returns the files of the downloadable project, sorted by path, relative to the
// project root: the project of Files plus package-lock.json and README.md.
func ZipFiles() ([]File, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = readme.Execute(&buf, struct {
		Version       int
		ConvexVersion string
		Root          string
	}{Version, ConvexVersion, ZipName()})
	if err != nil {
		return nil, fmt.Errorf("bundle: render README.md: %w", err)
	}
	files = append(files,
		File{Path: "README.md", Data: buf.Bytes()},
		File{Path: "package-lock.json", Data: packageLock})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// WriteZip writes the downloadable project as a zip whose entries sit under ZipName()/. The
// output is deterministic: sorted entries, fixed times and modes (0644), deflate, no extra
// fields, so the same Version gives the same bytes. It returns the first error of w.
func WriteZip(w io.Writer) error {
	files, err := ZipFiles()
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, f := range files {
		h := &zip.FileHeader{Name: ZipName() + "/" + f.Path, Method: zip.Deflate}
		// Set the MS-DOS fields, not Modified: a non-zero Modified adds an extended-timestamp
		// extra field.
		h.ModifiedDate, h.ModifiedTime = zipDate, zipTime
		h.SetMode(0o644)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("bundle: zip %s: %w", f.Path, err)
		}
		if _, err := fw.Write(f.Data); err != nil {
			return fmt.Errorf("bundle: zip %s: %w", f.Path, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("bundle: zip: %w", err)
	}
	return nil
}
