// Package localrun runs the product's Lambda functions locally, the way AWS runs them, and wires
// the whole local pipeline behind `byod dev`:
//
//   - Process is a Lambda execution environment: a function's own binary (its main.go calling
//     lambda.Start) fetching invocations from a Lambda Runtime API served here;
//   - SQSPoller and StreamPoller stand in for Lambda's event source mappings (SQS → function,
//     DynamoDB stream → function);
//   - Start runs the stand-ins, creates the tables, queues and key, runs the four functions behind
//     the pollers and the WebSocket gateway, and serves the status page and the dev API;
//   - Client publishes, reads the status and follows the WebSocket as the app and browser do.
//
// Invariants:
//   - A function is only ever reached through its JSON boundary (lambda.Handler.Invoke: a Process,
//     or lambda.NewHandler(h.Handle)), with a Lambda context (request id, function ARN) and a
//     deadline, exactly one invocation per batch.
//   - Batch semantics are Lambda's: a function error or panic fails the whole batch; a
//     batchItemFailures response fails only the items it names; an invalid response (bad JSON,
//     an empty or unknown itemIdentifier) fails the whole batch.
//   - SQS: successes are deleted, failures are left for the visibility timeout to bring back (the
//     queue's redrive policy moves them to the DLQ). Nothing else deletes a message.
//   - Streams: records of a shard are delivered in sequence-number order; after a failure the
//     shard is re-read from the first failed record, so no record after a failed one is
//     delivered before it; parent shards are finished before their children.
//   - Every server listens on 127.0.0.1 (DynamoDB Local excepted: it has no host option). No
//     deploy key is written anywhere: the endpoints file holds none, the default target's key
//     lives in the dev process's memory, and messages carry only KMS ciphertexts.
package localrun
