#!/usr/bin/env python3
"""numpy/OpenBLAS reference for BenchmarkGEMM: square float32 matmuls in GFLOP/s.

Usage: gemm.py [sizes...]   (Debian: apt-get install python3-numpy libopenblas0-pthread)
"""
import os
import sys
import time

import numpy as np


def main():
    sizes = [int(s) for s in sys.argv[1:]] or [256, 512, 1024, 2048]
    rng = np.random.default_rng(1)
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        a @ b  # warm-up
        reps = max(3, int(2e10 / (2 * n ** 3)))
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            a @ b
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        fl = 2 * n ** 3 * reps
        print(f"numpy n={n}: {fl / wall / 1e9:.1f} GFLOP/s ({fl / cpu / 1e9:.1f} per CPU-second), "
              f"threads={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")


if __name__ == "__main__":
    main()
