package quant

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// BenchmarkQuantize: the Go reference quantiser on a 768×288 weight (stories15M's MLP), in
// elements per second.
func BenchmarkQuantize(b *testing.B) {
	dims := []int{768, 288}
	x := gaussian(1, 768*288)
	for _, tc := range []struct {
		mode Mode
		dq   bool
	}{{NF4, false}, {NF4, true}, {Int8, false}} {
		b.Run(fmt.Sprintf("%s/dq=%v", tc.mode, tc.dq), func(b *testing.B) {
			for range b.N {
				if _, err := Quantize(x, dims, tc.mode, tc.dq); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(x)*b.N)/b.Elapsed().Seconds(), "elements/s")
		})
	}
}

// BenchmarkDequantizeMatMul: x [256, 288] · Wᵀ for W [768, 288], the weight float32 vs NF4
// decoded in the graph (inference path), side by side.
func BenchmarkDequantizeMatMul(b *testing.B) {
	backend := testBackend(b)
	const rows, in, out = 256, 288, 768
	w := gaussian(2, out*in)
	p, err := Quantize(w, []int{out, in}, NF4, true)
	if err != nil {
		b.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions(gaussian(3, rows*in), rows, in)
	wf := tensors.FromFlatDataAndDimensions(w, out, in)
	b.Run("float32", func(b *testing.B) {
		exec := graph.MustNewExec(backend, func(x, w *graph.Node) *graph.Node {
			return graph.DotGeneral(x, []int{1}, nil, w, []int{1}, nil)
		})
		for range b.N {
			exec.MustExec(x, wf)[0].FinalizeAll()
		}
	})
	b.Run("nf4-dq", func(b *testing.B) {
		exec := graph.MustNewExec(backend, func(x *graph.Node) *graph.Node {
			return graph.DotGeneral(x, []int{1}, nil, Dequantize(ConstNodes(x.Graph(), p), nil), []int{1}, nil)
		})
		for range b.N {
			exec.MustExec(x)[0].FinalizeAll()
		}
	})
}
