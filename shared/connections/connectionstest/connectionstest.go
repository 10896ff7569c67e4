// Package connectionstest gives tests a connections table on a real DynamoDB Local.
//
// DynamoDB Local is started once per test binary on first use; call Main from TestMain so it is
// stopped when the tests end. A missing install fails the test (never skips it).
package connectionstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/local/standins"
)

var (
	once sync.Once
	proc *standins.Process
	err  error
)

// Main runs the tests and then stops DynamoDB Local: `func TestMain(m *testing.M) { connectionstest.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	if proc != nil {
		proc.Close()
	}
	os.Exit(code)
}

// DynamoDB returns a client of the test binary's DynamoDB Local, starting it if needed; it fails
// t if DynamoDB Local is not installed or does not come up.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	once.Do(func() { proc, err = standins.StartDynamoDB(context.Background(), standins.DynamoDBOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	return dynamodb.NewFromConfig(standins.Config(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(proc.URL) })
}

// TableName returns a fresh table name with prefix, unique in the test binary's DynamoDB Local.
func TableName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// Store creates a fresh connections table and returns a store on it.
func Store(t testing.TB) *connections.Store {
	t.Helper()
	db := DynamoDB(t)
	name := TableName("connections")
	if err := connections.CreateTable(context.Background(), db, name); err != nil {
		t.Fatal(err)
	}
	return &connections.Store{DB: db, Table: name}
}
