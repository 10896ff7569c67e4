// Package deploy is the deploy engine: it installs the BYOD package (shared/bundle) into a
// user's Convex deployment and proves it landed.
//
// [Engine.Deploy] validates the target (https only, plain http only to loopback; no user-info,
// path, query or fragment; host on the allow-list; a key of a known shape naming the deployment),
// runs a preflight against the deployment (a few seconds, so a dead URL fails fast and a wrong
// key fails with the backend's own answer), materialises the package into a unique 0700 job
// directory under the temp root with node_modules linked to the read-only CLI install, writes the
// target into a 0600 env file passed with --env-file, runs the pinned CLI with node directly in
// its own process group (shared/convexcli), turns its output into [Event]s, and finally calls
// `functions:ping` and checks that it answers bundle.Version.
//
// Invariants:
//   - The key never leaves memory except in the 0600 env file, which lives inside the job
//     directory; the job directory is removed on every path (success, failure, time-out,
//     cancel, panic). The key is never in argv, in the child's process environment, in a log,
//     in an Event, or in a returned error: everything the engine emits is scrubbed of the key
//     and of its secret part.
//   - When Deploy returns, no process of the CLI's process group is alive.
//   - Node's compile cache (Engine.CompileCache) is an optimisation only: a deploy never fails
//     over it; a cache directory the engine cannot use is left out of that deploy.
//   - Every failure is an *[Error] with a class (shared/failure), a message, the backend's detail
//     where there is one, the class's hint for the user, and whether a retry can help.
package deploy
