package quant_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/goswift/goswift/gomlx_ext/quant"
)

// Quantise a [4, 64] weight to NF4, then decode it in a graph inside a matmul.
func Example() {
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, 4*64)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.02)
	}
	p, err := quant.Quantize(w, []int{4, 64}, quant.NF4, false)
	if err != nil {
		panic(err)
	}
	fmt.Println(p)

	backend, err := simplego.New("ops_sequential")
	if err != nil {
		panic(err)
	}
	x := make([]float32, 64)
	x[0] = 1 // picks column 0 of W
	y := graph.MustExecOnce(backend, func(x *graph.Node) *graph.Node {
		return quant.MatMulTransposed(x, quant.ConstNodes(x.Graph(), p)) // [1, 4]
	}, [][]float32{x})
	deq := p.Dequantize()
	got := tensors.MustCopyFlatData[float32](y)
	fmt.Println(got[2] == deq[2*64]) // row 2, column 0 of the decoded W
	// Output:
	// nf4[4 64] (144 bytes, 0.5625 bytes/param)
	// true
}
