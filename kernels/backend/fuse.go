package backend

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/kernels/elementwise"
	"github.com/goswift/goswift/kernels/internal/parallel"
)

// Plan-time fusions of the softmax/cross-entropy row patterns, applied to the nodes outputs need
// when the intermediate values have no other reader (so they are never built):
//
//	ReduceSum(Exp(Sub(x, r)), last axis)  →  sumExpShift: Σ_j e^(x[i,j] − r[i])     (one read of x)
//	Mul(Exp(Sub(x, r)), s)                →  expShiftScale: e^(x − r)·s             (one read, one write)
//
// where x is float32 [..., V] and r, s are per-row values: [..., 1] (or looked-through
// broadcasts of them) or scalars. These are the forward and backward of a cross-entropy written
// as log-sum-exp with its own gradient (kernels/xent.TokenLoss), and of softmaxes whose
// exponentials are read once.
func (b *Builder) fuse(outs []*value) {
	if b.backend.opts.noKernels {
		return
	}
	readers := make(map[*value]int)
	for _, v := range outs {
		readers[v]++
	}
	nodes := b.reachable(outs)
	for _, n := range nodes {
		for _, in := range n.inputs {
			readers[in]++
		}
	}
	// only returns the node producing v if v is its single output and read once.
	only := func(v *value, op string) *node {
		if v.n.op == op && len(v.n.outputs) == 1 && readers[v] == 1 {
			return v.n
		}
		return nil
	}
	// expOfShift matches Exp(Sub(x, r)) read only once each: returns x and r.
	expOfShift := func(v *value) (x, r *value, ok bool) {
		e := only(v, "Exp")
		if e == nil {
			return nil, nil, false
		}
		sub := only(e.inputs[0], "Sub")
		if sub == nil {
			return nil, nil, false
		}
		x, r = sub.inputs[0], sub.inputs[1]
		return x, r, rowValues(x.shape, r.shape) && x.shape.Size() >= b.backend.opts.ewMin
	}
	for _, n := range nodes {
		switch n.op {
		case "ReduceSum":
			axes := normAxes(n.args[0].([]int), n.inputs[0].shape.Rank())
			x, r, ok := expOfShift(n.inputs[0])
			if !ok || !slices.Equal(axes, []int{x.shape.Rank() - 1}) {
				continue
			}
			n.inputs = []*value{x, r}
			n.kernel = &rowKernel{kind: "SumExpShift", x: x.shape, shift: r.shape}
		case "Mul":
			for k := range 2 {
				x, r, ok := expOfShift(n.inputs[k])
				s := n.inputs[1-k]
				if !ok || !rowValues(x.shape, s.shape) {
					continue
				}
				n.inputs = []*value{x, r, s}
				n.kernel = &rowKernel{kind: "ExpShiftScale", x: x.shape, shift: r.shape, scale: s.shape}
				break
			}
		}
	}
}

// rowValues tells whether r holds one value per row of x (float32 x [..., V]): a scalar, or x's
// rank with x's dims but 1 in the last.
func rowValues(x, r shapes.Shape) bool {
	if x.DType != dtypes.Float32 || r.DType != dtypes.Float32 || x.Rank() == 0 {
		return false
	}
	if r.Rank() == 0 {
		return true
	}
	if r.Rank() != x.Rank() || r.Dimensions[r.Rank()-1] != 1 {
		return false
	}
	return slices.Equal(r.Dimensions[:r.Rank()-1], x.Dimensions[:x.Rank()-1])
}

// rowKernel runs a fused row pattern (see fuse).
type rowKernel struct {
	kind            string
	x, shift, scale shapes.Shape
}

func (k *rowKernel) name() string { return k.kind }

func (k *rowKernel) run(b *Backend, in []backends.Buffer, reuse []bool, outShapes []shapes.Shape) ([]backends.Buffer, error) {
	be := b.Backend
	flats := make([][]float32, len(in))
	for i, buf := range in {
		f, err := be.BufferData(buf)
		if err != nil {
			return nil, err
		}
		flats[i] = f.([]float32)
	}
	x := flats[0]
	v := k.x.Dimensions[k.x.Rank()-1]
	rows := k.x.Size() / max(v, 1)
	perRow := func(f []float32, r int) float32 {
		if len(f) == 1 {
			return f[0]
		}
		return f[r]
	}
	var out backends.Buffer
	var flat any
	if k.kind == "ExpShiftScale" && reuse[0] {
		out, flat = in[0], x // written row by row after reading it
	} else {
		var err error
		if out, flat, err = be.NewSharedBuffer(0, outShapes[0]); err != nil {
			return nil, err
		}
	}
	o := flat.([]float32)
	switch k.kind {
	case "SumExpShift":
		parallel.Range(rows, max(1, (1<<16)/max(v, 1)), func(r0, r1 int) {
			scratch := make([]float32, v)
			for r := r0; r < r1; r++ {
				elementwise.ExpShiftScale(scratch, x[r*v:(r+1)*v], perRow(flats[1], r), 1)
				o[r] = elementwise.RowSum(scratch)
			}
		})
	case "ExpShiftScale":
		parallel.Range(rows, max(1, (1<<16)/max(v, 1)), func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				elementwise.ExpShiftScale(o[r*v:(r+1)*v], x[r*v:(r+1)*v], perRow(flats[1], r), perRow(flats[2], r))
			}
		})
	default:
		return nil, errors.Errorf("row kernel %q (bug)", k.kind)
	}
	return []backends.Buffer{out}, nil
}
