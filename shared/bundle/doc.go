// Package bundle is the BYOD package: the Convex project (schema, functions, package.json,
// tsconfig and the pre-generated convex/_generated files) that byod-deployer installs into a
// user's own Convex deployment, embedded in the Go binary as real TypeScript files.
//
// It is the one source of truth for both the deploy engine (Materialize) and the downloadable
// project for manual deploys (WriteZip).
//
// Invariants:
//   - Version is the only schema version number. convex/version.ts is rendered from it by Files,
//     Materialize and WriteZip, so `functions:ping` always answers Version; the checked-in copy
//     of version.ts is a golden file kept equal to the rendering by the tests.
//   - The project is type-checked against the pinned convex package by the tests (tsc), never at
//     deploy time, and convex/_generated is shipped so deploys can run with --codegen=disable.
//   - Materialize writes files 0600 and directories 0700 and never overwrites or follows an
//     existing path. WriteZip is deterministic: the same Version gives the same bytes.
//
// Adding a table: edit project/convex/schema.ts, bump Version, run
// `go test ./shared/bundle -update` and review the golden diff (see docs/package.md).
package bundle
