// Package kernels (benchmarks/kernels) measures GoSwift's CPU kernels and its "goswift"
// backend against their references, side by side in one run: square GEMMs against simplego's
// DotGeneral and numpy/OpenBLAS (gemm.py), the fused NF4/int8 matmul against
// dequantise-then-GEMM, and the training step of the stories15M-shaped Llama (batch 8 × seq
// 256, LoRA r8 on q, k, v, o) on the goswift backend, on simplego and in PyTorch (step.py).
// It also holds the whole-model equivalence tests of the goswift backend against simplego
// (forward and gradients of the Llama block, LoRA and QLoRA training steps).
//
// `make bench` runs it through run.sh, which installs numpy/OpenBLAS and PyTorch from Debian
// when they are missing. Timings on a shared machine are noisy: every benchmark also reports
// CPU-seconds, and the comparisons that matter are the ratios measured in the same run.
package kernels
