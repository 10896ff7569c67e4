// Package obs is the functions' observability: a log/slog JSON logger that stamps every record
// with the Lambda request id, and CloudWatch Embedded Metric Format (EMF) metrics written as JSON
// lines to stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics.
//
// Invariants: one JSON object per line; nothing here reads credentials; metric names and
// dimensions are fixed here so the dashboard and alarms in infra/ can rely on them:
//
//	DeploymentsStarted   Count        (no dimension)
//	DeploymentsSucceeded Count        (no dimension)
//	DeploymentsFailed    Count        dimension ErrorClass, and again with no dimension (the
//	                     total, which the failure-rate alarm divides)
//	DeploymentDuration   Milliseconds (no dimension), on every deploy that ran (not on a
//	                     failure recorded before the engine started)
package obs
