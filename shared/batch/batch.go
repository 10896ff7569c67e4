// Package batch runs a Lambda batch record by record and builds the partial batch failure
// response, so one bad record never fails the others and a whole batch fails only on purpose.
//
// Invariants: every record is either handled (fn returned nil) or reported as failed; a panic in
// fn is recovered and counts as that record's failure. For SQS FIFO queues, once a message of a
// message group fails, the group's later messages in the batch are not run and are reported as
// failed too, so a group is never processed out of order; other groups go on. For DynamoDB
// streams, processing stops at the first failure and only its sequence number is reported: Lambda
// retries the shard from there, which is what keeps stream order.
package batch

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/events"
)

// Failure is one record that was not handled.
type Failure struct {
	// ID is the SQS message id or the stream sequence number.
	ID  string
	Err error
}

// SQS calls fn for each message and reports the ones that failed (fn returned an error or
// panicked, or an earlier message of the same FIFO group failed). onFail, if not nil, is called
// once per failed message, for logging.
func SQS(ctx context.Context, ev events.SQSEvent, fn func(context.Context, events.SQSMessage) error, onFail func(Failure)) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	blocked := map[string]bool{} // FIFO groups with a failed message
	for _, msg := range ev.Records {
		group := msg.Attributes["MessageGroupId"]
		var err error
		if group != "" && blocked[group] {
			err = fmt.Errorf("batch: skipped: an earlier message of group %s failed", group)
		} else {
			err = run(func() error { return fn(ctx, msg) })
		}
		if err == nil {
			continue
		}
		if group != "" {
			blocked[group] = true
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		if onFail != nil {
			onFail(Failure{ID: msg.MessageId, Err: err})
		}
	}
	return resp
}

// Stream calls fn for each stream record in order and stops at the first failure, reporting its
// sequence number. onFail, if not nil, is called for that failure.
func Stream(ctx context.Context, ev events.DynamoDBEvent, fn func(context.Context, events.DynamoDBEventRecord) error, onFail func(Failure)) events.DynamoDBEventResponse {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for _, rec := range ev.Records {
		if err := run(func() error { return fn(ctx, rec) }); err != nil {
			seq := rec.Change.SequenceNumber
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: seq})
			if onFail != nil {
				onFail(Failure{ID: seq, Err: err})
			}
			break
		}
	}
	return resp
}

// run calls fn, turning a panic into an error.
func run(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("batch: panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn()
}
