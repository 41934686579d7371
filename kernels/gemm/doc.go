// Package gemm is GoSwift's float32 matrix product for every layout GoMLX's DotGeneral
// produces: batched, with any strides for A and B (transposed operands included), float32 or
// bfloat16 inputs (accumulated in float32), and any element source via Decoder (kernels/quantmm
// decodes NF4/int8 weights with it).
//
// # Algorithm
//
// B is packed into strips of NR columns (zero-padded), contiguous in k; A is read in place when
// its rows are contiguous float32 (only a trailing partial strip of MR rows is packed), else
// packed into strips of MR rows. The product is split into tasks of up to 36·MR rows × 16·NR
// columns of C; each task walks K in chunks (≤ 256) and calls the micro-kernel for every MR×NR
// tile: C tile (+)= Ã·B̃ over the chunk. Tasks are spread over the cores by
// kernels/internal/parallel (no pool, no deadlock). Products under 4096 multiply-adds use a
// plain loop with the same arithmetic.
//
// Micro-kernels: AVX-512 (MR 4, NR 32, 16 ZMM accumulators + 8 totals; ~145 GFLOP per
// CPU-second here, close to the core's peak), AVX2+FMA (MR 2, NR 16) and portable Go (MR 4,
// NR 8; the only one with the purego build tag or off amd64), chosen by CPU feature detection
// (golang.org/x/sys/cpu); UseKernel picks one for tests and benchmarks.
//
// # One summation order
//
// Every element is summed the same way whatever the kernel, the tiling, the number of workers
// or the number of rows in the product: K is cut into equal chunks of at most 256 (kcFor); a
// chunk into sub-blocks of 16 steps whose even and odd steps go to two fused multiply-add
// accumulators from zero; sub-block values are added to the chunk's total and chunk totals to
// C. So results are reproducible bit for bit and a row computed alone equals the same row in a
// larger product (TestConsistent). The split sums are also more accurate than one long chain
// (mean error about 0.6× simplego's at K = 768, 0.9× at K = 64).
//
// Products with K < exactK (256) are summed exactly instead: float64 fused multiply-adds of the
// exact products, rounded to float32 once (exact micro-kernels, ~35 GFLOP per CPU-second on
// AVX-512). Their results are the correctly rounded sums, whatever the order of k
// (TestExactShortProducts): attention scores over a permuted head dimension, or a layer with a
// merged adapter, give the same values. They are a small share of a training step's flops.
//
// Reference (float64 sums, one element at a time) is the plain definition the tests compare
// against, for every micro-kernel, odd sizes and edge tiles; BenchmarkGEMM and
// BenchmarkSimplegoDotGeneral measure it against simplego (benchmarks/kernels/gemm.py against
// numpy/OpenBLAS).
package gemm
