#!/usr/bin/python3
"""Time PyTorch eager on a benchmark model.

    /usr/bin/python3 bench/torch_bench.py KEY BATCH INPUT.npy [--threads T] [--runs N] [--warmup W]

Rebuilds the nn.Module that tests/models/export.py exported for KEY at BATCH
(same classes from tests/models/mixc_models.py, same seeds, through
export_models.configure), feeds INPUT.npy and times model(x) under
torch.no_grad() with torch.set_num_threads(T).  Set OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS to T in the environment too (run.sh does).  Prints
'check_max_abs=E' (vs the exported output_0.npy next to INPUT.npy, if any) and
'median_ms=X min_ms=Y runs=N' last.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_models as em  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("key", choices=sorted(em.MODELS))
    ap.add_argument("batch", type=int)
    ap.add_argument("input")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    name, variant = em.configure(a.key, a.batch)
    model, shape, _ = em.ex.build(name, "realistic", variant)
    model.eval()
    torch.set_num_threads(a.threads)
    x = torch.from_numpy(np.load(a.input))
    if tuple(x.shape) != tuple(shape):
        raise SystemExit("input shape %s, model wants %s" % (tuple(x.shape), shape))
    with torch.no_grad():
        for _ in range(max(1, a.warmup)):
            y = model(x)
        ref = os.path.join(os.path.dirname(a.input), "output_0.npy")
        if os.path.exists(ref):
            print("check_max_abs=%.3e" % float(np.abs(y.numpy() - np.load(ref)).max()))
        ms = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            model(x)
            ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    n = len(ms)
    med = (ms[(n - 1) // 2] + ms[n // 2]) / 2 if n else 0.0
    print("torch=%s threads=%d" % (torch.__version__, torch.get_num_threads()))
    print("median_ms=%.4f min_ms=%.4f runs=%d" % (med, ms[0] if n else 0.0, n))


if __name__ == "__main__":
    main()
