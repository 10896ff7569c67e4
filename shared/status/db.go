package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DB is the part of the DynamoDB client the store calls; *dynamodb.Client satisfies it.
type DB interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, params *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is the status table. It holds no per-call state and is safe for concurrent use.
type Store struct {
	DB    DB
	Table string
	// Now is the clock; nil means time.Now. Lease expiry is compared with it.
	Now func() time.Time
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Store) key(userID, configID, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: PK(userID, configID)},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// Get returns the current record of (userID, configID) with a consistent read, or ErrNotFound.
func (s *Store) Get(ctx context.Context, userID, configID string) (Record, error) {
	rec, err := s.current(ctx, userID, configID)
	if err != nil {
		return Record{}, fmt.Errorf("status: get %s/%s: %w", userID, configID, err)
	}
	return rec, nil
}

// History returns a request's history item with a consistent read, or ErrNotFound.
func (s *Store) History(ctx context.Context, ref Ref) (History, error) {
	var h History
	found, err := s.get(ctx, ref.UserID, ref.ConfigID, HistorySK(ref.RequestID), &h)
	if err == nil && !found {
		err = ErrNotFound
	}
	if err != nil {
		return History{}, fmt.Errorf("status: history %s: %w", ref, err)
	}
	return h, nil
}

// current reads the current item, unwrapped (ErrNotFound if there is none).
func (s *Store) current(ctx context.Context, userID, configID string) (Record, error) {
	var rec Record
	found, err := s.get(ctx, userID, configID, skCurrent, &rec)
	if err == nil && !found {
		err = ErrNotFound
	}
	if err != nil {
		return Record{}, err
	}
	return rec, nil
}

func (s *Store) get(ctx context.Context, userID, configID, sk string, out any) (bool, error) {
	res, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Table, Key: s.key(userID, configID, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, err
	}
	if res.Item == nil {
		return false, nil
	}
	return true, attributevalue.UnmarshalMap(res.Item, out)
}

// reason is one item's outcome in a cancelled transaction.
type reason struct {
	failed bool // ConditionalCheckFailed
	item   map[string]types.AttributeValue
}

// write runs the transaction of transition op on ref, one item per expression (sort key and
// update). It returns nil, nil when it committed; one reason per item, nil when a condition
// refused it (see refusal); and nil with the error wrapped with op and ref for anything else.
// Nothing is read back: the callers have what they wrote.
func (s *Store) write(ctx context.Context, op string, ref Ref, items ...keyed) ([]reason, error) {
	tx := make([]types.TransactWriteItem, len(items))
	for i, it := range items {
		in := s.updateItem(ref, it.sk, it.e)
		tx[i] = types.TransactWriteItem{Update: &types.Update{
			TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
			ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
			ExpressionAttributeValues:           in.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	reasons, err := s.transact(ctx, tx)
	if reasons != nil {
		return reasons, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status: %s %s: %w", op, ref, err)
	}
	return nil, nil
}

// keyed is one item of a transaction: its sort key and its update.
type keyed struct {
	sk string
	e  *expr
}

// transact runs a transaction, retrying a few times when it conflicts with a concurrent one (the
// conditions are then evaluated again, so the outcome is a definite answer). When the
// transaction is cancelled by a condition it returns one reason per item; reasons is nil for
// any other error.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) ([]reason, error) {
	var err error
	for try := 0; try < 8; try++ {
		_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tce *types.TransactionCanceledException
		if err == nil || !errors.As(err, &tce) {
			return nil, err
		}
		reasons := make([]reason, len(items))
		conflict, failed := false, false
		for i, r := range tce.CancellationReasons {
			if i >= len(reasons) {
				break
			}
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				reasons[i] = reason{failed: true, item: r.Item}
				failed = true
			case "TransactionConflict":
				conflict = true
			}
		}
		if failed {
			return reasons, err
		}
		if !conflict {
			return nil, err
		}
		select { // back off before evaluating the conditions again
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(10<<try) * time.Millisecond):
		}
	}
	return nil, err
}

// refusal is the error of transition op refused by a condition: a *ConditionError whose Err is
// why(current) and whose Current is the current item as r saw it.
func (s *Store) refusal(ctx context.Context, op string, ref Ref, r reason, why func(current Record) error) error {
	cur, err := s.explain(ctx, ref, r)
	if err != nil {
		return fmt.Errorf("status: %s %s: %w", op, ref, err)
	}
	return &ConditionError{Op: op, Ref: ref, Err: why(cur), Current: cur}
}

// explain decodes the current item's old image in a cancelled transaction, or reads the current
// item when the stand-in or service did not return it (the zero Record when there is none).
func (s *Store) explain(ctx context.Context, ref Ref, r reason) (Record, error) {
	var rec Record
	if r.item != nil {
		return rec, attributevalue.UnmarshalMap(r.item, &rec)
	}
	rec, err := s.current(ctx, ref.UserID, ref.ConfigID)
	if errors.Is(err, ErrNotFound) {
		return Record{}, nil
	}
	return rec, err
}

// leaseErr maps a failed owner-conditioned single write to ErrLeaseLost.
func (s *Store) leaseErr(op string, ref Ref, err error) error {
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fmt.Errorf("status: %s %s: %w", op, ref, err)
	}
	var rec Record
	if ccf.Item != nil {
		_ = attributevalue.UnmarshalMap(ccf.Item, &rec)
	}
	return &ConditionError{Op: op, Ref: ref, Err: ErrLeaseLost, Current: rec}
}

func (s *Store) updateItem(ref Ref, sk string, e *expr) *dynamodb.UpdateItemInput {
	in := &dynamodb.UpdateItemInput{
		TableName: &s.Table, Key: s.key(ref.UserID, ref.ConfigID, sk), UpdateExpression: aws.String(e.update()),
		ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if e.cond != "" {
		in.ConditionExpression = aws.String(e.cond)
	}
	return in
}
