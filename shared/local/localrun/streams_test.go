package localrun_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
)

var tableSeq atomic.Int64

// newStreamTable creates a table keyed by pk with a NEW_AND_OLD_IMAGES stream and returns its
// name and stream ARN.
func newStreamTable(t testing.TB, c *dynamodb.Client) (name, streamARN string) {
	t.Helper()
	name = fmt.Sprintf("table%d", tableSeq.Add(1))
	out, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return name, aws.ToString(out.TableDescription.LatestStreamArn)
}

func put(t testing.TB, c *dynamodb.Client, table, pk string, v int) {
	t.Helper()
	_, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "v": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(v)},
	}})
	if err != nil {
		t.Fatalf("PutItem %s: %v", pk, err)
	}
}

// runPoller runs p until the test ends.
func runPoller(t testing.TB, p *localrun.StreamPoller) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// streamLog collects what a stream handler did, for assertions from the test goroutine.
type streamLog struct {
	mu         sync.Mutex
	deliveries []string // "pk=v" per record per delivery
	processed  []string // records the handler accepted, in order
	calls      int
}

func (l *streamLog) snapshot() (deliveries, processed []string, calls int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.deliveries), slices.Clone(l.processed), l.calls
}

func label(r events.DynamoDBEventRecord) string {
	img := r.Change.NewImage
	if img == nil {
		img = r.Change.OldImage
	}
	return r.Change.Keys["pk"].String() + "=" + img["v"].Number()
}

// waitFor polls cond until it holds, failing t after 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after 30 s", what)
		}
		<-tick.C
	}
}

func TestStreamPollerOrderAndImages(t *testing.T) {
	c := startStandIns(t)
	table, arn := newStreamTable(t, c.ddb)
	var mu sync.Mutex
	var got []events.DynamoDBEventRecord
	h := func(ev events.DynamoDBEvent) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev.Records...)
		return nil
	}
	runPoller(t, &localrun.StreamPoller{Client: c.streams, StreamARN: arn, StartingPosition: streamtypes.ShardIteratorTypeTrimHorizon,
		Function: localrun.Function{Name: "notifier", Handler: lambda.NewHandler(h)}})

	ctx := context.Background()
	put(t, c.ddb, table, "k", 1)
	put(t, c.ddb, table, "k", 2)
	put(t, c.ddb, table, "k", 3)
	if _, err := c.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}}}); err != nil {
		t.Fatalf("DeleteItem: %v", err)
	}
	waitFor(t, "four stream records", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 4 })
	mu.Lock()
	recs := slices.Clone(got)
	mu.Unlock()
	if len(recs) != 4 {
		t.Fatalf("got %d records, want 4", len(recs))
	}
	image := func(m map[string]events.DynamoDBAttributeValue) string {
		if m == nil {
			return "-"
		}
		return m["v"].Number()
	}
	want := []struct{ name, old, new string }{{"INSERT", "-", "1"}, {"MODIFY", "1", "2"}, {"MODIFY", "2", "3"}, {"REMOVE", "3", "-"}}
	prev := new(big.Int)
	for i, r := range recs {
		if r.EventName != want[i].name || image(r.Change.OldImage) != want[i].old || image(r.Change.NewImage) != want[i].new {
			t.Errorf("record %d = %s old %s new %s, want %+v", i, r.EventName, image(r.Change.OldImage), image(r.Change.NewImage), want[i])
		}
		if r.EventSourceArn != arn || r.EventSource != "aws:dynamodb" || r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" || r.Change.Keys["pk"].String() != "k" {
			t.Errorf("record %d: source %q %q, view %q, keys %v", i, r.EventSource, r.EventSourceArn, r.Change.StreamViewType, r.Change.Keys)
		}
		seq, ok := new(big.Int).SetString(r.Change.SequenceNumber, 10)
		if !ok || seq.Cmp(prev) <= 0 {
			t.Errorf("record %d: sequence number %q not above the previous %s", i, r.Change.SequenceNumber, prev)
		} else {
			prev = seq
		}
	}
}

func TestStreamPollerRedelivery(t *testing.T) {
	c := startStandIns(t)
	cases := []struct {
		name string
		// fail decides, per delivered record, how the handler fails: "" accepts it, "item" reports
		// it in batchItemFailures, "error" fails the invocation.
		fail func(label string, attempt int) string
		// wantDeliveries is how often each record reaches the handler.
		wantDeliveries map[string]int
	}{
		{
			name: "failed item is re-delivered from where it failed",
			fail: func(l string, attempt int) string {
				if l == "b=2" && attempt == 1 {
					return "item"
				}
				return ""
			},
			wantDeliveries: map[string]int{"a=1": 1, "b=2": 2},
		},
		{
			name: "handler error re-delivers the whole batch",
			fail: func(l string, attempt int) string {
				if l == "a=1" && attempt == 1 {
					return "error"
				}
				return ""
			},
			wantDeliveries: map[string]int{"a=1": 2},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			table, arn := newStreamTable(t, c.ddb)
			log := &streamLog{}
			attempts := map[string]int{}
			// The handler works through its batch in order and stops at the first failure, as a
			// handler with ReportBatchItemFailures should.
			h := func(ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				log.mu.Lock()
				defer log.mu.Unlock()
				log.calls++
				var resp events.DynamoDBEventResponse
				for i, r := range ev.Records {
					l := label(r)
					log.deliveries = append(log.deliveries, l)
					attempts[l]++
					switch tc.fail(l, attempts[l]) {
					case "error":
						return resp, errors.New("boom")
					case "item":
						for _, rest := range ev.Records[i:] {
							resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rest.Change.SequenceNumber})
						}
						return resp, nil
					}
					log.processed = append(log.processed, l)
				}
				return resp, nil
			}
			put(t, c.ddb, table, "a", 1)
			put(t, c.ddb, table, "b", 2)
			put(t, c.ddb, table, "c", 3)
			runPoller(t, &localrun.StreamPoller{Client: c.streams, StreamARN: arn, StartingPosition: streamtypes.ShardIteratorTypeTrimHorizon,
				Function: localrun.Function{Name: "notifier", Handler: lambda.NewHandler(h)}})
			waitFor(t, "all three records processed", func() bool { _, p, _ := log.snapshot(); return len(p) >= 3 })
			deliveries, processed, _ := log.snapshot()
			if want := []string{"a=1", "b=2", "c=3"}; !slices.Equal(processed, want) {
				t.Errorf("processed %v, want %v exactly once each, in order (deliveries %v)", processed, want, deliveries)
			}
			for l, n := range tc.wantDeliveries {
				if got := countString(deliveries, l); got != n {
					t.Errorf("%s delivered %d times, want %d (deliveries %v)", l, got, n, deliveries)
				}
			}
		})
	}
}

func countString(s []string, v string) int {
	n := 0
	for _, e := range s {
		if e == v {
			n++
		}
	}
	return n
}

// trimmingStreams is the real Streams client, except that GetRecords answers
// TrimmedDataAccessException on the calls listed in trimOn (1-based), as DynamoDB Local does to
// held iterators under concurrent writes.
type trimmingStreams struct {
	*dynamodbstreams.Client
	mu     sync.Mutex
	calls  int
	trimOn map[int]bool
}

func (s *trimmingStreams) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	s.mu.Lock()
	s.calls++
	trim := s.trimOn[s.calls]
	s.mu.Unlock()
	if trim {
		return nil, &streamtypes.TrimmedDataAccessException{Message: aws.String("The operation attempted to read past the oldest stream record in a shard.")}
	}
	return s.Client.GetRecords(ctx, in, optFns...)
}

func TestStreamPollerRecoversFromTrimmedIterator(t *testing.T) {
	c := startStandIns(t)
	table, arn := newStreamTable(t, c.ddb)
	log := &streamLog{}
	h := func(ev events.DynamoDBEvent) error {
		log.mu.Lock()
		defer log.mu.Unlock()
		for _, r := range ev.Records {
			log.processed = append(log.processed, label(r))
		}
		return nil
	}
	client := &trimmingStreams{Client: c.streams, trimOn: map[int]bool{1: true, 3: true, 4: true}}
	runPoller(t, &localrun.StreamPoller{Client: client, StreamARN: arn, StartingPosition: streamtypes.ShardIteratorTypeTrimHorizon, BatchSize: 1,
		Function: localrun.Function{Name: "notifier", Handler: lambda.NewHandler(h)}})
	for i, pk := range []string{"a", "b", "c", "d"} {
		put(t, c.ddb, table, pk, i)
	}
	waitFor(t, "four records", func() bool { _, p, _ := log.snapshot(); return len(p) >= 4 })
	_, processed, _ := log.snapshot()
	if want := []string{"a=0", "b=1", "c=2", "d=3"}; !slices.Equal(processed, want) {
		t.Errorf("processed %v, want %v (each once, in order, despite trimmed iterators)", processed, want)
	}
}
