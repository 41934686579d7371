package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func gaussian(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

func relRMSE(x, y []float32) float64 {
	num, den := 0.0, 0.0
	for i := range x {
		d := float64(x[i] - y[i])
		num += d * d
		den += float64(x[i]) * float64(x[i])
	}
	return math.Sqrt(num / den)
}

var shapeCases = []struct {
	name string
	dims []int
}{
	{"288x288", []int{288, 288}},
	{"odd-33x47", []int{33, 47}}, // short last block, odd N
	{"172x64", []int{172, 64}},   // stories260K's MLP
	{"vector-5", []int{5}},
	{"many-blocks-300x300", []int{300, 300}}, // 1407 blocks: several double-quant blocks, short last
}

// TestQuantizationError: Gaussian weights, NF4 relative RMSE ≤ 0.10 and every element within
// half the widest NF4 gap × its block absmax; int8 relative RMSE ≤ 0.01; double-quantised
// scales stay close.
func TestQuantizationError(t *testing.T) {
	for _, sc := range shapeCases {
		for _, tc := range []struct {
			mode   Mode
			dq     bool
			maxRel float64
		}{{NF4, false, 0.10}, {NF4, true, 0.10}, {Int8, false, 0.01}, {Int8, true, 0.011}} {
			name := fmt.Sprintf("%s/%s/dq=%v", sc.name, tc.mode, tc.dq)
			t.Run(name, func(t *testing.T) {
				n := numElements(sc.dims)
				x := gaussian(uint64(n), n)
				p, err := Quantize(x, sc.dims, tc.mode, tc.dq)
				if err != nil {
					t.Fatal(err)
				}
				y := p.Dequantize()
				// RMSE is a statistic: checked on the tensors with at least 1000 elements.
				if r := relRMSE(x, y); n >= 1000 && (r > tc.maxRel || math.IsNaN(r)) {
					t.Fatalf("relative RMSE %.4f > %.3f", r, tc.maxRel)
				} else if n >= 1000 {
					t.Logf("relative RMSE %.4f", r)
				}
				if tc.mode != NF4 || tc.dq {
					return
				}
				for i := range x {
					a := float64(p.Absmax[i/BlockSize])
					if d := math.Abs(float64(x[i] - y[i])); d > NF4MaxHalfGap*a*(1+1e-6) {
						t.Fatalf("element %d: |%g - %g| = %g > %g × absmax %g", i, x[i], y[i], d, NF4MaxHalfGap, a)
					}
				}
			})
		}
	}
}

// TestBytesPerParam: NF4 costs exactly 0.5625 bytes per parameter with float32 scales, ≤ 0.52
// with double quantisation; int8 1.0625.
// TestNF4ErrorBoundDoubleQuant: with double-quantised scales each element is still encoded
// against its block's true absmax a, but decoded with the dequantised absmax â (what
// BlockAbsmax returns and the graph uses). So, per element,
//
//	|x − L·â| ≤ |x − L·a| + |L|·|a − â| ≤ NF4MaxHalfGap·a + |a − â|
//	          ≤ NF4MaxHalfGap·â + (1 + NF4MaxHalfGap)·|a − â|,
//
// and |a − â| is at most half a step of the 8-bit scale code: AbsmaxScale/254.
func TestNF4ErrorBoundDoubleQuant(t *testing.T) {
	for _, sc := range shapeCases {
		t.Run(sc.name, func(t *testing.T) {
			n := numElements(sc.dims)
			x := gaussian(uint64(n)+7, n)
			p, err := Quantize(x, sc.dims, NF4, true)
			if err != nil {
				t.Fatal(err)
			}
			if !p.DoubleQuant() || p.Absmax != nil {
				t.Fatalf("%v: double quantisation asked, packed %v", sc.dims, p)
			}
			y, deq := p.Dequantize(), p.BlockAbsmax()
			worst := 0.0 // largest error / bound
			for b := range deq {
				lo, hi := b*BlockSize, min((b+1)*BlockSize, n)
				var a float64
				for _, v := range x[lo:hi] {
					a = math.Max(a, math.Abs(float64(v)))
				}
				ah := float64(deq[b])
				scaleErr := math.Abs(a - ah)
				// float32 rounding of DQLevels·scale + mean: a few ulps of a on top.
				slack := 4e-7 * a
				if s := float64(p.AbsmaxScale[b/DQBlockSize]); scaleErr > s/254+slack {
					t.Fatalf("block %d: absmax %g decoded as %g: error %g > half a code step %g", b, a, ah, scaleErr, s/254)
				}
				for i := lo; i < hi; i++ {
					bound := NF4MaxHalfGap*ah + (1+NF4MaxHalfGap)*scaleErr + slack
					d := math.Abs(float64(x[i] - y[i]))
					if d > bound {
						t.Fatalf("element %d (block %d): |%g − %g| = %g > %g·â + %g·|a − â| = %g (a %g, â %g)",
							i, b, x[i], y[i], d, NF4MaxHalfGap, 1+NF4MaxHalfGap, bound, a, ah)
					}
					worst = math.Max(worst, d/bound)
				}
			}
			t.Logf("largest element error = %.3f of its bound", worst)
		})
	}
}

func TestBytesPerParam(t *testing.T) {
	dims := []int{768, 288}
	x := gaussian(3, 768*288)
	for _, tc := range []struct {
		mode     Mode
		dq       bool
		min, max float64
	}{{NF4, false, 0.5625, 0.5625}, {NF4, true, 0, 0.52}, {Int8, false, 1.0625, 1.0625}} {
		p, err := Quantize(x, dims, tc.mode, tc.dq)
		if err != nil {
			t.Fatal(err)
		}
		r := float64(p.Bytes()) / float64(len(x))
		if r < tc.min || r > tc.max {
			t.Errorf("%s dq=%v: %.5f bytes/param, want in [%g, %g]", tc.mode, tc.dq, r, tc.min, tc.max)
		}
		t.Logf("%s", p)
	}
}

// TestLayout pins the byte layout: nibble order, code values, int8 codes.
func TestLayout(t *testing.T) {
	// Block absmax 1: values exactly on levels 0 (-1), 15 (+1), 7 (0), 8.
	x := []float32{-1, 1, 0, NF4Levels[8], 0.5}
	p, err := Quantize(x, []int{5}, NF4, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x0F, 0x78, 12 << 4} // 0.5 is nearest to 0.4407 (12, midpoint 0.5016); odd N pads with 0
	for i := range want {
		if p.Codes[i] != want[i] {
			t.Fatalf("NF4 codes % x, want % x", p.Codes, want)
		}
	}
	if p.Absmax[0] != 1 {
		t.Fatalf("absmax %v", p.Absmax)
	}
	q, err := Quantize([]float32{-2, 1, 0, 2}, []int{4}, Int8, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := []int8{int8(q.Codes[0]), int8(q.Codes[1]), int8(q.Codes[2]), int8(q.Codes[3])}; fmt.Sprint(got) != "[-127 64 0 127]" {
		t.Fatalf("int8 codes %v", got)
	}
	if _, err := Quantize([]float32{float32(math.NaN())}, []int{1}, NF4, false); err == nil {
		t.Fatal("NaN quantised without error")
	}
	if _, err := Quantize([]float32{1}, []int{1}, "nf5", false); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

// TestGraphDequantizeMatchesReference: the in-graph decoder is bit-identical to the Go one.
func TestGraphDequantizeMatchesReference(t *testing.T) {
	backend := testBackend(t)
	for _, sc := range shapeCases {
		for _, mode := range []Mode{NF4, Int8} {
			for _, dq := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/dq=%v", sc.name, mode, dq), func(t *testing.T) {
					n := numElements(sc.dims)
					p, err := Quantize(gaussian(7, n), sc.dims, mode, dq)
					if err != nil {
						t.Fatal(err)
					}
					out := graph.MustExecOnce(backend, func(g *graph.Graph) *graph.Node {
						return Dequantize(ConstNodes(g, p), nil)
					})
					got := tensors.MustCopyFlatData[float32](out)
					want := p.Dequantize()
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("element %d: graph %g, reference %g", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestMatMulTransposedGradient: forward and dx equal the plain float32 computation with the
// dequantised weight (GoMLX's own gradient) to float rounding.
func TestMatMulTransposedGradient(t *testing.T) {
	backend := testBackend(t)
	const b, s, in, out = 2, 3, 96, 40
	p, err := Quantize(gaussian(11, out*in), []int{out, in}, NF4, true)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Dequantize()
	x := gaussian(12, b*s*in)
	xs := tensors.FromFlatDataAndDimensions(x, b, s, in)
	wt := tensors.FromFlatDataAndDimensions(w, out, in)
	coef := tensors.FromFlatDataAndDimensions(gaussian(13, b*s*out), b, s, out) // loss = Σ coef·y
	exec := graph.MustNewExec(backend, func(x, w, c *graph.Node) []*graph.Node {
		yq := MatMulTransposed(x, ConstNodes(x.Graph(), p))
		yf := graph.DotGeneral(x, []int{2}, nil, w, []int{1}, nil)
		gq := graph.Gradient(graph.ReduceAllSum(graph.Mul(yq, c)), x)[0]
		gf := graph.Gradient(graph.ReduceAllSum(graph.Mul(yf, c)), x)[0]
		return []*graph.Node{yq, yf, gq, gf}
	})
	res := exec.MustExec(xs, wt, coef)
	for _, pair := range [][2]int{{0, 1}, {2, 3}} {
		a := tensors.MustCopyFlatData[float32](res[pair[0]])
		bb := tensors.MustCopyFlatData[float32](res[pair[1]])
		for i := range a {
			if d := math.Abs(float64(a[i] - bb[i])); d > 1e-4*(1+math.Abs(float64(bb[i]))) {
				t.Fatalf("output %d element %d: quant %g, float32 %g", pair[0], i, a[i], bb[i])
			}
		}
	}
}
