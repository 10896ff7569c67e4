package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/deploy"
)

// settings is the deployer's environment (docs/ARCHITECTURE.md, "Function environment").
type settings struct {
	Table            string
	CLINodeModules   string
	Node             string
	Timeout          time.Duration
	Lease            time.Duration
	SelfHostedHosts  []string
	LogLevel         string
	MetricsNamespace string
	// CompileCache is Node's compile cache directory, shared by the deploys of a warm container
	// ("": none). The engine makes it 0700 and leaves it out of any deploy it is unusable for.
	CompileCache string
}

// settingsFrom reads the environment through getenv. It fails when a required variable is
// missing, a duration does not parse, the lease is not longer than the deploy timeout (a live
// deploy's lease must never expire under it), or NODE_COMPILE_CACHE_DIR is a relative path.
// NODE_COMPILE_CACHE_DIR defaults to $TMPDIR/byod-node-compile-cache (/tmp when TMPDIR is not
// absolute); "off" runs every deploy without the cache.
func settingsFrom(getenv func(string) string) (settings, error) {
	s := settings{
		Table:            getenv("STATUS_TABLE"),
		CLINodeModules:   getenv("CONVEX_CLI_NODE_MODULES"),
		Node:             getenv("NODE_BINARY"),
		LogLevel:         getenv("LOG_LEVEL"),
		MetricsNamespace: getenv("METRICS_NAMESPACE"),
		Timeout:          5 * time.Minute,
		Lease:            7 * time.Minute,
	}
	var errs []error
	if s.Table == "" {
		errs = append(errs, errors.New("STATUS_TABLE is required"))
	}
	if s.CLINodeModules == "" {
		errs = append(errs, errors.New("CONVEX_CLI_NODE_MODULES is required"))
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"DEPLOY_TIMEOUT", &s.Timeout}, {"LEASE_DURATION", &s.Lease}} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q is not a positive Go duration", d.name, v))
			continue
		}
		*d.dst = parsed
	}
	if s.Lease <= s.Timeout {
		errs = append(errs, fmt.Errorf("LEASE_DURATION (%s) must be longer than DEPLOY_TIMEOUT (%s)", s.Lease, s.Timeout))
	}
	if dir, err := deploy.CompileCacheDir(getenv("NODE_COMPILE_CACHE_DIR"), getenv("TMPDIR")); err != nil {
		errs = append(errs, err)
	} else {
		s.CompileCache = dir
	}
	if hosts, err := deploy.ParseHosts(getenv("SELF_HOSTED_HOSTS")); err != nil {
		errs = append(errs, fmt.Errorf("SELF_HOSTED_HOSTS: %w", err))
	} else {
		s.SelfHostedHosts = hosts
	}
	if err := errors.Join(errs...); err != nil {
		return settings{}, fmt.Errorf("deployer: environment: %w", err)
	}
	return s, nil
}
