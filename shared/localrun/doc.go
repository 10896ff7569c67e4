// Package localrun runs the product's Lambda handlers locally, the way AWS runs them: pollers
// that stand in for Lambda's event source mappings (SQS → handler, DynamoDB stream → handler),
// and the wiring of the whole local pipeline behind `byod dev`.
//
// Invariants:
//   - A handler is only ever reached through its JSON boundary, lambda.Handler.Invoke (what
//     lambda.NewHandler(h.Handle) returns), with a Lambda context (request id, function ARN)
//     and a deadline, exactly one invocation per batch.
//   - Batch semantics are Lambda's: a handler error or panic fails the whole batch; a
//     batchItemFailures response fails only the items it names; an invalid response (bad JSON,
//     an empty or unknown itemIdentifier) fails the whole batch.
//   - SQS: successes are deleted, failures are left for the visibility timeout to bring back (the
//     queue's redrive policy moves them to the DLQ). Nothing else deletes a message.
//   - Streams: records of a shard are delivered in sequence-number order; after a failure the
//     shard is re-read from the first failed record, so no record after a failed one is
//     delivered before it; parent shards are finished before their children.
package localrun
