// Package layers carries the lockfile of the pinned Convex CLI (package.json and
// package-lock.json in this folder) inside Go binaries that import it, so `byod deploy` can
// install exactly what the deployer's image and `make deps` install, from any directory. The
// deployer does not import it: the image installs the same files at build time.
package layers

import _ "embed" // for go:embed

//go:embed package.json
var packageJSON []byte

//go:embed package-lock.json
var packageLock []byte

// CLILockfile returns copies of package.json and package-lock.json as committed.
func CLILockfile() (pkg, lock []byte) {
	return append([]byte(nil), packageJSON...), append([]byte(nil), packageLock...)
}
