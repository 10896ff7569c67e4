package localrun_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
)

var queueSeq atomic.Int64

// newQueue creates a queue with a 1 s visibility timeout; fifo adds the .fifo suffix and
// FifoQueue, dlqARN a redrive policy with maxReceiveCount.
func newQueue(t testing.TB, c *sqs.Client, fifo bool, dlqARN string, maxReceive int) (url, arn string) {
	t.Helper()
	name := fmt.Sprintf("q%d", queueSeq.Add(1))
	attrs := map[string]string{"VisibilityTimeout": "1"}
	if fifo {
		name += ".fifo"
		attrs["FifoQueue"] = "true"
	}
	if dlqARN != "" {
		attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, dlqARN, maxReceive)
	}
	ctx := context.Background()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("GetQueueAttributes %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl), a.Attributes["QueueArn"]
}

func send(t testing.TB, c *sqs.Client, url, body, group string) {
	t.Helper()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}
	if group != "" {
		in.MessageGroupId, in.MessageDeduplicationId = aws.String(group), aws.String(body)
	}
	if _, err := c.SendMessage(context.Background(), in); err != nil {
		t.Fatalf("SendMessage %q: %v", body, err)
	}
}

// delivery is one message as a handler saw it.
type delivery struct {
	body  string
	count string // ApproximateReceiveCount
}

// recorder is an SQS handler that records every delivery and fails what fail says.
type recorder struct {
	mu   sync.Mutex
	seen []delivery
	fail func(m events.SQSMessage) bool
}

func (r *recorder) handle(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range ev.Records {
		r.seen = append(r.seen, delivery{m.Body, m.Attributes["ApproximateReceiveCount"]})
		if r.fail != nil && r.fail(m) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func (r *recorder) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// pollUntil calls PollOnce until done reports true, failing t after 30 s.
func pollUntil(t testing.TB, p *localrun.SQSPoller, done func() bool) []localrun.SQSBatch {
	t.Helper()
	var batches []localrun.SQSBatch
	deadline := time.Now().Add(30 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached after 30 s; batches: %+v", batches)
		}
		b, err := p.PollOnce(context.Background())
		if err != nil {
			t.Fatalf("PollOnce: %v", err)
		}
		if len(b.Received) > 0 {
			batches = append(batches, b)
		}
	}
	return batches
}

// queueEmpty reports whether the queue holds no visible and no in-flight message.
func queueEmpty(t testing.TB, c *sqs.Client, url string) bool {
	t.Helper()
	a, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	return a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
}

func countOf(ds []delivery, body string) int {
	n := 0
	for _, d := range ds {
		if d.body == body {
			n++
		}
	}
	return n
}

func TestSQSPollerBatchSemantics(t *testing.T) {
	c := startStandIns(t)
	cases := []struct {
		name string
		// firstTry, when set, decides how a batch whose first message is on its first receive
		// fails as a whole; otherwise message "b" fails alone on its first receive.
		firstTry func(resp *events.SQSEventResponse) error
		// wantBatchErr is a substring of the first batch's InvokeErr.
		wantBatchErr string
	}{
		{name: "partial failure deletes only the successes"},
		{
			name:         "handler error fails the whole batch",
			firstTry:     func(*events.SQSEventResponse) error { return errors.New("boom") },
			wantBatchErr: "boom",
		},
		{
			name: "unknown itemIdentifier fails the whole batch",
			firstTry: func(resp *events.SQSEventResponse) error {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: "not-in-batch"})
				return nil
			},
			wantBatchErr: "not in the batch",
		},
		{
			name:         "panic fails the whole batch",
			firstTry:     func(*events.SQSEventResponse) error { panic("kaboom") },
			wantBatchErr: "panicked: kaboom",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := newQueue(t, c.sqs, false, "", 0)
			for _, b := range []string{"a", "b", "c"} {
				send(t, c.sqs, url, b, "")
			}
			r := &recorder{}
			if tc.firstTry == nil {
				r.fail = func(m events.SQSMessage) bool { return m.Body == "b" && m.Attributes["ApproximateReceiveCount"] == "1" }
			}
			h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				resp, _ := r.handle(ctx, ev)
				if tc.firstTry != nil && ev.Records[0].Attributes["ApproximateReceiveCount"] == "1" {
					return resp, tc.firstTry(&resp)
				}
				return resp, nil
			}
			p := &localrun.SQSPoller{Client: c.sqs, QueueURL: url, Function: localrun.Function{Name: "t", Handler: lambda.NewHandler(h)}}
			batches := pollUntil(t, p, func() bool { return len(r.deliveries()) >= 3 })
			first := batches[0]
			if tc.wantBatchErr != "" {
				if first.InvokeErr == nil || !strings.Contains(first.InvokeErr.Error(), tc.wantBatchErr) {
					t.Fatalf("first batch error = %v, want it to contain %q", first.InvokeErr, tc.wantBatchErr)
				}
				if len(first.Deleted) != 0 || !slices.Equal(first.Failed, first.Received) {
					t.Fatalf("first batch deleted %v, failed %v: want nothing deleted, all %v failed", first.Deleted, first.Failed, first.Received)
				}
			}
			// Every message that failed comes back once, with receive count 2, and then succeeds.
			want := map[string]int{"a": 1, "b": 2, "c": 1}
			if tc.wantBatchErr != "" {
				want = map[string]int{}
				for _, d := range r.deliveries() {
					if d.count == "1" {
						want[d.body] = 2
					}
				}
			}
			pollUntil(t, p, func() bool {
				ds := r.deliveries()
				for b, n := range want {
					if countOf(ds, b) < n {
						return false
					}
				}
				return queueEmpty(t, c.sqs, url)
			})
			ds := r.deliveries()
			for b, n := range want {
				if got := countOf(ds, b); got != n {
					t.Errorf("%q delivered %d times, want %d (deliveries %+v)", b, got, n, ds)
				}
			}
			for _, d := range ds {
				if want[d.body] == 2 && d.count == "2" {
					continue
				}
				if d.count != "1" {
					t.Errorf("delivery %+v: a message that succeeded was delivered again", d)
				}
			}
		})
	}
}

func TestSQSPollerEventFields(t *testing.T) {
	c := startStandIns(t)
	url, arn := newQueue(t, c.sqs, true, "", 0)
	_, err := c.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(url), MessageBody: aws.String(`{"type":"deploy"}`),
		MessageGroupId: aws.String("user-1"), MessageDeduplicationId: aws.String("req-1"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{"schema": {DataType: aws.String("Number"), StringValue: aws.String("1")}},
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	got := make(chan events.SQSMessage, 1)
	var lc *lambdacontext.LambdaContext
	h := func(ctx context.Context, ev events.SQSEvent) error {
		lc, _ = lambdacontext.FromContext(ctx)
		got <- ev.Records[0]
		return nil
	}
	fn := localrun.Function{Name: "deployer", Handler: lambda.NewHandler(h)}
	p := &localrun.SQSPoller{Client: c.sqs, QueueURL: url, Function: fn}
	b := pollUntil(t, p, func() bool { return len(got) == 1 })
	m := <-got
	sum := md5.Sum([]byte(`{"type":"deploy"}`))
	checks := []struct {
		name      string
		got, want string
	}{
		{"eventSource", m.EventSource, "aws:sqs"},
		{"eventSourceARN", m.EventSourceARN, arn},
		{"awsRegion", m.AWSRegion, "us-east-1"},
		{"body", m.Body, `{"type":"deploy"}`},
		{"md5OfBody", m.Md5OfBody, hex.EncodeToString(sum[:])},
		{"messageId", m.MessageId, b[0].Received[0]},
		{"MessageGroupId", m.Attributes["MessageGroupId"], "user-1"},
		{"MessageDeduplicationId", m.Attributes["MessageDeduplicationId"], "req-1"},
		{"ApproximateReceiveCount", m.Attributes["ApproximateReceiveCount"], "1"},
		{"SentTimestamp set", fmt.Sprint(m.Attributes["SentTimestamp"] != ""), "true"},
		{"receiptHandle set", fmt.Sprint(m.ReceiptHandle != ""), "true"},
		{"messageAttributes.schema", aws.ToString(m.MessageAttributes["schema"].StringValue), "1"},
		{"messageAttributes.schema dataType", m.MessageAttributes["schema"].DataType, "Number"},
		{"request id set", fmt.Sprint(lc != nil && lc.AwsRequestID != ""), "true"},
		{"function ARN", lc.InvokedFunctionArn, fn.ARN()},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !slices.Equal(b[0].Deleted, b[0].Received) {
		t.Errorf("deleted %v, want the whole batch %v", b[0].Deleted, b[0].Received)
	}
}

func TestSQSPollerDeadLetterQueue(t *testing.T) {
	c := startStandIns(t)
	dlqURL, dlqARN := newQueue(t, c.sqs, true, "", 0)
	url, _ := newQueue(t, c.sqs, true, dlqARN, 2)
	send(t, c.sqs, url, "poison", "user-1")

	main := &recorder{fail: func(events.SQSMessage) bool { return true }}
	dead := make(chan events.SQSMessage, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	pollers := []*localrun.SQSPoller{
		{Client: c.sqs, QueueURL: url, Function: localrun.Function{Name: "deployer", Handler: lambda.NewHandler(main.handle)}},
		{Client: c.sqs, QueueURL: dlqURL, Function: localrun.Function{Name: "deadletter", Handler: lambda.NewHandler(func(ev events.SQSEvent) error {
			for _, m := range ev.Records {
				dead <- m
			}
			return nil
		})}},
	}
	for _, p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Errorf("Run %s: %v", p.Function.Name, err)
			}
		}()
	}
	select {
	case m := <-dead:
		if m.Body != "poison" {
			t.Fatalf("dead-letter handler got %q, want poison", m.Body)
		}
		if m.EventSourceARN != dlqARN {
			t.Errorf("dead-letter eventSourceARN = %q, want %q", m.EventSourceARN, dlqARN)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("nothing reached the DLQ after 30 s; main deliveries %+v", main.deliveries())
	}
	want := []delivery{{"poison", "1"}, {"poison", "2"}}
	if got := main.deliveries(); !slices.Equal(got, want) {
		t.Errorf("main handler deliveries = %+v, want %+v (maxReceiveCount 2)", got, want)
	}
	// The counters tell the same story: two single-message invocations, the second a
	// redelivery; one invocation of the dead-letter function. (The DLQ's receive count is
	// emulator-specific, so its Redelivered is not checked.)
	if got, want := pollers[0].Stats(), (localrun.SQSStats{Invocations: 2, Messages: 2, Redelivered: 1}); got != want {
		t.Errorf("deploy queue poller stats %+v, want %+v", got, want)
	}
	if got := pollers[1].Stats(); got.Invocations != 1 || got.Messages != 1 {
		t.Errorf("DLQ poller stats %+v, want one invocation with one message", got)
	}
}
