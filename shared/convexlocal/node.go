package convexlocal

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// run writes the modules and the request into a temporary directory, runs the evaluator and
// decodes its result into out. It fails when Node cannot start, exits non-zero, or exceeds the
// timeout.
func (e evaluator) run(ctx context.Context, modules map[string]Module, req evalRequest, out any) error {
	dir, err := os.MkdirTemp("", "convexlocal-eval-")
	if err != nil {
		return fmt.Errorf("convexlocal: evaluator: %w", err)
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{
		"package.json":  []byte(`{"type":"module"}`),
		"evaluator.mjs": evaluatorJS,
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("convexlocal: evaluator: %w", err)
	}
	files["request.json"] = reqJSON
	for p, m := range modules {
		files[filepath.Join("modules", filepath.FromSlash(p))] = []byte(m.Source)
	}
	for name, data := range files {
		full := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			return fmt.Errorf("convexlocal: evaluator: %w", err)
		}
		if err := os.WriteFile(full, data, 0o600); err != nil {
			return fmt.Errorf("convexlocal: evaluator: %w", err)
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
			return fmt.Errorf("convexlocal: evaluator %s: %w (%w)", req.Op, ctx.Err(), err)
		}
		return fmt.Errorf("convexlocal: evaluator %s: %w: %s", req.Op, err, strings.TrimSpace(stderr.String()))
	}
	data, err := os.ReadFile(resultPath)
	if err != nil {
		return fmt.Errorf("convexlocal: evaluator %s: no result: %w", req.Op, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("convexlocal: evaluator %s: decode result: %w", req.Op, err)
	}
	return nil
}

// boundedBuffer keeps the first maxNodeStderr bytes written to it and drops the rest.
type boundedBuffer struct{ bytes.Buffer }

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := maxNodeStderr - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
