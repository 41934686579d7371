// Package elementwise holds the fast paths of the element-wise and reduction ops that dominate
// a training step after the matmuls (profiled on the stories15M-shaped Llama): the binary
// arithmetic with broadcasting over the [batch·seq, vocab] logits and the attention scores,
// Exp/Logistic, row and column reductions, BroadcastInDim, Transpose and Where, plus the row
// primitives of fused kernels (RowMax, RowSum, ExpShiftScale).
//
// Each kernel is split over cores (kernels/internal/parallel) after collapsing the operands'
// axes (size-1 axes dropped, neighbours merged where every operand is contiguous or broadcast
// across both), so the inner loops run over long contiguous (or constant) stretches. On
// AVX-512 the inner loops of Add/Sub/Mul/Div, Exp, row sums and row maxima are assembly (16
// lanes); elsewhere plain Go. Exp is a float32 polynomial (Cephes' expf, within 2 ulp) whose
// results below the smallest normal float32 are flushed to 0: subnormals would make every later
// op on a masked softmax many times slower. Every output element is computed by one goroutine
// in a fixed order, so results do not depend on the number of workers; reductions never split
// a reduced axis across goroutines. Max/Min and the reductions follow simplego's semantics
// (NaN propagates; ReduceMax starts from −Inf, as simplego's).
//
// Each kernel has a plain reference (Reference*: one element at a time, float64 math) it is
// tested against, and BenchmarkOps compares it with simplego's op.
package elementwise
