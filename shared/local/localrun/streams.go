package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamsAPI is what the stream poller calls; *dynamodbstreams.Client satisfies it.
type StreamsAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// StreamPoller stands in for Lambda's DynamoDB Streams event source mapping with
// ReportBatchItemFailures: it reads every shard in order, invokes the function with an
// events.DynamoDBEvent per batch, and on a failure re-reads the shard from the first failed
// record.
type StreamPoller struct {
	Client    StreamsAPI
	StreamARN string
	Function  Function
	// StartingPosition is where shards found at start are read from: TRIM_HORIZON or LATEST
	// (zero means LATEST, Lambda's usual choice). Shards that appear later are read from
	// TRIM_HORIZON, so no record is missed.
	StartingPosition types.ShardIteratorType
	// BatchSize is the most records per invocation; zero means 100.
	BatchSize int32
	// PollInterval is the wait after a round that found no record; zero means 100 ms.
	PollInterval time.Duration
	// MaxRetryAttempts is how often a failing batch is retried before its records are skipped
	// (logged); zero means forever, like Lambda's default of -1.
	MaxRetryAttempts int
	// Logger receives one line per batch and per recovered stream error; nil discards.
	Logger *slog.Logger
}

// shard is the poller's position in one shard.
type shard struct {
	id, parent string
	initial    types.ShardIteratorType
	iterator   string
	// after is the last record delivered successfully (the checkpoint); at is the first record
	// that must be delivered next (set after a failure). at wins over after.
	after, at string
	retries   int
	notBefore time.Time
	done      bool
}

// Run reads the stream until ctx is cancelled and then returns nil. Stream errors, including
// DynamoDB Local's TrimmedDataAccessException on held iterators and expired iterators, are
// logged and recovered by re-acquiring an iterator from the checkpoint. It returns an error only
// if the stream cannot be described at start.
func (p *StreamPoller) Run(ctx context.Context) error {
	log := logger(p.Logger).With("function", p.Function.Name)
	shards := map[string]*shard{}
	var order []string
	start := p.StartingPosition
	if start == "" {
		start = types.ShardIteratorTypeLatest
	}
	refresh := func(initial types.ShardIteratorType) error {
		found, err := p.describe(ctx)
		if err != nil {
			return err
		}
		for _, s := range found {
			id := aws.ToString(s.ShardId)
			if _, ok := shards[id]; ok {
				continue
			}
			shards[id] = &shard{id: id, parent: aws.ToString(s.ParentShardId), initial: initial}
			order = append(order, id)
		}
		return nil
	}
	if err := refresh(start); err != nil {
		return fmt.Errorf("localrun: describe stream %s: %w", p.StreamARN, err)
	}
	interval := p.PollInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	lastRefresh := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastRefresh) > time.Second {
			if err := refresh(types.ShardIteratorTypeTrimHorizon); err != nil && ctx.Err() == nil {
				log.Warn("localrun: describe stream failed", "error", err)
			}
			lastRefresh = time.Now()
		}
		delivered := false
		for _, id := range order {
			s := shards[id]
			if s.done || time.Now().Before(s.notBefore) {
				continue
			}
			if parent, ok := shards[s.parent]; ok && !parent.done {
				continue // a child shard waits until its parent is read to the end
			}
			n, err := p.pollShard(ctx, s)
			if err != nil && ctx.Err() == nil {
				// DynamoDB Local trims held iterators under concurrent writes (docs/aws-standins.md): expected,
				// and recovered from the checkpoint.
				level := slog.LevelWarn
				var trimmed *types.TrimmedDataAccessException
				var expired *types.ExpiredIteratorException
				if errors.As(err, &trimmed) || errors.As(err, &expired) {
					level = slog.LevelDebug
				}
				log.Log(ctx, level, "localrun: stream read failed; re-acquiring the iterator", "shard", s.id, "error", err)
				s.iterator = ""
			}
			delivered = delivered || n > 0
		}
		if !delivered {
			sleep(ctx, interval)
		}
	}
	return nil
}

func (p *StreamPoller) describe(ctx context.Context) ([]types.Shard, error) {
	var all []types.Shard
	var from *string
	for {
		out, err := p.Client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.StreamARN), ExclusiveStartShardId: from})
		if err != nil {
			return nil, err
		}
		all = append(all, out.StreamDescription.Shards...)
		from = out.StreamDescription.LastEvaluatedShardId
		if from == nil {
			return all, nil
		}
	}
}

// acquire gets an iterator for s from where it must resume.
func (p *StreamPoller) acquire(ctx context.Context, s *shard) error {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.StreamARN), ShardId: aws.String(s.id)}
	switch {
	case s.at != "":
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAtSequenceNumber, aws.String(s.at)
	case s.after != "":
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(s.after)
	default:
		in.ShardIteratorType = s.initial
	}
	out, err := p.Client.GetShardIterator(ctx, in)
	if err != nil {
		var trimmed *types.TrimmedDataAccessException
		if errors.As(err, &trimmed) && in.SequenceNumber != nil {
			// The checkpoint is older than the stream keeps: read what is left.
			s.at, s.after = "", ""
			return fmt.Errorf("get iterator %s %s (restarting at the trim horizon): %w", in.ShardIteratorType, aws.ToString(in.SequenceNumber), err)
		}
		return fmt.Errorf("get iterator %s: %w", in.ShardIteratorType, err)
	}
	s.iterator = aws.ToString(out.ShardIterator)
	if s.iterator == "" {
		s.done = true
	}
	return nil
}

// pollShard reads one batch of s and delivers it; it returns how many records it read.
func (p *StreamPoller) pollShard(ctx context.Context, s *shard) (int, error) {
	if s.iterator == "" {
		if err := p.acquire(ctx, s); err != nil {
			return 0, err
		}
		if s.done {
			return 0, nil
		}
	}
	limit := p.BatchSize
	if limit <= 0 {
		limit = 100
	}
	out, err := p.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(s.iterator), Limit: aws.Int32(limit)})
	if err != nil {
		return 0, fmt.Errorf("get records: %w", err)
	}
	next := aws.ToString(out.NextShardIterator)
	if len(out.Records) == 0 {
		s.iterator = next
		s.done = next == ""
		return 0, nil
	}
	failedAt := p.deliver(ctx, s, out.Records)
	if failedAt < 0 {
		s.after, s.at, s.retries = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber), "", 0
		s.iterator = next
		s.done = next == ""
		return len(out.Records), nil
	}
	s.retries++
	if p.MaxRetryAttempts > 0 && s.retries > p.MaxRetryAttempts {
		logger(p.Logger).Error("localrun: stream batch skipped after its retries", "function", p.Function.Name,
			"shard", s.id, "from", aws.ToString(out.Records[failedAt].Dynamodb.SequenceNumber), "records", len(out.Records)-failedAt)
		s.after, s.at, s.retries = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber), "", 0
		s.iterator = next
		s.done = next == ""
		return len(out.Records), nil
	}
	if failedAt > 0 {
		s.after = aws.ToString(out.Records[failedAt-1].Dynamodb.SequenceNumber)
	}
	s.at = aws.ToString(out.Records[failedAt].Dynamodb.SequenceNumber)
	s.iterator = "" // re-read from the failed record
	s.notBefore = time.Now().Add(backoff(s.retries))
	return len(out.Records), nil
}

// deliver invokes the function with recs and returns the index of the first failed record, or
// -1 when the whole batch succeeded.
func (p *StreamPoller) deliver(ctx context.Context, s *shard, recs []types.Record) int {
	log := logger(p.Logger).With("function", p.Function.Name, "shard", s.id)
	ev, err := p.event(recs)
	if err != nil {
		// Cannot happen with DynamoDB's attribute types; skip nothing, retry like a failed batch.
		log.Error("localrun: stream record conversion failed", "error", err)
		return 0
	}
	ids := make([]string, len(ev.Records))
	for i, r := range ev.Records {
		ids[i] = r.Change.SequenceNumber
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		log.Error("localrun: marshal stream event failed", "error", err)
		return 0
	}
	out, reqID, err := p.Function.invoke(ctx, payload)
	var failed []int
	if err == nil {
		failed, err = failedItems(out, ids)
	}
	log = log.With("requestId", reqID, "records", len(ids))
	switch {
	case err != nil && ctx.Err() != nil:
		return 0 // shutting down: the batch is read again next time
	case err != nil:
		log.Warn("localrun: stream batch failed", "error", err)
		return 0
	case len(failed) > 0:
		log.Warn("localrun: stream batch partly failed", "from", ids[failed[0]])
		return failed[0] // Lambda retries from the lowest failed sequence number
	default:
		log.Info("localrun: stream batch done")
		return -1
	}
}

// event builds the DynamoDB event exactly as Lambda does from stream records.
func (p *StreamPoller) event(recs []types.Record) (events.DynamoDBEvent, error) {
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(recs))}
	for _, r := range recs {
		d := r.Dynamodb
		if d == nil {
			return ev, fmt.Errorf("record %s has no dynamodb part", aws.ToString(r.EventID))
		}
		keys, err := eventAttributes(d.Keys)
		if err != nil {
			return ev, err
		}
		newImage, err := eventAttributes(d.NewImage)
		if err != nil {
			return ev, err
		}
		oldImage, err := eventAttributes(d.OldImage)
		if err != nil {
			return ev, err
		}
		var created events.SecondsEpochTime
		if d.ApproximateCreationDateTime != nil {
			created = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
		rec := events.DynamoDBEventRecord{
			AWSRegion: aws.ToString(r.AwsRegion),
			Change: events.DynamoDBStreamRecord{
				ApproximateCreationDateTime: created,
				Keys:                        keys,
				NewImage:                    newImage,
				OldImage:                    oldImage,
				SequenceNumber:              aws.ToString(d.SequenceNumber),
				SizeBytes:                   aws.ToInt64(d.SizeBytes),
				StreamViewType:              string(d.StreamViewType),
			},
			EventID:        aws.ToString(r.EventID),
			EventName:      string(r.EventName),
			EventSource:    aws.ToString(r.EventSource),
			EventVersion:   aws.ToString(r.EventVersion),
			EventSourceArn: p.StreamARN,
		}
		if r.UserIdentity != nil {
			rec.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev, nil
}
