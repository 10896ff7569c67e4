package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/coder/websocket"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/connections"
	"github.com/byod-deployer/byod-deployer/shared/credentials"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// devSession runs `byod dev` (on a free port) until the test ends and returns a client of it.
// The endpoints file lives in a temp dir named by BYOD_DEV_FILE, which the other commands read.
func devSession(t *testing.T) *localrun.Client {
	t.Helper()
	file := filepath.Join(t.TempDir(), "dev.json")
	t.Setenv(envDevFile, file)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--addr", "127.0.0.1:0", "--log-level", "warn"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("byod dev exited %d after Ctrl-C; stderr:\n%s", code, stderr.String())
		}
		if _, err := os.Stat(file); !os.IsNotExist(err) {
			t.Errorf("byod dev left %s behind (stat: %v)", file, err)
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if e, err := localrun.ReadEndpoints(file); err == nil {
			info, _ := os.Stat(file)
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", file, info.Mode().Perm())
			}
			if b, _ := os.ReadFile(file); regexp.MustCompile(`\|[0-9a-f]{32,}`).Match(b) {
				t.Errorf("%s holds something shaped like a deploy key:\n%s", file, b)
			}
			return localrun.NewClient(e)
		}
		select {
		case code := <-done:
			t.Fatalf("byod dev exited %d before it was up; stderr:\n%s", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("byod dev not up after 3 minutes; stderr:\n%s", stderr.String())
		}
	}
}

// byod runs a subcommand in process and returns its exit code and output.
func byod(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// keyFile writes key to a 0600 file in a temp dir (removed when the test ends).
func keyFile(t testing.TB, key string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// sendCmd is a Follow send function running `byod send …`, which prints the request id.
func sendCmd(t testing.TB, args ...string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		code, out, errOut := byod(t, append([]string{"send"}, args...)...)
		if code != 0 {
			return "", fmt.Errorf("byod send exited %d: %s", code, errOut)
		}
		return strings.TrimSpace(out), nil
	}
}

// follow runs send while following userID's socket, up to the request's final status.
func follow(t testing.TB, c *localrun.Client, userID string, send func(context.Context) (string, error)) []localrun.Step {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	steps, err := c.Follow(ctx, userID, send, nil)
	if err != nil {
		t.Fatalf("follow %s: %v (steps so far: %s)", userID, err, describe(steps))
	}
	return steps
}

func describe(steps []localrun.Step) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "\n%s", formatStep(s))
	}
	return b.String()
}

// waitStatus polls the status of (userID, config) until cond holds, failing t after 2 minutes.
func waitStatus(t testing.TB, c *localrun.Client, userID string, cond func(status.Record) bool) status.Record {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last status.Record
	for time.Now().Before(deadline) {
		rec, found, err := c.Status(context.Background(), userID, localrun.DefaultConfigID)
		if err != nil {
			t.Fatalf("status of %s: %v", userID, err)
		}
		if found && cond(rec) {
			return rec
		}
		last = rec
		time.Sleep(100 * time.Millisecond) // polling a remote state, not synchronising goroutines
	}
	t.Fatalf("status of %s: condition not reached in 2 minutes; last %+v", userID, last)
	return last
}

// queueDrained reports whether both queues hold no message, visible or in flight.
func queueDrained(t testing.TB, c *localrun.Client) bool {
	t.Helper()
	for _, url := range []string{c.Endpoints.QueueURL, c.Endpoints.DLQURL} {
		a, err := c.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatalf("queue attributes of %s: %v", url, err)
		}
		if a.Attributes["ApproximateNumberOfMessages"] != "0" || a.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
			return false
		}
	}
	return true
}

// pushCount is the number of pushes a local Convex deployment committed (GET /_local/state).
func pushCount(t testing.TB, convexURL string) int {
	t.Helper()
	resp, err := http.Get(convexURL + "/_local/state")
	if err != nil {
		t.Fatalf("local state: %v", err)
	}
	defer resp.Body.Close()
	var st convexlocal.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("local state: %v", err)
	}
	return st.PushCount
}

// TestPipeline runs the whole local pipeline once (`byod dev`) and drives it as the app, the
// browser and an operator do: `byod send`, `byod status`, WebSocket clients and a real browser.
func TestPipeline(t *testing.T) {
	if _, err := toolpath.CLIMain(); err != nil {
		t.Fatal(err)
	}
	c := devSession(t)

	t.Run("a deploy reaches the user's sockets stage by stage, in order", func(t *testing.T) {
		// A second user's socket is open throughout: it must never see this user's events.
		other, err := c.Dial(context.Background(), "other-user")
		if err != nil {
			t.Fatal(err)
		}
		defer other.CloseNow()

		// `byod watch`, started before the deploy is sent, must stream it live, not only print a
		// snapshot. Its first line answers its snapshot request: alice has no deployment yet.
		watchOut := &lineWriter{lines: make(chan string, 1024)}
		var watchErr syncBuffer
		watchDone := make(chan int, 1)
		go func() {
			watchDone <- run(context.Background(), []string{"watch", "--user", "alice", "--until", "deployed", "--timeout", "3m"}, watchOut, &watchErr)
		}()
		select {
		case line := <-watchOut.lines:
			if !strings.Contains(line, `"type":"none"`) {
				t.Fatalf("byod watch's first line %s, want the none snapshot (nothing deployed yet)", line)
			}
		case code := <-watchDone:
			t.Fatalf("byod watch exited %d before the deploy: %s", code, watchErr.String())
		case <-time.After(time.Minute):
			t.Fatal("byod watch printed no snapshot in a minute")
		}

		// A plain client of alice's, also open before the deploy, keeps every message it gets
		// (Follow drops repeated or stale versions; this client drops nothing).
		raw, err := c.Dial(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		defer raw.CloseNow()
		rawMsgs := make(chan string, 1024)
		go func() {
			defer close(rawMsgs)
			for {
				_, data, err := raw.Read(context.Background())
				if err != nil {
					return
				}
				rawMsgs <- string(data)
			}
		}()

		before := pushCount(t, c.Endpoints.Convex)
		steps := follow(t, c, "alice", sendCmd(t, "deploy", "--user", "alice"))
		reqID := steps[0].Record.RequestID
		followed := make([]status.Record, len(steps))
		for i, s := range steps {
			followed[i] = s.Record
		}
		checkDeployTimeline(t, "Follow", followed)
		if got := pushCount(t, c.Endpoints.Convex); got != before+1 {
			t.Errorf("push count %d → %d, want exactly one push", before, got)
		}

		var rawLines []string
		deadline := time.After(time.Minute)
		for done := false; !done; {
			select {
			case m, ok := <-rawMsgs:
				if !ok {
					t.Fatalf("alice's plain client closed before the deployed record; got:\n%s", strings.Join(rawLines, "\n"))
				}
				rawLines = append(rawLines, m)
				recs := requestRecords(t, []string{m}, reqID)
				done = len(recs) == 1 && recs[0].DeploymentStatus.Final()
			case <-deadline:
				t.Fatalf("alice's plain client got no final record in a minute; got:\n%s", strings.Join(rawLines, "\n"))
			}
		}
		checkDeployTimeline(t, "alice's plain WebSocket client", requestRecords(t, rawLines, reqID))

		select {
		case code := <-watchDone:
			if code != 0 {
				t.Errorf("byod watch --until deployed exited %d: %s", code, watchErr.String())
			}
		case <-time.After(time.Minute):
			t.Fatal("byod watch --until deployed did not exit within a minute of the deploy")
		}
		var watchLines []string
		for drained := false; !drained; {
			select {
			case l := <-watchOut.lines:
				watchLines = append(watchLines, l)
			default:
				drained = true // watch has exited: everything it wrote is in the channel
			}
		}
		checkDeployTimeline(t, "byod watch", requestRecords(t, watchLines, reqID))

		code, out, errOut := byod(t, "status", "--user", "alice")
		if code != 0 {
			t.Fatalf("byod status exited %d: %s", code, errOut)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(out), &rec); err != nil {
			t.Fatalf("byod status printed %q: %v", out, err)
		}
		if rec["deploymentStatus"] != "deployed" || rec["schemaVersion"] != float64(bundle.Version) || rec["lastSchemaDeploy"] == nil || rec["lastSchemaDeploy"] == "" {
			t.Errorf("byod status = %s, want deployed with schemaVersion %d and lastSchemaDeploy", out, bundle.Version)
		}

		// The other user's socket: ask for its snapshot; everything before the answer was pushed
		// to it while alice deployed, and none of it may be alice's.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := other.Write(ctx, websocket.MessageText, []byte(`{"action":"status"}`)); err != nil {
			t.Fatal(err)
		}
		_, data, err := other.Read(ctx)
		if err != nil {
			t.Fatalf("other user's socket: %v", err)
		}
		if strings.Contains(string(data), `"alice"`) {
			t.Fatalf("other-user received alice's event: %s", data)
		}
	})

	t.Run("wrong key fails, a retry with the right key deploys, a retry when not failed is refused", func(t *testing.T) {
		key := convexlocaltest.AdminKey(t, "local")
		target := convexlocaltest.Start(t, convexlocal.Options{AdminKey: key})
		wrong := keyFile(t, "local|"+strings.Repeat("0", 48))
		right := keyFile(t, key)

		steps := follow(t, c, "bob", sendCmd(t, "deploy", "--user", "bob", "--url", target.URL(), "--key-file", wrong))
		last := steps[len(steps)-1].Record
		if last.DeploymentStatus != status.Failed || last.ErrorClass != "invalid_deploy_key" || last.ConnectionError == "" || last.ErrorHint == "" {
			t.Fatalf("deploy with a wrong key ended %+v, want failed / invalid_deploy_key with a message and a hint", last)
		}
		if got := target.State().PushCount; got != 0 {
			t.Fatalf("push count after the wrong key = %d, want 0", got)
		}

		steps = follow(t, c, "bob", sendCmd(t, "retry", "--user", "bob", "--url", target.URL(), "--key-file", right))
		if last := steps[len(steps)-1].Record; last.DeploymentStatus != status.Deployed || last.SchemaVersion != bundle.Version {
			t.Fatalf("retry with the right key ended %+v, want deployed v%d", last, bundle.Version)
		}

		code, _, errOut := byod(t, "send", "retry", "--user", "bob")
		if code != 0 {
			t.Fatalf("byod send retry exited %d: %s", code, errOut)
		}
		rec := waitStatus(t, c, "bob", func(r status.Record) bool { return r.Notice != "" })
		if rec.DeploymentStatus != status.Deployed {
			t.Errorf("after a refused retry the status is %s, want it unchanged (deployed)", rec.DeploymentStatus)
		}
		if got := target.State().PushCount; got != 1 {
			t.Errorf("push count = %d, want 1 (the refused retry deploys nothing)", got)
		}
	})

	t.Run("the same message delivered ten times deploys once", func(t *testing.T) {
		key := convexlocaltest.AdminKey(t, "local")
		target := convexlocaltest.Start(t, convexlocal.Options{AdminKey: key})
		ct, err := credentials.Encrypt(context.Background(), c.KMS, c.Endpoints.KMSKeyID, "carol", localrun.DefaultConfigID, credentials.Secret{URL: target.URL(), DeployKey: key})
		if err != nil {
			t.Fatal(err)
		}
		m := message.Message{V: message.Version, Type: message.Deploy, RequestID: localrun.NewRequestID(), UserID: "carol", ConfigID: localrun.DefaultConfigID, Credentials: ct, SentAt: time.Now().UTC()}
		body, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "deploy.json")
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		// Ten deliveries of one request: distinct deduplication ids get past SQS's own
		// deduplication, as a redelivery after its five-minute window would.
		before := queueStats(t, c)
		for i := range 10 {
			if code, _, errOut := byod(t, "send", "raw", "--file", file, "--dedup", fmt.Sprintf("%s-%d", m.RequestID, i)); code != 0 {
				t.Fatalf("byod send raw exited %d: %s", code, errOut)
			}
		}
		waitStatus(t, c, "carol", func(r status.Record) bool { return r.RequestID == m.RequestID && r.DeploymentStatus.Final() })
		waitFor(t, "all ten deliveries handled", func() bool { return queueDrained(t, c) })
		checkDeliveredOnce(t, before, queueStats(t, c), 10)
		if got := target.State().PushCount; got != 1 {
			t.Errorf("push count = %d after ten deliveries, want 1", got)
		}
		rec, _, _ := c.Status(context.Background(), "carol", localrun.DefaultConfigID)
		if rec.DeploymentStatus != status.Deployed {
			t.Errorf("status %+v, want deployed", rec)
		}
	})

	t.Run("malformed messages neither crash nor block the batch and are not retried", func(t *testing.T) {
		dir := t.TempDir()
		before := queueStats(t, c)
		bad := map[string]string{
			"not-json":     `{"v":1,"type":"deploy",`,
			"missing-user": `{"v":1,"type":"deploy","requestId":"r-missing-user","configId":"default","credentials":"AAAA","sentAt":"2026-11-25T18:30:00Z"}`,
			"unknown-type": `{"v":1,"type":"destroy","requestId":"r-unknown-type","userId":"dave","configId":"default","sentAt":"2026-11-25T18:30:00Z"}`,
		}
		for name, body := range bad {
			f := filepath.Join(dir, name+".json")
			if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := byod(t, "send", "raw", "--file", f); code != 0 {
				t.Fatalf("byod send raw %s exited %d: %s", name, code, errOut)
			}
		}
		steps := follow(t, c, "erin", sendCmd(t, "deploy", "--user", "erin"))
		if last := steps[len(steps)-1].Record; last.DeploymentStatus != status.Deployed {
			t.Fatalf("a valid deploy sent after the bad ones ended %+v, want deployed", last)
		}
		rec := waitStatus(t, c, "dave", func(r status.Record) bool { return r.DeploymentStatus.Final() })
		if rec.DeploymentStatus != status.Failed || rec.ErrorClass != "invalid_message" || !strings.Contains(rec.ConnectionError, "destroy") {
			t.Errorf("unknown type for an identifiable user ended %+v, want failed / invalid_message naming the type", rec)
		}
		waitFor(t, "bad messages consumed", func() bool { return queueDrained(t, c) })
		// The deadletter poller empties the DLQ, so an empty DLQ proves nothing: the pollers'
		// counts do. Three bad messages and erin's deploy, each received once, none dead-lettered.
		checkDeliveredOnce(t, before, queueStats(t, c), 4)
	})

	t.Run("a ciphertext for another user is rejected and nothing is deployed", func(t *testing.T) {
		key := convexlocaltest.AdminKey(t, "local")
		target := convexlocaltest.Start(t, convexlocal.Options{AdminKey: key})
		ct, err := credentials.Encrypt(context.Background(), c.KMS, c.Endpoints.KMSKeyID, "frank", localrun.DefaultConfigID, credentials.Secret{URL: target.URL(), DeployKey: key})
		if err != nil {
			t.Fatal(err)
		}
		steps := follow(t, c, "mallory", func(ctx context.Context) (string, error) {
			m := message.Message{V: message.Version, Type: message.Deploy, RequestID: localrun.NewRequestID(), UserID: "mallory", ConfigID: localrun.DefaultConfigID, Credentials: ct, SentAt: time.Now().UTC()}
			return m.RequestID, c.Publish(ctx, m)
		})
		if last := steps[len(steps)-1].Record; last.DeploymentStatus != status.Failed || last.ErrorClass != "invalid_credentials" {
			t.Errorf("frank's ciphertext in mallory's message ended %+v, want failed / invalid_credentials", last)
		}
		if got := target.State().PushCount; got != 0 {
			t.Errorf("push count = %d, want 0", got)
		}
	})

	t.Run("the gateway refuses a connection without a valid token", func(t *testing.T) {
		cases := []struct{ name, query string }{
			{"no token", ""},
			{"bad signature", "?token=eyJzdWIiOiJhbGljZSIsImF1ZCI6ImJ5b2QtbG9jYWwiLCJpYXQiOjEsImV4cCI6OTk5OTk5OTk5OX0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			{"garbage", "?token=not-a-token"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				conn, resp, err := websocket.Dial(ctx, c.Endpoints.WebSocket+tc.query, nil)
				if err == nil {
					conn.CloseNow()
					t.Fatal("connected, want the upgrade refused")
				}
				if resp == nil || resp.StatusCode < 400 || resp.StatusCode >= 500 {
					t.Fatalf("upgrade answered %v (%v), want a 4xx refusal", resp, err)
				}
			})
		}
	})

	t.Run("a connection that went away is deleted on the first 410", func(t *testing.T) {
		conns := &connections.Store{DB: c.DynamoDB, Table: c.Endpoints.ConnectionsTable}
		const stale = "c3RhbGUtY29ubmVjdA="
		if err := conns.Put(context.Background(), "gina", stale, time.Hour); err != nil {
			t.Fatal(err)
		}
		steps := follow(t, c, "gina", sendCmd(t, "deploy", "--user", "gina"))
		if last := steps[len(steps)-1].Record; last.DeploymentStatus != status.Deployed {
			t.Fatalf("deploy ended %+v", last)
		}
		waitFor(t, "the stale connection deleted", func() bool {
			list, err := conns.ListByUser(context.Background(), "gina")
			if err != nil {
				t.Fatal(err)
			}
			return !slices.ContainsFunc(list, func(cn connections.Connection) bool { return cn.ConnectionID == stale })
		})
	})

	t.Run("the status page in headless chromium: deploy, a failure shown live, retry, zip", func(t *testing.T) {
		browserTest(t, c, "browser-user")
	})

	t.Run("nothing was redelivered or dead-lettered in the whole session", func(t *testing.T) {
		st := queueStats(t, c)
		if st["deployer"].Redelivered != 0 || st["deadletter"] != (localrun.SQSStats{}) {
			t.Errorf("queue stats %+v: want no redelivery and no dead-letter invocation", st)
		}
	})
}

// queueStats is what the dev session's SQS pollers delivered so far, by function.
func queueStats(t testing.TB, c *localrun.Client) map[string]localrun.SQSStats {
	t.Helper()
	st, err := c.QueueStats(context.Background())
	if err != nil {
		t.Fatalf("queue stats: %v", err)
	}
	return st
}

// checkDeliveredOnce fails t unless, between two queueStats, the deployer was given exactly n
// messages, none a second time (ApproximateReceiveCount stayed 1), and the deadletter function
// was never invoked.
func checkDeliveredOnce(t testing.TB, before, after map[string]localrun.SQSStats, n int64) {
	t.Helper()
	d, dl := after["deployer"], after["deadletter"]
	if got := d.Messages - before["deployer"].Messages; got != n {
		t.Errorf("the deployer was given %d messages, want %d (stats %+v → %+v)", got, n, before, after)
	}
	if got := d.Redelivered - before["deployer"].Redelivered; got != 0 {
		t.Errorf("%d messages were received again (ApproximateReceiveCount > 1), want none", got)
	}
	if got := dl.Invocations - before["deadletter"].Invocations; got != 0 {
		t.Errorf("the deadletter function was invoked %d times, want never", got)
	}
}

// successStages is a successful deploy's stage sequence (docs/messages.md): queued, the
// deployer's stages while deploying, deployed. indexing is there only when the backend reports
// index backfill or document validation.
var successStages = []string{"queued", "starting", "validating", "preflight", "preparing", "bundling", "pushing", "indexing", "finishing", "verifying", "deployed"}

// checkDeployTimeline fails t unless recs are every status write of one successful deploy as
// one client received them: versions strictly increasing by one from the queued record to the
// deployed one (each write is its own stream record, so none may be lost, repeated or
// reordered), statuses queued → deploying → deployed and the stages of successStages in order.
func checkDeployTimeline(t testing.TB, who string, recs []status.Record) {
	t.Helper()
	if len(recs) == 0 {
		t.Errorf("%s received no status record of the request", who)
		return
	}
	var statuses, stages []string
	for i, r := range recs {
		if i > 0 && r.Version != recs[i-1].Version+1 {
			t.Errorf("%s: version %d followed %d, want every version in order, none missing or repeated; received:%s", who, r.Version, recs[i-1].Version, describeRecords(recs))
			return
		}
		if len(statuses) == 0 || statuses[len(statuses)-1] != string(r.DeploymentStatus) {
			statuses = append(statuses, string(r.DeploymentStatus))
		}
		if len(stages) == 0 || stages[len(stages)-1] != string(r.Stage) {
			stages = append(stages, string(r.Stage))
		}
	}
	if want := []string{"queued", "deploying", "deployed"}; !slices.Equal(statuses, want) {
		t.Errorf("%s: statuses %v, want %v; received:%s", who, statuses, want, describeRecords(recs))
	}
	want := successStages
	if !slices.Contains(stages, "indexing") {
		want = slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == "indexing" })
	}
	if !slices.Equal(stages, want) {
		t.Errorf("%s: stages %v, want %v; received:%s", who, stages, want, describeRecords(recs))
	}
}

func describeRecords(recs []status.Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "\n  v%d %s %s %s", r.Version, r.DeploymentStatus, r.Stage, r.DeploymentProgress)
	}
	return b.String()
}

// requestRecords returns, in arrival order, the status records of request reqID among raw
// WebSocket messages (docs/websocket.md).
func requestRecords(t testing.TB, msgs []string, reqID string) []status.Record {
	t.Helper()
	var out []status.Record
	for _, m := range msgs {
		var ev connections.Event
		if err := json.Unmarshal([]byte(m), &ev); err != nil {
			t.Errorf("not a JSON event: %q", m)
			continue
		}
		if ev.Type == connections.EventStatus && ev.Record != nil && ev.Record.RequestID == reqID {
			out = append(out, *ev.Record)
		}
	}
	return out
}

// lineWriter sends each complete line written to it on lines, so a test reads a command's
// output while it runs. One goroutine writes.
type lineWriter struct {
	lines   chan string
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
}

// browserTest drives the status page of user in Debian's chromium through playwright-core
// (testdata/page.mjs; its header lists the steps and lines) as a user does: Deploy reaches
// "deployed"; a deploy to a deployment that is down, sent as the app sends it, shows "failed"
// with its message live; once the deployment is up, Retry (which reuses the stored
// credentials) reaches "deployed"; the zip link downloads the package.
func browserTest(t *testing.T, c *localrun.Client, user string) {
	t.Helper()
	nm, err := toolpath.LocalNodeModules()
	if err != nil {
		t.Fatal(err)
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s: %v (make deps installs it)", chromium, err)
	}
	// The deployment that is down at first: a port held, so no other server can take it, but
	// not listened on until the page has shown the failure.
	addr, up := downPort(t)
	key := convexlocaltest.AdminKey(t, "local")
	var revived *convexlocal.Server

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/page.mjs", c.Endpoints.Page+"/?user="+user)
	cmd.Env = append(os.Environ(), "LOCAL_NODE_MODULES="+nm, "CHROMIUM="+chromium, "PROFILE_DIR="+t.TempDir())
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		switch {
		case line == "ready: fail":
			if code, _, errOut := byod(t, "send", "deploy", "--user", user, "--url", "http://"+addr, "--key-file", keyFile(t, key)); code != 0 {
				t.Fatalf("byod send deploy exited %d: %s", code, errOut)
			}
		case strings.HasPrefix(line, "failed: "):
			s, err := convexlocal.New(convexlocal.Options{AdminKey: key})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := up()
			if err != nil {
				t.Fatalf("bring the deployment up on %s: %v", addr, err)
			}
			if err := s.UseListener(ln); err != nil {
				ln.Close()
				t.Fatalf("bring the deployment up on %s: %v", addr, err)
			}
			served := make(chan error, 1)
			go func() { served <- s.Serve() }()
			t.Cleanup(func() {
				if err := errors.Join(s.Close(), <-served); err != nil {
					t.Errorf("revived deployment: %v", err)
				}
			})
			revived = s
			if _, err := io.WriteString(stdin, "retry\n"); err != nil {
				t.Fatalf("tell the page to retry: %v", err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("browser test: %v\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	for _, want := range []string{
		`^step deploy: deployed$`,
		`^failed: unreachable: could not reach http://` + regexp.QuoteMeta(addr) + `: connection refused$`,
		`^hint: Check the deployment URL`,
		`^step retry: deployed$`,
		fmt.Sprintf(`^zip: 200 application/zip 504b0304 download %s\.zip 504b0304$`, regexp.QuoteMeta(bundle.ZipName())),
		`^status: deployed$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).MatchString(out.String()) {
			t.Errorf("the page run lacks a line matching %s:\n%s", want, out.String())
		}
	}
	if revived == nil || revived.State().PushCount != 1 {
		t.Errorf("the retry did not push to the deployment that came back (%v)", revived)
	}
}

// downPort holds a loopback port on which nothing listens yet, as a deployment that is down: a
// TCP socket bound (without SO_REUSEADDR, so no other socket can bind the port) but not
// listening, so the kernel refuses connections to it. up makes that same socket listen and
// returns it as a net.Listener, which its user closes; the reserving socket is closed when the
// test ends.
func downPort(t *testing.T) (addr string, up func() (net.Listener, error)) {
	t.Helper()
	syscall.ForkLock.RLock() // no child may inherit the socket before it is close-on-exec
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatalf("reserve a port: %v", err)
	}
	f := os.NewFile(uintptr(fd), "reserved port")
	t.Cleanup(func() { f.Close() })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("reserve a port: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("reserve a port: %v", err)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	return addr, func() (net.Listener, error) {
		if err := syscall.Listen(fd, syscall.SOMAXCONN); err != nil {
			return nil, fmt.Errorf("listen on the reserved port: %w", err)
		}
		return net.FileListener(f) // a duplicate of the socket
	}
}

// TestDownPort: a held port refuses connections and cannot be taken by another server until up
// makes it listen.
func TestDownPort(t *testing.T) {
	addr, up := downPort(t)
	if c, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if err == nil {
			c.Close()
		}
		t.Fatalf("dial the held port: %v, want connection refused", err)
	}
	if other, err := net.Listen("tcp", addr); !errors.Is(err, syscall.EADDRINUSE) {
		if err == nil {
			other.Close()
		}
		t.Fatalf("another server listens on the held port: %v, want address in use", err)
	}
	ln, err := up()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().String() != addr {
		t.Errorf("listener on %s, want %s", ln.Addr(), addr)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial once up: %v", err)
	}
	c.Close()
}

// waitFor polls cond until it holds, failing t after 2 minutes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 2 minutes", what)
		}
		time.Sleep(100 * time.Millisecond) // polling a remote state
	}
}

// TestDemo runs `byod demo` as `make demo` does and checks its timeline and last line.
func TestDemo(t *testing.T) {
	code, out, errOut := byod(t, "demo")
	if code != 0 {
		t.Fatalf("byod demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(fmt.Sprintf(`^deployed schema v%d to http://127\.0\.0\.1:\d+ in \d+\.\d s$`, bundle.Version)).MatchString(last) {
		t.Errorf("last line %q, want `deployed schema v%d to <url> in <seconds> s`", last, bundle.Version)
	}
	for _, want := range []string{" queued", " deploying", " deployed"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
}

// TestLocalCommandsRefuse: argument errors exit 2 before anything is contacted; without a dev
// session the commands exit 1 saying how to start one.
func TestLocalCommandsRefuse(t *testing.T) {
	t.Setenv(envDevFile, filepath.Join(t.TempDir(), "absent.json"))
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"send without a kind", []string{"send"}, 2, "usage"},
		{"send an unknown kind", []string{"send", "destroy"}, 2, "usage"},
		{"deploy without a user", []string{"send", "deploy"}, 2, "--user is required"},
		{"url without a key file", []string{"send", "deploy", "--user", "u", "--url", "https://x.convex.cloud"}, 2, "go together"},
		{"raw without a file", []string{"send", "raw"}, 2, "--file is required"},
		{"status without a user", []string{"status"}, 2, "--user is required"},
		{"watch with a bad --until", []string{"watch", "--user", "u", "--until", "soon"}, 2, "want deployed, failed or final"},
		{"dev with a bad failure mode", []string{"dev", "--fail", "explode"}, 2, "explode"},
		{"dev with a URL but no key", []string{"dev", "--convex-url", "https://x.convex.cloud"}, 2, "go together"},
		{"send with no dev session", []string{"send", "retry", "--user", "u"}, 1, "localrun: no local pipeline running"},
		{"status with no dev session", []string{"status", "--user", "u"}, 1, "localrun: no local pipeline running"},
		{"watch with no dev session", []string{"watch", "--user", "u"}, 1, "localrun: no local pipeline running"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := byod(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("byod %v = %d, %q; want %d and stderr containing %q", tc.args, code, errOut, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// TestLocalCommandsStaleSession: after `byod dev` was SIGKILLed its endpoints file stays behind;
// the commands see that its process is gone and say so instead of talking to dead endpoints.
func TestLocalCommandsStaleSession(t *testing.T) {
	dev := exec.Command("sleep", "60") // stands in for the killed `byod dev`
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	if err := dev.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = dev.Wait()
	file := filepath.Join(t.TempDir(), "dev.json")
	t.Setenv(envDevFile, file)
	// Endpoints that would answer if anything contacted them: nothing may.
	var contacted atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { contacted.Store(true) }))
	defer srv.Close()
	e := localrun.Endpoints{Page: srv.URL, SQS: srv.URL, DynamoDB: srv.URL, KMS: srv.URL, WebSocket: "ws" + strings.TrimPrefix(srv.URL, "http"),
		QueueURL: srv.URL + "/q", StatusTable: localrun.StatusTable, PID: dev.Process.Pid}
	if err := localrun.WriteEndpoints(file, e); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("localrun: no byod dev session is running (stale %s from pid %d", file, dev.Process.Pid)
	for _, args := range [][]string{
		{"send", "deploy", "--user", "u"},
		{"send", "raw", "--file", file},
		{"status", "--user", "u"},
		{"watch", "--user", "u", "--until", "final", "--timeout", "5s"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			code, _, errOut := byod(t, args...)
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("byod %v = %d, %q; want 1 and stderr containing %q", args, code, errOut, want)
			}
		})
	}
	if contacted.Load() {
		t.Error("a command contacted the stale session's endpoints")
	}
}
