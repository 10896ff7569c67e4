// Package convexcli runs the pinned Convex CLI (`node …/convex/dist/cli.bundle.cjs`, see [Entry]) and
// reads its output.
//
// A [Runner] starts node directly (never a shell, never npx) with an environment built only from
// an explicit allow-list ([AllowedEnv]); nothing of the parent's environment leaks into the child.
// The child runs in its own process group. When the context ends, the whole group gets SIGTERM,
// then SIGKILL after a grace period. After every exit, normal or not, whatever the group still
// holds (the CLI leaves its esbuild service behind) is killed, reaped when it is this process's
// child (as it is when this process is PID 1 in a container), and Run returns only once no process
// of the group is left in /proc.
//
// Output is captured bounded: the last [DefaultOutputLimit] bytes of each stream, scrubbed of
// every secret registered in [Runner.Secrets] before it is kept, handed to a line callback, or
// returned. [ParseLine] turns CLI lines into progress steps and [ParseFailure] turns a failed run's
// stderr into the backend's status, code and message, using the exact texts the CLI 1.48.0 prints.
package convexcli
