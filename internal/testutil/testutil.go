// Package testutil holds the project's test helpers: a simplego backend that never touches
// GoMLX's XLA auto-installer (GoMLX's own graphtest.BuildTestBackend does), and the location of
// the shared fixtures (../shared/data beside the repository, or $GOSWIFT_SHARED_DATA).
package testutil

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

var (
	backendOnce sync.Once
	backend     backends.Backend
	backendErr  error
)

// Backend returns a process-wide simplego backend for tests.
func Backend(tb testing.TB) backends.Backend {
	tb.Helper()
	backendOnce.Do(func() { backend, backendErr = simplego.New("") })
	if backendErr != nil {
		tb.Fatalf("creating simplego backend: %v", backendErr)
	}
	return backend
}

// RepoRoot returns the directory holding go.mod, walking up from the working directory.
func RepoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// SharedDataDir returns the shared fixtures directory, or "" if there is none.
func SharedDataDir() string {
	if d := os.Getenv("GOSWIFT_SHARED_DATA"); d != "" {
		return d
	}
	root, ok := RepoRoot()
	if !ok {
		return ""
	}
	d := filepath.Join(filepath.Dir(root), "shared", "data")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// SharedData returns the path of a fixture under the shared data directory, skipping the test
// with a clear message when it is absent.
func SharedData(tb testing.TB, rel string) string {
	tb.Helper()
	dir := SharedDataDir()
	if dir == "" {
		tb.Skipf("shared fixtures not found (../shared/data beside the repository, or $GOSWIFT_SHARED_DATA): skipping, needs %s", rel)
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("fixture %s not found: %v", p, err)
	}
	return p
}
