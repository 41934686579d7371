package gemm

import (
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/kernels/internal/parallel"
)

// Elem is an input element type: float32, or bfloat16 (widened to float32 when packed).
type Elem interface {
	float32 | bfloat16.BFloat16
}

// Matrix is a strided view of a batch of matrices: element (b, i, j) is
// Data[Offset + b·BatchStride + i·RowStride + j·ColStride]. Strides are ≥ 0 (in elements).
type Matrix[T Elem] struct {
	Data                                      []T
	Offset, BatchStride, RowStride, ColStride int
}

// RowMajor is the view of contiguous row-major matrices [batch][rows][cols].
func RowMajor[T Elem](data []T, rows, cols int) Matrix[T] {
	return Matrix[T]{Data: data, BatchStride: rows * cols, RowStride: cols, ColStride: 1}
}

// Transposed is the view of contiguous row-major matrices [batch][cols][rows] read as their
// transposes [rows][cols].
func Transposed[T Elem](data []T, rows, cols int) Matrix[T] {
	return Matrix[T]{Data: data, BatchStride: rows * cols, RowStride: 1, ColStride: rows}
}

// Dims are the sizes of a batched product C[b] = A[b]·B[b], A [M, K], B [K, N], C [M, N].
type Dims struct{ Batch, M, N, K int }

// Flops is the number of floating point operations (2·Batch·M·N·K).
func (d Dims) Flops() float64 {
	return 2 * float64(d.Batch) * float64(d.M) * float64(d.N) * float64(d.K)
}

// Float32 computes C[b] = A[b]·B[b] for every b < d.Batch into c, contiguous [Batch, M, N].
// Every element of C is summed over k in one fixed order that depends only on d (never on the
// number of threads), so results are bit-reproducible.
func Float32(d Dims, a, b Matrix[float32], c []float32) error {
	if err := check(d, a, b, len(c)); err != nil {
		return err
	}
	run(d, view{src: f32src(a.Data), m: geom(a)}, view{src: f32src(b.Data), m: geom(b)}, c)
	return nil
}

// BFloat16 computes C[b] = A[b]·B[b] for bfloat16 operands, accumulating in float32 and
// rounding the result to bfloat16 as simplego does (truncation), into c contiguous [Batch, M, N].
func BFloat16(d Dims, a, b Matrix[bfloat16.BFloat16], c []bfloat16.BFloat16) error {
	if err := check(d, a, b, len(c)); err != nil {
		return err
	}
	tmp := getBuf(len(c))
	run(d, view{src: bf16src(a.Data), m: geom(a)}, view{src: bf16src(b.Data), m: geom(b)}, *tmp)
	for i, v := range (*tmp)[:len(c)] {
		c[i] = bfloat16.FromFloat32(v)
	}
	putBuf(tmp)
	return nil
}

// BFloat16ToFloat32 is BFloat16 with a float32 result (no rounding of the output).
func BFloat16ToFloat32(d Dims, a, b Matrix[bfloat16.BFloat16], c []float32) error {
	if err := check(d, a, b, len(c)); err != nil {
		return err
	}
	run(d, view{src: bf16src(a.Data), m: geom(a)}, view{src: bf16src(b.Data), m: geom(b)}, c)
	return nil
}

// Decoder yields the float32 elements of an operand stored in another form (e.g. quantised
// weights: kernels/quantmm), decoded while the operand is packed, so no float32 copy of the
// whole operand is made outside the packing buffers.
type Decoder interface {
	// Len is the number of elements.
	Len() int
	// Decode sets dst[i·dstStride] = element off + i·srcStride, for i < n.
	Decode(dst []float32, dstStride, off, srcStride, n int)
}

// DecodedMatrix is a strided view (see Matrix) of a Decoder's elements.
type DecodedMatrix struct {
	Src                                       Decoder
	Offset, BatchStride, RowStride, ColStride int
}

// Float32Decoded is Float32 with B decoded on the fly: C[b] = A[b]·B[b].
func Float32Decoded(d Dims, a Matrix[float32], b DecodedMatrix, c []float32) error {
	bm := Matrix[float32]{Offset: b.Offset, BatchStride: b.BatchStride, RowStride: b.RowStride, ColStride: b.ColStride}
	if b.Src == nil {
		return errors.New("gemm: nil Decoder")
	}
	if err := checkOut(d, len(c)); err != nil {
		return err
	}
	if err := checkView("A", a, d.Batch, d.M, d.K); err != nil {
		return err
	}
	if err := checkViewLen("B", b.Src.Len(), geom(bm), d.Batch, d.K, d.N); err != nil {
		return err
	}
	run(d, view{src: f32src(a.Data), m: geom(a)}, view{src: decSrc{b.Src}, m: geom(bm)}, c)
	return nil
}

// decSrc adapts a Decoder to the packing's source.
type decSrc struct{ d Decoder }

func (s decSrc) gather(dst []float32, dstStride, off, srcStride, n int) {
	if n > 0 {
		s.d.Decode(dst, dstStride, off, srcStride, n)
	}
}

var errShortData = errors.New("gemm: view reaches past its data")

func check[T Elem](d Dims, a, b Matrix[T], lenC int) error {
	if err := checkOut(d, lenC); err != nil {
		return err
	}
	if err := checkView("A", a, d.Batch, d.M, d.K); err != nil {
		return err
	}
	return checkView("B", b, d.Batch, d.K, d.N)
}

func checkOut(d Dims, lenC int) error {
	if d.Batch < 0 || d.M < 0 || d.N < 0 || d.K < 0 {
		return errors.Errorf("gemm: negative dimension in %+v", d)
	}
	if lenC < d.Batch*d.M*d.N {
		return errors.Errorf("gemm: output has %d elements, %+v needs %d", lenC, d, d.Batch*d.M*d.N)
	}
	return nil
}

func checkView[T Elem](name string, m Matrix[T], batch, rows, cols int) error {
	if m.Offset < 0 || m.BatchStride < 0 || m.RowStride < 0 || m.ColStride < 0 {
		return errors.Errorf("gemm: %s has a negative offset or stride (%d, %d, %d, %d)", name,
			m.Offset, m.BatchStride, m.RowStride, m.ColStride)
	}
	return checkViewLen(name, len(m.Data), geom(m), batch, rows, cols)
}

func checkViewLen(name string, n int, m strides, batch, rows, cols int) error {
	if batch == 0 || rows == 0 || cols == 0 {
		return nil
	}
	last := m.at(batch-1, rows-1, cols-1)
	if last >= n {
		return errors.WithMessagef(errShortData, "%s view [%d, %d, %d] (offset %d, strides %d, %d, %d) reaches element %d of %d",
			name, batch, rows, cols, m.off, m.bs, m.rs, m.cs, last, n)
	}
	return nil
}

// strides of a view, without its data.
type strides struct{ off, bs, rs, cs int }

func geom[T Elem](m Matrix[T]) strides {
	return strides{off: m.Offset, bs: m.BatchStride, rs: m.RowStride, cs: m.ColStride}
}

func (s strides) at(b, i, j int) int { return s.off + b*s.bs + i*s.rs + j*s.cs }

// view is an operand: its element source and geometry.
type view struct {
	src source
	m   strides
}

// microKernel computes one MR×NR tile of C for a kc-long block of packed operands; see
// kernel_amd64.s for the contract.
type microKernel struct {
	name   string
	mr, nr int
	fn     func(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)
	exact  func(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int) // for K < exactK
}

var (
	// kernels lists the micro-kernels this CPU runs, best first; the portable one is last.
	kernels = append(archKernels(), microKernel{name: "go", mr: 4, nr: 8, fn: goKernel, exact: goKernelExact})
	active  atomic.Pointer[microKernel]
)

func init() { active.Store(&kernels[0]) }

// Kernels returns the names of the micro-kernels available on this CPU, best (the default) first.
func Kernels() []string {
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	return names
}

// Kernel returns the name of the micro-kernel in use.
func Kernel() string { return active.Load().name }

// UseKernel selects a micro-kernel by name (see Kernels), for tests and benchmarks.
func UseKernel(name string) error {
	for i := range kernels {
		if kernels[i].name == name {
			active.Store(&kernels[i])
			return nil
		}
	}
	return errors.Errorf("gemm: no micro-kernel %q on this CPU (have %v)", name, Kernels())
}

// SetWorkers sets how many goroutines one product (and every other kernel of kernels/) uses;
// n ≤ 0 means runtime.GOMAXPROCS(0), the default. Results do not depend on it.
func SetWorkers(n int) { parallel.SetWorkers(n) }

// Blocking. kcMax bounds a packed block's depth (kc·NR floats of B̃ stay in L1), the task
// blocks are mcStrips·MR rows by ncStrips·NR columns of C.
const (
	kcMax     = 256
	mcStrips  = 36
	ncStrips  = 16
	smallWork = 1 << 12 // M·N·K below this: the direct loop
	// exactK: products with a shorter contracting axis are summed exactly (float64, rounded
	// once): their result does not depend on the order of k.
	exactK = 256
)

// run computes c = a·b (float32 accumulation) for checked operands.
func run(d Dims, a, b view, c []float32) {
	if d.Batch == 0 || d.M == 0 || d.N == 0 {
		return
	}
	c = c[:d.Batch*d.M*d.N]
	if d.K == 0 {
		clear(c)
		return
	}
	if d.M*d.N*d.K < smallWork {
		direct(d, a, b, c)
		return
	}
	blocked(d, a, b, c, active.Load())
}

// kcFor is the depth of the k blocks of a product with depth k: at most kcMax, as even as
// possible. It depends on k only, so every element of every product with that depth is summed
// in the same order.
func kcFor(k int) int {
	numK := ceilDiv(k, kcMax)
	return ceilDiv(k, numK)
}

// direct computes small products with the micro-kernels' arithmetic (see goKernel) in plain
// Go, on one goroutine.
func direct(d Dims, a, b view, c []float32) {
	row := make([]float32, d.K)
	col := make([]float32, d.K)
	kc := kcFor(d.K)
	for bi := range d.Batch {
		for i := range d.M {
			a.src.gather(row, 1, a.m.at(bi, i, 0), a.m.cs, d.K)
			for j := range d.N {
				b.src.gather(col, 1, b.m.at(bi, 0, j), b.m.rs, d.K)
				if d.K < exactK {
					var e float64
					for k, v := range row {
						e = math.FMA(float64(v), float64(col[k]), e)
					}
					c[(bi*d.M+i)*d.N+j] = float32(e)
					continue
				}
				var s float32
				for p0 := 0; p0 < d.K; p0 += kc {
					var total float32
					p1 := min(d.K, p0+kc)
					for s0 := p0; s0 < p1; s0 += subBlock {
						var sets [2]float32
						for k := s0; k < min(p1, s0+subBlock); k++ {
							sets[(k-s0)&1] = fma32(row[k], col[k], sets[(k-s0)&1])
						}
						total += sets[0] + sets[1]
					}
					if p0 == 0 {
						s = total
					} else {
						s += total
					}
				}
				c[(bi*d.M+i)*d.N+j] = s
			}
		}
	}
}

// fma32 is the float32 fused multiply-add x·y + z. The float64 product of two float32 values
// is exact, so the only difference from a float32 FMA instruction is a second rounding in the
// rare case where the float64 sum lies exactly halfway between two float32 values.
func fma32(x, y, z float32) float32 { return float32(math.FMA(float64(x), float64(y), float64(z))) }

// blocked is the packed, tiled, parallel product.
func blocked(d Dims, a, b view, c []float32, mk *microKernel) {
	mr, nr := mk.mr, mk.nr
	kernel := mk.fn
	if d.K < exactK {
		kernel = mk.exact
	}
	mStrips, nStrips := ceilDiv(d.M, mr), ceilDiv(d.N, nr)
	aStrip, bStrip := d.K*mr, d.K*nr // packed floats per strip
	// A float32 A with contiguous rows is read in place; only its last, partial strip (if any)
	// is packed (zero-padded). Otherwise every strip of A is packed.
	af, direct := a.src.(f32src)
	direct = direct && a.m.cs == 1
	packedStrips := mStrips
	if direct {
		packedStrips = 0
		if d.M%mr != 0 {
			packedStrips = 1
		}
	}
	pa := getBuf(d.Batch * packedStrips * aStrip)
	pb := getBuf(d.Batch * nStrips * bStrip)
	packedA, packedB := *pa, *pb
	// aStripAt returns where strip is of batch bi starts, and its strides.
	aStripAt := func(bi, is, p0 int) (p *float32, aRow, aK int) {
		if direct && (is+1)*mr <= d.M {
			return &af[a.m.at(bi, is*mr, p0)], a.m.rs, 1
		}
		ps := is
		if direct {
			ps = 0
		}
		return &packedA[(bi*packedStrips+ps)*aStrip+p0*mr], 1, mr
	}

	// Phase 1: pack B (all of K) and the strips of A that need it.
	numA := d.Batch * packedStrips
	parallel.For(numA+d.Batch*nStrips, 4, func(t int) {
		if t < numA {
			bi, s := t/packedStrips, t%packedStrips
			if direct {
				s = mStrips - 1
			}
			packA(a, bi, s*mr, min(mr, d.M-s*mr), d.K, mr, packedA[t*aStrip:(t+1)*aStrip])
			return
		}
		t -= numA
		bi, s := t/nStrips, t%nStrips
		packB(b, bi, s*nr, min(nr, d.N-s*nr), d.K, nr, packedB[t*bStrip:(t+1)*bStrip])
	})

	// Phase 2: tasks of mcStrips×ncStrips tiles; each sums k in fixed kc blocks.
	mBlocks, nBlocks := ceilDiv(mStrips, mcStrips), ceilDiv(nStrips, ncStrips)
	kc := kcFor(d.K)
	perBatch := mBlocks * nBlocks
	parallel.For(d.Batch*perBatch, 1, func(t int) {
		bi, r := t/perBatch, t%perBatch
		mb, nb := r/nBlocks, r%nBlocks
		var edge [32 * 32]float32
		cb := c[bi*d.M*d.N : (bi+1)*d.M*d.N]
		s0, s1 := mb*mcStrips, min(mStrips, (mb+1)*mcStrips)
		t0, t1 := nb*ncStrips, min(nStrips, (nb+1)*ncStrips)
		for p0 := 0; p0 < d.K; p0 += kc {
			kk := min(kc, d.K-p0)
			acc := p0 > 0
			for js := t0; js < t1; js++ {
				bp := &packedB[(bi*nStrips+js)*bStrip+p0*nr]
				j0 := js * nr
				cols := min(nr, d.N-j0)
				for is := s0; is < s1; is++ {
					ap, aRow, aK := aStripAt(bi, is, p0)
					i0 := is * mr
					rows := min(mr, d.M-i0)
					if rows == mr && cols == nr {
						kernel(kk, ap, bp, &cb[i0*d.N+j0], d.N, acc, aRow, aK)
						continue
					}
					kernel(kk, ap, bp, &edge[0], nr, false, aRow, aK)
					for i := range rows {
						dst := cb[(i0+i)*d.N+j0 : (i0+i)*d.N+j0+cols]
						src := edge[i*nr : i*nr+cols]
						if acc {
							for j, v := range src {
								dst[j] += v
							}
						} else {
							copy(dst, src)
						}
					}
				}
			}
		}
	})
	putBuf(pa)
	putBuf(pb)
}

// packA writes rows [i0, i0+rows) of A[bi] (all K) as [K][mr], zero-padding missing rows.
func packA(a view, bi, i0, rows, k, mr int, dst []float32) {
	if rows < mr {
		clear(dst)
	}
	if a.m.cs <= a.m.rs || rows == 1 {
		for r := range rows {
			a.src.gather(dst[r:], mr, a.m.at(bi, i0+r, 0), a.m.cs, k)
		}
		return
	}
	for p := range k {
		a.src.gather(dst[p*mr:], 1, a.m.at(bi, i0, p), a.m.rs, rows)
	}
}

// packB writes columns [j0, j0+cols) of B[bi] (all K) as [K][nr], zero-padding missing columns.
func packB(b view, bi, j0, cols, k, nr int, dst []float32) {
	if cols < nr {
		clear(dst)
	}
	if b.m.cs <= b.m.rs && cols > 1 {
		for p := range k {
			b.src.gather(dst[p*nr:], 1, b.m.at(bi, p, j0), b.m.cs, cols)
		}
		return
	}
	k0 := 0
	if f, ok := b.src.(f32src); ok && b.m.rs == 1 && cols == nr {
		k0 = packTransposed(dst, f, b.m.at(bi, 0, j0), b.m.cs, k, nr)
	}
	for c := 0; c < cols && k0 < k; c++ {
		b.src.gather(dst[k0*nr+c:], nr, b.m.at(bi, k0, j0+c), b.m.rs, k-k0)
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func unsafeSlice(p *float32, n int) []float32 { return unsafe.Slice(p, n) }

// bufPool recycles packing and scratch buffers.
var bufPool sync.Pool

func getBuf(n int) *[]float32 {
	if p, ok := bufPool.Get().(*[]float32); ok {
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
	}
	s := make([]float32, n)
	return &s
}

func putBuf(p *[]float32) { bufPool.Put(p) }
