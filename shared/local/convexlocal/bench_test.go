package convexlocal_test

import (
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
)

// BenchmarkCLIRedeploy reports the wall time of a real `convex deploy` of an unchanged project
// (modules sent by hash) into the local deployment.
func BenchmarkCLIRedeploy(b *testing.B) {
	srv, key := start(b, convexlocal.Options{})
	dir := newProject(b, nil)
	mustDeploy(b, srv.URL(), key, dir)
	for b.Loop() {
		mustDeploy(b, srv.URL(), key, dir)
	}
}

// BenchmarkQueryPing reports the cost of one /api/query call, which runs the query in a fresh
// Node process.
func BenchmarkQueryPing(b *testing.B) {
	srv, key := start(b, convexlocal.Options{})
	mustDeploy(b, srv.URL(), key, newProject(b, nil))
	body := map[string]any{"path": "functions:ping", "args": map[string]any{}}
	for b.Loop() {
		if got := postJSON(b, srv.URL()+"/api/query", "", body); got["value"] != "pong" {
			b.Fatalf("ping = %v", got)
		}
	}
}
