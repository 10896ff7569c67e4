package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// scratch holds what the tests create outside t.TempDir: the shared synth outlives any test.
var scratch string

// TestMain gives the shared synth a scratch directory and closes the jsii runtime (a Node child
// process) once every test has run.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "infra-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	jsii.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the repository that holds this module (infra/..).
func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "layers", "package-lock.json")); err != nil {
		tb.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// populateRoot makes root a stand-in repository root for synth: the real layers/ files, a
// distinct placeholder bootstrap per function (the real ones come from `make build`), and
// files the image's ignore list must keep out of the staged build context.
func populateRoot(root string) error {
	src, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	files := map[string]string{
		".tools/cli/node_modules/x.js": "x",
		"functions/deployer/main.go":   "package main",
	}
	for _, f := range []string{DockerfilePath, DockerignorePath, "layers/package.json", "layers/package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		files[f] = string(b)
	}
	for _, fn := range FunctionNames {
		files[filepath.Join("bin", fn, "bootstrap")] = "#!/bin/sh\n# placeholder " + fn + "\n"
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// synthesized is one synthesized stack: its template for assertions, the same template as
// plain JSON for set comparisons, and the cloud assembly directory.
type synthesized struct {
	stack    *Stack
	template assertions.Template
	json     map[string]any
	outdir   string
}

var (
	synthOnce sync.Once
	synthOut  *synthesized
	synthErr  error
)

// defaultStack synthesizes the stack with default props once (a synth takes seconds).
func defaultStack(tb testing.TB) *synthesized {
	tb.Helper()
	synthOnce.Do(func() {
		root := filepath.Join(scratch, "root")
		if synthErr = populateRoot(root); synthErr == nil {
			synthOut, synthErr = synth(root, filepath.Join(scratch, "cdk.out"), nil)
		}
	})
	if synthErr != nil {
		tb.Fatal(synthErr)
	}
	return synthOut
}

// synth builds the stack under root into outdir. A jsii error panics; it is returned instead.
func synth(root, outdir string, props *StackProps) (out *synthesized, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth panicked: %v", r)
		}
	}()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	p := StackProps{}
	if props != nil {
		p = *props
	}
	p.AssetRoot = root
	s, err := NewStack(app, StackName, &p)
	if err != nil {
		return nil, err
	}
	tpl := assertions.Template_FromStack(s.Stack, nil)
	raw, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	app.Synth(nil)
	return &synthesized{stack: s, template: tpl, json: m, outdir: outdir}, nil
}

// must runs a CDK assertion, which panics on failure, and reports the panic as a test error.
func must(tb testing.TB, what string, assertion func()) {
	tb.Helper()
	defer func() {
		if r := recover(); r != nil {
			tb.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// resources returns the template's resources of one type, by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// id returns the logical id of an L2 construct's CloudFormation resource.
func (s *synthesized) id(c constructs.IConstruct) string {
	return *s.stack.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
}

// props returns a resource's Properties.
func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// ref reports whether v is {"Ref": id} or {"Fn::GetAtt": [id, ...]}.
func ref(v any, id string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if r, ok := m["Ref"]; ok {
		return r == id
	}
	if g, ok := m["Fn::GetAtt"].([]any); ok && len(g) > 0 {
		return g[0] == id
	}
	return false
}

// js renders v as JSON for messages and substring checks.
func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
