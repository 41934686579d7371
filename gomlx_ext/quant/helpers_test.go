package quant

import (
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// testBackendConfig is the project's deadlock-free simplego configuration (see
// gomlx_ext/dotgrad's tests).
const testBackendConfig = "parallelism=-1"

var (
	backendOnce sync.Once
	backendInst backends.Backend
	backendErr  error
)

func testBackend(tb testing.TB) backends.Backend {
	tb.Helper()
	backendOnce.Do(func() { backendInst, backendErr = simplego.New(testBackendConfig) })
	if backendErr != nil {
		tb.Fatalf("creating simplego backend %q: %v", testBackendConfig, backendErr)
	}
	return backendInst
}
