package elementwise

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	gr "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The logits of a stories15M-shaped training step: [batch·seq, vocab].
const benchRows, benchCols = 2048, 32000

// BenchmarkOps: each kernel on the [2048, 32000] logits beside simplego's op, in
// elements/ns (per output element).
func BenchmarkOps(b *testing.B) {
	n := benchRows * benchCols
	x := randVec(1, n)
	col := randVec(2, benchRows)
	out := make([]float32, n)
	dims, colDims := []int{benchRows, benchCols}, []int{benchRows, 1}
	rowOut := make([]float32, benchRows)
	s, _ := PlanReduce(dims, []int{1})
	kernels := map[string]func(){
		"Exp":            func() { _ = Unary(Exp, out, x) },
		"Sub_broadcast":  func() { _ = Binary(Sub, out, dims, x, dims, col, colDims) },
		"Mul":            func() { _ = Binary(Mul, out, dims, x, dims, x, dims) },
		"ReduceSum_rows": func() { _ = Reduce(ReduceSum, rowOut, x, s) },
		"ReduceMax_rows": func() { _ = Reduce(ReduceMax, rowOut, x, s) },
	}
	backend, err := simplego.New("ops_sequential")
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	graphs := map[string]func(x, c *gr.Node) *gr.Node{
		"Exp":            func(x, _ *gr.Node) *gr.Node { return gr.Exp(x) },
		"Sub_broadcast":  func(x, c *gr.Node) *gr.Node { return gr.Sub(x, c) },
		"Mul":            func(x, _ *gr.Node) *gr.Node { return gr.Mul(x, x) },
		"ReduceSum_rows": func(x, _ *gr.Node) *gr.Node { return gr.ReduceSum(x, 1) },
		"ReduceMax_rows": func(x, _ *gr.Node) *gr.Node { return gr.ReduceMax(x, 1) },
	}
	for _, name := range []string{"Exp", "Sub_broadcast", "Mul", "ReduceSum_rows", "ReduceMax_rows"} {
		b.Run(fmt.Sprintf("%s/kernel", name), func(b *testing.B) {
			for range b.N {
				kernels[name]()
			}
			b.ReportMetric(float64(n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "elems/ns")
		})
		b.Run(fmt.Sprintf("%s/simplego", name), func(b *testing.B) {
			exec := gr.MustNewExec(backend, graphs[name])
			xt := tensors.FromFlatDataAndDimensions(x, dims...)
			ct := tensors.FromFlatDataAndDimensions(col, colDims...)
			exec.MustExec(xt, ct)[0].FinalizeAll()
			b.ResetTimer()
			for range b.N {
				exec.MustExec(xt, ct)[0].FinalizeAll()
			}
			b.ReportMetric(float64(n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "elems/ns")
		})
	}
}

func BenchmarkExpf(b *testing.B) {
	x := randVec(1, 4096)
	out := make([]float32, len(x))
	for range b.N {
		unaryRow(Exp, out, x)
	}
	b.ReportMetric(float64(len(x))*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "elems/ns")
}
