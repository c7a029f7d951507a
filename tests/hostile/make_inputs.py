#!/usr/bin/python3
"""make_inputs.py OUTDIR - the run-time side of tests/hostile/run.sh: a tiny
model whose Gather index comes from an input (gather.onnx: data f32[4,3],
idx i64[2] -> y = Gather(data, idx, axis=0)), good inputs, and bad ones: an
index out of range in the data, wrong name/dtype/shape, a missing input, and
unreadable or malformed .npy and .pb files. CASES.tsv lists each case:
DESC <TAB> SUBSTRING <TAB> ARGS ('@' stands for OUTDIR/).
Requires /usr/bin/python3 with onnx + numpy."""
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper

R = sys.argv[1]
os.makedirs(R, exist_ok=True)
g = h.make_graph([h.make_node("Gather", ["data", "idx"], ["y"], name="gather_idx", axis=0)], "g",
                 [h.make_tensor_value_info("data", TP.FLOAT, [4, 3]), h.make_tensor_value_info("idx", TP.INT64, [2])],
                 [h.make_tensor_value_info("y", TP.FLOAT, [2, 3])])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, os.path.join(R, "gather.onnx"))


def npy(name, a):
    np.save(os.path.join(R, name), a)


def raw(name, b):
    with open(os.path.join(R, name), "wb") as f:
        f.write(b)


def npy_header(d, version=1):
    hdr = repr(d).encode() + b" " * 10 + b"\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(hdr)) + hdr


npy("data.npy", np.arange(12, dtype=np.float32).reshape(4, 3))
npy("idx_ok.npy", np.array([1, 3], np.int64))
npy("idx_oob.npy", np.array([1, 7], np.int64))
npy("idx_neg.npy", np.array([-5, 0], np.int64))
npy("idx_huge.npy", np.array([2**62, 0], np.int64))
npy("idx_i32.npy", np.array([1, 3], np.int32))
npy("idx_shape.npy", np.array([[1, 3]], np.int64))
npy("data_f64.npy", np.zeros((4, 3), np.float64))
npy("data_shape.npy", np.zeros((3, 4), np.float32))
npy("data_scalar.npy", np.float32(1))
raw("empty.npy", b"")
raw("magic.npy", b"\x93NUMPX\x01\x00" + b"\0" * 64)
raw("hdr_trunc.npy", npy_header({"descr": "<f4", "fortran_order": False, "shape": (4, 3)})[:20])
raw("hdr_garbage.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 16) + b"{'descr': ((((\n")
raw("hdr_len_huge.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{")
raw("shape_overflow.npy", npy_header({"descr": "<f4", "fortran_order": False, "shape": (2**62, 2**62)}))
raw("shape_neg.npy", npy_header({"descr": "<f4", "fortran_order": False, "shape": (-4, 3)}) + b"\0" * 48)
raw("data_trunc.npy", npy_header({"descr": "<f4", "fortran_order": False, "shape": (4, 3)}) + b"\0" * 20)
raw("fortran.npy", npy_header({"descr": "<f4", "fortran_order": True, "shape": (4, 3)}) + b"\0" * 48)
raw("bigendian.npy", npy_header({"descr": ">f4", "fortran_order": False, "shape": (4, 3)}) + b"\0" * 48)
raw("object.npy", npy_header({"descr": "|O", "fortran_order": False, "shape": (4, 3)}) + b"\0" * 96)
raw("v3_valid.npy", b"\x93NUMPY\x03\x00" + npy_header({"descr": "<f4", "fortran_order": False, "shape": (4, 3)}, 2)[8:] + b"\0" * 48)
os.makedirs(os.path.join(R, "adir.npy"), exist_ok=True)
# .pb
t = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "data")
raw("data_ok.pb", t.SerializeToString())
raw("pb_random.pb", bytes((i * 131 + 7) % 256 for i in range(200)))
raw("pb_trunc.pb", t.SerializeToString()[:17])
bad = TP(name="data", data_type=TP.FLOAT, dims=[4, 3])
bad.float_data.extend([1.0] * 5)
raw("pb_short.pb", bad.SerializeToString())
bad = TP(name="data", data_type=TP.FLOAT, dims=[2**62, 2**62], raw_data=b"\0" * 48)
raw("pb_overflow.pb", bad.SerializeToString())
bad = TP(name="data", data_type=TP.FLOAT, dims=[4, 3], data_location=TP.EXTERNAL)
e = bad.external_data.add()
e.key, e.value = "location", "/etc/passwd"
raw("pb_external.pb", bad.SerializeToString())
raw("pb_string.pb", TP(name="data", data_type=TP.STRING, dims=[4, 3], string_data=[b"x"] * 12).SerializeToString())

D, I = "data=@data.npy", "idx=@idx_ok.npy"
cases = [
    ("index out of range", "out of range", f"--input {D} --input idx=@idx_oob.npy"),
    ("negative index out of range", "out of range", f"--input {D} --input idx=@idx_neg.npy"),
    ("huge index", "out of range", f"--input {D} --input idx=@idx_huge.npy"),
    ("wrong input name", "nosuch", f"--input {D} --input {I} --input nosuch=@data.npy"),
    ("missing input", "idx", f"--input {D}"),
    ("wrong dtype i32", "idx", f"--input {D} --input idx=@idx_i32.npy"),
    ("wrong dtype f64", "data", f"--input data=@data_f64.npy --input {I}"),
    ("wrong shape", "data", f"--input data=@data_shape.npy --input {I}"),
    ("wrong rank", "idx", f"--input {D} --input idx=@idx_shape.npy"),
    ("scalar for matrix", "data", f"--input data=@data_scalar.npy --input {I}"),
    ("missing file", "nope.npy", f"--input data=@nope.npy --input {I}"),
    ("directory", "adir.npy", f"--input data=@adir.npy --input {I}"),
]
for f in ("empty", "magic", "hdr_trunc", "hdr_garbage", "hdr_len_huge", "shape_overflow", "shape_neg",
          "data_trunc", "fortran", "bigendian", "object"):
    cases.append((f"malformed {f}.npy", f"{f}.npy", f"--input data=@{f}.npy --input {I}"))
for f in ("pb_random", "pb_trunc", "pb_short", "pb_overflow", "pb_external", "pb_string"):
    cases.append((f"malformed {f}.pb", f"{f}.pb", f"--input data=@{f}.pb --input {I}"))
with open(os.path.join(R, "CASES.tsv"), "w") as f:
    for c in cases:
        f.write("\t".join(c) + "\n")
