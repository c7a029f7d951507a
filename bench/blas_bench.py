#!/usr/bin/python3
"""Times one MatMul model of bench/gemm_models.py with numpy's BLAS (Debian's
OpenBLAS, one thread): Y = A @ W on the same input and weight.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/blas_bench.py MODEL INPUT --runs N

Prints `median_ms=X min_ms=Y runs=N` like mixc and ort_bench.js, after two
untimed runs."""
import argparse
import time

import numpy as np
import onnx
from onnx import numpy_helper

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("input")
ap.add_argument("--runs", type=int, default=20)
a = ap.parse_args()
m = onnx.load(a.model)
w = numpy_helper.to_array(m.graph.initializer[0]).astype(np.float32)
x = np.load(a.input).astype(np.float32)
y = np.empty((x.shape[0], w.shape[1]), np.float32)
for _ in range(2):
    np.matmul(x, w, out=y)
ts = []
for _ in range(a.runs):
    t = time.perf_counter()
    np.matmul(x, w, out=y)
    ts.append((time.perf_counter() - t) * 1e3)
ts.sort()
print("median_ms=%.4f min_ms=%.4f runs=%d" % (ts[len(ts) // 2], ts[0], a.runs))
