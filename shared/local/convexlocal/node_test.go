package convexlocal

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

// countingNode returns a node wrapper that appends a line to a file on every start, and a
// function that reads how many times it started.
func countingNode(t *testing.T) (node string, starts func() int) {
	t.Helper()
	real, err := toolpath.Node()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	count := filepath.Join(dir, "starts")
	node = filepath.Join(dir, "node")
	script := "#!/bin/sh\necho start >> '" + count + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(node, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return node, func() int {
		data, err := os.ReadFile(count)
		if os.IsNotExist(err) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(data), "start")
	}
}

// TestAnalysisIsCached: the same code is analysed by Node once per process, other code again,
// and a function call always runs.
func TestAnalysisIsCached(t *testing.T) {
	node, starts := countingNode(t)
	e := evaluator{node: node, timeout: time.Minute}
	nonce := filepath.Base(t.TempDir()) // code no other test analyses
	modules := func(table string) map[string]Module {
		return map[string]Module{
			"schema.js": {Path: "schema.js", Source: `export default { export() { return JSON.stringify({tables: [], schemaValidation: true, note: "` + table + `"}); } };`},
			"functions.js": {Path: "functions.js", Source: `export const ping = { isQuery: true, isPublic: true, exportArgs: () => "{}", exportReturns: () => null,
				invokeQuery: async () => JSON.stringify("pong") };`},
		}
	}
	analyze := evalRequest{Op: "analyze", Schema: "schema.js", Analyze: []string{"functions.js"}}
	run := func(mods map[string]Module, req evalRequest, out any) {
		t.Helper()
		if err := e.run(context.Background(), mods, req, out); err != nil {
			t.Fatal(err)
		}
	}

	var first, second analyzeResult
	run(modules(nonce), analyze, &first)
	if starts() != 1 {
		t.Fatalf("first analysis started node %d times, want 1", starts())
	}
	run(modules(nonce), analyze, &second)
	if starts() != 1 {
		t.Errorf("the same code analysed again started node (%d starts)", starts())
	}
	if first.Schema == nil || second.Schema == nil || string(first.Schema.Schema) != string(second.Schema.Schema) ||
		len(second.Modules["functions.js"].Functions) != 1 {
		t.Errorf("cached analysis differs: first %+v, second %+v", first, second)
	}
	var other analyzeResult
	run(modules(nonce+"-other"), analyze, &other)
	if starts() != 2 {
		t.Errorf("other code did not start node (%d starts, want 2)", starts())
	}
	if !strings.Contains(string(other.Schema.Schema), nonce+"-other") {
		t.Errorf("other code got a stale analysis: %s", other.Schema.Schema)
	}
	call := evalRequest{Op: "call", Module: "functions.js", Name: "ping", UDFPath: "functions:ping", Args: []byte(`{}`)}
	for i := 0; i < 2; i++ {
		var res callResult
		run(modules(nonce), call, &res)
	}
	if starts() != 4 {
		t.Errorf("two calls made %d node starts in all, want 4 (calls are never cached)", starts())
	}
}

func TestAnalysisCacheIsBounded(t *testing.T) {
	var c analysisCache
	c.m = map[[32]byte][]byte{}
	for i := 0; i < maxAnalyses+5; i++ {
		c.put([32]byte{byte(i)}, []byte{byte(i)})
	}
	if len(c.m) != maxAnalyses || len(c.order) != maxAnalyses {
		t.Fatalf("cache holds %d (order %d), want %d", len(c.m), len(c.order), maxAnalyses)
	}
	if _, ok := c.get([32]byte{0}); ok {
		t.Error("the oldest entry was kept")
	}
	if data, ok := c.get([32]byte{byte(maxAnalyses + 4)}); !ok || data[0] != byte(maxAnalyses+4) {
		t.Error("the newest entry is missing")
	}
}
