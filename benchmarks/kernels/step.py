#!/usr/bin/env python3
"""PyTorch reference for BenchmarkTrainStep: one training step of the stories15M-shaped Llama
(dim 288, 6 layers, 6 heads, hidden 768, vocab 32000, tied embeddings, interleaved RoPE) with a
hand-written LoRA (r 8, alpha 16) on q, k, v, o over a frozen float32 base, AdamW on the
adapter only, batch 8 x seq 256, on CPU. Prints tokens/s (wall) and CPU-seconds per step.

Usage: step.py [--steps N] [--threads T]   (Debian: apt-get install python3-torch)
"""
import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DIM, LAYERS, HEADS, HIDDEN, VOCAB = 288, 6, 6, 768, 32000
HEAD_DIM = DIM // HEADS


class LoRALinear(nn.Module):
    def __init__(self, din, dout, r=8, alpha=16):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dout, din) * 0.02, requires_grad=False)
        self.a = nn.Parameter(torch.randn(r, din) / math.sqrt(din))
        self.b = nn.Parameter(torch.zeros(dout, r))
        self.scale = alpha / r

    def forward(self, x):
        return F.linear(x, self.weight) + F.linear(F.linear(x, self.a), self.b) * self.scale


class Frozen(nn.Module):
    def __init__(self, din, dout):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dout, din) * 0.02, requires_grad=False)

    def forward(self, x):
        return F.linear(x, self.weight)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d), requires_grad=False)
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    # x [B, S, H, D], interleaved pairs (2j, 2j+1) as llama2.c.
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(DIM), RMSNorm(DIM)
        self.q, self.k, self.v, self.o = (LoRALinear(DIM, DIM) for _ in range(4))
        self.gate, self.up, self.down = Frozen(DIM, HIDDEN), Frozen(DIM, HIDDEN), Frozen(HIDDEN, DIM)

    def forward(self, x, cos, sin):
        b, s, _ = x.shape
        h = self.n1(x)
        q = rope(self.q(h).view(b, s, HEADS, HEAD_DIM), cos, sin).transpose(1, 2)
        k = rope(self.k(h).view(b, s, HEADS, HEAD_DIM), cos, sin).transpose(1, 2)
        v = self.v(h).view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(HEAD_DIM)  # [B, H, S, S]
        mask = torch.ones(s, s, dtype=torch.bool).triu(1)
        att = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
        x = x + self.o(att.transpose(1, 2).reshape(b, s, DIM))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Parameter(torch.randn(VOCAB, DIM) * 0.02, requires_grad=False)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = RMSNorm(DIM)

    def forward(self, tokens):
        s = tokens.shape[1]
        inv = 1.0 / (10000 ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
        ang = torch.outer(torch.arange(s).float(), inv)  # [S, D/2]
        cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
        x = F.embedding(tokens, self.embed)
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return F.linear(self.norm(x), self.embed)  # tied classifier


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Llama()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    g = torch.Generator().manual_seed(2)
    tokens = torch.randint(0, VOCAB, (args.batch, args.seq + 1), generator=g)
    x, y = tokens[:, :-1], tokens[:, 1:]

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        step()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    n = args.batch * args.seq * args.steps
    print(f"pytorch {torch.__version__} threads={args.threads}: {n / wall:.1f} tokens/s, "
          f"{n / cpu:.1f} tokens/cpu-s, {cpu / args.steps:.3f} cpu-s/step, {wall / args.steps:.3f} s/step")


if __name__ == "__main__":
    main()
