#!/usr/bin/env python3
"""Loads the base model GoSwift wrote in HF layout and the PEFT adapter GoSwift exported, with
transformers + PeftModel.from_pretrained, in float32 with TF32 off, and compares the logits with
GoSwift's (logits.json from `gpucheck export`). Prints one JSON line; exits 1 beyond 1e-3."""
import argparse, json, sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--tol", type=float, default=1e-3)
a = p.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
ref = json.load(open(f"{a.dir}/logits.json"))
base = AutoModelForCausalLM.from_pretrained(f"{a.dir}/base", torch_dtype=torch.float32).cuda()
model = PeftModel.from_pretrained(base, f"{a.dir}/adapter").eval()
with torch.no_grad():
    logits = model(input_ids=torch.tensor([ref["input_ids"]], device="cuda")).logits[0].float().cpu()
want = torch.tensor(ref["logits"], dtype=torch.float32)
diff = (logits - want).abs().max().item()
print(json.dumps({"stage": "peft_logits", "max_abs_diff": diff, "tol": a.tol, "ok": diff <= a.tol}))
sys.exit(0 if diff <= a.tol else 1)
