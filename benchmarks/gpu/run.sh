#!/usr/bin/env bash
# GoSwift's GPU check, run on the GPU machine from the folder build.sh produced. Needs nothing
# from a network. The whole check has a budget of $BUDGET seconds (default 300): each stage runs
# under `timeout` capped at what is left, a stage is skipped (with a message saying so) when
# fewer than 60 s remain, and every stage's elapsed seconds are printed and tabled. Stages:
#   0. smoke: find the CUDA PJRT plugin (jax-cuda*-pjrt's xla_cuda_plugin.so), load it, one matmul.
#   s. SPMD: the same LoRA steps plain vs train.Parallel on a 1-device mesh (replicated, FSDP)
#      and, with more than one GPU, on all of them; fails beyond 1e-5 relative on one device.
#   a. GoSwift: LoRA (q,k,v,o, r8) bf16 training of the SmolLM-135M and Qwen2.5-0.5B shapes.
#   b. PyTorch + PEFT: the same shapes, LoRA, batch and steps.
#   d. GoSwift writes a base model (HF layout) + PEFT adapter + its logits; transformers +
#      PeftModel load them and the logits must match GoSwift's within 1e-3 (float32, TF32 off).
#   c. table (last): tokens/s of both, ratio, MFU (H200 bf16 dense peak), peak GPU memory, the
#      SPMD and PEFT checks, and the seconds of every stage.
# Order: smoke, s, SmolLM a+b, d, Qwen a+b — so a tight budget drops the biggest speed run, not
# a correctness check.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
STEPS="${STEPS:-12}" BATCH="${BATCH:-8}" SEQ="${SEQ:-512}" BUDGET="${BUDGET:-300}"
work="$(mktemp -d)"
results="$work/results.jsonl" stages="$work/stages.tsv" last="$work/last.out"
: >"$results" && : >"$stages"
start=$SECONDS
say() { printf '%s\n' "$*" >&2; }
remaining() { echo $((BUDGET - (SECONDS - start))); }

# stage NAME LIMIT CMD...: runs CMD under timeout min(LIMIT, time left), its stdout appended to
# the results (and kept in $last), its elapsed seconds and outcome tabled. Returns CMD's status,
# or 2 when skipped for lack of time.
stage() {
  local name="$1" limit="$2" left rc=0 t0 status
  shift 2
  left="$(remaining)"
  : >"$last"
  if [ "$left" -lt 60 ]; then
    say "stage $name SKIPPED: only ${left}s of the ${BUDGET}s budget left (a stage needs 60 s; raise BUDGET to run it)"
    printf '%s\t-\tskipped (budget)\n' "$name" >>"$stages"
    return 2
  fi
  [ "$limit" -gt "$left" ] && limit="$left"
  say "stage $name (limit ${limit}s, ${left}s of the budget left)"
  t0=$SECONDS
  timeout "$limit" "$@" >"$last" || rc=$?
  cat "$last" >>"$results"
  case "$rc" in
    0) status=ok ;;
    124) status="TIMED OUT after ${limit}s" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  say "stage $name: $((SECONDS - t0))s, $status"
  printf '%s\t%s\t%s\n' "$name" "$((SECONDS - t0))" "$status" >>"$stages"
  return "$rc"
}

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
say "GOMLX_BACKEND=${GOMLX_BACKEND:-<search>}, budget ${BUDGET}s, work dir $work"
if ! stage 0-smoke 60 "$here/gpucheck" smoke --device cuda; then
  say "stage 0 FAILED: the CUDA PJRT plugin did not load or run a matmul (go-xla bundles PJRT C API 0.83; a newer plugin may be incompatible). Stopping."
  column -t -s $'\t' "$stages" >&2 2>/dev/null || cat "$stages" >&2
  exit 1
fi

# Stage s: the real SPMD path (Exec.AutoSharding on a device mesh) against the plain path.
stage s-spmd 120 "$here/gpucheck" spmd --device cuda || say "SPMD check failed (see its message above)"

train_pair() { # a and b for one shape
  local shape="$1" fpt
  stage "a-goswift-$shape" 120 "$here/gpucheck" train --device cuda --shape "$shape" --steps "$STEPS" \
    --batch "$BATCH" --seq "$SEQ" || { say "GoSwift training of $shape failed or was skipped"; return; }
  fpt="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["flops_per_token"])' "$(tail -n 1 "$last")")"
  stage "b-peft-$shape" 120 python3 "$here/peft_train.py" --shape "$shape" --steps "$STEPS" --batch "$BATCH" \
    --seq "$SEQ" --flops-per-token "$fpt" || say "PyTorch+PEFT training of $shape failed or was skipped"
}

train_pair smollm-135m

# Stage d. GoSwift's reference logits come from its CPU backend (exact float32): XLA-GPU's
# DEFAULT precision may run f32 matmuls as TF32 (10-bit mantissa), which over 30 random layers
# can exceed the 1e-3 tolerance by itself and would test the GPU's matmul precision rather
# than the adapter export. GOMLX_BACKEND (set above to the CUDA plugin) is unset for it, as it
# would contradict --device cpu.
if stage d-export 90 env -u GOMLX_BACKEND "$here/gpucheck" export --device cpu --shape smollm-135m --out "$work/export"; then
  stage d-peft-compare 90 python3 "$here/peft_compare.py" --dir "$work/export" || say "PEFT logits comparison failed or was skipped"
fi

train_pair qwen2.5-0.5b

say "stage c: table (results in $results)"
python3 - "$results" "$stages" "$BUDGET" <<'PY'
import json, sys
rows = []
for l in open(sys.argv[1]):
    try:
        rows.append(json.loads(l))
    except ValueError:
        pass
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
    if r.get("stage") == "spmd":
        diffs = ", ".join(f"{k} {v:.2e}" for k, v in sorted(r["max_abs_diff"].items()))
        note = f" ({r['multi_device']})" if r.get("multi_device") else ""
        print(f"SPMD ({r['devices']} device(s), {r['shape']} {r['dtype']}): max |Δ loss| vs plain: {diffs}"
              f" (tol {r['tol']} rel) {'OK' if r['ok'] else 'FAIL'}{note}")
    if r.get("stage") == "peft_logits":
        print(f"PEFT logits: max |Δ| {r['max_abs_diff']:.2e} (tol {r['tol']}) {'OK' if r['ok'] else 'FAIL'}")
total = 0
print(f"\n{'stage':26} {'seconds':>7}  outcome")
for l in open(sys.argv[2]):
    name, secs, status = l.rstrip("\n").split("\t")
    total += int(secs) if secs.isdigit() else 0
    print(f"{name:26} {secs:>7}  {status}")
print(f"{'total':26} {total:7}  (budget {sys.argv[3]} s)")
PY
