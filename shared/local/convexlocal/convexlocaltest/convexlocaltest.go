// Package convexlocaltest starts local Convex deployments for tests in any package: on
// 127.0.0.1 with a free port, closed by t.Cleanup. Failures to start are fatal to the test.
package convexlocaltest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
)

// AdminKey returns a fresh self-hosted style admin key (`<name>|<hex>`) for instance name.
func AdminKey(tb testing.TB, name string) string {
	tb.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("convexlocaltest: admin key: %v", err)
	}
	return name + "|" + hex.EncodeToString(b)
}

// Start serves a deployment with opts on 127.0.0.1:0 until the test ends. When opts.AdminKey is
// empty a fresh key for instance "local" is generated; a test that needs the key makes one with
// AdminKey and sets it.
func Start(tb testing.TB, opts convexlocal.Options) *convexlocal.Server {
	tb.Helper()
	if opts.AdminKey == "" {
		opts.AdminKey = AdminKey(tb, "local")
	}
	s, err := convexlocal.New(opts)
	if err != nil {
		tb.Fatalf("convexlocaltest: %v", err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		tb.Fatalf("convexlocaltest: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("convexlocaltest: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("convexlocaltest: serve: %v", err)
		}
	})
	return s
}
