package dotgrad

import (
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/pkg/errors"
)

// DotGeneral has graph.DotGeneral's signature and forward result: batch axes are kept (first in
// the output), contracting axes are multiplied and summed, and the remaining ("free") axes of lhs
// then rhs follow:
//
//	output: [batch..., lhsFree..., rhsFree...]
//
// Its gradient is one DotGeneral per operand (plus a transpose back to the operand's axis order),
// never the batch×N×K product GoMLX v0.26.0 builds. Negative axes count from the end.
// It panics (GoMLX style) on invalid axes or mismatched dimensions.
func DotGeneral(lhs *graph.Node, lhsContractingAxes, lhsBatchAxes []int,
	rhs *graph.Node, rhsContractingAxes, rhsBatchAxes []int) *graph.Node {
	spec := newDotSpec(lhs, lhsContractingAxes, lhsBatchAxes, rhs, rhsContractingAxes, rhsBatchAxes)
	return spec.build()
}

// MatMulTransposed multiplies x [..., In] by wᵀ, with w in PyTorch's linear layout [Out, In],
// returning [..., Out]. It is the hot path of every projection, with DotGeneral's gradient.
func MatMulTransposed(x, w *graph.Node) *graph.Node {
	if x.Rank() < 1 || w.Rank() != 2 {
		panicf("dotgrad.MatMulTransposed(x=%s, w=%s): x must have rank ≥ 1 and w must be [Out, In]",
			x.Shape(), w.Shape())
	}
	if x.Shape().Dim(-1) != w.Shape().Dim(1) {
		panicf("dotgrad.MatMulTransposed(x=%s, w=%s): x's last axis (In=%d) must match w's axis 1 (In=%d)",
			x.Shape(), w.Shape(), x.Shape().Dim(-1), w.Shape().Dim(1))
	}
	return DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil) // [..., Out]
}

// dotSpec holds the normalised (non-negative) axes of one DotGeneral.
type dotSpec struct {
	lhs, rhs                               *graph.Node
	lhsContracting, lhsBatch, lhsFree      []int
	rhsContracting, rhsBatch, rhsFree      []int
	lhsNeedsLink, rhsNeedsLink             bool
	numBatch, numLhsFree, numRhsFree, rank int // rank of the output.
}

func newDotSpec(lhs *graph.Node, lhsContractingAxes, lhsBatchAxes []int,
	rhs *graph.Node, rhsContractingAxes, rhsBatchAxes []int) *dotSpec {
	if lhs == nil || rhs == nil {
		panicf("dotgrad.DotGeneral: nil operand (lhs=%v, rhs=%v)", lhs, rhs)
	}
	if lhs.Graph() != rhs.Graph() {
		panicf("dotgrad.DotGeneral: lhs and rhs belong to different graphs (%q and %q)",
			lhs.Graph().Name(), rhs.Graph().Name())
	}
	if lhs.DType() != rhs.DType() {
		panicf("dotgrad.DotGeneral: lhs (%s) and rhs (%s) must have the same dtype", lhs.Shape(), rhs.Shape())
	}
	if len(lhsContractingAxes) != len(rhsContractingAxes) {
		panicf("dotgrad.DotGeneral: lhsContractingAxes %v and rhsContractingAxes %v must have the same length",
			lhsContractingAxes, rhsContractingAxes)
	}
	if len(lhsBatchAxes) != len(rhsBatchAxes) {
		panicf("dotgrad.DotGeneral: lhsBatchAxes %v and rhsBatchAxes %v must have the same length",
			lhsBatchAxes, rhsBatchAxes)
	}
	s := &dotSpec{lhs: lhs, rhs: rhs}
	s.lhsContracting, s.lhsBatch, s.lhsFree = normaliseAxes("lhs", lhs, lhsContractingAxes, lhsBatchAxes)
	s.rhsContracting, s.rhsBatch, s.rhsFree = normaliseAxes("rhs", rhs, rhsContractingAxes, rhsBatchAxes)
	lhsDims, rhsDims := lhs.Shape().Dimensions, rhs.Shape().Dimensions
	for i := range s.lhsContracting {
		if l, r := lhsDims[s.lhsContracting[i]], rhsDims[s.rhsContracting[i]]; l != r {
			panicf("dotgrad.DotGeneral(lhs=%s, rhs=%s): contracting pair #%d (lhs axis %d, rhs axis %d) has dimensions %d != %d",
				lhs.Shape(), rhs.Shape(), i, s.lhsContracting[i], s.rhsContracting[i], l, r)
		}
	}
	for i := range s.lhsBatch {
		if l, r := lhsDims[s.lhsBatch[i]], rhsDims[s.rhsBatch[i]]; l != r {
			panicf("dotgrad.DotGeneral(lhs=%s, rhs=%s): batch pair #%d (lhs axis %d, rhs axis %d) has dimensions %d != %d",
				lhs.Shape(), rhs.Shape(), i, s.lhsBatch[i], s.rhsBatch[i], l, r)
		}
	}
	s.numBatch, s.numLhsFree, s.numRhsFree = len(s.lhsBatch), len(s.lhsFree), len(s.rhsFree)
	s.rank = s.numBatch + s.numLhsFree + s.numRhsFree
	s.lhsNeedsLink, s.rhsNeedsLink = needsLink(lhs), needsLink(rhs)
	return s
}

// normaliseAxes turns negative axes positive, checks ranges and duplicates, and returns the free
// axes (neither contracting nor batch) in increasing order.
func normaliseAxes(name string, x *graph.Node, contracting, batch []int) (c, b, free []int) {
	rank := x.Rank()
	used := make([]bool, rank)
	fix := func(kind string, axes []int) []int {
		out := make([]int, len(axes))
		for i, axis := range axes {
			a := axis
			if a < 0 {
				a += rank
			}
			if a < 0 || a >= rank {
				panicf("dotgrad.DotGeneral: %s %s axis %d out of range for %s (rank %d)",
					name, kind, axis, x.Shape(), rank)
			}
			if used[a] {
				panicf("dotgrad.DotGeneral: %s axis %d used more than once in contracting %v / batch %v axes of %s",
					name, a, contracting, batch, x.Shape())
			}
			used[a] = true
			out[i] = a
		}
		return out
	}
	c, b = fix("contracting", contracting), fix("batch", batch)
	for a := range rank {
		if !used[a] {
			free = append(free, a)
		}
	}
	return c, b, free
}

// needsLink tells whether an operand may need dotgrad's gradient: float dtype and not a
// constant or a StopGradient node. (Complex products keep GoMLX's own gradient, see build.)
func needsLink(x *graph.Node) bool {
	return x.DType().IsFloat() && !x.StopGradient() && x.Type() != graph.NodeTypeConstant
}

// dotState is shared by the closures of one DotGeneral: the output's capture stores dy, the
// operand links read it.
type dotState struct {
	dy *graph.Node
}

func (s *dotSpec) build() *graph.Node {
	lhs, rhs := s.lhs, s.rhs
	if !s.lhsNeedsLink && !s.rhsNeedsLink || lhs.DType().IsComplex() {
		// Nothing to differentiate (ints, constants, stopped operands), or complex numbers, whose
		// gradient is left to GoMLX's own VJP.
		return graph.DotGeneral(lhs, s.lhsContracting, s.lhsBatch, rhs, s.rhsContracting, s.rhsBatch)
	}
	st := &dotState{}
	var links []*graph.Node
	if s.lhsNeedsLink {
		links = append(links, graph.IdentityWithCustomGradient(lhs, func(_, _ *graph.Node) *graph.Node {
			return s.gradLhs(st.dYFor("lhs"))
		}))
	}
	if s.rhsNeedsLink {
		links = append(links, graph.IdentityWithCustomGradient(rhs, func(_, _ *graph.Node) *graph.Node {
			return s.gradRhs(st.dYFor("rhs"))
		}))
	}

	// Plain forward product, on the original operands (no copies), never differentiated by GoMLX:
	// the capture identity below returns a nil gradient for it.
	y := graph.DotGeneral(lhs, s.lhsContracting, s.lhsBatch, rhs, s.rhsContracting, s.rhsBatch) // [batch..., lhsFree..., rhsFree...]
	y = graph.IdentityWithCustomGradient(y, func(_, dy *graph.Node) *graph.Node {
		st.dy = dy
		return nil
	})
	// Created after the links, so autodiff (decreasing node ids) visits it first.
	return graph.Sub(y, zeroLink(y.DType(), links...))
}

func (st *dotState) dYFor(operand string) *graph.Node {
	if st.dy == nil {
		panicf("dotgrad.DotGeneral: gradient for %s requested before the output's gradient was captured "+
			"-- this is a bug in dotgrad (or the link node was used outside of it)", operand)
	}
	return st.dy
}

// gradLhs returns dy·rhs contracted over rhs's free axes, in lhs's axis order.
//
// dy is [batch..., lhsFree..., rhsFree...]; the product is [batch..., lhsFree..., rhsContracting
// (in increasing rhs axis order)...], then transposed to lhs's layout.
func (s *dotSpec) gradLhs(dy *graph.Node) *graph.Node {
	dyContract := iota(s.numBatch+s.numLhsFree, s.numRhsFree)
	g := graph.DotGeneral(dy, dyContract, iota(0, s.numBatch), s.rhs, s.rhsFree, s.rhsBatch)
	// Label each axis of g with the lhs axis it corresponds to.
	labels := make([]int, 0, g.Rank())
	labels = append(labels, s.lhsBatch...)
	labels = append(labels, s.lhsFree...)
	labels = append(labels, pairedRemaining(s.rhsContracting, s.lhsContracting)...)
	return toAxisOrder(g, labels)
}

// gradRhs returns lhs·dy contracted over lhs's free axes, in rhs's axis order.
//
// The product dy·lhs is [batch..., rhsFree..., lhsContracting (in increasing lhs axis order)...].
func (s *dotSpec) gradRhs(dy *graph.Node) *graph.Node {
	dyContract := iota(s.numBatch, s.numLhsFree)
	g := graph.DotGeneral(dy, dyContract, iota(0, s.numBatch), s.lhs, s.lhsFree, s.lhsBatch)
	labels := make([]int, 0, g.Rank())
	labels = append(labels, s.rhsBatch...)
	labels = append(labels, s.rhsFree...)
	labels = append(labels, pairedRemaining(s.lhsContracting, s.rhsContracting)...)
	return toAxisOrder(g, labels)
}

// pairedRemaining lists, for the axes of `axes` in increasing order (the order DotGeneral keeps
// them in its output), the axis paired with each in `paired`.
func pairedRemaining(axes, paired []int) []int {
	sorted := slices.Clone(axes)
	slices.Sort(sorted)
	out := make([]int, len(sorted))
	for i, a := range sorted {
		out[i] = paired[slices.Index(axes, a)]
	}
	return out
}

// toAxisOrder transposes x, whose axis i is the operand's axis labels[i], to the operand's order.
func toAxisOrder(x *graph.Node, labels []int) *graph.Node {
	permutation := make([]int, len(labels))
	identity := true
	for from, to := range labels {
		permutation[to] = from
		if from != to {
			identity = false
		}
	}
	if identity {
		return x
	}
	return graph.TransposeAllAxes(x, permutation...)
}

func iota(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

// zeroLink returns a scalar exactly +0 of the given dtype that depends (differentiably) on each
// of the links, so that reverse autodiff reaches them, while costing O(1) per link: one element
// of each is gathered, summed, guarded against Inf/NaN and multiplied by 0.
func zeroLink(dtype dtypes.DType, links ...*graph.Node) *graph.Node {
	var sum *graph.Node
	for _, link := range links {
		if link == nil {
			continue
		}
		var s *graph.Node
		switch {
		case link.Shape().Size() == 0 || link.IsScalar():
			s = graph.ReduceAllSum(link)
		default:
			s = graph.Gather(link, graph.Const(link.Graph(), make([]int32, link.Rank()))) // One element, a scalar.
		}
		s = graph.ConvertDType(s, dtype)
		if sum == nil {
			sum = s
		} else {
			sum = graph.Add(sum, s)
		}
	}
	if sum == nil {
		panicf("dotgrad: zeroLink needs at least one link")
	}
	g := sum.Graph()
	zero := graph.ScalarZero(g, dtype)
	sum = graph.Where(graph.IsFinite(sum), sum, zero)
	return graph.Mul(graph.Abs(sum), zero) // |finite|·0 == +0, and y - (+0) == y bit for bit.
}

// panicf panics with an error built from format and args, the way GoMLX graph builders do.
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}
