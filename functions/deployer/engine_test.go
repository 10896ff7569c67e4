package main

import (
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/deploy"
	"github.com/byod-deployer/byod-deployer/shared/failure"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
	"github.com/byod-deployer/byod-deployer/shared/message"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// The handler with the real engine and the pinned Convex CLI against a local deployment: a
// wrong key ends failed with the engine's class, the right one deploys this image's version.
func TestRealEngine(t *testing.T) {
	f, srv, key := realEngineFixture(t)

	steps := []struct {
		name       string
		body       string
		wantStatus status.State
		wantClass  failure.Class
	}{
		{"wrong key", body(t, message.Deploy, "u1", "r1", encrypt(t, "u1", srv.URL(), convexlocaltest.AdminKey(t, "local-otter"))),
			status.Failed, failure.InvalidDeployKey},
		{"right key", body(t, message.Retry, "u1", "r2", encrypt(t, "u1", srv.URL(), key)),
			status.Deployed, ""},
	}
	for _, st := range steps {
		if failed := f.invoke(t, sqsEvent(t, st.body)); len(failed) != 0 {
			t.Fatalf("%s: batch item failures %v:\n%s", st.name, failed, f.logs)
		}
		rec := f.get(t, "u1")
		if rec.DeploymentStatus != st.wantStatus || rec.ErrorClass != st.wantClass {
			t.Fatalf("%s: got %s %q (%s), want %s %q", st.name, rec.DeploymentStatus, rec.ErrorClass, rec.ConnectionError, st.wantStatus, st.wantClass)
		}
	}
	if rec := f.get(t, "u1"); rec.SchemaVersion != bundle.Version || rec.LastSchemaDeploy == "" {
		t.Errorf("deployed record %+v, want schema v%d", rec, bundle.Version)
	}
	var stages []string
	for _, w := range f.writes.writes["u1"] {
		if len(stages) == 0 || stages[len(stages)-1] != string(w.Stage) {
			stages = append(stages, string(w.Stage))
		}
	}
	if got := strings.Join(stages, " "); !strings.Contains(got, "bundling") || !strings.HasSuffix(got, "verifying deployed") {
		t.Errorf("stages written %q", got)
	}
	if strings.Contains(f.logs.String(), strings.SplitN(key, "|", 2)[1]) {
		t.Error("the admin key reached the logs")
	}
}

// hostEntry is the SELF_HOSTED_HOSTS entry that allows the deployment at url and nothing else.
func hostEntry(t testing.TB, url string) string {
	t.Helper()
	e, err := deploy.HostEntry(url)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// realEngineFixture is a fixture whose handler runs the real engine and the pinned CLI, and a
// local deployment that takes key.
func realEngineFixture(t testing.TB) (f *fixture, srv *convexlocal.Server, key string) {
	t.Helper()
	nm, err := toolpath.CLINodeModules()
	if err != nil {
		t.Fatal(err)
	}
	key = convexlocaltest.AdminKey(t, "local-otter")
	srv = convexlocaltest.Start(t, convexlocal.Options{AdminKey: key})
	f = newFixture(t)
	node, err := toolpath.Node()
	if err != nil {
		t.Fatal(err)
	}
	f.h.Engine = &deploy.Engine{CLINodeModules: nm, Node: node, TempRoot: t.TempDir(), SelfHostedHosts: []string{hostEntry(t, srv.URL())}}
	f.h.SchemaVersion = bundle.Version
	return f, srv, key
}
