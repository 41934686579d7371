#!/usr/bin/env bash
# GoSwift's GPU check, run on the GPU machine from the folder build.sh produced. Needs nothing
# from a network. Stages:
#   0. smoke: find the CUDA PJRT plugin (jax-cuda*-pjrt's xla_cuda_plugin.so), load it, one matmul.
#   a. GoSwift: LoRA (q,k,v,o, r8) bf16 training of the SmolLM-135M and Qwen2.5-0.5B shapes.
#   b. PyTorch + PEFT: the same shapes, LoRA, batch and steps.
#   c. table: tokens/s of both, ratio, MFU (H200 bf16 dense peak), peak GPU memory.
#   d. GoSwift writes a base model (HF layout) + PEFT adapter; transformers + PeftModel load them
#      and the logits must match GoSwift's within 1e-3 (float32, TF32 off).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
STEPS="${STEPS:-12}" BATCH="${BATCH:-8}" SEQ="${SEQ:-512}"
work="$(mktemp -d)"
results="$work/results.jsonl"
say() { printf '%s\n' "$*" >&2; }

# Stage 0: the plugin. The xla package searches PJRT_PLUGIN_LIBRARY_PATH, go-xla's dirs and the
# Python site-packages; we also point it at the wheel explicitly when python3 can find it.
if [ -z "${GOMLX_BACKEND:-}" ]; then
  plugin="$(python3 - <<'PY' 2>/dev/null
import glob, site, sys
for d in site.getsitepackages() + [site.getusersitepackages()]:
    for p in sorted(glob.glob(d + "/jax_plugins/xla_cuda*/xla_cuda_plugin.so"), reverse=True):
        print(p); sys.exit(0)
PY
)"
  if [ -n "$plugin" ]; then
    export GOMLX_BACKEND="xla:$plugin"
    nvdir="$(dirname "$(dirname "$(dirname "$plugin")")")/nvidia"
    [ -d "$nvdir" ] && export LD_LIBRARY_PATH="$(find "$nvdir" -maxdepth 2 -type d -name lib | tr '\n' ':')${LD_LIBRARY_PATH:-}"
  fi
fi
say "stage 0: smoke (GOMLX_BACKEND=${GOMLX_BACKEND:-<search>})"
if ! timeout 60 "$here/gpucheck" smoke --device cuda >>"$results"; then
  say "stage 0 FAILED: the CUDA PJRT plugin did not load or run a matmul (go-xla bundles PJRT C API 0.83; a newer plugin may be incompatible). Stopping."
  exit 1
fi

for shape in smollm-135m qwen2.5-0.5b; do
  say "stage a: GoSwift $shape"
  line="$(timeout 150 "$here/gpucheck" train --device cuda --shape "$shape" --steps "$STEPS" --batch "$BATCH" --seq "$SEQ")" \
    || { say "GoSwift training of $shape failed"; continue; }
  echo "$line" >>"$results"
  fpt="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["flops_per_token"])' "$line")"
  say "stage b: PyTorch+PEFT $shape"
  timeout 150 python3 "$here/peft_train.py" --shape "$shape" --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" \
    --flops-per-token "$fpt" >>"$results" || say "PyTorch+PEFT training of $shape failed"
done

say "stage d: PEFT adapter round trip"
if timeout 120 "$here/gpucheck" export --shape smollm-135m --out "$work/export" >>"$results"; then
  timeout 120 python3 "$here/peft_compare.py" --dir "$work/export" >>"$results" || say "PEFT logits comparison failed"
fi

say "stage c: table ($results)"
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
train = [r for r in rows if r.get("stage") == "train"]
print(f"{'shape':14} {'engine':14} {'tokens/s':>10} {'MFU':>7} {'peak MiB':>9}")
for r in train:
    print(f"{r['shape']:14} {r['engine']:14} {r['tokens_per_s']:10.0f} {100*r['mfu']:6.2f}% {r['peak_gpu_mib']:9.0f}")
for shape in sorted({r["shape"] for r in train}):
    g = [r for r in train if r["shape"] == shape and r["engine"] == "goswift"]
    p = [r for r in train if r["shape"] == shape and r["engine"] != "goswift"]
    if g and p:
        print(f"{shape}: GoSwift/PyTorch tokens/s ratio {g[0]['tokens_per_s']/p[0]['tokens_per_s']:.2f}")
for r in rows:
    if r.get("stage") == "peft_logits":
        print(f"PEFT logits: max |Δ| {r['max_abs_diff']:.2e} (tol {r['tol']}) {'OK' if r['ok'] else 'FAIL'}")
PY
