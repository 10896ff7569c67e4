// Package statustest gives tests a status store on a real DynamoDB Local: one server per test
// binary (started on first use), one fresh table per call, and a clock the test moves.
//
// Call Close from TestMain after m.Run to stop the server (it also dies with the test binary).
package statustest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/byod-deployer/byod-deployer/shared/local/standins"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

var (
	once   sync.Once
	proc   *standins.Process
	client *dynamodb.Client
	err    error
	tables atomic.Int64
)

// Client returns a DynamoDB client of the shared DynamoDB Local, starting it on first use. It
// fails the test if the server cannot start (e.g. `make deps` was not run).
func Client(t testing.TB) *dynamodb.Client {
	t.Helper()
	once.Do(func() {
		proc, err = standins.StartDynamoDB(context.Background(), standins.DynamoDBOptions{})
		if err == nil {
			client = dynamodb.NewFromConfig(standins.Config(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(proc.URL) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// Store returns a store on a new status table, with its clock starting at
// 2026-11-25T18:00:00Z.
func Store(t testing.TB) (*status.Store, *Clock) {
	t.Helper()
	db := Client(t)
	name := fmt.Sprintf("status-%d", tables.Add(1))
	arn, err := status.CreateTable(context.Background(), db, name)
	if err != nil {
		t.Fatal(err)
	}
	if arn == "" {
		t.Fatalf("CreateTable %s: no stream ARN", name)
	}
	c := &Clock{t: time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)}
	return &status.Store{DB: db, Table: name, Now: c.Now}, c
}

// Close stops the shared DynamoDB Local, if it was started.
func Close() {
	if proc != nil {
		proc.Close()
	}
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Calls counts the calls a store makes to DynamoDB, by operation.
type Calls struct {
	GetItem, UpdateItem, TransactWriteItems int
}

// CountingDB wraps the DynamoDB client of a store and counts its calls (see Count). It is safe
// for concurrent use.
type CountingDB struct {
	DB status.DB

	mu sync.Mutex
	n  Calls
}

// Count wraps s's client with a CountingDB and returns it; s must not be in use yet.
func Count(s *status.Store) *CountingDB {
	c := &CountingDB{DB: s.DB}
	s.DB = c
	return c
}

// Calls returns the calls made so far.
func (c *CountingDB) Calls() Calls { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// Reset forgets the calls made so far.
func (c *CountingDB) Reset() { c.mu.Lock(); c.n = Calls{}; c.mu.Unlock() }

func (c *CountingDB) count(f func(*Calls)) { c.mu.Lock(); f(&c.n); c.mu.Unlock() }

// GetItem counts and forwards.
func (c *CountingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count(func(n *Calls) { n.GetItem++ })
	return c.DB.GetItem(ctx, in, optFns...)
}

// UpdateItem counts and forwards.
func (c *CountingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count(func(n *Calls) { n.UpdateItem++ })
	return c.DB.UpdateItem(ctx, in, optFns...)
}

// TransactWriteItems counts and forwards.
func (c *CountingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.count(func(n *Calls) { n.TransactWriteItems++ })
	return c.DB.TransactWriteItems(ctx, in, optFns...)
}
