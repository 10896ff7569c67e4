package bundle

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Version is the schema version of the BYOD package. `functions:ping` returns
// {status: "ok", version: Version} on a deployment that runs this package. Bump it on every change
// to the project files.
const Version = 1

// ConvexVersion is the exact version of the npm package convex the project depends on; it equals
// the CLI the deployer runs (layers/package.json).
const ConvexVersion = "1.48.0"

// VersionFile is the project path of the generated file that carries Version to TypeScript.
const VersionFile = "convex/version.ts"

// project holds the Convex project. "all:" keeps convex/_generated, which embed would otherwise
// skip for its leading underscore.
//
//go:embed all:project
var project embed.FS

// File is one file of the project.
type File struct {
	Path string // slash-separated, relative to the project root, e.g. "convex/schema.ts"
	Data []byte
}

// Files returns the project files sorted by path, with convex/version.ts rendered from Version.
// The error is non-nil only if the embedded tree cannot be read, which a build cannot produce.
func Files() ([]File, error) {
	var files []File
	err := fs.WalkDir(project, "project", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, "project/")
		data, err := project.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == VersionFile {
			data = VersionTS(Version)
		}
		files = append(files, File{Path: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bundle: read embedded project: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// VersionTS renders convex/version.ts for schema version v.
func VersionTS(v int) []byte {
	return fmt.Appendf(nil, `// Code generated from bundle.Version in shared/bundle/bundle.go; DO NOT EDIT.
// Bump the version there and run `+"`go test ./shared/bundle -update`"+`.

/** The schema version of this BYOD package. `+"`functions:ping`"+` answers it. */
export const SCHEMA_VERSION = %d;
`, v)
}

// Options tunes Materialize.
type Options struct {
	// NodeModules, when set, is the node_modules folder holding the pinned convex package (for
	// example toolpath.CLINodeModules() or /opt/convex/node_modules); Materialize links
	// <dir>/node_modules to it, which is what the CLI needs to bundle.
	NodeModules string
}

// Materialize writes the project into dir, which must be an existing directory that holds none
// of the project's paths: files are created 0600 with O_EXCL and directories 0700, so an
// existing file or symlink makes it fail rather than be overwritten or followed. It returns an
// error naming the path that could not be written; dir may then hold a partial project, which
// the caller removes.
func Materialize(dir string, opts Options) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("bundle: materialize: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("bundle: materialize: %s is not a directory", dir)
	}
	files, err := Files()
	if err != nil {
		return err
	}
	made := map[string]bool{".": true}
	for _, f := range files {
		if err := mkdirs(dir, path.Dir(f.Path), made); err != nil {
			return err
		}
		if err := writeNew(filepath.Join(dir, filepath.FromSlash(f.Path)), f.Data); err != nil {
			return err
		}
	}
	if opts.NodeModules != "" {
		if err := os.Symlink(opts.NodeModules, filepath.Join(dir, "node_modules")); err != nil {
			return fmt.Errorf("bundle: materialize: link node_modules: %w", err)
		}
	}
	return nil
}

// mkdirs creates rel (slash-separated) and its parents under dir with mode 0700; each must not
// exist yet.
func mkdirs(dir, rel string, made map[string]bool) error {
	if made[rel] {
		return nil
	}
	if err := mkdirs(dir, path.Dir(rel), made); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, filepath.FromSlash(rel)), 0o700); err != nil {
		return fmt.Errorf("bundle: materialize: %w", err)
	}
	made[rel] = true
	return nil
}

func writeNew(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("bundle: materialize: %w", err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("bundle: materialize %s: %w", name, err)
	}
	return nil
}
