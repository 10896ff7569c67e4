package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/byod-deployer/byod-deployer/shared/batch"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// byBody fails, panics or succeeds according to the record's body or key, and remembers what ran.
type byBody struct{ ran []string }

func (b *byBody) do(id, what string) error {
	b.ran = append(b.ran, id)
	switch what {
	case "fail":
		return errors.New("transient")
	case "panic":
		var m map[string]int
		m["boom"]++ // a nil-map write: a real runtime panic
	}
	return nil
}

func TestSQSThroughLambda(t *testing.T) {
	var b byBody
	var failed []batch.Failure
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return batch.SQS(ctx, ev, func(_ context.Context, m events.SQSMessage) error {
			return b.do(m.MessageId, m.Body)
		}, func(f batch.Failure) { failed = append(failed, f) }), nil
	}
	out, err := lambda.NewHandler(h).Invoke(context.Background(), readFile(t, "testdata/sqs-fifo-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	// m2-a fails, so m4-a (same group, later) must not run; m3-b panics; m5-c still runs.
	const want = `{"batchItemFailures":[{"itemIdentifier":"m2-a"},{"itemIdentifier":"m3-b"},{"itemIdentifier":"m4-a"}]}`
	if string(out) != want {
		t.Errorf("response:\n got %s\nwant %s", out, want)
	}
	if wantRan := []string{"m1-a", "m2-a", "m3-b", "m5-c"}; !reflect.DeepEqual(b.ran, wantRan) {
		t.Errorf("ran %v, want %v", b.ran, wantRan)
	}
	if len(failed) != 3 || failed[1].Err == nil {
		t.Errorf("onFail calls: %+v", failed)
	}
}

func TestSQSCases(t *testing.T) {
	tests := []struct {
		name   string
		msgs   []events.SQSMessage
		failed []string
	}{
		{"empty batch", nil, []string{}},
		{"all succeed", []events.SQSMessage{{MessageId: "a", Body: "ok"}, {MessageId: "b", Body: "ok"}}, []string{}},
		{"standard queue: a failure blocks nothing", []events.SQSMessage{{MessageId: "a", Body: "fail"}, {MessageId: "b", Body: "ok"}}, []string{"a"}},
		{"all fail", []events.SQSMessage{{MessageId: "a", Body: "fail"}, {MessageId: "b", Body: "panic"}}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b byBody
			resp := batch.SQS(context.Background(), events.SQSEvent{Records: tt.msgs}, func(_ context.Context, m events.SQSMessage) error {
				return b.do(m.MessageId, m.Body)
			}, nil)
			got := []string{}
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if !reflect.DeepEqual(got, tt.failed) {
				t.Errorf("failed %v, want %v", got, tt.failed)
			}
			if len(b.ran) != len(tt.msgs) {
				t.Errorf("ran %v, want every message", b.ran)
			}
		})
	}
}

func TestStreamThroughLambda(t *testing.T) {
	var b byBody
	h := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return batch.Stream(ctx, ev, func(_ context.Context, r events.DynamoDBEventRecord) error {
			return b.do(r.Change.SequenceNumber, r.Change.Keys["pk"].String())
		}, nil), nil
	}
	out, err := lambda.NewHandler(h).Invoke(context.Background(), readFile(t, "testdata/stream-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	// Record 200 fails: it is reported, and 300 is not run (Lambda retries from 200).
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "200" {
		t.Errorf("response %s, want only sequence number 200", out)
	}
	if want := []string{"100", "200"}; !reflect.DeepEqual(b.ran, want) {
		t.Errorf("ran %v, want %v", b.ran, want)
	}
}

func TestStreamPanicAndSuccess(t *testing.T) {
	rec := func(seq, key string) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{Change: events.DynamoDBStreamRecord{
			SequenceNumber: seq, Keys: map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute(key)},
		}}
	}
	tests := []struct {
		name    string
		records []events.DynamoDBEventRecord
		want    []string
	}{
		{"all succeed", []events.DynamoDBEventRecord{rec("1", "ok"), rec("2", "ok")}, []string{}},
		{"panic is the first failure", []events.DynamoDBEventRecord{rec("1", "ok"), rec("2", "panic"), rec("3", "fail")}, []string{"2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b byBody
			var calls []batch.Failure
			resp := batch.Stream(context.Background(), events.DynamoDBEvent{Records: tt.records}, func(_ context.Context, r events.DynamoDBEventRecord) error {
				return b.do(r.Change.SequenceNumber, r.Change.Keys["pk"].String())
			}, func(f batch.Failure) { calls = append(calls, f) })
			got := []string{}
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("failed %v, want %v", got, tt.want)
			}
			if len(calls) != len(tt.want) {
				t.Errorf("onFail called %d times, want %d", len(calls), len(tt.want))
			}
		})
	}
}
