// Package testmodel loads the shared fixtures' models for tests: the one place that opens
// stories260K, reads its weights into a fresh context and closes the checkpoint. It is separate
// from internal/testutil because swift/models' own tests use testutil, and this imports models.
package testmodel

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift/models"
)

// Stories260K loads ../shared/data/models/stories260K/stories260K.bin into a fresh context with
// opts (dtype, quantise-on-load), failing the test on error; it skips when the fixtures are
// absent.
func Stories260K(tb testing.TB, opts models.LoadOptions) (*models.Config, *context.Context) {
	tb.Helper()
	ck, err := models.OpenCheckpoint(fixtures.Path(tb, "models", "stories260K", "stories260K.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	defer ck.Close()
	ctx := context.New()
	if err := models.LoadVariables(ctx, ck, opts); err != nil {
		tb.Fatalf("loading stories260K: %v", err)
	}
	return ck.Config, ctx
}
