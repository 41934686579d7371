#!/usr/bin/env bash
# Side-by-side benchmarks of kernels/ and the goswift backend, for `make bench`: GEMM against
# simplego and numpy/OpenBLAS, the fused NF4 matmul against dequantise-then-GEMM, the hot
# element-wise ops against simplego, the fused cross-entropy, and the stories15M-shaped LoRA
# training step on goswift, on simplego and in PyTorch. Installs python3-numpy,
# libopenblas0-pthread and python3-torch from Debian when they are missing (as root). Timings on
# a shared machine are noisy: compare the ratios within one run (CPU-seconds are printed too).
#
# Usage:
#   benchmarks/kernels/run.sh [OUT]            run, keeping the results in OUT
#   benchmarks/kernels/run.sh --summary OUT    print the summary of a finished run again
# OUT (the argument, else $OUT, else benchmarks/results/<date>-kernels) receives run.txt
# (everything printed), the raw output of each part (gemm.txt, numpy.txt, nf4.txt, ops.txt,
# xent.txt, step.txt, torch.txt) and summary.md (the tables printed at the end); a rerun into
# the same folder replaces those files.
# SECTIONS="gemm quantiles nf4 ops xent step" (the default: all) runs only the parts named.
set -euo pipefail
GO=${GO:-go}
PY=/usr/bin/python3

# metric FILE REGEX UNIT: the value reported in UNIT on the first benchmark line whose name
# (without go test's -GOMAXPROCS suffix) matches ^REGEX$; empty when there is none.
metric() {
  [ -f "$1" ] || return 0
  awk -v re="^$2(-[0-9]+)?\$" -v u="$3" \
    '$1 ~ re { for (i = 2; i < NF; i++) if ($(i + 1) == u) { print $i; exit } }' "$1"
}

# ratio A B SCALE SUFFIX: A/B·SCALE (one decimal, two below 1) and SUFFIX, or n/a.
ratio() {
  awk -v a="$1" -v b="$2" -v s="$3" -v x="$4" 'BEGIN {
    if (a == "" || b == "" || b + 0 == 0) { print "n/a"; exit }
    r = a / b * s; printf (r < 1 ? "%.2f%s\n" : "%.1f%s\n"), r, x }'
}

or_na() { echo "${1:-n/a}"; }

# summary OUT: the markdown tables of a run's results.
summary() {
  local out=$1 n k sh
  local gemm=$out/gemm.txt numpy=$out/numpy.txt nf4=$out/nf4.txt step=$out/step.txt torch=$out/torch.txt
  if [ -f "$out/run.txt" ]; then
    echo "# Kernel benchmarks ($out)"
    echo
    grep -m3 '^== ' "$out/run.txt" | sed 's/^== /- /'
    echo
  fi
  # have FILE...: whether any of the files exists (else the part's table says it did not run).
  have() { local f; for f in "$@"; do [ -f "$f" ] && return 0; done; return 1; }
  k=$([ -f "$gemm" ] && awk -F/ '/^BenchmarkGEMM\/n=/ { print $3; exit }' "$gemm" || true)
  echo "## GEMM float32 n×n×n (goswift = kernels/gemm, micro-kernel $(or_na "$k"); goal ≥ 50% of OpenBLAS)"
  echo
  echo "| n | goswift A·B GFLOP/s | goswift A·Bᵀ GFLOP/s | simplego GFLOP/s | numpy/OpenBLAS GFLOP/s | goswift A·B × simplego | goswift A·B % of OpenBLAS | goswift A·Bᵀ % of OpenBLAS | per CPU-s: goswift A·B / simplego / OpenBLAS | OpenBLAS 1 thread GFLOP/s |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  have "$gemm" "$numpy" || echo "| (not run) | | | | | | | | | |"
  for n in $(have "$gemm" "$numpy" && echo 256 512 1024 2048); do
    local rm tr sg np rmc sgc npc np1
    rm=$(metric "$gemm" "BenchmarkGEMM/n=$n/[^/]+/rm" GFLOP/s)
    tr=$(metric "$gemm" "BenchmarkGEMM/n=$n/[^/]+/tr" GFLOP/s)
    sg=$(metric "$gemm" "BenchmarkSimplegoDotGeneral/n=$n" GFLOP/s)
    rmc=$(metric "$gemm" "BenchmarkGEMM/n=$n/[^/]+/rm" GFLOP/cpu-s)
    sgc=$(metric "$gemm" "BenchmarkSimplegoDotGeneral/n=$n" GFLOP/cpu-s)
    np=$([ -f "$numpy" ] && awk -v n="n=$n:" '$1 == "numpy" && $2 == n && $NF != "threads=1" { print $3; exit }' "$numpy" || true)
    npc=$([ -f "$numpy" ] && awk -v n="n=$n:" '$1 == "numpy" && $2 == n && $NF != "threads=1" { v = $5; sub(/\(/, "", v); print v; exit }' "$numpy" || true)
    np1=$([ -f "$numpy" ] && awk -v n="n=$n:" '$1 == "numpy" && $2 == n && $NF == "threads=1" { print $3; exit }' "$numpy" || true)
    echo "| $n | $(or_na "$rm") | $(or_na "$tr") | $(or_na "$sg") | $(or_na "$np") | $(ratio "$rm" "$sg" 1 ×) | $(ratio "$rm" "$np" 100 %) | $(ratio "$tr" "$np" 100 %) | $(or_na "$rmc") / $(or_na "$sgc") / $(or_na "$npc") | $(or_na "$np1") |"
  done
  echo
  echo "## Fused NF4 dequantise+matmul vs dequantise-then-GEMM (kernels/quantmm, y = x·Wᵀ)"
  echo
  echo "| m × out × in | fused GFLOP/s | dequantise+GEMM GFLOP/s | fused speed-up |"
  echo "|---|---|---|---|"
  have "$nf4" || echo "| (not run) | | | |"
  for sh in $([ -f "$nf4" ] && awk -F/ '/^BenchmarkNF4\// && !seen[$2]++ { print $2 }' "$nf4" || true); do
    local f u
    f=$(metric "$nf4" "BenchmarkNF4/$sh/fused" GFLOP/s)
    u=$(metric "$nf4" "BenchmarkNF4/$sh/dequantize.gemm" GFLOP/s)
    echo "| $(echo "$sh" | sed 's/^m//; s/_/ × /; s/x/ × /') | $(or_na "$f") | $(or_na "$u") | $(ratio "$f" "$u" 1 ×) |"
  done
  echo
  echo "## Training step: stories15M shape, batch 8 × seq 256, LoRA r8 on q,k,v,o (goal ≥ 2× PyTorch)"
  echo
  local pt ptc
  pt=$(awk '$1 == "pytorch" && $3 != "threads=1:" { print $4; exit }' "$torch" 2>/dev/null || true)
  ptc=$(awk '$1 == "pytorch" && $3 != "threads=1:" { print $6; exit }' "$torch" 2>/dev/null || true)
  local cfg name ts tc sgs=
  IFS=, read -ra cfgs <<<"${GOSWIFT_STEP_BACKENDS:-goswift:parallelism=-1,go:parallelism=-1}"
  for cfg in "${cfgs[@]}"; do # simplego: the first "go" config
    case $cfg in go:* | go) sgs=$(metric "$step" "BenchmarkTrainStep/${cfg//:/_}" tokens/s) && break ;; esac
  done
  echo "| backend | tokens/s | tokens/cpu-s | × simplego (tokens/s) | × PyTorch (tokens/s) | × PyTorch (tokens/cpu-s) |"
  echo "|---|---|---|---|---|---|"
  have "$step" "$torch" || { echo "| (not run) | | | | | |"; cfgs=(); }
  for cfg in "${cfgs[@]}"; do
    name=${cfg//:/_}
    ts=$(metric "$step" "BenchmarkTrainStep/$name" tokens/s)
    tc=$(metric "$step" "BenchmarkTrainStep/$name" tokens/cpu-s)
    case $cfg in go:* | go) name="simplego ($cfg)" ;; goswift*) name="goswift ($cfg)" ;; *) name=$cfg ;; esac
    echo "| $name | $(or_na "$ts") | $(or_na "$tc") | $(ratio "$ts" "$sgs" 1 ×) | $(ratio "$ts" "$pt" 1 ×) | $(ratio "$tc" "$ptc" 1 ×) |"
  done
  [ -f "$torch" ] && awk '$1 == "pytorch" { t = $3; sub(/:$/, "", t); print "| PyTorch " $2 " (" t ") | " $4 " | " $6 " | | | |" }' "$torch"
  return 0
}

# bench ARGS: go test -run '^$' ARGS, filtered to the benchmark lines; a failure is printed
# ("!! ...") and does not stop the other parts.
bench() {
  { "$GO" test -run '^$' "$@" 2>&1 || echo "!! go test $* exited $?"; } |
    { grep -E '^(Benchmark|FAIL|panic|---|!!)|^\s+\S' || true; }
}

py() { $PY "$@" || echo "!! $PY $* failed"; }

run_all() {
  local out=$1
  local sections=" ${SECTIONS:-gemm quantiles nf4 ops xent step} "
  echo "== $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- . ':!benchmarks/results' 2>/dev/null || echo +dirty), $("$GO" version)"
  echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "== results in $out"
  local need=()
  case $sections in *" gemm "*) $PY -c 'import numpy' 2>/dev/null || need+=(python3-numpy libopenblas0-pthread) ;; esac
  case $sections in *" step "*) $PY -c 'import torch' 2>/dev/null || need+=(python3-torch) ;; esac
  if ((${#need[@]})); then
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null
    else
      echo "missing Debian packages ${need[*]}: the Python comparisons will fail (run as root to install)"
    fi
  fi
  case $sections in *" gemm "*)
    echo "== GEMM float32 n×n×n, GFLOP/s: kernels/gemm (A·B and A·Bᵀ), simplego, numpy/OpenBLAS"
    bench -bench 'BenchmarkGEMM$|BenchmarkSimplegoDotGeneral' -benchtime 3x ./kernels/gemm | tee "$out/gemm.txt"
    {
      py benchmarks/kernels/gemm.py 256 512 1024 2048
      OPENBLAS_NUM_THREADS=1 py benchmarks/kernels/gemm.py 512 2048 # one core: robust on a busy machine
    } | tee "$out/numpy.txt"
    ;;
  esac
  case $sections in *" quantiles "*)
    echo "== GEMM latency quantiles (github.com/janpfeifer/go-benchmarks): the 8 × 256 step's products, goswift vs simplego"
    GOSWIFT_QUANTILES=1 "$GO" test -count=1 -run '^TestLatencyQuantiles$' -v -timeout 30m ./kernels/gemm |
      grep -vE '^(=== RUN|--- PASS|PASS|ok )' | tee "$out/quantiles.txt" || echo "!! TestLatencyQuantiles failed"
    ;;
  esac
  case $sections in *" nf4 "*)
    echo "== fused NF4 dequantise+matmul vs dequantise-then-GEMM"
    bench -bench NF4 -benchtime 5x ./kernels/quantmm | tee "$out/nf4.txt"
    ;;
  esac
  case $sections in *" ops "*)
    echo "== element-wise ops on the [2048, 32000] logits, elements/ns: kernels/elementwise vs simplego"
    bench -bench 'BenchmarkOps' -benchtime 3x ./kernels/elementwise | tee "$out/ops.txt"
    ;;
  esac
  case $sections in *" xent "*)
    echo "== cross-entropy of the [2048, 32000] logits, loss + gradient: fused kernel; graphs on simplego and goswift"
    bench -bench CrossEntropy -benchtime 2x ./kernels/xent | tee "$out/xent.txt"
    ;;
  esac
  case $sections in *" step "*)
    echo "== training step: stories15M shape, batch 8 × seq 256, LoRA r8 on q,k,v,o"
    GOSWIFT_KERNELS_BENCH=1 bench -bench TrainStep -benchtime 2x -timeout 60m ./benchmarks/kernels | tee "$out/step.txt"
    {
      py benchmarks/kernels/step.py --steps 2
      py benchmarks/kernels/step.py --steps 1 --threads 1 # one core: robust on a busy machine
    } | tee "$out/torch.txt"
    ;;
  esac
  echo "== load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  summary "$out" | tee "$out/summary.md"
}

if [ "${1:-}" = --summary ]; then
  [ -d "${2:-}" ] || { echo "run.sh --summary OUT: no results folder ${2:-(none given)}" >&2; exit 2; }
  summary "$2"
  exit 0
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(realpath -m "${1:-${OUT:-$ROOT/benchmarks/results/$(date +%F)-kernels}}") # relative: to the caller's directory
cd "$ROOT"
mkdir -p "$OUT"
# A rerun into the same folder replaces the earlier one: no stale part may reach the summary.
for f in run.txt summary.md gemm.txt numpy.txt quantiles.txt nf4.txt ops.txt xent.txt step.txt torch.txt; do rm -f "${OUT:?}/$f"; done
run_all "$OUT" 2>&1 | tee "$OUT/run.txt"
