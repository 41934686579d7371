// Package remat provides gradient checkpointing (rematerialisation) for GoMLX graphs:
// Checkpoint(fn, inputs...) computes fn(inputs) in the forward pass but keeps only the inputs
// alive for the backward pass; there fn is recomputed and the gradient back-propagated through
// the recomputation. Wrapping each decoder block trades roughly one extra forward pass for the
// memory of all the blocks' intermediate activations.
//
//	h := x // [batch, seq, dim]
//	for l := range numLayers {
//		h = remat.Checkpoint(func(in []*Node) []*Node {
//			return []*Node{block(ctx.In(fmt.Sprint(l)).Checked(false), in[0])} // [batch, seq, dim]
//		}, h)[0]
//	}
//
// # The contract on fn
//
//   - fn is called twice while the graph is built (forward, then in the backward pass when
//     graph.Gradient reaches it), so it must be deterministic and free of side effects: same
//     shapes, same values. No random numbers (dropout) inside fn unless the mask or the RNG state
//     is an explicit input, and no variable updates (e.g. batch-norm statistics). It must build
//     its nodes afresh on each call: a node memoised from the first call is detected (panic).
//   - Context variables: GoMLX contexts are "checked" by default and panic when a variable is
//     created twice; give fn a ctx.Checked(false) (or ctx.Reuse() for the second call) so the
//     recomputation finds the variables the forward call created.
//   - Gradients reach every float input and every float value fn reads from outside: graph
//     parameters (context variables, also those first created inside fn) and nodes built before
//     the call. Values fn captures are kept alive like inputs.
//   - fn must not read both a value and another value computed from it outside fn (e.g. W and
//     Transpose(W) built before the call): Checkpoint panics, pass one of them as an input.
//   - Only first-order gradients: the custom gradient is not itself differentiable.
//
// # How it works with GoMLX v0.26.0's reverse autodiff
//
// The outputs of the forward fn go through a custom-gradient identity that records the incoming
// gradient dY and returns nil, so autodiff never enters fn's forward graph (and nothing in the
// backward pass references its intermediate values, which are freed as soon as the forward pass
// is done with them). Each input (and captured value) goes through a custom-gradient identity
// whose gradient is computed on demand: fn is recomputed on x − 0, where the zero is built from
// dY, and a nested graph.Gradient back-propagates dY through the recomputation (its root is the
// recomputed outputs behind identities whose gradient is dY: never executed, only
// differentiated). An O(1) zero term added to the outputs puts those identities on the gradient
// path; the outputs equal fn's outputs bit for bit.
//
// The zero built from dY matters on simplego: its parallel executor runs every node as soon as
// its inputs are ready, so a recomputation that only depends on the checkpoint's inputs would
// run during the forward pass and be kept until the backward pass, saving nothing (measured in
// the tests). With the dependency, the recomputation can only start when the backward pass
// reaches the block. The sequential executor runs nodes in creation order, which already puts
// the recomputation in the backward pass. Values fn computes only from captured values (not
// from the inputs), e.g. a dequantised weight, are not delayed this way: pass such weights as
// inputs if their recomputation must wait too.
package remat
