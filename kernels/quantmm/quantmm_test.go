package quantmm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/kernels/gemm"
)

func randVec(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// quantised returns a random [out, in] weight quantised by gomlx_ext/quant, as a Weight.
func quantised(t testing.TB, out, in int, mode quant.Mode, dq bool) (*Weight, *quant.Packed) {
	t.Helper()
	p, err := quant.Quantize(randVec(uint64(out*7+in), out*in), []int{out, in}, mode, dq)
	if err != nil {
		t.Fatal(err)
	}
	w := &Weight{Mode: NF4, Out: out, In: in, Codes: p.Codes, Scales: p.BlockAbsmax()}
	if mode == quant.Int8 {
		w.Mode = Int8
	}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	return w, p
}

type qcase struct {
	name string
	mode quant.Mode
	dq   bool
}

var qcases = []qcase{{"nf4", quant.NF4, false}, {"nf4+dq", quant.NF4, true}, {"int8", quant.Int8, false}}

// TestDecodeMatchesQuant: the decoder is bit-identical to gomlx_ext/quant's Dequantize, for
// contiguous runs starting anywhere and for strided reads.
func TestDecodeMatchesQuant(t *testing.T) {
	for _, c := range qcases {
		for _, dims := range [][2]int{{1, 1}, {3, 7}, {5, 64}, {13, 77}, {40, 288}} {
			t.Run(fmt.Sprintf("%s/%dx%d", c.name, dims[0], dims[1]), func(t *testing.T) {
				w, p := quantised(t, dims[0], dims[1], c.mode, c.dq)
				want := p.Dequantize()
				if got := w.Dequantize(); !slices.Equal(got, want) {
					t.Fatal("Dequantize differs from quant.Packed.Dequantize")
				}
				n := len(want)
				for _, off := range []int{0, 1, 63, 64, 65, n / 2} {
					for _, stride := range []int{1, 2, 3} {
						cnt := (n - off + stride - 1) / stride
						if off >= n || cnt <= 0 {
							continue
						}
						dst := make([]float32, cnt*2)
						w.Decode(dst, 2, off, stride, cnt)
						for i := range cnt {
							if dst[2*i] != want[off+i*stride] {
								t.Fatalf("Decode(off %d, stride %d) element %d: %g, want %g", off, stride, i, dst[2*i], want[off+i*stride])
							}
						}
					}
				}
			})
		}
	}
}

func TestMatMulT(t *testing.T) {
	for _, c := range qcases {
		for _, s := range [][3]int{{1, 40, 288}, {3, 33, 70}, {17, 65, 129}, {130, 97, 300}, {1, 1, 1}, {5, 2, 3}} {
			m, out, in := s[0], s[1], s[2]
			t.Run(fmt.Sprintf("%s/m%d_%dx%d", c.name, m, out, in), func(t *testing.T) {
				w, _ := quantised(t, out, in, c.mode, c.dq)
				x := randVec(uint64(m), m*in)
				want := Reference(x, m, w)
				got := make([]float32, m*out)
				if err := MatMulT(got, x, m, w); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*math.Sqrt(float64(in))*4 {
						t.Fatalf("element %d: got %g, want %g", i, got[i], want[i])
					}
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	w, _ := quantised(t, 4, 8, quant.NF4, false)
	if MatMulT(make([]float32, 4), make([]float32, 7), 1, w) == nil {
		t.Error("short x: no error")
	}
	bad := *w
	bad.Codes = bad.Codes[:3]
	if MatMulT(make([]float32, 4), make([]float32, 8), 1, &bad) == nil {
		t.Error("short codes: no error")
	}
	bad = *w
	bad.Mode = 9
	if bad.Validate() == nil {
		t.Error("bad mode: no error")
	}
}

// BenchmarkNF4: the fused product against dequantise-then-GEMM, for a token-by-token decode
// (m = 1) and a training micro-batch (m = 2048), on stories15M's MLP and classifier shapes.
func BenchmarkNF4(b *testing.B) {
	for _, s := range [][3]int{{1, 768, 288}, {1, 32000, 288}, {2048, 768, 288}} {
		m, out, in := s[0], s[1], s[2]
		w, _ := quantised(b, out, in, quant.NF4, true)
		x := randVec(1, m*in)
		y := make([]float32, m*out)
		flops := 2 * float64(m) * float64(out) * float64(in)
		b.Run(fmt.Sprintf("m%d_%dx%d/fused", m, out, in), func(b *testing.B) {
			for range b.N {
				if err := MatMulT(y, x, m, w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("m%d_%dx%d/dequantize+gemm", m, out, in), func(b *testing.B) {
			for range b.N {
				wf := w.Dequantize()
				if err := gemm.Float32(gemm.Dims{Batch: 1, M: m, N: out, K: in}, gemm.RowMajor(x, m, in), gemm.Transposed(wf, in, out), y); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
