#!/usr/bin/env python3
"""The PyTorch + PEFT peer of `gpucheck train`: same shape, random weights from the same config
(transformers), LoRA on q,k,v,o, bf16, AdamW, the same batch/steps. Prints one JSON line."""
import argparse, json, time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM

SHAPES = {
    "stories15m": dict(model_type="llama", vocab_size=32000, hidden_size=288, intermediate_size=768,
                       num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=6, head_dim=48,
                       rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True, max_position_embeddings=256),
    "smollm-135m": dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                        num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, head_dim=64,
                        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True, max_position_embeddings=2048),
    "qwen2.5-0.5b": dict(model_type="qwen2", vocab_size=151936, hidden_size=896, intermediate_size=4864,
                         num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2, head_dim=64,
                         rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True, max_position_embeddings=32768),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="smollm-135m")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--flops-per-token", type=float, required=True)
    p.add_argument("--peak-flops", type=float, default=989.4e12)
    a = p.parse_args()
    torch.manual_seed(1)
    shape = dict(SHAPES[a.shape])
    cfg = AutoConfig.for_model(shape.pop("model_type"), **shape)
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16).cuda()
    model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0,
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    for n, prm in model.named_parameters():
        if prm.requires_grad:
            prm.data = prm.data.float()  # float32 adapters (master weights), as GoSwift
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4)
    g = torch.Generator(device="cuda").manual_seed(1)
    torch.cuda.reset_peak_memory_stats()
    timed = 0.0
    for step in range(a.steps):
        ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq + 1), device="cuda", generator=g)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            # transformers shifts labels itself (position t predicts labels[t+1]): pass the
            # inputs, not pre-shifted targets.
            x = ids[:, :-1]
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        if step >= 2:
            timed += time.perf_counter() - t0
    tps = a.batch * a.seq * (a.steps - 2) / timed
    print(json.dumps({"stage": "train", "engine": "pytorch+peft", "shape": a.shape, "dtype": "bf16",
                      "batch": a.batch, "seq": a.seq, "steps": a.steps, "tokens_per_s": tps,
                      "mfu": tps * a.flops_per_token / a.peak_flops,
                      "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
