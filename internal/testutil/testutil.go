// Package testutil holds the project's GoMLX test helpers: a simplego backend that never
// touches GoMLX's XLA auto-installer (GoMLX's own graphtest.BuildTestBackend does), built with
// the project's deadlock-free simplego configuration. Fixture paths are in internal/fixtures.
package testutil

import (
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/goswift/goswift/xla"
)

var (
	backendOnce sync.Once
	backend     backends.Backend
	backendErr  error
)

// Backend returns a process-wide simplego backend for tests.
func Backend(tb testing.TB) backends.Backend {
	tb.Helper()
	backendOnce.Do(func() { backend, _, backendErr = xla.New(xla.Options{Want: "cpu"}) })
	if backendErr != nil {
		tb.Fatalf("creating the CPU backend: %v", backendErr)
	}
	return backend
}
