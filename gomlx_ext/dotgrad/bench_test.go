package dotgrad

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/goswift/goswift/internal/peakmem"
)

// linearSize is one linear layer x [..., In] · w [Out, In]ᵀ.
type linearSize struct {
	name  string
	xDims []int // [..., In]
	out   int
}

var linearSizes = []linearSize{
	{"64x256x256", []int{64, 256}, 256},
	{"512x1024x1024", []int{512, 1024}, 1024},
	{"8x256x288-vocab32000", []int{8, 256, 288}, 32000}, // A llama2.c-sized classifier.
}

func (s linearSize) rows() int {
	r := 1
	for _, d := range s.xDims[:len(s.xDims)-1] {
		r *= d
	}
	return r
}

func (s linearSize) in() int { return s.xDims[len(s.xDims)-1] }

// gomlxBytes predicts what GoMLX v0.26.0's own DotGeneral VJP materialises for this linear in
// float32: one [rows, Out, In] broadcast product per operand.
func (s linearSize) gomlxBytes() int64 {
	return 2 * int64(s.rows()) * int64(s.out) * int64(s.in()) * 4
}

// fitsGoMLX tells whether GoMLX's own gradient may run: its predicted bytes under half of
// MemAvailable (or $GOSWIFT_BENCH_GOMLX_MAX_BYTES).
func (s linearSize) fitsGoMLX() bool {
	limit := peakmem.MemAvailable() / 2
	if v := os.Getenv("GOSWIFT_BENCH_GOMLX_MAX_BYTES"); v != "" {
		_, _ = fmt.Sscan(v, &limit)
	}
	return s.gomlxBytes() <= limit
}

// linearGradExec returns an Exec computing (dx, dw) of sum(x·wᵀ ⊙ wOut), with dotgrad's
// gradient (ours) or GoMLX's own, and random float32 inputs for it.
func linearGradExec(backend backends.Backend, s linearSize, ours bool) (*graph.Exec, []any) {
	exec := graph.MustNewExec(backend, func(x, w, wOut *graph.Node) (*graph.Node, *graph.Node) {
		var y *graph.Node
		if ours {
			y = MatMulTransposed(x, w) // [..., Out]
		} else {
			y = graph.DotGeneral(x, []int{-1}, nil, w, []int{1}, nil) // [..., Out]
		}
		grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, wOut)), x, w)
		return grads[0], grads[1]
	})
	rng := rand.New(rand.NewPCG(5, 8))
	outDims := append(append([]int{}, s.xDims[:len(s.xDims)-1]...), s.out)
	return exec, []any{randomF32(rng, s.xDims...), randomF32(rng, s.out, s.in()), randomF32(rng, outDims...)}
}

func randomF32(rng *rand.Rand, dims ...int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]float32, size)
	for i := range data {
		data[i] = float32(2*rng.Float64() - 1)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func execAndFree(b testing.TB, exec *graph.Exec, args []any) {
	outs, err := exec.Exec(args...)
	if err != nil {
		b.Fatalf("%+v", err)
	}
	for _, o := range outs {
		o.FinalizeAll()
	}
}

// BenchmarkLinearBackward times forward+backward (dx, dw) of a linear layer, dotgrad vs GoMLX's
// own gradient. GoMLX's is skipped, with the bytes it would materialise, where it doesn't fit.
func BenchmarkLinearBackward(b *testing.B) {
	backend := testBackend(b)
	for _, s := range linearSizes {
		for _, impl := range []string{"dotgrad", "gomlx"} {
			b.Run(s.name+"/"+impl, func(b *testing.B) {
				if impl == "gomlx" && !s.fitsGoMLX() {
					b.Skipf("GoMLX's own gradient would materialise %.1f GB (2×[%d,%d,%d] float32): not run",
						float64(s.gomlxBytes())/1e9, s.rows(), s.out, s.in())
				}
				exec, args := linearGradExec(backend, s, impl == "dotgrad")
				defer exec.Finalize()
				execAndFree(b, exec, args) // Compile and warm up.
				b.ResetTimer()
				for range b.N {
					execAndFree(b, exec, args)
				}
				flops := 3 * 2 * float64(s.rows()) * float64(s.out) * float64(s.in()) // forward + 2 gradients.
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestLinearPeakMemoryReport measures, each in its own process, the peak RSS (VmHWM) and the
// time of one forward+backward of each linear size, dotgrad vs GoMLX's own gradient. It only
// runs with GOSWIFT_DOTGRAD_PEAK=1 (it takes minutes); the numbers are logged.
func TestLinearPeakMemoryReport(t *testing.T) {
	if os.Getenv("GOSWIFT_DOTGRAD_PEAK") == "" {
		t.Skip("set GOSWIFT_DOTGRAD_PEAK=1 to measure peak memory of the linear benchmarks (minutes)")
	}
	var rows []string
	for _, s := range linearSizes {
		for _, impl := range []string{"dotgrad", "gomlx"} {
			if impl == "gomlx" && !s.fitsGoMLX() {
				rows = append(rows, fmt.Sprintf("%-22s %-8s not run: would materialise %.1f GB", s.name, impl, float64(s.gomlxBytes())/1e9))
				continue
			}
			r, err := peakmem.Run("TestLinearPeakMemoryChild", s.name+"/"+impl, nil)
			if err != nil {
				t.Fatalf("%+v", err)
			}
			rows = append(rows, fmt.Sprintf("%-22s %-8s first run (compile+exec) %6.2fs, second run %6.2fs, peak RSS %7.1f MB (workload %7.1f MB)",
				s.name, impl, r.Values["first_s"], r.Values["second_s"], float64(r.PeakBytes)/1e6, float64(r.WorkloadBytes())/1e6))
		}
	}
	t.Logf("linear forward+backward, simplego %s:\n%s", testBackendConfig, strings.Join(rows, "\n"))
}

// TestLinearPeakMemoryChild is the child side of TestLinearPeakMemoryReport.
func TestLinearPeakMemoryChild(t *testing.T) {
	key, ok := peakmem.ChildKey()
	if !ok {
		t.Skip("only runs as a peakmem child")
	}
	name, impl, _ := strings.Cut(key, "/")
	for _, s := range linearSizes {
		if s.name != name {
			continue
		}
		exec, args := linearGradExec(testBackend(t), s, impl == "dotgrad")
		start := time.Now()
		execAndFree(t, exec, args)
		first := time.Since(start).Seconds()
		start = time.Now()
		execAndFree(t, exec, args)
		peakmem.Report(map[string]float64{"first_s": first, "second_s": time.Since(start).Seconds()})
		return
	}
	t.Fatalf("unknown size %q", name)
}
