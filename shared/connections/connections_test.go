package connections_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/connections/connectionstest"
)

func TestMain(m *testing.M) { connectionstest.Main(m) }

// clock is a settable clock for the store.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func ids(conns []connections.Connection) []string {
	var out []string
	for _, c := range conns {
		out = append(out, c.ConnectionID)
	}
	slices.Sort(out)
	return out
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Second)

	tests := []struct {
		name string
		// run acts on a fresh table at time t0 and checks the result.
		run func(t *testing.T, s *connections.Store, c *clock)
	}{
		{name: "put then list by user", run: func(t *testing.T, s *connections.Store, _ *clock) {
			mustPut(t, s, "alice", "c1", time.Hour)
			mustPut(t, s, "alice", "c2", time.Hour)
			mustPut(t, s, "bob", "c3", time.Hour)
			got := mustList(t, s, "alice")
			if !slices.Equal(ids(got), []string{"c1", "c2"}) {
				t.Errorf("alice's connections = %v, want [c1 c2]", ids(got))
			}
			for _, c := range got {
				if c.UserID != "alice" || c.ConnectedAt != t0.Unix() || c.ExpiresAt != t0.Add(time.Hour).Unix() {
					t.Errorf("item = %+v", c)
				}
			}
			if got := mustList(t, s, "bob"); !slices.Equal(ids(got), []string{"c3"}) {
				t.Errorf("bob's connections = %v, want [c3]", ids(got))
			}
		}},
		{name: "unknown user has none", run: func(t *testing.T, s *connections.Store, _ *clock) {
			mustPut(t, s, "alice", "c1", time.Hour)
			if got := mustList(t, s, "carol"); len(got) != 0 {
				t.Errorf("carol's connections = %v", ids(got))
			}
		}},
		{name: "expired items are left out though still stored", run: func(t *testing.T, s *connections.Store, c *clock) {
			mustPut(t, s, "alice", "short", time.Minute)
			mustPut(t, s, "alice", "long", time.Hour)
			c.t = t0.Add(time.Minute) // expiresAt == now counts as expired
			if got := mustList(t, s, "alice"); !slices.Equal(ids(got), []string{"long"}) {
				t.Errorf("after a minute = %v, want [long]", ids(got))
			}
			if _, err := s.UserOf(ctx, "short"); !errors.Is(err, connections.ErrNotFound) {
				t.Errorf("UserOf(expired) err = %v, want ErrNotFound", err)
			}
			out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
				TableName: &s.Table, KeyConditionExpression: aws.String("userId = :u"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: "alice"}},
			})
			if err != nil || out.Count != 2 {
				t.Errorf("raw query: %d items, err %v; want both still stored (DynamoDB Local never expires)", out.Count, err)
			}
		}},
		{name: "default ttl is two hours", run: func(t *testing.T, s *connections.Store, _ *clock) {
			mustPut(t, s, "alice", "c1", 0)
			got := mustList(t, s, "alice")
			if len(got) != 1 || got[0].ExpiresAt != t0.Add(connections.DefaultTTL).Unix() {
				t.Errorf("items = %+v, want expiry t0+2h", got)
			}
		}},
		{name: "put again renews", run: func(t *testing.T, s *connections.Store, c *clock) {
			mustPut(t, s, "alice", "c1", time.Minute)
			c.t = t0.Add(30 * time.Second)
			mustPut(t, s, "alice", "c1", time.Minute)
			c.t = t0.Add(time.Minute)
			if got := mustList(t, s, "alice"); !slices.Equal(ids(got), []string{"c1"}) {
				t.Errorf("renewed connection = %v, want [c1]", ids(got))
			}
		}},
		{name: "delete removes one; deleting again is fine", run: func(t *testing.T, s *connections.Store, _ *clock) {
			mustPut(t, s, "alice", "c1", time.Hour)
			mustPut(t, s, "alice", "c2", time.Hour)
			for range 2 {
				if err := s.Delete(ctx, "alice", "c1"); err != nil {
					t.Fatalf("Delete: %v", err)
				}
			}
			if got := mustList(t, s, "alice"); !slices.Equal(ids(got), []string{"c2"}) {
				t.Errorf("after delete = %v, want [c2]", ids(got))
			}
		}},
		{name: "user of a connection", run: func(t *testing.T, s *connections.Store, _ *clock) {
			mustPut(t, s, "alice", "TWegAcC4EowCHnA=", time.Hour)
			mustPut(t, s, "bob", "R1kmxc2VNjMCFIA=", time.Hour)
			for conn, want := range map[string]string{"TWegAcC4EowCHnA=": "alice", "R1kmxc2VNjMCFIA=": "bob"} {
				if got, err := s.UserOf(ctx, conn); err != nil || got != want {
					t.Errorf("UserOf(%s) = %q, %v; want %q", conn, got, err, want)
				}
			}
			if _, err := s.UserOf(ctx, "nope"); !errors.Is(err, connections.ErrNotFound) {
				t.Errorf("UserOf(unknown) err = %v, want ErrNotFound", err)
			}
		}},
		{name: "many connections span pages", run: func(t *testing.T, s *connections.Store, _ *clock) {
			// A query page holds at most 1 MB: 1100 items of ~1 KB take two.
			pad := strings.Repeat("x", 1000)
			for i := range 1100 {
				mustPut(t, s, "alice", fmt.Sprint(pad, i), time.Hour)
			}
			counter := &countingDB{DB: s.DB}
			s.DB = counter
			if got := mustList(t, s, "alice"); len(got) != 1100 {
				t.Errorf("listed %d connections, want 1100", len(got))
			}
			if counter.queries < 2 {
				t.Errorf("%d query pages, want at least 2", counter.queries)
			}
		}},
		{name: "empty ids are refused", run: func(t *testing.T, s *connections.Store, _ *clock) {
			if err := s.Put(ctx, "", "c1", time.Hour); err == nil {
				t.Error("Put with empty user id succeeded")
			}
			if err := s.Put(ctx, "alice", "", time.Hour); err == nil {
				t.Error("Put with empty connection id succeeded")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := connectionstest.Store(t)
			c := &clock{t: t0}
			s.Now = c.now
			tt.run(t, s, c)
		})
	}
}

// ClaimSnapshot allows one snapshot per interval per connection, whichever instance asks, and
// never for a connection that is gone or expired (nor does it create one).
func TestClaimSnapshot(t *testing.T) {
	ctx := context.Background()
	s := connectionstest.Store(t)
	c := &clock{t: time.Now().Truncate(time.Second)}
	s.Now = c.now
	// Another store on the same table: another Lambda instance, with no memory in common.
	other := &connections.Store{DB: s.DB, Table: s.Table, Now: c.now}
	mustPut(t, s, "alice", "c1", time.Minute)
	mustPut(t, s, "alice", "c2", time.Minute)
	const window = time.Second
	claim := func(st *connections.Store, conn string) error { return st.ClaimSnapshot(ctx, "alice", conn, window) }

	steps := []struct {
		name    string
		advance time.Duration
		store   *connections.Store
		conn    string
		want    error // nil, ErrTooSoon or ErrNotFound
	}{
		{"first snapshot", 0, s, "c1", nil},
		{"again at once", 0, s, "c1", connections.ErrTooSoon},
		{"again from another instance", 0, other, "c1", connections.ErrTooSoon},
		{"another connection of the same user", 0, s, "c2", nil},
		{"just inside the window", window - time.Millisecond, other, "c1", connections.ErrTooSoon},
		{"at the end of the window", time.Millisecond, other, "c1", nil},
		{"unknown connection", 0, s, "c3", connections.ErrNotFound},
		{"expired connection", time.Minute, s, "c2", connections.ErrNotFound},
	}
	for _, st := range steps {
		c.t = c.t.Add(st.advance)
		err := claim(st.store, st.conn)
		if (st.want == nil && err != nil) || (st.want != nil && !errors.Is(err, st.want)) {
			t.Fatalf("%s: ClaimSnapshot = %v, want %v", st.name, err, st.want)
		}
	}
	out, err := s.DB.(*dynamodb.Client).GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: map[string]types.AttributeValue{
		connections.AttrUserID: &types.AttributeValueMemberS{Value: "alice"}, connections.AttrConnectionID: &types.AttributeValueMemberS{Value: "c3"},
	}})
	if err != nil || out.Item != nil {
		t.Errorf("ClaimSnapshot of an unknown connection left item %v (%v)", out.Item, err)
	}
}

func TestCreateTableTwice(t *testing.T) {
	s := connectionstest.Store(t)
	if err := connections.CreateTable(context.Background(), connectionstest.DynamoDB(t), s.Table); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	ttl, err := connectionstest.DynamoDB(t).DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: &s.Table})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != connections.AttrExpiresAt || d.TimeToLiveStatus != "ENABLED" {
		t.Errorf("TTL = %+v, want ENABLED on expiresAt", d)
	}
}

// countingDB counts Query calls.
type countingDB struct {
	connections.DB
	queries int
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries++
	return c.DB.Query(ctx, in, opts...)
}

func mustPut(t testing.TB, s *connections.Store, user, conn string, ttl time.Duration) {
	t.Helper()
	if err := s.Put(context.Background(), user, conn, ttl); err != nil {
		t.Fatalf("Put(%s, %s): %v", user, conn, err)
	}
}

func mustList(t testing.TB, s *connections.Store, user string) []connections.Connection {
	t.Helper()
	got, err := s.ListByUser(context.Background(), user)
	if err != nil {
		t.Fatalf("ListByUser(%s): %v", user, err)
	}
	return got
}
