// Package xent is the fused, chunked cross-entropy of a language model's logits: for logits
// [rows, vocab] and a target per row, the loss −log softmax(logits)[target] and its gradient
// g·(softmax(logits) − onehot(target)), without ever materialising the softmax or the
// log-probabilities of the whole [rows, vocab] tensor.
//
// Forward reads each row twice while it is in cache (its maximum, then Σ e^(x − max) through a
// scratch row the size of one vocabulary row) and returns the per-row loss and log-sum-exp;
// Backward reads each row once more and writes its gradient (in place if wanted). Rows are
// processed in parallel chunks (kernels/internal/parallel), each row by one goroutine in a fixed
// order, so results do not depend on the number of workers. A target < 0 marks an ignored row:
// loss 0, gradient 0.
//
// The [2048, 32000] logits of a stories15M-shaped training step are 262 MB: GoMLX's
// LogSoftmax + Gather and their gradient pass over them about ten times (max, shift, exp, sum,
// log-probabilities, zeros, scatter, broadcast, multiply, add); Forward + Backward pass three
// times, two of them reading each row from cache. Reference (float64, one element at a time)
// is the plain definition it is tested against; BenchmarkCrossEntropy compares it with
// simplego running GoMLX's graph.
package xent
