package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/goswift/goswift/gomlx_ext/quant"
)

// TestNF4Routing: x·Wᵀ with W decoded from NF4 codes in the graph (gomlx_ext/quant) runs as one
// GEMM decoding the codes itself, forward and backward (dx = dy·W), and gives simplego's
// results. Also with double-quantised scales and a weight size that is not a multiple of 64.
func TestNF4Routing(t *testing.T) {
	fast, _, ref := testBackends(t)
	for _, c := range []struct {
		out, in int
		dq      bool
	}{{40, 64, false}, {33, 70, true}, {96, 288, true}} {
		t.Run(fmt.Sprintf("%dx%d/dq=%v", c.out, c.in, c.dq), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c.out), uint64(c.in)))
			wf := make([]float32, c.out*c.in)
			for i := range wf {
				wf[i] = float32(r.NormFloat64())
			}
			p, err := quant.Quantize(wf, []int{c.out, c.in}, quant.NF4, c.dq)
			if err != nil {
				t.Fatal(err)
			}
			fn := func(x *Node) []*Node {
				y := quant.MatMulTransposed(x, quant.ConstNodes(x.Graph(), p))
				loss := ReduceAllSum(Square(y))
				return []*Node{y, Gradient(loss, x)[0]}
			}
			x := randTensor(1, shapes.Make(dtypes.Float32, 3, 5, c.in))
			want := execOn(t, ref, fn, x)
			fast.EnableProfile(true, false)
			got := execOn(t, fast, fn, x)
			calls := 0
			for _, e := range fast.Profile() {
				if e.Kind == "gemm-nf4" {
					calls = e.Calls
				}
			}
			fast.EnableProfile(false, false)
			if calls != 2 {
				t.Errorf("the fused NF4 GEMM ran %d times, want 2 (forward and backward): %+v", calls, fast.Profile())
			}
			for i := range want { // sums of ~in products: tolerance relative to the output's scale
				scale := 0.0
				for _, v := range toFloat64(want[i]) {
					scale = max(scale, math.Abs(v))
				}
				assertClose(t, "nf4", got[i:i+1], want[i:i+1], 1e-5*scale, 1e-5)
			}
		})
	}
}
