package remat_test

import (
	"fmt"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/goswift/goswift/gomlx_ext/remat"
)

// Checkpoint a block: its intermediate values are recomputed in the backward pass instead of
// being kept, and the gradients are the same as without it.
func Example() {
	backend, err := simplego.New("ops_sequential")
	if err != nil {
		panic(err)
	}
	block := func(x, w *graph.Node) *graph.Node {
		return graph.Tanh(graph.Mul(x, w)) // [n]
	}
	exec := graph.MustNewExec(backend, func(x, w *graph.Node) []*graph.Node {
		var outs []*graph.Node
		for _, checkpointed := range []bool{false, true} {
			var y *graph.Node
			if checkpointed {
				y = remat.Checkpoint(func(in []*graph.Node) []*graph.Node {
					return []*graph.Node{block(in[0], in[1])}
				}, x, w)[0]
			} else {
				y = block(x, w)
			}
			outs = append(outs, graph.Gradient(graph.ReduceAllSum(y), x, w)...)
		}
		return outs
	})
	g := exec.MustExec([]float64{0.5, -1}, []float64{2, 0.25})
	fmt.Printf("plain:        dx=%.4f dw=%.4f\n", g[0].Value(), g[1].Value())
	fmt.Printf("checkpointed: dx=%.4f dw=%.4f\n", g[2].Value(), g[3].Value())
	// Output:
	// plain:        dx=[0.8399 0.2350] dw=[0.2100 -0.9400]
	// checkpointed: dx=[0.8399 0.2350] dw=[0.2100 -0.9400]
}
