package xent

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// TokenLoss is the weighted next-token cross-entropy of a language model, with the contract of
// swift/train.TokenLoss:
//
//	logits [B, S, V] float32, targets [B, S] int32, weights [B, S] float32
//	-> sum over positions of weight·(−log p(target)) (scalar), and the count of positions with
//	   weight > 0 (scalar).
//
// It is written for speed on any backend: the forward is a log-sum-exp (never the [B·S, V]
// log-probabilities), and the gradient of the logits is given directly as
// (softmax(logits) − onehot(target))·weight·g — one exponential pass and an in-place scatter
// of the targets — instead of GoMLX's autodiff through LogSoftmax and Gather. On the goswift
// backend both exponential passes become fused row kernels (kernels/backend's fusions), so the
// logits are read three times in all and written once.
func TokenLoss(logits, targets, weights *Node) (sum, count *Node) {
	if logits.Rank() != 3 || logits.DType() != dtypes.Float32 {
		panic(errors.Errorf("xent.TokenLoss: logits must be float32 [B, S, V], got %s", logits.Shape()))
	}
	g := logits.Graph()
	dims := logits.Shape().Dimensions
	n, v := dims[0]*dims[1], dims[2]
	x := Reshape(logits, n, v) // [N, V]
	st := &lossState{}
	// The link carries the gradient to the logits. Created first: reverse autodiff (decreasing
	// ids) then visits the capture below before it.
	link := IdentityWithCustomGradient(x, func(_, _ *Node) *Node { return st.grad() })
	xs := StopGradient(x)
	m := ReduceAndKeep(xs, ReduceMax, -1)                          // [N, 1]
	lse := Add(Log(ReduceSum(Exp(Sub(xs, m)), -1)), Reshape(m, n)) // [N]
	rows := Iota(g, shapes.Make(dtypes.Int32, n, 1), 0)
	idx := Concatenate([]*Node{rows, Reshape(targets, n, 1)}, -1) // [N, 2]
	w := Reshape(weights, n)                                      // [N]
	per := Sub(lse, Gather(xs, idx))                              // [N]: −log p(target)
	per = IdentityWithCustomGradient(per, func(_, dPer *Node) *Node {
		st.dPer = dPer
		return nil
	})
	st.xs, st.lse, st.idx, st.n = xs, lse, idx, n
	sum = Add(ReduceAllSum(Mul(per, w)), zeroFrom(link))
	count = ReduceAllSum(ConvertDType(GreaterThan(w, ZerosLike(w)), dtypes.Float32))
	return sum, count
}

// lossState is shared by TokenLoss's custom gradients.
type lossState struct {
	xs, lse, idx, dPer *Node
	n                  int
}

// grad returns d sum / d logits [N, V] = (e^(x − lse) − onehot)·dPer, where dPer (the
// gradient of the per-position losses) already carries the weights.
func (st *lossState) grad() *Node {
	if st.dPer == nil {
		panic(errors.New("xent.TokenLoss: gradient of the logits requested before the loss's (bug)"))
	}
	p := Mul(Exp(Sub(st.xs, Reshape(st.lse, st.n, 1))), Reshape(st.dPer, st.n, 1)) // [N, V]
	return ScatterSum(p, st.idx, Neg(st.dPer), true, true)                         // −dPer at the targets
}

// zeroFrom is a float32 scalar exactly +0 that depends on x (one element, guarded against
// Inf/NaN, times 0): adding it keeps x on the gradient path.
func zeroFrom(x *Node) *Node {
	g := x.Graph()
	s := Gather(x, Const(g, make([]int32, x.Rank())))
	zero := ScalarZero(g, dtypes.Float32)
	return Mul(Abs(Where(IsFinite(s), s, zero)), zero)
}
