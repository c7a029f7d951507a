#!/usr/bin/python3
"""Single-MatMul ONNX models with the GEMM shapes of the Mixer models.

    /usr/bin/python3 bench/gemm_models.py --out DIR

Each DIR/gemm_MxKxN/ gets model.onnx (Y = A @ W, A (M,K) the graph input
named 'A', W (K,N) a float32 initializer, as in an exported Linear) and
input_0.npy.  SHAPES lists (M, K, N, what): M = 196*B tokens for channel
mixing, 392*B for Sparse-MLP's rescaled tokens, C*B for token mixing.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPES = [
    (196, 512, 2048, "Mixer-S channel fc1, B=1"),
    (196, 2048, 512, "Mixer-S channel fc2, B=1"),
    (512, 196, 256, "Mixer-S token fc1, B=1"),
    (512, 256, 196, "Mixer-S token fc2, B=1"),
    (196, 768, 3072, "Mixer-B channel fc1, B=1"),
    (196, 3072, 768, "Mixer-B channel fc2, B=1"),
    (768, 196, 384, "Mixer-B token fc1, B=1"),
    (392, 512, 2048, "Sparse-S channel fc1 (S1=392), B=1"),
    (512, 392, 512, "Sparse-S token expert fc1 (rows=C1), B=1"),
    (1568, 512, 2048, "Mixer-S channel fc1, B=8"),
    (4096, 196, 256, "Mixer-S token fc1, B=8"),
    (1568, 768, 3072, "Mixer-B channel fc1, B=8"),
]


def name_of(m, k, n):
    return "gemm_%dx%dx%d" % (m, k, n)


def make(out, m, k, n):
    d = os.path.join(out, name_of(m, k, n))
    if os.path.exists(os.path.join(d, "model.onnx")):
        return d
    os.makedirs(d, exist_ok=True)
    rs = np.random.RandomState(m * 7 + k * 11 + n)
    w = (rs.randn(k, n) / np.sqrt(k)).astype(np.float32)
    a = rs.randn(m, k).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["A", "W"], ["Y"], name="matmul")], name_of(m, k, n),
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])],
        initializer=[numpy_helper.from_array(w, "W")])
    model = helper.make_model(g, producer_name="mixc-bench",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    np.save(os.path.join(d, "input_0.npy"), a)
    np.save(os.path.join(d, "output_0.npy"), (a.astype(np.float64) @ w).astype(np.float32))
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    for m, k, n, _ in SHAPES:
        make(a.out, m, k, n)


if __name__ == "__main__":
    main()
