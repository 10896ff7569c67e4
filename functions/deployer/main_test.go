package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/settings"
)

func TestNewEngineAllowList(t *testing.T) {
	base := map[string]string{"STATUS_TABLE": "status", "CONVEX_CLI_NODE_MODULES": "/opt/convex/node_modules"}
	parse := func(hosts string) settings.Deployer {
		t.Helper()
		env := map[string]string{"SELF_HOSTED_HOSTS": hosts}
		for k, v := range base {
			env[k] = v
		}
		s, err := settings.ParseDeployer(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	e, err := newEngine(parse("convex.internal:8443, other.example"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.SelfHostedHosts, []string{"convex.internal:8443", "other.example"}) {
		t.Errorf("hosts %q", e.SelfHostedHosts)
	}
	_, err = newEngine(parse("https://convex.internal"))
	if err == nil || !strings.Contains(err.Error(), `SELF_HOSTED_HOSTS: deploy: not a host or host:port: "https://convex.internal"`) {
		t.Errorf("err %v", err)
	}
}
