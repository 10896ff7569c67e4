// Package status is the deployment status store on DynamoDB: one current item per (user, config)
// (sort key CURRENT) that the browser sees, plus one history item per request (sort key
// ATTEMPT#<requestId>).
//
// Words: a request's State (queued, deploying, deployed, failed) is the record's
// deploymentStatus; its Stage is the step it is at; a failure has a failure.Class
// (shared/failure); Attempt on the record numbers the claims of the (user, config).
//
// Files: record.go has the items (Record, History) and their keys, errors.go the errors,
// transitions.go the transitions, db.go the DynamoDB calls (one write helper for every
// transaction), expr.go the update expressions.
//
// Invariants:
//   - every write of the current item increments Version by exactly one, so clients can order
//     events and drop stale ones;
//   - transitions are conditional writes and never move a request backwards:
//     queued → deploying → deployed | failed; a request that reached deployed or failed never runs
//     again (ErrDuplicate), and a retry proceeds only from failed (ErrNotFailed);
//   - while a request is deploying, a lease (owner + expiry) is held on the current item; only the
//     owner may write progress and the outcome; an expired lease (a crashed worker) can be taken
//     over by a new Claim of the same request;
//   - the current item and the request's history item move together (TransactWriteItems);
//   - a failed condition is explained from the item's old image (ReturnValuesOnConditionCheckFailure
//     = ALL_OLD) and returned as one of the typed errors below;
//   - a transition never reads back what it wrote (Get does): a deploy that brings its
//     credentials costs no read at all.
//
// Lease fields and the keys are item-only: Record's JSON shape is what the browser receives.
package status
