package quantmm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goswift/goswift/kernels/gemm"
)

// randSize draws a size in [1, hi]: 1 (15%), 2…5 (15%: the few-row products of token-by-token
// decoding), else uniform.
func randSize(r *rand.Rand, hi int) int {
	switch p := r.Float64(); {
	case p < 0.15:
		return 1
	case p < 0.30:
		return min(hi, 2+r.IntN(4))
	}
	return 1 + r.IntN(hi)
}

// TestMatMulTRandom: the fused product on 40 seeded random m ≤ 300, Out ≤ 300, In ≤ 600 (In a
// multiple of BlockSize half the time; otherwise blocks straddle rows of W), for NF4, NF4 with
// double-quantised scales and int8, checked two ways:
//   - against Reference (dequantise, float64 matmul) within 4e-7·(In+8)·Σ_k |x|·|w| per output,
//     the tolerance of kernels/gemm's tests;
//   - bit-identical to gemm.Float32 on the dequantised W (same summation order, and the decoder
//     is bit-identical to the dequantisation).
func TestMatMulTRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(20261201, 6))
	for c := range 40 {
		qc := qcases[r.IntN(len(qcases))]
		m, out := randSize(r, 300), randSize(r, 300)
		in := randSize(r, 600)
		if r.IntN(2) == 0 {
			in = BlockSize * (1 + r.IntN(600/BlockSize))
		}
		t.Run(fmt.Sprintf("%02d/%s/m%d_%dx%d", c, qc.name, m, out, in), func(t *testing.T) {
			w, _ := quantised(t, out, in, qc.mode, qc.dq)
			x := randVec(uint64(c), m*in)
			got := make([]float32, m*out)
			if err := MatMulT(got, x, m, w); err != nil {
				t.Fatal(err)
			}
			want := Reference(x, m, w)
			wf := w.Dequantize()
			for i := range m {
				for o := range out {
					var abs float64
					for k := range in {
						abs += math.Abs(float64(x[i*in+k]) * float64(wf[o*in+k]))
					}
					tol := 4e-7*float64(in+8)*abs + 1e-30
					if g, wt := got[i*out+o], want[i*out+o]; math.Abs(float64(g-wt)) > tol {
						t.Fatalf("y[%d, %d] = %g, want %g (Σ|x|·|w| %g)", i, o, g, wt, abs)
					}
				}
			}
			unfused := make([]float32, m*out)
			d := gemm.Dims{Batch: 1, M: m, N: out, K: in}
			if err := gemm.Float32(d, gemm.RowMajor(x, m, in), gemm.Transposed(wf, in, out), unfused); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != unfused[i] {
					t.Fatalf("fused differs from dequantise+gemm.Float32 at y[%d, %d]: %g vs %g", i/out, i%out, got[i], unfused[i])
				}
			}
		})
	}
}
