// Command infra is the CDK app of byod-deployer: one stack (NewStack, configured by StackProps)
// with the FIFO queue and its dead-letter queue, the deployer container-image function, the
// status and connections tables, the KMS key and the publisher role, the WebSocket API, and the
// dashboard and alarms. One file per concern.
//
// Invariants the tests in this module assert on the synthesized template:
//   - the queue's visibility timeout is at least VisibilityTimeoutRatio times the deployer's
//     timeout, and the queue redrives to a FIFO dead-letter queue after MaxReceiveCount receives;
//   - the deployer may only kms:Decrypt, and only with the encryption-context keys userId and
//     configId; the publisher role may only kms:Encrypt (same condition), sqs:SendMessage and
//     read the WebSocket token secret;
//   - execute-api:ManageConnections is granted to the notifier and wsconnect only (the snapshot
//     of {"action":"status"}), for POST on this stage's @connections only;
//   - every function gets exactly the environment shared/settings declares for it (whose own
//     test keeps docs/ARCHITECTURE.md's table equal to the declarations);
//   - no managed *FullAccess policy anywhere; grants go through Grant* calls.
//
// Synthesis is offline: no AWS account, credentials, network or Docker engine is needed (the
// deployer image asset is only staged, never built, by synth). infra/ is its own Go module so
// the Lambda functions never compile CDK.
package main
