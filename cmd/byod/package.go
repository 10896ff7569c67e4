package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
)

func init() {
	commands["package"] = command{
		summary: "write the downloadable BYOD package (zip) for manual deploys",
		run:     runPackage,
	}
}

// runPackage implements `byod package [-o FILE.zip]`: it writes bundle.WriteZip to FILE
// atomically and prints the path, schema version and sha256 of what it wrote.
func runPackage(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("package", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("o", bundle.ZipName()+".zip", "write the zip to `FILE`")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: byod package [-o FILE.zip]")
		fmt.Fprintf(stderr, "\nWrites the BYOD Convex package (schema version %d) with a README of the manual deploy steps.\n"+
			"The bytes are the same on every run for a version.\n\n", bundle.Version)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() != 0 {
		fmt.Fprintf(stderr, "byod package: unexpected arguments %q\n", fl.Args())
		fl.Usage()
		return 2
	}
	sum, err := writeZipFile(*out)
	if err != nil {
		fmt.Fprintf(stderr, "byod package: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "path    %s\nversion %d\nsha256  %x\n", *out, bundle.Version, sum)
	return 0
}

// writeZipFile writes the zip to a temp file beside name and renames it into place, so name is
// either the old file or the complete new one, never a partial zip. It returns the sha256 of
// the bytes written.
func writeZipFile(name string) (sum []byte, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".byod-package-*.zip.tmp")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	if err := bundle.WriteZip(io.MultiWriter(tmp, h)); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	return h.Sum(nil), nil
}
