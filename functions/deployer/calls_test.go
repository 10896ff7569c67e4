package main

import (
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/status"
	"github.com/byod-deployer/byod-deployer/shared/status/statustest"
)

// TestDynamoDBCallsPerDeploy counts the status table calls of whole deploys through the handler,
// with the real engine and CLI against a local deployment, so that a call added to the path of
// every deploy fails here. Progress is written once per stage (the interval is longer than the
// test), so UpdateItem is the number of stages the deploy went through; the rest is fixed:
// Enqueue, Claim and the outcome are one transaction each, and nothing is read back except the
// stored credentials of a retry that brings none. (Before the store stopped reading back, every
// transition cost one more GetItem: 3 per deploy.)
func TestDynamoDBCallsPerDeploy(t *testing.T) {
	f, srv, key := realEngineFixture(t)
	f.h.ProgressInterval = time.Hour
	calls := statustest.Count(f.store)

	steps := []struct {
		name       string
		user, body string
		wantStatus status.State
		want       statustest.Calls // UpdateItem: added to the stages written
	}{
		{"deploy", "u1", body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", srv.URL(), key)),
			status.Deployed, statustest.Calls{GetItem: 0, TransactWriteItems: 3}},
		{"deploy with a wrong key", "u2", body(t, message.Deploy, "u2", "r1", encrypt(t, "u2", srv.URL(), convexlocaltest.AdminKey(t, "local-otter"))),
			status.Failed, statustest.Calls{GetItem: 0, TransactWriteItems: 3}},
		{"retry with the stored credentials", "u2", body(t, message.Retry, "u2", "r2", ""),
			status.Failed, statustest.Calls{GetItem: 1, TransactWriteItems: 3}},
		{"credentials of another user", "u3", body(t, message.Deploy, "u3", "r1", encrypt(t, "u1", srv.URL(), key)),
			status.Failed, statustest.Calls{GetItem: 0, TransactWriteItems: 2}},
	}
	for _, st := range steps {
		calls.Reset()
		before := len(f.writes.writes[st.user])
		if failed := f.invoke(t, sqsEvent(t, st.body)); len(failed) != 0 {
			t.Fatalf("%s: batch item failures %v:\n%s", st.name, failed, f.logs)
		}
		got := calls.Calls()
		writes := f.writes.writes[st.user][before:]
		for i := 1; i < len(writes); i++ {
			if writes[i].Stage == writes[i-1].Stage {
				t.Fatalf("%s: stage %s written twice in a row: the interval did not hold", st.name, writes[i].Stage)
			}
		}
		want := st.want
		want.UpdateItem += len(writes)
		t.Logf("%s: %d stages; GetItem %d, UpdateItem %d, TransactWriteItems %d", st.name, len(writes), got.GetItem, got.UpdateItem, got.TransactWriteItems)
		if got != want {
			t.Errorf("%s: DynamoDB calls %+v, want %+v", st.name, got, want)
		}
		if rec := f.get(t, st.user); rec.DeploymentStatus != st.wantStatus {
			t.Fatalf("%s: status %s, want %s", st.name, rec.DeploymentStatus, st.wantStatus)
		}
	}
}
