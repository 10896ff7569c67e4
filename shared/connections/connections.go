// Package connections is the server side of the status WebSocket: the table of open connections
// (which API Gateway connection ids belong to which user) and the events sent on them (Event).
//
// Table (docs/ARCHITECTURE.md): partition key userId (S), sort key connectionId (S), TTL attribute
// expiresAt (epoch seconds), and a global secondary index ByConnectionIndex (partition key
// connectionId, projecting the keys and expiresAt) because `$disconnect` and client messages carry only the connection id.
//
// Invariants: every item has expiresAt; reads never return an item whose expiresAt has passed,
// because DynamoDB deletes expired items only lazily (up to days later) and DynamoDB Local never
// does; Delete of a missing item is not an error (a connection can go away twice: `$disconnect`
// and a 410 from the notifier). Lookups by connection id read a GSI and are eventually consistent.
package connections

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names of the table.
const (
	AttrUserID        = "userId"
	AttrConnectionID  = "connectionId"
	AttrExpiresAt     = "expiresAt"
	ByConnectionIndex = "byConnection"
	// AttrSnapshotAt is when the connection was last served a snapshot (epoch milliseconds); not
	// projected into ByConnectionIndex, so writing it costs no index write.
	AttrSnapshotAt = "snapshotAt"
)

// DefaultTTL is how long a connection item lives: API Gateway's maximum connection duration, so
// an item outlives its connection only when `$disconnect` was missed.
const DefaultTTL = 2 * time.Hour

// ErrNotFound is returned (wrapped) by UserOf when no live item has the connection id, and by
// ClaimSnapshot when the item is gone or expired.
var ErrNotFound = errors.New("connections: not found")

// ErrTooSoon is returned (wrapped) by ClaimSnapshot when the connection was served a snapshot
// less than the interval ago.
var ErrTooSoon = errors.New("connections: snapshot asked again too soon")

// DB is the part of the DynamoDB client the store calls; *dynamodb.Client satisfies it.
type DB interface {
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store is the connections table. It holds no per-call state and is safe for concurrent use.
type Store struct {
	DB    DB
	Table string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Connection is one item.
type Connection struct {
	UserID       string `dynamodbav:"userId"`
	ConnectionID string `dynamodbav:"connectionId"`
	// ConnectedAt and ExpiresAt are epoch seconds.
	ConnectedAt int64 `dynamodbav:"connectedAt"`
	ExpiresAt   int64 `dynamodbav:"expiresAt"`
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Put stores connectionID for userID, expiring after ttl (DefaultTTL if ttl <= 0). Putting the
// same pair again renews it. It returns the DynamoDB error, wrapped.
func (s *Store) Put(ctx context.Context, userID, connectionID string, ttl time.Duration) error {
	if userID == "" || connectionID == "" {
		return fmt.Errorf("connections: put %q/%q: user id and connection id are required", userID, connectionID)
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	now := s.now()
	item, err := attributevalue.MarshalMap(Connection{
		UserID: userID, ConnectionID: connectionID, ConnectedAt: now.Unix(), ExpiresAt: now.Add(ttl).Unix(),
	})
	if err != nil {
		return fmt.Errorf("connections: put %s: %w", connectionID, err)
	}
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: item}); err != nil {
		return fmt.Errorf("connections: put %s: %w", connectionID, err)
	}
	return nil
}

// Delete removes the item; a missing item is not an error. It returns the DynamoDB error, wrapped.
func (s *Store) Delete(ctx context.Context, userID, connectionID string) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.Table,
		Key: map[string]types.AttributeValue{
			AttrUserID:       &types.AttributeValueMemberS{Value: userID},
			AttrConnectionID: &types.AttributeValueMemberS{Value: connectionID},
		},
	})
	if err != nil {
		return fmt.Errorf("connections: delete %s: %w", connectionID, err)
	}
	return nil
}

// ClaimSnapshot records that the live connection (userID, connectionID) is served a snapshot now,
// unless it was served one less than interval ago. It is one conditional UpdateItem on the item,
// so every Lambda instance serving the connection sees the same window (they share no memory),
// and it never creates an item. It returns an error wrapping ErrTooSoon inside the window,
// ErrNotFound when the item is missing or expired, or the DynamoDB error, wrapped.
func (s *Store) ClaimSnapshot(ctx context.Context, userID, connectionID string, interval time.Duration) error {
	now := s.now()
	num := func(n int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Table,
		Key: map[string]types.AttributeValue{
			AttrUserID:       &types.AttributeValueMemberS{Value: userID},
			AttrConnectionID: &types.AttributeValueMemberS{Value: connectionID},
		},
		UpdateExpression:         aws.String("SET #s = :now"),
		ConditionExpression:      aws.String("#e > :sec AND (attribute_not_exists(#s) OR #s <= :cutoff)"),
		ExpressionAttributeNames: map[string]string{"#s": AttrSnapshotAt, "#e": AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(now.UnixMilli()), ":sec": num(now.Unix()), ":cutoff": num(now.Add(-interval).UnixMilli()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var old Connection
		if ccf.Item == nil || attributevalue.UnmarshalMap(ccf.Item, &old) != nil || old.ExpiresAt <= now.Unix() {
			return fmt.Errorf("connections: snapshot %s: %w", connectionID, ErrNotFound)
		}
		return fmt.Errorf("connections: snapshot %s: %w", connectionID, ErrTooSoon)
	}
	if err != nil {
		return fmt.Errorf("connections: snapshot %s: %w", connectionID, err)
	}
	return nil
}

// ListByUser returns userID's live connections (strongly consistent, every page), leaving out
// items whose expiresAt has passed. It returns the DynamoDB error, wrapped.
func (s *Store) ListByUser(ctx context.Context, userID string) ([]Connection, error) {
	return s.query(ctx, "list "+userID, "", AttrUserID, userID)
}

// UserOf returns the user a live connection belongs to, read from ByConnectionIndex (eventually
// consistent). It returns an error wrapping ErrNotFound when there is none, or the DynamoDB error.
func (s *Store) UserOf(ctx context.Context, connectionID string) (string, error) {
	op := "user of " + connectionID
	conns, err := s.query(ctx, op, ByConnectionIndex, AttrConnectionID, connectionID)
	if err != nil {
		return "", err
	}
	if len(conns) == 0 {
		return "", fmt.Errorf("connections: %s: %w", op, ErrNotFound)
	}
	return conns[0].UserID, nil
}

// query returns the live items whose key attr equals value, from the table (strongly consistent)
// or from index, over every page.
func (s *Store) query(ctx context.Context, op, index, attr, value string) ([]Connection, error) {
	in := &dynamodb.QueryInput{
		TableName:                &s.Table,
		KeyConditionExpression:   aws.String("#k = :k"),
		FilterExpression:         aws.String("#e > :now"),
		ExpressionAttributeNames: map[string]string{"#k": attr, "#e": AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":k":   &types.AttributeValueMemberS{Value: value},
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(s.now().Unix(), 10)},
		},
	}
	if index == "" {
		in.ConsistentRead = aws.Bool(true) // GSIs do not allow it
	} else {
		in.IndexName = aws.String(index)
	}
	var out []Connection
	p := dynamodb.NewQueryPaginator(s.DB, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("connections: %s: %w", op, err)
		}
		var conns []Connection
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &conns); err != nil {
			return nil, fmt.Errorf("connections: %s: %w", op, err)
		}
		out = append(out, conns...)
	}
	return out, nil
}
