// Package settings declares each Lambda function's environment once: the variables' names, their
// defaults and how they parse. A function reads its environment through it (ParseDeployer,
// ParseNotifier, ParseWSConnect, ParseDeadLetter); the CDK stack (infra/functions.go) and local
// mode (shared/local/localrun) write it through it (the Env methods); Vars lists it, and a test
// keeps docs/ARCHITECTURE.md's "Function environment" table equal to it.
//
// Invariants:
//   - the package links the standard library only, so the infra module imports it without
//     compiling the Lambdas' dependencies, and the functions link it without compiling CDK;
//   - Parse(Env(s)) gives s back for any settings that parse: one declaration drives both ways;
//   - an unset variable and an empty one mean the same: the default, or "missing" when required;
//   - a parse error names every bad variable at once and never contains a secret's value.
package settings
