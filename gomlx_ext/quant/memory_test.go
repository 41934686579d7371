package quant

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/goswift/goswift/internal/peakmem"
)

// memStack is a chain of frozen NF4 linears, x ← 0.03·x·Wᵀ, differentiated w.r.t. the input:
// 16 layers of [1024, 1024] (4 MB each in float32, 0.56 MB packed), x [64, 1024].
const memLayers, memDim, memRows = 16, 1024, 64

func memStackExec(t *testing.T) (*graph.Exec, []any) {
	backend, err := simplego.New(memBackendConfig())
	if err != nil {
		t.Fatal(err)
	}
	n := memDim * memDim
	exec := graph.MustNewExec(backend, func(in []*graph.Node) []*graph.Node {
		x := in[0]
		x0 := x
		for l := range memLayers {
			w := Nodes{Mode: NF4, Dims: []int{memDim, memDim}, Codes: in[1+2*l], Absmax: in[2+2*l]}
			x = graph.MulScalar(MatMulTransposed(x, w), 0.03)
		}
		return []*graph.Node{graph.Gradient(graph.ReduceAllSum(graph.Square(x)), x0)[0]}
	})
	args := []any{tensors.FromShape(shapes.Make(dtypes.Float32, memRows, memDim))}
	// Random codes and unit scales, built directly: quantising float32 weights here would
	// leave tens of MB of garbage to blur the measurement.
	rng := rand.New(rand.NewPCG(1, 2))
	for range memLayers {
		codes := make([]uint8, n/2)
		for i := range codes {
			codes[i] = uint8(rng.IntN(256))
		}
		absmax := make([]float32, n/BlockSize)
		for i := range absmax {
			absmax[i] = 1
		}
		args = append(args, tensors.FromFlatDataAndDimensions(codes, len(codes)),
			tensors.FromFlatDataAndDimensions(absmax, len(absmax)))
	}
	return exec, args
}

// TestBackwardMemoryChild is the peakmem child: key "dep" (the shipped graph) or "nodep" (the
// backward decoding does not depend on dY).
func TestBackwardMemoryChild(t *testing.T) {
	key, ok := peakmem.ChildKey()
	if !ok {
		t.Skip("only runs as a peakmem child")
	}
	backwardDependsOnDY = key == "dep"
	exec, args := memStackExec(t)
	start := time.Now()
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		o.FinalizeAll()
	}
	peakmem.Report(map[string]float64{"seconds": time.Since(start).Seconds()})
}

// TestBackwardDecodesLazily: with the backward decoding tied to dY, the gradient of a 16-layer
// NF4 stack peaks clearly lower than without (where simplego decodes every layer's float32
// weight as soon as it can and keeps them all alive).
func TestBackwardDecodesLazily(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement skipped in -short mode")
	}
	if _, err := peakmem.ReadStatus("VmHWM"); err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	res := map[string]peakmem.Result{}
	for _, key := range []string{"dep", "nodep"} {
		r, err := peakmem.Run("TestBackwardMemoryChild", key, nil)
		if err != nil {
			t.Fatalf("%+v", err)
		}
		res[key] = r
		t.Logf("%-6s peak RSS %6.1f MB, workload %6.1f MB (%d layers × %.1f MB float32 weights), %.2fs", key,
			float64(r.PeakBytes)/1e6, float64(r.WorkloadBytes())/1e6, memLayers, float64(4*memDim*memDim)/1e6, r.Values["seconds"])
	}
	if d, n := res["dep"].WorkloadBytes(), res["nodep"].WorkloadBytes(); float64(d) > 0.7*float64(n) {
		t.Errorf("with the dependency the workload peak is %s of the one without: want ≤ 70%%", pct(d, n))
	}
}

func pct(a, b int64) string { return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b)) }

func memBackendConfig() string {
	if c := os.Getenv("GOSWIFT_QUANT_BACKEND_CONFIG"); c != "" {
		return c
	}
	return testBackendConfig
}
