package dotgrad

import (
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// testBackendConfig is the project's default simplego configuration (xla.DefaultGoConfig):
// testutil.Backend uses simplego's default config, whose bounded worker pool deadlocks on 2
// cores when several DotGenerals are ready at once (workersPool.WaitToStart inside
// execDotGeneralSmall), which these graphs hit.
const testBackendConfig = "parallelism=-1"

var (
	backendOnce sync.Once
	backendInst backends.Backend
	backendErr  error
)

// testBackend returns a process-wide deadlock-free simplego backend.
func testBackend(tb testing.TB) backends.Backend {
	tb.Helper()
	backendOnce.Do(func() { backendInst, backendErr = simplego.New(testBackendConfig) })
	if backendErr != nil {
		tb.Fatalf("creating simplego backend %q: %v", testBackendConfig, backendErr)
	}
	return backendInst
}
