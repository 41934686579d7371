package gemm

import (
	"fmt"
	"os"
	"testing"
	"time"

	benchmarks "github.com/janpfeifer/go-benchmarks"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// stepShapes are the products of one stories15M-shaped LoRA training step at batch 8 × seq 256
// (2048 rows): y = x·Wᵀ for the attention and MLP projections and the classifier.
var stepShapes = []struct {
	name    string
	m, n, k int
}{
	{"q/k/v/o 2048×288×288", 2048, 288, 288},
	{"w1/w3 2048×768×288", 2048, 768, 288},
	{"w2 2048×288×768", 2048, 288, 768},
	{"classifier 2048×32000×288", 2048, 32000, 288},
}

// TestLatencyQuantiles prints, with github.com/janpfeifer/go-benchmarks, the latency
// distribution (mean, median, 5th and 99th percentiles after warm-up) of the training step's
// products on kernels/gemm and on simplego side by side: on a shared machine the median and the
// tail say more than testing.B's mean. Opt-in (GOSWIFT_QUANTILES=1, benchmarks/kernels/run.sh);
// GOSWIFT_QUANTILES_SECONDS sets each function's measuring time (default 2).
func TestLatencyQuantiles(t *testing.T) {
	if os.Getenv("GOSWIFT_QUANTILES") == "" {
		t.Skip("set GOSWIFT_QUANTILES=1 to print the latency quantiles (benchmarks/kernels/run.sh)")
	}
	seconds := 2.0
	if s := os.Getenv("GOSWIFT_QUANTILES_SECONDS"); s != "" {
		if _, err := fmt.Sscan(s, &seconds); err != nil || seconds <= 0 {
			t.Fatalf("GOSWIFT_QUANTILES_SECONDS=%q: want a positive number of seconds", s)
		}
	}
	backend, err := simplego.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	var fns []benchmarks.NamedFunction
	for _, s := range stepShapes {
		x, w := randSlice(s.m*s.k), randSlice(s.n*s.k)
		a, b := RowMajor(x, s.m, s.k), Transposed(w, s.k, s.n) // x [m, k] · (w [n, k])ᵀ
		c := make([]float32, s.m*s.n)
		d := Dims{1, s.m, s.n, s.k}
		if err := Float32(d, a, b, c); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		fns = append(fns, benchmarks.NamedFunction{Name: "goswift  " + s.name, Func: func() {
			if err := Float32(d, a, b, c); err != nil {
				panic(err) // checked once above; the shapes do not change
			}
		}})
		exec := MustNewExec(backend, func(x, w *Node) *Node { return MatMul(x, Transpose(w, 0, 1)) })
		xt := tensors.FromFlatDataAndDimensions(x, s.m, s.k)
		wt := tensors.FromFlatDataAndDimensions(w, s.n, s.k)
		fns = append(fns, benchmarks.NamedFunction{Name: "simplego " + s.name, Func: func() {
			exec.MustExec(xt, wt)[0].FinalizeAll()
		}})
	}
	fmt.Printf("GEMM latency of the stories15M 8×256 training step's products (%s per function after 1 warm-up; %s)\n",
		time.Duration(seconds*float64(time.Second)), Kernels()[0])
	benchmarks.New(fns...).WithWarmUps(1).WithDuration(time.Duration(seconds * float64(time.Second))).Done()
}
