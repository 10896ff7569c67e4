package convexcli

import "path/filepath"

// Entry returns the script node runs for the Convex CLI in the install nodeModules:
// convex/dist/cli.bundle.cjs, the CLI itself.
//
// The package's bin, convex/bin/main.js, is a one-line ES module shim,
// `import("../dist/cli.bundle.cjs")`. Importing a CommonJS file from an ES module makes Node scan
// it for named exports first (cjs-module-lexer over the 6 MB bundle, plus a second read of the
// file), which a CPU profile of `main.js --version` showed as the largest single cost of the CLI's
// start-up; running the bundle as the main script is the same program without that scan
// (docs/BENCHMARKS.md, "bare, bundle entry"). TestEntryIsWhatTheBinImports fails if a CLI
// upgrade changes the shim.
func Entry(nodeModules string) string {
	return filepath.Join(nodeModules, "convex", "dist", "cli.bundle.cjs")
}
