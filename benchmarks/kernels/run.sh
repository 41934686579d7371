#!/usr/bin/env bash
# Side-by-side benchmarks of kernels/ and the goswift backend, for `make bench`: GEMM against
# simplego and numpy/OpenBLAS, the fused NF4 matmul against dequantise-then-GEMM, the hot
# element-wise ops against simplego, and the stories15M-shaped LoRA training step on goswift,
# on simplego and in PyTorch. Installs python3-numpy, libopenblas0-pthread and python3-torch
# from Debian when they are missing (as root). Timings on a shared machine are noisy: compare
# the ratios within one run (CPU-seconds are printed too).
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
PY=/usr/bin/python3
need=()
$PY -c 'import numpy' 2>/dev/null || need+=(python3-numpy libopenblas0-pthread)
$PY -c 'import torch' 2>/dev/null || need+=(python3-torch)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null
  else
    echo "missing Debian packages ${need[*]}: the Python comparisons will fail (run as root to install)"
  fi
fi
bench() { "$GO" test -run '^$' "$@" | grep -E '^Benchmark|^\s+\S' || true; }

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== GEMM float32 n×n×n, GFLOP/s: kernels/gemm (A·B and A·Bᵀ), simplego, numpy/OpenBLAS"
bench -bench 'BenchmarkGEMM$|BenchmarkSimplegoDotGeneral' -benchtime 3x ./kernels/gemm
$PY benchmarks/kernels/gemm.py 256 512 1024 2048 || true
OPENBLAS_NUM_THREADS=1 $PY benchmarks/kernels/gemm.py 512 2048 || true  # one core: robust on a busy machine
echo "== fused NF4 dequantise+matmul vs dequantise-then-GEMM"
bench -bench NF4 -benchtime 5x ./kernels/quantmm
echo "== element-wise ops on the [2048, 32000] logits, elements/ns: kernels/elementwise vs simplego"
bench -bench 'BenchmarkOps' -benchtime 3x ./kernels/elementwise
echo "== cross-entropy of the [2048, 32000] logits, loss + gradient: fused kernel; graphs on simplego and goswift"
bench -bench CrossEntropy -benchtime 2x ./kernels/xent
echo "== training step: stories15M shape, batch 8 × seq 256, LoRA r8 on q,k,v,o"
GOSWIFT_KERNELS_BENCH=1 bench -bench TrainStep -benchtime 2x -timeout 60m ./benchmarks/kernels
$PY benchmarks/kernels/step.py --steps 2 || true
$PY benchmarks/kernels/step.py --steps 1 --threads 1 || true  # one core: robust on a busy machine
