package backend

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/kernels/gemm"
)

// routeDot routes float32 and bfloat16 DotGenerals of at least options.dotMinMACs
// multiply-adds to kernels/gemm. args: lhsContractingAxes, lhsBatchAxes, rhsContractingAxes,
// rhsBatchAxes.
func routeDot(o options, n *node, args []any) kernel {
	lc, lb := args[0].([]int), args[1].([]int)
	rc, rb := args[2].([]int), args[3].([]int)
	k := newDotKernel(n.inputs[0].shape, lc, lb, n.inputs[1].shape, rc, rb)
	if k == nil || k.dims.Batch*k.dims.M*k.dims.N*k.dims.K < o.dotMinMACs {
		return nil
	}
	if q := matchNF4(n.inputs[1]); q != nil && k.dtype == dtypes.Float32 && k.b.strided {
		// W is decoded from NF4 codes in the graph: decode it inside the GEMM instead.
		n.inputs = []*value{n.inputs[0], q.codes, q.scales}
		return &quantDotKernel{dotKernel: k, out: q.out, in: q.in}
	}
	return k
}

// Dot records backends.StandardOps.Dot as the DotGeneral it stands for (as simplego does).
func (b *Builder) Dot(lhs, rhs backends.Op) (backends.Op, error) {
	vs, err := b.values([]backends.Op{lhs, rhs})
	if err != nil {
		return nil, errors.WithMessage(err, "Dot")
	}
	switch l, r := vs[0].shape.Rank(), vs[1].shape.Rank(); {
	case l == 1 && r == 1:
		return b.DotGeneral(lhs, []int{0}, nil, rhs, []int{0}, nil)
	case l == 2 && (r == 1 || r == 2):
		return b.DotGeneral(lhs, []int{1}, nil, rhs, []int{0}, nil)
	}
	return nil, errors.Errorf("Dot operands have invalid ranks: lhs=%s, rhs=%s", vs[0].shape, vs[1].shape)
}

// operandPlan says how the kernel reads one operand as a batch of [rows, cols] matrices:
// through strides when its axes merge, or after gathering it into that layout.
type operandPlan struct {
	dims       []int // operand dimensions
	perm       []int // batch axes, row axes, column axes: the gather order (when !strided)
	strided    bool
	bs, rs, cs int // strides (when strided)
}

// dotKernel computes one DotGeneral with kernels/gemm: C[b] = A[b]·B[b] where A is lhs as
// [batch, lhsFree, contracting] and B is rhs as [batch, contracting, rhsFree].
type dotKernel struct {
	dtype dtypes.DType
	dims  gemm.Dims
	a, b  operandPlan
}

func (k *dotKernel) name() string { return "gemm" }

// newDotKernel returns nil for products the kernel does not take (dtype).
func newDotKernel(lhs shapes.Shape, lc, lb []int, rhs shapes.Shape, rc, rb []int) *dotKernel {
	if lhs.DType != rhs.DType || (lhs.DType != dtypes.Float32 && lhs.DType != dtypes.BFloat16) {
		return nil
	}
	lc, lb = normAxes(lc, lhs.Rank()), normAxes(lb, lhs.Rank())
	rc, rb = normAxes(rc, rhs.Rank()), normAxes(rb, rhs.Rank())
	lf, rf := freeAxes(lhs.Rank(), lc, lb), freeAxes(rhs.Rank(), rc, rb)
	k := &dotKernel{dtype: lhs.DType}
	k.dims = gemm.Dims{Batch: prod(lhs.Dimensions, lb), M: prod(lhs.Dimensions, lf), N: prod(rhs.Dimensions, rf), K: prod(lhs.Dimensions, lc)}
	k.a = newOperandPlan(lhs.Dimensions, lb, lf, lc)
	k.b = newOperandPlan(rhs.Dimensions, rb, rc, rf)
	return k
}

func newOperandPlan(dims, batch, rows, cols []int) operandPlan {
	p := operandPlan{dims: dims, perm: slices.Concat(batch, rows, cols)}
	st := rowMajorStrides(dims)
	var ok1, ok2, ok3 bool
	p.bs, ok1 = mergeStride(dims, st, batch)
	p.rs, ok2 = mergeStride(dims, st, rows)
	p.cs, ok3 = mergeStride(dims, st, cols)
	p.strided = ok1 && ok2 && ok3
	return p
}

// mergeStride returns the stride of the flattened index over axes (in order), if one exists.
func mergeStride(dims, strides, axes []int) (int, bool) {
	var ax []int
	for _, a := range axes {
		if dims[a] != 1 {
			ax = append(ax, a)
		}
	}
	if len(ax) == 0 {
		return 0, true
	}
	for i := 0; i+1 < len(ax); i++ {
		if strides[ax[i]] != strides[ax[i+1]]*dims[ax[i+1]] {
			return 0, false
		}
	}
	return strides[ax[len(ax)-1]], true
}

func (k *dotKernel) run(b *Backend, in []backends.Buffer, _ []bool, outShapes []shapes.Shape) ([]backends.Buffer, error) {
	be := b.Backend
	lhs, err := be.BufferData(in[0])
	if err != nil {
		return nil, err
	}
	rhs, err := be.BufferData(in[1])
	if err != nil {
		return nil, err
	}
	out, flat, err := be.NewSharedBuffer(0, outShapes[0])
	if err != nil {
		return nil, err
	}
	d := k.dims
	switch k.dtype {
	case dtypes.Float32:
		err = gemm.Float32(d, matrix(lhs.([]float32), k.a, d.M, d.K), matrix(rhs.([]float32), k.b, d.K, d.N), flat.([]float32))
	case dtypes.BFloat16:
		err = gemm.BFloat16(d, matrix(lhs.([]bfloat16.BFloat16), k.a, d.M, d.K),
			matrix(rhs.([]bfloat16.BFloat16), k.b, d.K, d.N), flat.([]bfloat16.BFloat16))
	default:
		err = errors.Errorf("dtype %s (bug)", k.dtype)
	}
	if err != nil {
		_ = be.BufferFinalize(out)
		return nil, err
	}
	return []backends.Buffer{out}, nil
}

// matrix views data as a batch of [rows, cols] matrices per the plan, gathering a copy when
// the axes do not merge into strides.
func matrix[T gemm.Elem](data []T, p operandPlan, rows, cols int) gemm.Matrix[T] {
	if p.strided {
		return gemm.Matrix[T]{Data: data, BatchStride: p.bs, RowStride: p.rs, ColStride: p.cs}
	}
	return gemm.RowMajor(transposeCopy(data, p.dims, p.perm), rows, cols)
}

// transposeCopy returns x (row-major, dims) with its axes permuted: out axis i is x's axis
// perm[i].
func transposeCopy[T any](x []T, dims, perm []int) []T {
	out := make([]T, len(x))
	if len(x) == 0 {
		return out
	}
	st := rowMajorStrides(dims)
	rank := len(perm)
	odims := make([]int, rank)
	ost := make([]int, rank) // source stride of each output axis
	for i, a := range perm {
		odims[i], ost[i] = dims[a], st[a]
	}
	idx := make([]int, rank)
	src := 0
	last := rank - 1
	inner, innerStride := odims[last], ost[last]
	for o := 0; o < len(out); o += inner {
		s := src
		for j := range inner {
			out[o+j] = x[s]
			s += innerStride
		}
		// Advance the odometer over the outer axes.
		for a := last - 1; a >= 0; a-- {
			idx[a]++
			src += ost[a]
			if idx[a] < odims[a] {
				break
			}
			src -= ost[a] * odims[a]
			idx[a] = 0
		}
	}
	return out
}

func rowMajorStrides(dims []int) []int {
	st := make([]int, len(dims))
	s := 1
	for i := len(dims) - 1; i >= 0; i-- {
		st[i] = s
		s *= dims[i]
	}
	return st
}

func normAxes(axes []int, rank int) []int {
	out := make([]int, len(axes))
	for i, a := range axes {
		if a < 0 {
			a += rank
		}
		out[i] = a
	}
	return out
}

func freeAxes(rank int, c, b []int) []int {
	var free []int
	for a := range rank {
		if !slices.Contains(c, a) && !slices.Contains(b, a) {
			free = append(free, a)
		}
	}
	return free
}

func prod(dims, axes []int) int {
	p := 1
	for _, a := range axes {
		p *= dims[a]
	}
	return p
}
