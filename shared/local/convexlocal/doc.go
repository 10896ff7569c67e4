// Package convexlocal is a local Convex deployment: a stand-in of the deployment HTTP API that
// the real Convex CLI (npm convex 1.48.0) deploys into exactly as into a real deployment, as
// docs/convex-protocol.md describes that API. `byod local-convex` serves it; tests start one in
// process through the convexlocaltest sub-package.
//
// It implements the deploy calls (get_config_hashes, deploy2/evaluate_schema, evaluate_push,
// start_push, wait_for_schema, finish_push, report_push_completed, v1/get_canonical_urls), the
// preflight calls (/instance_name, /api/check_admin_key), function calls (/api/query,
// /api/function) for functions that do not touch the database, the control-plane calls of the
// deploy-key flow, and GET /_local/state for introspection.
//
// Invariants:
//   - The pushed schema.js is evaluated by running it in Node and calling its default export's
//     export(); every schema rule of docs/convex-protocol.md is then applied with the backend's status, code and
//     message, on evaluate_schema, evaluate_push and start_push alike. Where that summary and the
//     public backend source differ, the source is followed (docs/local-convex.md lists where).
//   - Function calls check their arguments against the function's validator as the backend
//     does; a call without a key is a public call, one with a wrong admin key gets 401.
//   - Only finish_push without dryRun changes the committed state; a dry run commits nothing.
//     A start_push supersedes every earlier unfinished push (its wait_for_schema then reports
//     raceDetected), as the backend's pending schema does.
//   - Module hashes are sha256 hex over source followed by sourceMap, so the CLI sends
//     unchanged modules by hash.
//   - No key is ever logged, recorded, returned by introspection, or given to Node.
//   - Pushed code runs in short-lived Node processes, bounded by Options.NodeTimeout, in
//     temporary directories that are removed afterwards.
//   - Close aborts hanging requests and waits for every handler: no goroutine outlives it.
package convexlocal
