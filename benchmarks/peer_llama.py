#!/usr/bin/env python3
"""GoSwift benchmark peer: the same Llama shape and technique in PyTorch on the CPU.

A hand-written Llama (token embedding, pre-norm blocks of RMSNorm -> grouped-query attention
with RoPE -> residual, RMSNorm -> SwiGLU MLP -> residual, final RMSNorm, tied head) with
seeded random weights (normal, sigma 0.02; norms 1), trained with AdamW (betas 0.9/0.999,
eps 1e-8, no weight decay) and global-norm clipping at 1.0 on next-token cross-entropy, in
float32 -- what `goswift bench` runs. Techniques: "full" (every weight trains) and "lora"
(frozen base; A [r, in] Kaiming-uniform, B [out, r] zeros on q,k,v,o; scaling alpha/r with
alpha = 2r), written by hand since PEFT is not packaged in Debian.

Run with Debian's /usr/bin/python3 and python3-torch. Prints one JSON line:
step seconds (after warm-up), tokens/s, samples/s, peak RSS (ru_maxrss) and the RSS after
`import torch` (baseline), trainable and total parameters.
"""
import argparse
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    "stories15m": dict(vocab=32000, hidden=288, inter=768, layers=6, heads=6, kv_heads=6, head_dim=48,
                       eps=1e-5, theta=10000.0, rope="interleaved"),
    "smollm-135m": dict(vocab=49152, hidden=576, inter=1536, layers=30, heads=9, kv_heads=3, head_dim=64,
                        eps=1e-5, theta=10000.0, rope="half"),
    "qwen2.5-0.5b": dict(vocab=151936, hidden=896, inter=4864, layers=24, heads=14, kv_heads=2, head_dim=64,
                         eps=1e-6, theta=1000000.0, rope="half", qkv_bias=True),
}


def rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


class Linear(nn.Module):
    """y = x W^T (+ b) with an optional LoRA delta (alpha/r) B A x on a frozen W."""

    def __init__(self, n_in, n_out, gen, bias=False, lora_rank=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in, generator=gen) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None
        self.rank = lora_rank
        if lora_rank:
            bound = 1 / math.sqrt(n_in)  # Kaiming-uniform with a = sqrt(5), as PEFT
            self.lora_A = nn.Parameter((torch.rand(lora_rank, n_in, generator=gen) * 2 - 1) * bound)
            self.lora_B = nn.Parameter(torch.zeros(n_out, lora_rank))
            self.scaling = (2 * lora_rank) / lora_rank

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.rank:
            y = y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scaling
        return y


class RMSNorm(nn.Module):
    def __init__(self, width, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin, style):
    """x [B, S, H, D]; cos, sin [S, D/2]."""
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    if style == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2)
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat((a * c - b * s, a * s + b * c), dim=-1)


class Block(nn.Module):
    def __init__(self, c, gen, rank):
        super().__init__()
        h, d = c["hidden"], c["head_dim"]
        bias = c.get("qkv_bias", False)
        self.c = c
        self.input_layernorm = RMSNorm(h, c["eps"])
        self.q_proj = Linear(h, c["heads"] * d, gen, bias, rank)
        self.k_proj = Linear(h, c["kv_heads"] * d, gen, bias, rank)
        self.v_proj = Linear(h, c["kv_heads"] * d, gen, bias, rank)
        self.o_proj = Linear(c["heads"] * d, h, gen, False, rank)
        self.post_attention_layernorm = RMSNorm(h, c["eps"])
        self.gate_proj = Linear(h, c["inter"], gen)
        self.up_proj = Linear(h, c["inter"], gen)
        self.down_proj = Linear(c["inter"], h, gen)

    def forward(self, x, cos, sin, mask):
        c = self.c
        b, s, _ = x.shape
        nh, nkv, d = c["heads"], c["kv_heads"], c["head_dim"]
        h = self.input_layernorm(x)
        q = rope(self.q_proj(h).view(b, s, nh, d), cos, sin, c["rope"])
        k = rope(self.k_proj(h).view(b, s, nkv, d), cos, sin, c["rope"])
        v = self.v_proj(h).view(b, s, nkv, d)
        if nkv != nh:
            k = k.repeat_interleave(nh // nkv, dim=2)
            v = v.repeat_interleave(nh // nkv, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, H, S, D]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d) + mask
        attn = torch.softmax(scores, dim=-1) @ v  # [B, H, S, D]
        x = x + self.o_proj(attn.transpose(1, 2).reshape(b, s, nh * d))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self, c, gen, rank):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Parameter(torch.randn(c["vocab"], c["hidden"], generator=gen) * 0.02)
        self.layers = nn.ModuleList([Block(c, gen, rank) for _ in range(c["layers"])])
        self.norm = RMSNorm(c["hidden"], c["eps"])

    def forward(self, tokens):
        c = self.c
        s = tokens.shape[1]
        half = c["head_dim"] // 2
        inv = 1.0 / (c["theta"] ** (torch.arange(half, dtype=torch.float32) * 2 / c["head_dim"]))
        ang = torch.arange(s, dtype=torch.float32)[:, None] * inv[None, :]
        cos, sin = torch.cos(ang), torch.sin(ang)
        mask = torch.full((s, s), -1e9).triu(1)
        x = F.embedding(tokens, self.embed_tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return F.linear(self.norm(x), self.embed_tokens)  # tied head: [B, S, V]


def blas_library():
    """The BLAS library mapped into this process (Debian's libblas.so.3 alternative)."""
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1]
                if "blas" in path.rsplit("/", 1)[-1]:
                    return path
    except OSError:
        pass
    return "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shape", default="stories15m", choices=sorted(SHAPES))
    p.add_argument("--technique", default="lora", choices=["full", "lora"])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--steps", type=int, default=3, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    a = p.parse_args()
    baseline = rss_bytes()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    else:
        import os
        torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    c = SHAPES[a.shape]
    rank = a.rank if a.technique == "lora" else 0
    model = Llama(c, gen, rank)
    for name, prm in model.named_parameters():
        prm.requires_grad = a.technique == "full" or "lora_" in name
    trainable = [q for q in model.parameters() if q.requires_grad]
    n_train = sum(q.numel() for q in trainable)
    n_total = sum(q.numel() for q in model.parameters())
    opt = torch.optim.AdamW(trainable, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    times = []
    for step in range(a.warmup + a.steps):
        i = torch.arange(a.batch * (a.seq + 1)).view(a.batch, a.seq + 1)
        ids = (i * 7919 + step * 104729 + a.seed * 131) % c["vocab"]
        t0 = time.perf_counter()
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
        if not math.isfinite(loss.item()):
            print(f"non-finite loss at step {step}", file=sys.stderr)
            sys.exit(1)
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    print(json.dumps({
        "engine": "pytorch", "technique": a.technique, "shape": a.shape, "batch": a.batch, "seq": a.seq,
        "rank": rank, "seed": a.seed, "step_seconds": times, "step_seconds_median": med,
        "train_tokens_per_s": a.batch * a.seq / med, "train_samples_per_s": a.batch / med,
        "peak_rss_bytes": rss_bytes(), "baseline_rss_bytes": baseline,
        "params_trainable": n_train, "params_total": n_total, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "blas": blas_library(), "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
