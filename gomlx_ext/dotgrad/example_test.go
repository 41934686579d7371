package dotgrad_test

import (
	"fmt"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/goswift/goswift/gomlx_ext/dotgrad"
)

// A linear layer in PyTorch layout, and its gradients: the same numbers as GoMLX's own
// gradient, computed with two matmuls.
func Example() {
	backend, err := simplego.New("ops_sequential")
	if err != nil {
		panic(err)
	}
	exec := graph.MustNewExec(backend, func(x, w *graph.Node) (*graph.Node, *graph.Node, *graph.Node) {
		y := dotgrad.MatMulTransposed(x, w)                  // [batch=2, out=1]
		grads := graph.Gradient(graph.ReduceAllSum(y), x, w) // d/dx = w rows, d/dw = sum of x rows
		return y, grads[0], grads[1]
	})
	outs := exec.MustExec([][]float32{{1, 2, 3}, {4, 5, 6}}, [][]float32{{1, 0, -1}})
	fmt.Println("y     =", outs[0].Value())
	fmt.Println("dL/dx =", outs[1].Value())
	fmt.Println("dL/dw =", outs[2].Value())

	// Einsum with the same gradient machinery, e.g. attention scores with grouped heads.
	scores := graph.MustExecOnce(backend, func(q, k *graph.Node) *graph.Node {
		return dotgrad.Einsum("bskgd,btkd->bkgst", q, k) // [batch, kvHeads, groups, seq, seq]
	}, [][][][][]float32{{{{{1, 0}}}}}, [][][][]float32{{{{2, 3}}}})
	fmt.Println("scores shape:", scores.Shape().Dimensions)
	// Output:
	// y     = [[-2] [-2]]
	// dL/dx = [[1 0 -1] [1 0 -1]]
	// dL/dw = [[5 7 9]]
	// scores shape: [1 1 1 1 1]
}
