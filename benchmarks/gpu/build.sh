#!/usr/bin/env bash
# Builds the GPU check on a CPU machine (linux/amd64, cgo, XLA backend included) into
# benchmarks/gpu/dist/: the gpucheck binary, the Python peers and run.sh. Copy that folder to the
# GPU machine and run ./run.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=benchmarks/gpu/dist
rm -rf "$out" && mkdir -p "$out"
CGO_ENABLED=1 GOOS=linux GOARCH=amd64 go build -o "$out/gpucheck" ./benchmarks/gpu/gpucheck
cp benchmarks/gpu/run.sh benchmarks/gpu/peft_train.py benchmarks/gpu/peft_compare.py "$out/"
echo "built $out: $(ls "$out" | tr '\n' ' ')"
