// Package dotgrad provides DotGeneral, Einsum and MatMulTransposed with the same forward result
// as GoMLX's, but with a gradient made of two DotGenerals (one per operand).
//
// In GoMLX v0.26.0 the VJP of every DotGeneral (and so of every Einsum and linear layer) is a
// broadcast Mul followed by a ReduceSum: for a [M, K]×[K, N] product it materialises an
// [M, N, K] tensor per operand. A 512×1024×1024 linear's backward then takes seconds and gigabytes
// on the simplego backend. The gradients here are the textbook ones:
//
//	y = lhs · rhs   →   dlhs = dy · rhsᵀ,   drhs = lhsᵀ · dy
//
// generalised to any batch / contracting / free axes (in any order), each a single DotGeneral
// plus, if needed, one transpose back to the operand's axis order. They match GoMLX's own
// gradients to float rounding (see the tests).
//
// # How it is wired into GoMLX's reverse autodiff
//
// GoMLX v0.26.0 only lets one attach a custom gradient to an identity
// (graph.IdentityWithCustomGradient), and a custom gradient function only sees its own node's
// incoming gradient. DotGeneral therefore builds:
//
//	lhsLink := IdentityWithCustomGradient(lhs, → dy·rhsᵀ)     // rhsLink likewise
//	y       := graph.DotGeneral(lhs, rhs)                       // plain forward product
//	yCap    := IdentityWithCustomGradient(y, capture dy; return nil)
//	out     := yCap - zero(lhsLink, rhsLink)                    // zero is exactly +0
//
// Reverse autodiff visits nodes in decreasing id order, so yCap (created after the links) records
// dy before either link's gradient function runs. Returning nil from yCap's gradient stops
// autodiff from ever differentiating the plain forward DotGeneral (GoMLX's expensive VJP is never
// built). The zero term makes the links part of the gradient path: it is computed from one element
// of each link (a Gather, guarded against Inf/NaN, then |s|·0), so it costs O(1) besides the
// identity itself, and out equals graph.DotGeneral's result bit for bit.
//
// An operand that needs no gradient (a frozen weight, a constant, a StopGradient) costs nothing
// in the backward pass: autodiff never reaches its link, so its gradient is never built. Operands
// that are constants, StopGradient nodes or non-float get no link at all; complex products are
// plain graph.DotGeneral (GoMLX's own gradient).
//
// # Costs and limits
//
//   - Forward: besides the product, each linked operand goes through one Identity. On simplego an
//     Identity whose input is still needed elsewhere copies it (O(size), freed right away), so a
//     call costs one extra pass over each operand. For decode-time inference (a single row times a
//     big weight) that is comparable to the product itself: graphs that never take gradients can
//     call graph.DotGeneral directly (e.g. choose by context.Context.IsTraining).
//   - Memory: the backward pass keeps an operand alive only if the other operand's gradient is
//     needed (it reads it), and builds nothing larger than the operands and the output. With a
//     frozen weight, the activation it multiplies is not kept for the backward pass by this op.
//   - Only first-order gradients: the custom gradient is not itself differentiable.
//   - The gradient function is captured in a closure: build the gradient (graph.Gradient) in the
//     same graph, as usual.
package dotgrad
