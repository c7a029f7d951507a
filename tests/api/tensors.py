"""tensors.py - helpers for tests/api/run.sh (Debian's /usr/bin/python3 with
numpy and onnx).

    tensors.py args MODEL_DIR [pb]   print the --input NAME=FILE flags for the
                                     model's input_K.npy files (pb: convert
                                     them to TensorProto .pb files first)
    tensors.py compare MODEL_DIR OUT_DIR
                                     compare OUT_DIR/NAME.npy (sanitized names)
                                     with output_K.npy; exit 1 on a mismatch
"""
import os
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

RTOL, ATOL = 1e-4, 1e-5


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


def graph_io(model_dir):
    g = onnx.load(os.path.join(model_dir, "model.onnx"), load_external_data=False).graph
    inits = {i.name for i in g.initializer}
    return [i.name for i in g.input if i.name not in inits], [o.name for o in g.output]


def args(model_dir, pb):
    ins, _ = graph_io(model_dir)
    flags = []
    for k, name in enumerate(ins):
        path = os.path.join(model_dir, "input_%d.npy" % k)
        if pb:
            out = os.path.join(os.environ.get("TMP", "/tmp"), "%s_input_%d.pb" % (os.path.basename(model_dir.rstrip("/")), k))
            with open(out, "wb") as f:
                f.write(numpy_helper.from_array(np.load(path), name).SerializeToString())
            path = out
        flags += ["--input", "%s=%s" % (name, path)]
    print(" ".join(flags))


def compare(model_dir, out_dir):
    _, outs = graph_io(model_dir)
    ok = True
    for k, name in enumerate(outs):
        want = np.load(os.path.join(model_dir, "output_%d.npy" % k))
        got = np.load(os.path.join(out_dir, sanitize(name) + ".npy"))
        if got.shape != want.shape or got.dtype != want.dtype:
            print("%s: got %s%s, want %s%s" % (name, got.dtype, got.shape, want.dtype, want.shape))
            ok = False
        elif not np.allclose(got, want, rtol=RTOL, atol=ATOL):
            print("%s: max abs error %g" % (name, float(np.max(np.abs(got - want)))))
            ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if sys.argv[1] == "args":
        args(sys.argv[2], len(sys.argv) > 3 and sys.argv[3] == "pb")
    else:
        compare(sys.argv[2], sys.argv[3])
