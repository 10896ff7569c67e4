// Package message is the versioned contract of the SQS messages the app publishes to the deploy
// queue (JSON Schema: docs/message.schema.json; examples: docs/examples/; prose: docs/messages.md).
//
// Invariants: Parse accepts exactly what the schema accepts (unknown fields are rejected, so a
// typo never silently drops a field); every rejection is an *Error naming the field at fault and
// carrying whatever identity (user, config, request) was readable, so the consumer can record the
// failure for the user instead of dropping it silently. The FIFO message group is the user id and
// the deduplication id is the request id.
package message
