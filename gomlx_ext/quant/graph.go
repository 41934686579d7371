package quant

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Nodes are the graph values of a Packed tensor (typically read from variables).
type Nodes struct {
	Mode Mode
	Dims []int // the decoded tensor's dimensions
	// Codes: uint8 [ceil(N/2)] (NF4) or int8 [N] (Int8).
	Codes *Node
	// Absmax: float32 [NumBlocks(N)]; nil when the scales are double-quantised.
	Absmax *Node
	// Double quantisation: uint8 [NumBlocks(N)], float32 [NumDQBlocks], float32 scalar.
	AbsmaxCodes, AbsmaxScale, AbsmaxMean *Node
}

// ConstNodes returns p's nodes as constants of g (tests, small tensors).
func ConstNodes(g *Graph, p *Packed) Nodes {
	q := Nodes{Mode: p.Mode, Dims: p.Dims}
	if p.Mode == NF4 {
		q.Codes = Const(g, p.Codes)
	} else {
		codes := make([]int8, len(p.Codes))
		for i, c := range p.Codes {
			codes[i] = int8(c)
		}
		q.Codes = Const(g, codes)
	}
	if p.DoubleQuant() {
		q.AbsmaxCodes = Const(g, p.AbsmaxCodes)
		q.AbsmaxScale = Const(g, p.AbsmaxScale)
		q.AbsmaxMean = Const(g, p.AbsmaxMean)
	} else {
		q.Absmax = Const(g, p.Absmax)
	}
	return q
}

func (q Nodes) check() {
	n := numElements(q.Dims)
	nb := NumBlocks(n)
	if err := q.Mode.Validate(); err != nil {
		panic(err)
	}
	want := func(name string, x *Node, dtype dtypes.DType, dims ...int) {
		if x == nil {
			panic(errors.Errorf("quant: %s node missing for a %s tensor of dims %v", name, q.Mode, q.Dims))
		}
		if x.DType() != dtype || x.Shape().Size() != numElements(dims) || x.Rank() != len(dims) {
			panic(errors.Errorf("quant: %s is %s, want %s%v for a %s tensor of dims %v", name, x.Shape(), dtype, dims, q.Mode, q.Dims))
		}
	}
	if q.Mode == NF4 {
		want("codes", q.Codes, dtypes.Uint8, CodeBytes(NF4, n))
	} else {
		want("codes", q.Codes, dtypes.Int8, n)
	}
	if q.AbsmaxCodes != nil {
		want("absmax codes", q.AbsmaxCodes, dtypes.Uint8, nb)
		want("absmax scale", q.AbsmaxScale, dtypes.Float32, NumDQBlocks(nb))
		want("absmax mean", q.AbsmaxMean, dtypes.Float32)
	} else {
		want("absmax", q.Absmax, dtypes.Float32, nb)
	}
}

// padTo appends zeros to the 1-D x up to length n (forward-only graphs: no gradient needed).
func padTo(x *Node, n int) *Node {
	have := x.Shape().Size()
	if have == n {
		return x
	}
	return Concatenate([]*Node{x, Zeros(x.Graph(), shapes.Make(x.DType(), n-have))}, 0)
}

// blockAbsmax decodes the per-block scales: float32 [nBlocks].
func (q Nodes) blockAbsmax() *Node {
	var a *Node
	if q.AbsmaxCodes == nil {
		a = q.Absmax
	} else {
		g := q.AbsmaxCodes.Graph()
		nb := q.AbsmaxCodes.Shape().Size()
		nd := q.AbsmaxScale.Shape().Size()
		levels := Gather(Const(g, DQLevels[:]), Reshape(ConvertDType(q.AbsmaxCodes, dtypes.Int32), nb, 1)) // [nb]
		levels = Reshape(padTo(levels, nd*DQBlockSize), nd, DQBlockSize)
		a = Mul(levels, Reshape(q.AbsmaxScale, nd, 1))    // [nd, 256]
		a = Add(Reshape(a, nd*DQBlockSize), q.AbsmaxMean) // [nd·256]
		if nd*DQBlockSize != nb {
			a = Slice(a, AxisRange(0, nb))
		}
	}
	return a
}

// nf4PairTable is [256, 2]: the levels of a code byte's high and low nibble.
func nf4PairTable() [][]float32 {
	t := make([][]float32, 256)
	for b := range t {
		t[b] = []float32{NF4Levels[b>>4], NF4Levels[b&15]}
	}
	return t
}

// Dequantize decodes q to float32 [q.Dims...], bit-identical to Packed.Dequantize.
//
// dep, if not nil, must be a float32 scalar equal to +0: it is added (as an integer 0) to the
// codes before anything else, so that no step of the decoding can run before dep is computed
// (see MatMulTransposed). An eager parallel executor (simplego) otherwise decodes every layer's
// weight as soon as the program starts, since the codes are ready then.
func Dequantize(q Nodes, dep *Node) *Node {
	q.check()
	g := q.Codes.Graph()
	n := numElements(q.Dims)
	nb := NumBlocks(n)
	codes := q.Codes
	if dep != nil {
		codes = Add(codes, ConvertDType(dep, codes.DType()))
	}
	var levels *Node // [N'] float32, N' ≥ N
	if q.Mode == NF4 {
		nbytes := codes.Shape().Size()
		idx := Reshape(ConvertDType(codes, dtypes.Int32), nbytes, 1)
		levels = Reshape(Gather(Const(g, nf4PairTable()), idx), 2*nbytes) // [2·bytes]
	} else {
		levels = ConvertDType(codes, dtypes.Float32) // [N]
	}
	levels = Reshape(padTo(levels, nb*BlockSize), nb, BlockSize) // [nb, 64]
	scale := q.blockAbsmax()                                     // [nb]
	if q.Mode == Int8 {
		scale = Div(scale, Scalar(g, dtypes.Float32, 127)) // a true division, as the reference (DivScalar multiplies)
	}
	w := Reshape(Mul(levels, Reshape(scale, nb, 1)), nb*BlockSize)
	if nb*BlockSize != n {
		w = Slice(w, AxisRange(0, n))
	}
	return Reshape(w, q.Dims...)
}

// MatMulTransposed computes x·Wᵀ for the quantised, frozen W [Out, In]:
// x [..., In] -> [..., Out] (float32).
//
// The gradient flows to x only: dx = dy·W, with W decoded again inside the gradient. Both
// decodings are tied to the data they meet (the forward one to x, the backward one to dy), so
// an eager executor decodes each layer's float32 W just before its own matmul and frees it
// after, instead of decoding every layer at the start and keeping all of them alive (measured in
// TestBackwardDecodesLazily).
func MatMulTransposed(x *Node, w Nodes) *Node {
	if len(w.Dims) != 2 || x.Rank() < 1 || x.Shape().Dim(-1) != w.Dims[1] {
		panic(errors.Errorf("quant.MatMulTransposed(x=%s, w=%s%v): w must be [Out, In] with In = x's last axis",
			x.Shape(), w.Mode, w.Dims))
	}
	if x.DType() != dtypes.Float32 {
		panic(errors.Errorf("quant.MatMulTransposed: x must be float32, got %s", x.Shape()))
	}
	var dy *Node
	link := IdentityWithCustomGradient(x, func(_, _ *Node) *Node {
		if dy == nil {
			panic(errors.New("quant.MatMulTransposed: gradient of x requested before the output's gradient was captured"))
		}
		wb := Dequantize(w, zeroFrom(dy))                                   // [Out, In], decoded after dy exists
		return DotGeneral(dy, []int{dy.Rank() - 1}, nil, wb, []int{0}, nil) // [..., In]
	})
	xs := StopGradient(x)
	var fwdDep *Node
	if backwardDependsOnDY {
		fwdDep = zeroFrom(xs) // likewise, decode W for the forward matmul only once x exists
	}
	y := DotGeneral(xs, []int{x.Rank() - 1}, nil, Dequantize(w, fwdDep), []int{1}, nil) // [..., Out]
	// Created after the link: reverse autodiff (decreasing ids) captures dy before link's gradient.
	y = IdentityWithCustomGradient(y, func(_, v *Node) *Node { dy = v; return nil })
	return Sub(y, zeroFrom(link))
}

// backwardDependsOnDY (decode W only once x, resp. dy, exists) is false only in the memory test
// that shows why it must be true.
var backwardDependsOnDY = true

// zeroFrom returns a float32 scalar exactly +0 that depends on x (one gathered element,
// guarded against Inf/NaN, times 0).
func zeroFrom(x *Node) *Node {
	g := x.Graph()
	var s *Node
	if x.IsScalar() {
		s = x
	} else {
		s = Gather(x, Const(g, make([]int32, x.Rank())))
	}
	s = ConvertDType(s, dtypes.Float32)
	zero := ScalarZero(g, dtypes.Float32)
	s = Where(IsFinite(s), s, zero)
	return Mul(Abs(s), zero)
}
