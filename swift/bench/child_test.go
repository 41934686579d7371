package bench

import (
	"os"
	"testing"
)

// TestBenchChild is the child side of the suite's tests: it runs the spec in $GOSWIFT_BENCH_SPEC
// (set by an ExecLauncher over this test binary) and prints the result line.
func TestBenchChild(t *testing.T) {
	if _, ok, _ := ChildSpec(); !ok {
		t.Skip("only runs as a bench child ($GOSWIFT_BENCH_SPEC set)")
	}
	if err := ChildMain(os.Stdout); err != nil {
		t.Fatal(err)
	}
}
