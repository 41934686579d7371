package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
)

// layout says how an operand is stored.
type layout int

const (
	rowMajor   layout = iota // [batch][rows][cols]
	transposed               // [batch][cols][rows]
	padded                   // row-major inside a larger buffer: offset, row stride cols+3, batch gap
	batchInner               // [rows][batch][cols]: batch stride = cols, row stride = batch·cols
)

func (l layout) String() string { return [...]string{"rm", "tr", "pad", "bin"}[l] }

// makeMatrix returns random data and its view for a [batch][rows][cols] operand.
func makeMatrix[T Elem](r *rand.Rand, l layout, batch, rows, cols int, conv func(float32) T) (Matrix[T], []float32) {
	vals := make([]float32, batch*rows*cols) // logical values, [batch][rows][cols]
	for i := range vals {
		vals[i] = float32(r.NormFloat64())
	}
	var m Matrix[T]
	switch l {
	case rowMajor:
		m = Matrix[T]{BatchStride: rows * cols, RowStride: cols, ColStride: 1}
	case transposed:
		m = Matrix[T]{BatchStride: rows * cols, RowStride: 1, ColStride: rows}
	case padded:
		m = Matrix[T]{Offset: 5, BatchStride: rows*(cols+3) + 7, RowStride: cols + 3, ColStride: 1}
	case batchInner:
		m = Matrix[T]{BatchStride: cols, RowStride: batch * cols, ColStride: 1}
	}
	n := m.Offset + max(batch-1, 0)*m.BatchStride + max(rows-1, 0)*m.RowStride + max(cols-1, 0)*m.ColStride + 1
	m.Data = make([]T, n+11)
	for b := range batch {
		for i := range rows {
			for j := range cols {
				v := conv(vals[(b*rows+i)*cols+j])
				m.Data[m.Offset+b*m.BatchStride+i*m.RowStride+j*m.ColStride] = v
				vals[(b*rows+i)*cols+j] = toF32(v)
			}
		}
	}
	return m, vals
}

// tolerance: float32 rounding error bound of a length-k sum of |a|·|b| products.
func closeEnough(got, want, absSum float32, k int) bool {
	tol := 4e-7*float32(k+8)*absSum + 1e-30
	return float32(math.Abs(float64(got-want))) <= tol
}

// refAndAbs returns Reference's result and, per element, Σ_k |a|·|b| (for the tolerance).
func refAndAbs[T Elem](d Dims, a, b Matrix[T]) (ref, abs []float32) {
	ref = make([]float32, d.Batch*d.M*d.N)
	Reference(d, a, b, ref)
	abs = make([]float32, len(ref))
	row := make([]float64, d.K)
	for bi := range d.Batch {
		for i := range d.M {
			for k := range row {
				row[k] = math.Abs(float64(toF32(a.Data[a.Offset+bi*a.BatchStride+i*a.RowStride+k*a.ColStride])))
			}
			for j := range d.N {
				var s float64
				off := b.Offset + bi*b.BatchStride + j*b.ColStride
				for k, v := range row {
					s += v * math.Abs(float64(toF32(b.Data[off+k*b.RowStride])))
				}
				abs[(bi*d.M+i)*d.N+j] = float32(s)
			}
		}
	}
	return ref, abs
}

var testShapes = []Dims{
	{1, 1, 1, 1}, {1, 1, 7, 3}, {1, 5, 1, 9}, {2, 3, 4, 0}, {1, 0, 4, 5}, {3, 1, 2, 1},
	{1, 12, 32, 16}, {1, 13, 33, 17}, {2, 37, 41, 29}, {1, 64, 64, 64}, {1, 100, 3, 300},
	{1, 1, 300, 257}, {2, 3, 129, 70}, {1, 4, 1000, 64}, {1, 2, 77, 513}, // gemv sizes
	{1, 150, 97, 513}, {4, 25, 50, 300}, {1, 300, 520, 31}, {1, 1, 2000, 288}, {2, 145, 230, 260},
}

// layoutsFor: every pair of layouts for small products, two for the large ones.
func layoutsFor(d Dims) [][2]layout {
	if d.Batch*d.M*d.N*d.K > 1<<20 {
		return [][2]layout{{rowMajor, transposed}, {transposed, padded}}
	}
	var ls [][2]layout
	for _, la := range []layout{rowMajor, transposed, padded, batchInner} {
		for _, lb := range []layout{rowMajor, transposed, padded} {
			ls = append(ls, [2]layout{la, lb})
		}
	}
	return ls
}

func TestFloat32(t *testing.T) {
	for _, kernel := range Kernels() {
		for _, d := range testShapes {
			for _, l := range layoutsFor(d) {
				la, lb := l[0], l[1]
				name := fmt.Sprintf("%s/%dx%dx%dx%d/%s_%s", kernel, d.Batch, d.M, d.N, d.K, la, lb)
				t.Run(name, func(t *testing.T) {
					if err := UseKernel(kernel); err != nil {
						t.Fatal(err)
					}
					defer func() { _ = UseKernel(Kernels()[0]) }()
					r := rand.New(rand.NewPCG(uint64(d.M*131+d.N), uint64(d.K*7+int(la)*3+int(lb))))
					ident := func(v float32) float32 { return v }
					a, _ := makeMatrix(r, la, d.Batch, d.M, d.K, ident)
					b, _ := makeMatrix(r, lb, d.Batch, d.K, d.N, ident)
					want, sums := refAndAbs(d, a, b)
					got := make([]float32, len(want))
					for i := range got {
						got[i] = float32(math.NaN()) // every element must be written
					}
					if err := Float32(d, a, b, got); err != nil {
						t.Fatal(err)
					}
					for i := range want {
						if !closeEnough(got[i], want[i], sums[i], d.K) {
							t.Fatalf("element %d: got %g, want %g (|a|·|b| sum %g)", i, got[i], want[i], sums[i])
						}
					}
				})
			}
		}
	}
}

func TestBFloat16(t *testing.T) {
	for _, d := range []Dims{{1, 1, 5, 7}, {2, 13, 33, 17}, {1, 150, 97, 300}, {3, 40, 60, 80}, {1, 2, 600, 288}} {
		for _, lb := range []layout{rowMajor, transposed} {
			t.Run(fmt.Sprintf("%dx%dx%dx%d/%s", d.Batch, d.M, d.N, d.K, lb), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(d.M), uint64(d.N)))
				a, _ := makeMatrix(r, rowMajor, d.Batch, d.M, d.K, bfloat16.FromFloat32)
				b, _ := makeMatrix(r, lb, d.Batch, d.K, d.N, bfloat16.FromFloat32)
				want, sums := refAndAbs(d, a, b)
				got32 := make([]float32, len(want))
				if err := BFloat16ToFloat32(d, a, b, got32); err != nil {
					t.Fatal(err)
				}
				got := make([]bfloat16.BFloat16, len(want))
				if err := BFloat16(d, a, b, got); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if !closeEnough(got32[i], want[i], sums[i], d.K) {
						t.Fatalf("float32 output %d: got %g, want %g", i, got32[i], want[i])
					}
					if got[i] != bfloat16.FromFloat32(got32[i]) {
						t.Fatalf("bfloat16 output %d: got %v, want the truncation of %g", i, got[i], got32[i])
					}
				}
			})
		}
	}
}

// TestDeterministic: the result does not depend on the number of workers.
func TestDeterministic(t *testing.T) {
	defer SetWorkers(0)
	for _, d := range []Dims{{1, 301, 403, 700}, {6, 64, 64, 48}, {1, 3, 5000, 300}} {
		r := rand.New(rand.NewPCG(1, 2))
		ident := func(v float32) float32 { return v }
		a, _ := makeMatrix(r, rowMajor, d.Batch, d.M, d.K, ident)
		b, _ := makeMatrix(r, transposed, d.Batch, d.K, d.N, ident)
		var first []float32
		for _, w := range []int{1, 2, 3, 7} {
			SetWorkers(w)
			c := make([]float32, d.Batch*d.M*d.N)
			if err := Float32(d, a, b, c); err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = c
			} else if !slices.Equal(first, c) {
				t.Fatalf("%+v: %d workers differ from 1 worker", d, w)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	a := RowMajor(make([]float32, 6), 2, 3)
	b := RowMajor(make([]float32, 12), 3, 4)
	c := make([]float32, 8)
	if err := Float32(Dims{1, 2, 4, 3}, a, b, c); err != nil {
		t.Fatalf("valid call: %v", err)
	}
	for name, call := range map[string]func() error{
		"short output":   func() error { return Float32(Dims{1, 2, 4, 3}, a, b, c[:7]) },
		"A out of range": func() error { return Float32(Dims{1, 3, 4, 3}, a, b, make([]float32, 12)) },
		"B out of range": func() error { return Float32(Dims{1, 2, 5, 3}, a, b, make([]float32, 10)) },
		"negative dim":   func() error { return Float32(Dims{1, -2, 4, 3}, a, b, c) },
		"negative stride": func() error {
			return Float32(Dims{1, 2, 4, 3}, Matrix[float32]{Data: a.Data, RowStride: -3, ColStride: 1}, b, c)
		},
		"unknown kernel": func() error { return UseKernel("nope") },
	} {
		if call() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestConsistent: every element is summed the same way whatever the path (the direct loop or
// the blocked kernels), the micro-kernel, the number of rows and the number of workers: a
// row's result is bit-identical alone or inside a larger product. (Graphs rely on it: a
// KV-cache decoding step must give the logits of a full recomputation.)
func TestConsistent(t *testing.T) {
	defer SetWorkers(0)
	defer func() { _ = UseKernel(Kernels()[0]) }()
	r := rand.New(rand.NewPCG(5, 6))
	ident := func(v float32) float32 { return v }
	for _, k := range []int{3, 64, 255, 256, 300, 700} {
		const m, n = 37, 70
		d := Dims{1, m, n, k}
		a, _ := makeMatrix(r, rowMajor, 1, m, k, ident)
		b, _ := makeMatrix(r, transposed, 1, k, n, ident)
		var full []float32
		for _, kernel := range Kernels() {
			if err := UseKernel(kernel); err != nil {
				t.Fatal(err)
			}
			c := make([]float32, m*n)
			if err := Float32(d, a, b, c); err != nil {
				t.Fatal(err)
			}
			if full == nil {
				full = c
			} else if !slices.Equal(full, c) {
				t.Fatalf("k=%d: micro-kernel %s differs from %s", k, kernel, Kernels()[0])
			}
			for _, i := range []int{0, 17, m - 1} { // one row alone (the direct loop for small k)
				ai := Matrix[float32]{Data: a.Data, Offset: i * a.RowStride, RowStride: a.RowStride, ColStride: 1}
				row := make([]float32, n)
				if err := Float32(Dims{1, 1, n, k}, ai, b, row); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(row, full[i*n:(i+1)*n]) {
					t.Fatalf("k=%d, kernel %s: row %d alone differs from the full product", k, kernel, i)
				}
			}
			for _, j := range []int{0, 33} { // one column alone
				bj := Matrix[float32]{Data: b.Data, Offset: j * b.ColStride, RowStride: 1, ColStride: b.ColStride}
				col := make([]float32, m)
				if err := Float32(Dims{1, m, 1, k}, a, bj, col); err != nil {
					t.Fatal(err)
				}
				for i := range m {
					if col[i] != full[i*n+j] {
						t.Fatalf("k=%d, kernel %s: column %d alone differs at row %d", k, kernel, j, i)
					}
				}
			}
		}
	}
}

// TestExactShortProducts: products with K < exactK are the correctly rounded exact sums
// (float64 here), so they do not depend on the order of k.
func TestExactShortProducts(t *testing.T) {
	defer func() { _ = UseKernel(Kernels()[0]) }()
	r := rand.New(rand.NewPCG(8, 9))
	ident := func(v float32) float32 { return v }
	for _, kernel := range Kernels() {
		if err := UseKernel(kernel); err != nil {
			t.Fatal(err)
		}
		for _, d := range []Dims{{1, 33, 70, 64}, {2, 5, 40, 172}, {1, 1, 300, 255}, {1, 3, 4, 8}} {
			a, _ := makeMatrix(r, rowMajor, d.Batch, d.M, d.K, ident)
			b, _ := makeMatrix(r, transposed, d.Batch, d.K, d.N, ident)
			want := make([]float32, d.Batch*d.M*d.N)
			Reference(d, a, b, want)
			got := make([]float32, len(want))
			if err := Float32(d, a, b, got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s %+v: differs from the float64 reference", kernel, d)
			}
		}
	}
}

// TestPackTransposed: the register-transpose packing of B = Wᵀ equals the plain gather.
func TestPackTransposed(t *testing.T) {
	for _, c := range []struct{ k, nr, ld int }{{16, 32, 16}, {48, 32, 50}, {290, 32, 300}, {33, 16, 40}} {
		src := randSlice(c.nr*c.ld + 7)
		got := make([]float32, c.k*c.nr)
		k0 := packTransposed(got, src, 3, c.ld, c.k, c.nr)
		for col := 0; col < c.nr && k0 < c.k; col++ {
			f32src(src).gather(got[k0*c.nr+col:], c.nr, 3+col*c.ld+k0, 1, c.k-k0)
		}
		for p := range c.k {
			for col := range c.nr {
				if want := src[3+col*c.ld+p]; got[p*c.nr+col] != want {
					t.Fatalf("%+v: k %d col %d: %g, want %g (k0 %d)", c, p, col, got[p*c.nr+col], want, k0)
				}
			}
		}
	}
}
