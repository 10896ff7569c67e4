package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// run is what `cdk synth` executes (cdk.json: go run .): it reads the context and writes the
// cloud assembly to CDK_OUTDIR.
func TestRunReadsContextAndWritesAssembly(t *testing.T) {
	root := t.TempDir()
	if err := populateRoot(root); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// The jsii runtime is already running (package variables call it), so the context is passed
	// as AppProps rather than CDK_CONTEXT_JSON; the app reads it the same way.
	props := &awscdk.AppProps{
		Outdir: jsii.String(out),
		Context: &map[string]any{
			"assetRoot":       root,
			"tokenAudience":   "aud-from-context",
			"alarmEmail":      "ops@example.com",
			"selfHostedHosts": "convex.example.com",
		},
	}
	if err := runRecovered(props); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, StackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	tpl := string(raw)
	cases := []struct{ name, want string }{
		{"token audience", `"TOKEN_AUDIENCE": "aud-from-context"`},
		{"self-hosted hosts", `"SELF_HOSTED_HOSTS": "convex.example.com"`},
		{"alarm e-mail subscription", `"Endpoint": "ops@example.com"`},
	}
	for _, tc := range cases {
		if !strings.Contains(tpl, tc.want) {
			t.Errorf("%s: template has no %s", tc.name, tc.want)
		}
	}
}

func runRecovered(props *awscdk.AppProps) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{r}
		}
	}()
	return run(props)
}

type panicError struct{ v any }

func (p *panicError) Error() string { return "run panicked: " + js(p.v) }
