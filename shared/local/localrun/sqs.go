package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/byod-deployer/byod-deployer/shared/local/standins"
)

// SQSAPI is what the SQS poller calls; *sqs.Client satisfies it.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// SQSPoller stands in for Lambda's SQS event source mapping with ReportBatchItemFailures: it
// long-polls a queue, invokes the function with an events.SQSEvent, deletes the messages that
// succeeded and leaves the failed ones to come back after the visibility timeout.
type SQSPoller struct {
	Client   SQSAPI
	QueueURL string
	Function Function
	// BatchSize is the most messages per invocation, 1–10; zero means 10.
	BatchSize int32
	// WaitTime is the long-poll wait of each receive; zero means 1 s.
	WaitTime time.Duration
	// Logger receives one line per batch; nil discards.
	Logger *slog.Logger

	queueARN                           string
	invocations, messages, redelivered atomic.Int64
}

// SQSStats counts what a poller delivered since it started, so a test can tell that a function
// was never invoked or that no message came back for a second receive.
type SQSStats struct {
	// Invocations is the number of batches the function was invoked with.
	Invocations int64 `json:"invocations"`
	// Messages is the number of messages delivered (a message received again counts again).
	Messages int64 `json:"messages"`
	// Redelivered is the number of deliveries with an ApproximateReceiveCount above 1.
	Redelivered int64 `json:"redelivered"`
}

// Stats returns the counts so far. It is safe to call while the poller runs.
func (p *SQSPoller) Stats() SQSStats {
	return SQSStats{Invocations: p.invocations.Load(), Messages: p.messages.Load(), Redelivered: p.redelivered.Load()}
}

// SQSBatch is what one poll did.
type SQSBatch struct {
	// Received is the message ids delivered to the function, in order.
	Received []string
	// Deleted is the ids deleted from the queue (the successes).
	Deleted []string
	// Failed is the ids left on the queue to be received again.
	Failed []string
	// InvokeErr is the function error or invalid response that failed the whole batch, if any.
	InvokeErr error
}

// Run polls until ctx is cancelled and then returns nil. Queue errors are logged and retried
// with backoff; it returns an error only if the queue's ARN cannot be read at start.
func (p *SQSPoller) Run(ctx context.Context) error {
	if err := p.init(ctx); err != nil {
		return err
	}
	log := logger(p.Logger)
	fails := 0
	for ctx.Err() == nil {
		if _, err := p.PollOnce(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			fails++
			log.Warn("localrun: sqs poll failed", "function", p.Function.Name, "error", err)
			sleep(ctx, backoff(fails))
			continue
		}
		fails = 0
	}
	return nil
}

func (p *SQSPoller) init(ctx context.Context) error {
	if p.queueARN != "" {
		return nil
	}
	out, err := p.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(p.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("localrun: queue ARN of %s: %w", p.QueueURL, err)
	}
	p.queueARN = out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if p.queueARN == "" {
		return fmt.Errorf("localrun: queue %s has no QueueArn attribute", p.QueueURL)
	}
	return nil
}

// PollOnce receives one batch (waiting up to WaitTime), invokes the function once if anything
// arrived, and deletes the successes. It returns an error only when the queue itself fails
// (receive or delete); a failing function is reported in SQSBatch.InvokeErr / Failed.
func (p *SQSPoller) PollOnce(ctx context.Context) (SQSBatch, error) {
	if err := p.init(ctx); err != nil {
		return SQSBatch{}, err
	}
	size := p.BatchSize
	if size <= 0 || size > 10 {
		size = 10
	}
	wait := p.WaitTime
	if wait <= 0 {
		wait = time.Second
	}
	got, err := p.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.QueueURL),
		MaxNumberOfMessages:         size,
		WaitTimeSeconds:             int32((wait + time.Second - 1) / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return SQSBatch{}, fmt.Errorf("localrun: receive from %s: %w", p.QueueURL, err)
	}
	if len(got.Messages) == 0 {
		return SQSBatch{}, nil
	}
	ev := p.event(got.Messages)
	ids := make([]string, len(ev.Records))
	for i, r := range ev.Records {
		ids[i] = r.MessageId
		if n, _ := strconv.Atoi(r.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]); n > 1 {
			p.redelivered.Add(1)
		}
	}
	p.invocations.Add(1)
	p.messages.Add(int64(len(ids)))
	b := SQSBatch{Received: ids}
	payload, err := json.Marshal(ev)
	if err != nil {
		return b, fmt.Errorf("localrun: marshal sqs event: %w", err)
	}
	out, reqID, err := p.Function.invoke(ctx, payload)
	var failed []int
	if err == nil {
		failed, err = failedItems(out, ids)
	}
	log := logger(p.Logger).With("function", p.Function.Name, "requestId", reqID)
	if err != nil {
		// The whole batch failed: nothing is deleted, everything comes back.
		b.InvokeErr, b.Failed = err, ids
		if ctx.Err() == nil {
			log.Warn("localrun: sqs batch failed", "messages", len(ids), "error", err)
		}
		return b, nil
	}
	isFailed := make([]bool, len(ids))
	for _, i := range failed {
		isFailed[i] = true
		b.Failed = append(b.Failed, ids[i])
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range got.Messages {
		if !isFailed[i] {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	log.Info("localrun: sqs batch done", "messages", len(ids), "failed", len(b.Failed))
	if len(entries) == 0 {
		return b, nil
	}
	del, err := p.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	if err != nil {
		return b, fmt.Errorf("localrun: delete from %s: %w", p.QueueURL, err)
	}
	notDeleted := map[string]bool{}
	var errs []error
	for _, f := range del.Failed {
		notDeleted[aws.ToString(f.Id)] = true
		errs = append(errs, fmt.Errorf("entry %s: %s", aws.ToString(f.Id), aws.ToString(f.Message)))
	}
	for _, e := range entries {
		if !notDeleted[aws.ToString(e.Id)] {
			i, _ := strconv.Atoi(aws.ToString(e.Id))
			b.Deleted = append(b.Deleted, ids[i])
		}
	}
	if len(errs) > 0 {
		return b, fmt.Errorf("localrun: delete from %s: %w", p.QueueURL, errors.Join(errs...))
	}
	return b, nil
}

// event builds the SQS event exactly as Lambda does from received messages.
func (p *SQSPoller) event(msgs []sqstypes.Message) events.SQSEvent {
	region := standins.Region
	if parts := strings.Split(p.queueARN, ":"); len(parts) > 3 && parts[3] != "" {
		region = parts[3]
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		attrs := make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes))
		for k, a := range m.MessageAttributes {
			attrs[k] = events.SQSMessageAttribute{
				StringValue:      a.StringValue,
				BinaryValue:      a.BinaryValue,
				StringListValues: nonNil(a.StringListValues),
				BinaryListValues: nonNil(a.BinaryListValues),
				DataType:         aws.ToString(a.DataType),
			}
		}
		sys := make(map[string]string, len(m.Attributes))
		for k, v := range m.Attributes {
			sys[k] = v
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             sys,
			MessageAttributes:      attrs,
			EventSourceARN:         p.queueARN,
			EventSource:            "aws:sqs",
			AWSRegion:              region,
		})
	}
	return ev
}

// nonNil returns s, or an empty slice for nil: Lambda sends [] for empty attribute lists.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
