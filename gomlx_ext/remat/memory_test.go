package remat

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/goswift/goswift/gomlx_ext/dotgrad"
	"github.com/goswift/goswift/internal/peakmem"
)

// stackSize is a deep stack of bottleneck blocks, float32:
//
//	g = sigmoid(x); u = tanh((x⊙g)·Wdᵀ); out = x + (u·Wuᵀ)⊙g
//
// x [rows, dim], Wd [rank, dim], Wu [dim, rank]. Without checkpointing each block keeps ~3-4
// [rows, dim] activations for the backward pass; with it, only its input.
type stackSize struct {
	name                   string
	layers, rows, dim, rnk int
}

// memSize is the measured configuration: 16 layers of [4096, 512] activations (8 MB each).
var memSize = stackSize{"16x4096x512", 16, 4096, 512, 64}

func bottleneckBlock(x, wd, wu *graph.Node) *graph.Node {
	g := graph.Sigmoid(x)                                              // [rows, dim]
	u := graph.Tanh(dotgrad.MatMulTransposed(graph.Mul(x, g), wd))     // [rows, rank]
	return graph.Add(x, graph.Mul(dotgrad.MatMulTransposed(u, wu), g)) // [rows, dim]
}

// stackGradExec returns an Exec computing the gradients of sum(out²) w.r.t. all weights, with or
// without checkpointing each block, and its random inputs.
func stackGradExec(backend backends.Backend, s stackSize, ckpt bool) (*graph.Exec, []any) {
	exec := graph.MustNewExec(backend, func(inputs []*graph.Node) []*graph.Node {
		x := inputs[0] // [rows, dim]
		weights := inputs[1:]
		for l := range s.layers {
			wd, wu := weights[2*l], weights[2*l+1]
			x = ckptOrCall(ckpt, func(in []*graph.Node) []*graph.Node {
				return []*graph.Node{bottleneckBlock(in[0], in[1], in[2])}
			}, x, wd, wu)[0]
		}
		loss := graph.ReduceAllSum(graph.Square(x))
		return graph.Gradient(loss, weights...)
	})
	rng := rand.New(rand.NewPCG(2, 2))
	args := []any{randomF32(rng, 1, s.rows, s.dim)}
	scale := 1 / float32(s.dim)
	for range s.layers {
		args = append(args, randomF32(rng, scale, s.rnk, s.dim), randomF32(rng, scale, s.dim, s.rnk))
	}
	return exec, args
}

func randomF32(rng *rand.Rand, scale float32, dims ...int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]float32, size)
	for i := range data {
		data[i] = scale * float32(2*rng.Float64()-1)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func execAndFree(tb testing.TB, exec *graph.Exec, args []any) {
	outs, err := exec.Exec(args...)
	if err != nil {
		tb.Fatalf("%+v", err)
	}
	for _, o := range outs {
		o.FinalizeAll()
	}
}

// TestBackwardDoesNotReferenceActivations checks structurally that no node built by
// graph.Gradient reads a [rows, dim]-sized value computed inside Checkpoint's forward fn: the
// backward pass only reads the block's input and recomputed values.
func TestBackwardDoesNotReferenceActivations(t *testing.T) {
	g := graph.NewGraph(testBackend(t), "structure")
	defer g.Finalize()
	const rows, dim, rank = 8, 6, 3
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, rows, dim))
	wd := graph.Parameter(g, "wd", shapes.Make(dtypes.Float32, rank, dim))
	wu := graph.Parameter(g, "wu", shapes.Make(dtypes.Float32, dim, rank))
	first := len(g.Nodes())
	y := Checkpoint(func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{bottleneckBlock(in[0], in[1], in[2])}
	}, x, wd, wu)[0]
	last := len(g.Nodes())
	graph.Gradient(graph.ReduceAllSum(graph.Square(y)), x, wd, wu)
	for _, n := range g.Nodes()[last:] {
		for _, in := range n.Inputs() {
			if id := int(in.Id()); id >= first && id < last && in.Shape().Size() >= rows*dim && in != y {
				t.Errorf("backward node %s reads forward value %s", n, in)
			}
		}
	}
}

// backendForChild returns a fresh simplego backend with $GOSWIFT_REMAT_BACKEND_CONFIG (default:
// the project's default) for a peakmem child.
func backendForChild(t *testing.T) (backends.Backend, string) {
	config := os.Getenv("GOSWIFT_REMAT_BACKEND_CONFIG")
	if config == "" {
		config = testBackendConfig
	}
	backend, err := simplego.New(config)
	if err != nil {
		t.Fatalf("simplego.New(%q): %v", config, err)
	}
	return backend, config
}

// TestCheckpointMemoryChild is the peakmem child: key "plain", "ckpt" or "ckpt-nodelay".
func TestCheckpointMemoryChild(t *testing.T) {
	key, ok := peakmem.ChildKey()
	if !ok {
		t.Skip("only runs as a peakmem child")
	}
	backend, _ := backendForChild(t)
	delayRecompute = key != "ckpt-nodelay"
	exec, args := stackGradExec(backend, memSize, key != "plain")
	start := time.Now()
	execAndFree(t, exec, args)
	peakmem.Report(map[string]float64{"seconds": time.Since(start).Seconds()})
}

func measure(t *testing.T, key, config string) peakmem.Result {
	r, err := peakmem.Run("TestCheckpointMemoryChild", key, []string{"GOSWIFT_REMAT_BACKEND_CONFIG=" + config})
	if err != nil {
		t.Fatalf("%+v", err)
	}
	return r
}

func describe(key, config string, r peakmem.Result) string {
	return fmt.Sprintf("%-14s %-16s peak RSS %7.1f MB (workload %7.1f MB), %5.1fs (compile+run)",
		config, key, float64(r.PeakBytes)/1e6, float64(r.WorkloadBytes())/1e6, r.Values["seconds"])
}

// TestCheckpointSavesMemory measures, each in its own process on the project's default simplego
// configuration, the peak RSS of the gradient of a 16-layer stack of [4096, 512] activations with
// and without checkpointing every layer, and asserts the checkpointed one is clearly lower.
func TestCheckpointSavesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement skipped in -short mode")
	}
	if _, err := peakmem.ReadStatus("VmHWM"); err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	plain := measure(t, "plain", testBackendConfig)
	ckpt := measure(t, "ckpt", testBackendConfig)
	t.Logf("%s:\n%s\n%s", memSize.name, describe("plain", testBackendConfig, plain), describe("ckpt", testBackendConfig, ckpt))
	if ratio := float64(ckpt.WorkloadBytes()) / float64(plain.WorkloadBytes()); ratio > 0.7 {
		t.Errorf("checkpointed workload peak is %.0f%% of the plain one, want ≤ 70%%", 100*ratio)
	}
}

// TestCheckpointMemoryReport measures every variant (plain, checkpointed, checkpointed without the
// dependency on dY) on both simplego executors. Only with GOSWIFT_REMAT_PEAK=1.
func TestCheckpointMemoryReport(t *testing.T) {
	if os.Getenv("GOSWIFT_REMAT_PEAK") == "" {
		t.Skip("set GOSWIFT_REMAT_PEAK=1 to measure all checkpointing variants (minutes)")
	}
	var lines []string
	for _, config := range []string{testBackendConfig, "ops_sequential"} {
		for _, key := range []string{"plain", "ckpt", "ckpt-nodelay"} {
			lines = append(lines, describe(key, config, measure(t, key, config)))
		}
	}
	t.Logf("%s:\n%s", memSize.name, strings.Join(lines, "\n"))
}

// BenchmarkCheckpoint times one gradient step of a stack with and without checkpointing.
func BenchmarkCheckpoint(b *testing.B) {
	backend := testBackend(b)
	for _, s := range []stackSize{{"8x1024x512", 8, 1024, 512, 64}, memSize} {
		for _, variant := range []string{"plain", "ckpt"} {
			b.Run(s.name+"/"+variant, func(b *testing.B) {
				exec, args := stackGradExec(backend, s, variant == "ckpt")
				defer exec.Finalize()
				execAndFree(b, exec, args)
				b.ResetTimer()
				for range b.N {
					execAndFree(b, exec, args)
				}
			})
		}
	}
}
