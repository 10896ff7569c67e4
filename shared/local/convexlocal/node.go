package convexlocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed evaluator.mjs
var evaluatorJS []byte

// maxNodeStderr bounds how much of a failing evaluator's stderr is kept for the error.
const maxNodeStderr = 8 << 10

// evaluator runs pushed modules in Node: one short-lived process per request, in a fresh
// temporary directory that is removed afterwards.
type evaluator struct {
	node    string
	timeout time.Duration
}

// evalRequest is the evaluator's input; op "analyze" evaluates the schema and lists the
// functions of modules, op "call" runs one function.
type evalRequest struct {
	Op      string          `json:"op"`
	Schema  string          `json:"schema,omitempty"`
	Analyze []string        `json:"analyze,omitempty"`
	Module  string          `json:"module,omitempty"`
	Name    string          `json:"name,omitempty"`
	UDFPath string          `json:"udfPath,omitempty"`
	Args    json.RawMessage `json:"args,omitempty"`
}

type schemaResult struct {
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Schema  json.RawMessage `json:"schema"`
}

type analyzedFunction struct {
	Name       string      `json:"name"`
	UDFType    string      `json:"udfType"`
	Visibility *visibility `json:"visibility"`
	Args       *string     `json:"args"`
	Returns    *string     `json:"returns"`
}

type visibility struct {
	Kind string `json:"kind"`
}

type moduleResult struct {
	Error     string             `json:"error"`
	Functions []analyzedFunction `json:"functions"`
}

type analyzeResult struct {
	Schema  *schemaResult           `json:"schema"`
	Modules map[string]moduleResult `json:"modules"`
}

// callResult is the outcome of running a function, already in /api/query's response shape.
type callResult struct {
	Status       string          `json:"status"`
	Value        json.RawMessage `json:"value,omitempty"`
	ErrorMessage string          `json:"errorMessage,omitempty"`
	ErrorData    json.RawMessage `json:"errorData,omitempty"`
	LogLines     []string        `json:"logLines,omitempty"`
}

// run evaluates req over modules in Node and decodes the result into out. It fails when Node
// cannot start, exits non-zero, or exceeds the timeout.
//
// An "analyze" answers only from the code it is given, so its result is kept (analyses, keyed by
// the node binary, the request and every module's path and source) and a push of the same code
// is answered without Node: the CLI sends the same bundle to evaluate_schema and start_push, and
// a redeploy sends it again. A real backend analyses in a warm V8 isolate; re-running Node for
// identical code would only add this stand-in's own cost to every deploy measured against it.
// Calls ("call") run the function every time.
func (e evaluator) run(ctx context.Context, modules map[string]Module, req evalRequest, out any) error {
	var key [sha256.Size]byte
	if req.Op == "analyze" {
		key = analysisKey(e.node, modules, req)
		if data, ok := analyses.get(key); ok {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("convexlocal: evaluator %s: decode result: %w", req.Op, err)
			}
			return nil
		}
	}
	data, err := e.runNode(ctx, modules, req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("convexlocal: evaluator %s: decode result: %w", req.Op, err)
	}
	if req.Op == "analyze" {
		analyses.put(key, data)
	}
	return nil
}

// runNode writes the modules and the request into a fresh temporary directory, runs the evaluator
// there and returns its raw result.
func (e evaluator) runNode(ctx context.Context, modules map[string]Module, req evalRequest) ([]byte, error) {
	dir, err := os.MkdirTemp("", "convexlocal-eval-")
	if err != nil {
		return nil, fmt.Errorf("convexlocal: evaluator: %w", err)
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{
		"package.json":  []byte(`{"type":"module"}`),
		"evaluator.mjs": evaluatorJS,
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("convexlocal: evaluator: %w", err)
	}
	files["request.json"] = reqJSON
	for p, m := range modules {
		files[filepath.Join("modules", filepath.FromSlash(p))] = []byte(m.Source)
	}
	for name, data := range files {
		full := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			return nil, fmt.Errorf("convexlocal: evaluator: %w", err)
		}
		if err := os.WriteFile(full, data, 0o600); err != nil {
			return nil, fmt.Errorf("convexlocal: evaluator: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resultPath := filepath.Join(dir, "result.json")
	cmd := exec.CommandContext(ctx, e.node, filepath.Join(dir, "evaluator.mjs"), filepath.Join(dir, "request.json"), resultPath)
	cmd.Dir = dir
	// Only what Node needs: the pushed code gets no credential and no server environment.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + dir, "HOME=" + dir}
	var stderr boundedBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("convexlocal: evaluator %s: %w (%w)", req.Op, ctx.Err(), err)
		}
		return nil, fmt.Errorf("convexlocal: evaluator %s: %w: %s", req.Op, err, strings.TrimSpace(stderr.String()))
	}
	data, err := os.ReadFile(resultPath)
	if err != nil {
		return nil, fmt.Errorf("convexlocal: evaluator %s: no result: %w", req.Op, err)
	}
	return data, nil
}

// analysisKey names an analysis by everything it depends on: the evaluator, the node binary, the
// request and the modules (sorted by path; lengths keep the encoding unambiguous).
func analysisKey(node string, modules map[string]Module, req evalRequest) [sha256.Size]byte {
	h := sha256.New()
	reqJSON, _ := json.Marshal(req) // plain strings and raw JSON: cannot fail
	for _, part := range [][]byte{evaluatorJS, []byte(node), reqJSON} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	paths := make([]string, 0, len(modules))
	for p := range modules {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(h, "%d:%s%d:", len(p), p, len(modules[p].Source))
		io.WriteString(h, modules[p].Source)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// maxAnalyses bounds the analysis cache; a push analyses one bundle, so a few dozen entries
// cover every test and benchmark that redeploys the same code.
const maxAnalyses = 64

// analyses is the process-wide analysis cache: the results are a function of the key alone, so
// every server in the process may share them.
var analyses = analysisCache{m: map[[sha256.Size]byte][]byte{}}

type analysisCache struct {
	mu    sync.Mutex
	m     map[[sha256.Size]byte][]byte
	order [][sha256.Size]byte // insertion order, oldest first
}

func (c *analysisCache) get(k [sha256.Size]byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, ok := c.m[k]
	return data, ok
}

func (c *analysisCache) put(k [sha256.Size]byte, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if len(c.order) == maxAnalyses {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[k] = data
	c.order = append(c.order, k)
}

// boundedBuffer keeps the first maxNodeStderr bytes written to it and drops the rest.
type boundedBuffer struct{ bytes.Buffer }

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := maxNodeStderr - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
