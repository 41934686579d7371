// Package kernels is GoSwift's fast CPU path: kernels for the ops that dominate training and
// inference on CPU, and the GoMLX backend that routes graphs to them. It holds no code itself;
// the sub-packages are:
//
//	gemm/         float32 and bfloat16-input GEMM for every DotGeneral layout: packed, blocked,
//	              AVX-512/AVX2 assembly micro-kernels (pure Go under purego / off amd64),
//	              parallel, with one fixed summation order.
//	elementwise/  the element-wise, reduction and data-movement ops that are hot after the
//	              matmuls (broadcasting arithmetic, Exp, row/column reductions, BroadcastInDim,
//	              Transpose, Where), vectorised and parallel.
//	quantmm/      fused NF4/int8 dequantise + matmul in gomlx_ext/quant's packed layout.
//	xent/         fused, chunked cross-entropy (loss and dlogits without the softmax).
//	backend/      the "goswift" GoMLX backend: simplego with the hot ops handed to the kernels.
//
// Every kernel sits beside a plain reference (Reference*, one element at a time, float64), an
// equivalence test on random and odd shapes, and a benchmark against the reference and against
// simplego. benchmarks/kernels compares them with numpy/OpenBLAS and PyTorch and checks whole
// training steps against simplego.
//
// # The backend: recording, cutting, delegating
//
// GoMLX v0.26.0's simplego keeps its executors unexported, so kernels cannot be plugged into it.
// kernels/backend is a backend of its own, registered with backends.Register as "goswift"
// (GOMLX_BACKEND=goswift[:options]); its buffers, devices and capabilities are those of a
// simplego backend it owns, so tensors, donation and shared buffers behave exactly as there.
//
//  1. Recording. Its Builder records each call as a node (the method name, the input Ops, the
//     other arguments and a replay closure that re-issues the call on any backends.Builder), and
//     issues the same call on a simplego builder of the whole graph — the shadow — which gives
//     shape inference and simplego's own error checking for free. The ~95 recording methods are
//     generated from the backends.StandardOps/CollectiveOps interfaces by reflection
//     (backend/internal/genops, `go generate ./kernels/backend`), so they follow the GoMLX
//     version in go.mod; only Dot is written by hand (as the DotGeneral it stands for).
//  2. Routing. A table (backend/routes.go) says, per method, whether a kernel computes the node:
//     every float32/bfloat16 DotGeneral (any size: a product's elements must not depend on its
//     size, see below), and float32 element-wise/reduction/movement ops with at least ewmin
//     (default 2^17) output elements. Element-wise binary ops read through a BroadcastInDim
//     input (a scalar, or dims of 1 at the same rank) and broadcast it themselves, so the
//     broadcast tensor is never built. A DotGeneral whose weight is decoded from NF4 codes in
//     the graph (gomlx_ext/quant's Dequantize, recognised structurally, its level table checked)
//     reads the codes and scales directly: kernels/quantmm's decoder unpacks them while the GEMM
//     packs W, and the float32 weight is never built.
//  3. Fusing (at Compile). Row patterns whose intermediates have no other reader become one
//     pass: ReduceSum(Exp(Sub(x, r))) over the last axis (a log-sum-exp's sum) and
//     Mul(Exp(Sub(x, r)), s) (a softmax gradient), r and s per-row values. With
//     kernels/xent.TokenLoss (log-sum-exp forward, gradient (softmax − onehot)·g) the
//     cross-entropy over [batch·seq, vocab] logits reads them three times and writes them once.
//  4. Cutting. At Compile a graph with no kernel node is the shadow graph, compiled by simplego
//     as it is. Otherwise every value gets a level — 0 for parameters and constants, the largest
//     input level for an ordinary op, one more for a kernel op — and segment L is the simplego
//     sub-graph of the ordinary ops of level L, compiled with the values it reads from earlier
//     steps as parameters and the values read later as outputs. Execution alternates: the
//     kernels of level L (whose inputs are all ready), then segment L. The number of segments is
//     the longest chain of kernel calls plus one, however many kernel calls there are.
//     Identity is read through (simplego copies it).
//  5. Executing. Each intermediate buffer is donated to, or freed after, its last reader
//     (element-wise kernels overwrite a dying input in place); caller-donated inputs likewise;
//     outputs that are parameters (or repeated) are copied, as simplego does. Executions are
//     independent: one executable may run from several goroutines at once.
//
// # Parallelism without deadlocks
//
// Kernels split their work with kernels/internal/parallel: each call starts its goroutines and
// waits for them, the caller working too. Nothing waits for a pool slot, so a kernel called from
// anywhere (including inside simplego's workers, or concurrently) cannot deadlock. Segments run
// on simplego with the configuration given ("goswift:parallelism=-1" is the project's default,
// see xla), but the kernels never run inside a simplego task.
//
// # Determinism and summation order
//
// No kernel splits a reduced axis across goroutines: work is divided by output element, so
// results do not depend on the number of workers and resuming a run stays bit-identical. The
// GEMM sums every element of C in one order that depends only on the contracting size K: K is
// cut into equal chunks of at most 256, each chunk into sub-blocks of 16 whose even and odd
// steps go to two fused-multiply-add accumulators; sub-block values are added to the chunk
// total, chunk totals to C. Products with K < 256 are instead summed exactly (float64 sums of the
// exact products, rounded once): their results are the correctly rounded sums, independent of
// the order of k (a permuted head dimension, a merged adapter give the same logits). All
// micro-kernels (AVX-512, AVX2, Go) and the small-product loop follow these rules, so a row of a
// product is bit-identical whether computed alone (a KV-cache decoding step) or within a larger
// product (the recomputation of the sequence) — which is why every DotGeneral goes to the
// kernel, whatever its size. Both orders are more accurate than simplego's.
//
// # Default
//
// The xla package creates this backend for the CPU (GOMLX_BACKEND=go keeps simplego as the
// plain reference); GOSWIFT_KERNELS_DEBUG=1 prints, at each Compile, the large ops of the graph
// and where they run.
package kernels
