package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
)

// The random-shape equivalence tests: seeded draws of product sizes and operand geometries,
// checked against Reference for every micro-kernel of this CPU (only "go" with the purego tag).
// A failure names the case number, the sizes and both geometries, so it is reproducible from
// the seed alone.
//
// Tolerance (closeEnough, as the fixed-shape tests): |got − want| ≤ 4e-7·(K+8)·Σ_k |a|·|b|
// per output element, i.e. a few float32 ulps per term of the sum of absolute products.

const (
	randomCases     = 50
	randomMaxBatch  = 3
	randomMaxMN     = 300
	randomMaxK      = 600
	randomWorkBound = 12 << 20 // Batch·M·N·K above this is redrawn (keeps Reference fast)
)

// Sizes next to the blocking boundaries: MR/NR multiples (2, 4, 8, 16, 32), the task block of
// 36 strips, the 16-step sub-blocks and the 256-deep k chunks (kcMax, exactK).
var (
	edgeMN = []int{2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 71, 72, 73, 143, 144, 145, 257}
	edgeK  = []int{2, 15, 16, 17, 31, 255, 256, 257, 511, 512, 513}
)

// randDim draws a size in [1, hi]: 1 (15%), a blocking edge (20%), uniform (30%), else
// log-uniform, so small and odd sizes are common and large ones occur.
func randDim(r *rand.Rand, hi int, edges []int) int {
	switch p := r.Float64(); {
	case p < 0.15:
		return 1
	case p < 0.35:
		if e := edges[r.IntN(len(edges))]; e <= hi {
			return e
		}
	case p < 0.65:
		return 1 + r.IntN(hi)
	}
	return min(hi, max(1, int(math.Exp(r.Float64()*math.Log(float64(hi+1))))))
}

// randDims draws one product's sizes, redrawing any above randomWorkBound.
func randDims(r *rand.Rand) Dims {
	for {
		d := Dims{
			Batch: 1 + r.IntN(randomMaxBatch),
			M:     randDim(r, randomMaxMN, edgeMN),
			N:     randDim(r, randomMaxMN, edgeMN),
			K:     randDim(r, randomMaxK, edgeK),
		}
		if d.Batch*d.M*d.N*d.K <= randomWorkBound {
			return d
		}
	}
}

// randomOperand returns a [batch][rows][cols] operand in a random geometry: the three axes
// stored in any order (so transposed and batch-inner layouts, and the batch axis in any
// position), sometimes an innermost stride of 2, padding after any axis, an offset, and
// sometimes a batch stride of 0 (one matrix shared by every batch). Storage the view does not
// reach holds NaN, so a kernel reading outside its view fails the comparison.
func randomOperand[T Elem](r *rand.Rand, batch, rows, cols int, conv func(float32) T) (Matrix[T], string) {
	dims := [3]int{batch, rows, cols}
	order := [3]int{0, 1, 2} // outermost first
	r.Shuffle(3, func(i, j int) { order[i], order[j] = order[j], order[i] })
	var st [3]int
	step := 1
	if r.IntN(8) == 0 {
		step = 2
	}
	for i := 2; i >= 0; i-- {
		ax := order[i]
		st[ax] = step
		step *= dims[ax]
		if r.IntN(4) == 0 {
			step += 1 + r.IntN(5)
		}
	}
	if batch > 1 && r.IntN(8) == 0 {
		st[0] = 0
	}
	m := Matrix[T]{BatchStride: st[0], RowStride: st[1], ColStride: st[2]}
	if r.IntN(3) == 0 {
		m.Offset = 1 + r.IntN(8)
	}
	n := m.Offset + r.IntN(4)
	if batch > 0 && rows > 0 && cols > 0 {
		n += (batch-1)*st[0] + (rows-1)*st[1] + (cols-1)*st[2] + 1
	}
	m.Data = make([]T, n)
	nan := conv(float32(math.NaN()))
	for i := range m.Data {
		m.Data[i] = nan
	}
	for b := range batch {
		for i := range rows {
			for j := range cols {
				m.Data[m.Offset+b*st[0]+i*st[1]+j*st[2]] = conv(float32(r.NormFloat64()))
			}
		}
	}
	axes := "bij"
	desc := fmt.Sprintf("order %c%c%c offset %d strides b%d/i%d/j%d", axes[order[0]], axes[order[1]], axes[order[2]],
		m.Offset, st[0], st[1], st[2])
	return m, desc
}

// checkClose compares got with Reference's want element by element under closeEnough.
func checkClose(t *testing.T, what string, d Dims, got, want, sums []float32) {
	t.Helper()
	for i := range want {
		if !closeEnough(got[i], want[i], sums[i], d.K) {
			t.Fatalf("%s: element %d of %+v: got %g, want %g (Σ|a|·|b| %g)", what, i, d, got[i], want[i], sums[i])
		}
	}
}

// nanFilled returns n NaNs: every output element must be written.
func nanFilled(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

// TestFloat32Random: randomCases seeded random products (batch ≤ 3, M, N ≤ 300, K ≤ 600, 1s
// and blocking edges common) with random operand geometries, on every micro-kernel and a
// random worker count, against Reference.
func TestFloat32Random(t *testing.T) {
	defer SetWorkers(0)
	defer func() { _ = UseKernel(Kernels()[0]) }()
	r := rand.New(rand.NewPCG(20261201, 1))
	ident := func(v float32) float32 { return v }
	for c := range randomCases {
		d := randDims(r)
		a, la := randomOperand(r, d.Batch, d.M, d.K, ident)
		b, lb := randomOperand(r, d.Batch, d.K, d.N, ident)
		workers := 1 + r.IntN(3)
		want, sums := refAndAbs(d, a, b)
		t.Run(fmt.Sprintf("%02d/%dx%dx%dx%d", c, d.Batch, d.M, d.N, d.K), func(t *testing.T) {
			SetWorkers(workers)
			for _, kernel := range Kernels() {
				if err := UseKernel(kernel); err != nil {
					t.Fatal(err)
				}
				got := nanFilled(len(want))
				if err := Float32(d, a, b, got); err != nil {
					t.Fatalf("kernel %s, A %s, B %s: %v", kernel, la, lb, err)
				}
				checkClose(t, fmt.Sprintf("kernel %s, %d workers, A %s, B %s", kernel, workers, la, lb), d, got, want, sums)
			}
		})
	}
}

// TestBFloat16Random: the bfloat16-input path (float32 accumulation) on seeded random products
// and geometries, every micro-kernel: BFloat16ToFloat32 against Reference on the same
// bfloat16 values, and BFloat16 equal to the bfloat16 rounding (truncation) of that result.
func TestBFloat16Random(t *testing.T) {
	defer func() { _ = UseKernel(Kernels()[0]) }()
	r := rand.New(rand.NewPCG(20261201, 2))
	for c := range randomCases {
		d := randDims(r)
		a, la := randomOperand(r, d.Batch, d.M, d.K, bfloat16.FromFloat32)
		b, lb := randomOperand(r, d.Batch, d.K, d.N, bfloat16.FromFloat32)
		want, sums := refAndAbs(d, a, b)
		t.Run(fmt.Sprintf("%02d/%dx%dx%dx%d", c, d.Batch, d.M, d.N, d.K), func(t *testing.T) {
			for _, kernel := range Kernels() {
				if err := UseKernel(kernel); err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("kernel %s, A %s, B %s", kernel, la, lb)
				got32 := nanFilled(len(want))
				if err := BFloat16ToFloat32(d, a, b, got32); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				checkClose(t, what, d, got32, want, sums)
				got := make([]bfloat16.BFloat16, len(want))
				if err := BFloat16(d, a, b, got); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				for i := range got {
					if w := bfloat16.FromFloat32(got32[i]); got[i] != w {
						t.Fatalf("%s: bfloat16 output %d is %v, want %v (the rounding of %g)", what, i, got[i], w, got32[i])
					}
				}
			}
		})
	}
}
