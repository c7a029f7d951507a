#!/usr/bin/python3
"""make_malformed.py OUTDIR - writes small ONNX models, good and broken, that
exercise the importer (frontend/): every initializer encoding, external data,
Constant nodes, every attribute type, out-of-order nodes, and one file per kind
of bad input (dangling edges, duplicates, cycles, unknown ops, subgraphs, bad
attributes, bad tensors and types, unsafe external data (a NUL byte in the
location too), no outputs, duplicate Reduce* axes, hostile names, truncated,
random and empty files, absurd nesting).

Requires the Debian python3 (/usr/bin/python3: onnx 1.12 + numpy). The models
are not checked with onnx.checker: many are broken on purpose. Generated files
are not committed. Each file's name says what the importer must do with it:
  ok_*     imports with no error
  err_*    imports (a graph comes back) with the errors listed in EXPECT below
  fatal_*  cannot be read at all (NULL)
EXPECT (written to OUTDIR/EXPECT.txt) lists, per file, substrings that must
appear in the diagnostics, one per expected diagnostic."""
import os
import random
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h

OUT = None
EXPECT = {}


def vi(name, dtype, shape):
    return h.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs, outputs, inits=(), opset=17, extra_opsets=(), value_info=(), name="g"):
    g = h.make_graph(nodes, name, inputs, outputs, initializer=list(inits), value_info=list(value_info))
    ops = [h.make_opsetid("", opset)] if opset is not None else []
    ops += [h.make_opsetid(d, v) for d, v in extra_opsets]
    m = h.make_model(g, opset_imports=ops, producer_name="make_malformed", producer_version="1")
    m.ir_version = 8
    return m


def save(name, m, expect=(), **kw):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    if isinstance(m, bytes):
        with open(path, "wb") as f:
            f.write(m)
    else:
        onnx.save_model(m, path, **kw)
    EXPECT[name] = list(expect)
    return d


# ---- good models -------------------------------------------------------------------
def ok_models():
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal((2, 3)).astype(np.float32)
    inits = [
        h.make_tensor("w_raw", TP.FLOAT, [2, 3], f32.tobytes(), raw=True),
        h.make_tensor("w_typed", TP.FLOAT, [2, 3], f32.flatten().tolist()),
        h.make_tensor("i32", TP.INT32, [3], [1, -2, 3]),
        h.make_tensor("i16", TP.INT16, [2], [-300, 300]),
        h.make_tensor("i8", TP.INT8, [2], [-5, 7]),
        h.make_tensor("u8", TP.UINT8, [2], [0, 255]),
        h.make_tensor("u16", TP.UINT16, [2], [0, 65535]),
        h.make_tensor("b", TP.BOOL, [3], [True, False, True]),
        h.make_tensor("f16", TP.FLOAT16, [2], np.array([1.5, -2.0], np.float16)),
        h.make_tensor("bf16", TP.BFLOAT16, [2], [1.0, -3.0]),
        h.make_tensor("i64", TP.INT64, [2], [1 << 40, -7]),
        h.make_tensor("f64", TP.DOUBLE, [2], [0.25, -1e300]),
        h.make_tensor("u32", TP.UINT32, [2], [0, 4000000000]),
        h.make_tensor("u64", TP.UINT64, [1], [1 << 63]),
        h.make_tensor("str", TP.STRING, [2], [b"hello", b"world"]),
        h.make_tensor("i64_raw", TP.INT64, [2], np.array([5, -6], np.int64).tobytes(), raw=True),
        h.make_tensor("f16_raw", TP.FLOAT16, [2], np.array([0.5, 4], np.float16).tobytes(), raw=True),
        h.make_tensor("scalar", TP.FLOAT, [], [42.0]),
        h.make_tensor("empty", TP.FLOAT, [0, 3], []),
        h.make_tensor("c64", TP.COMPLEX64, [1], [1 + 2j]),
    ]
    nodes = [
        h.make_node("MatMul", ["x", "w_t"], ["mm"], name="/mm"),
        h.make_node("Transpose", ["w_raw"], ["w_t"], name="/t", perm=[1, 0]),
        h.make_node("Add", ["mm", "bias"], ["y"], name="/add"),
    ]
    bias = h.make_tensor("bias", TP.FLOAT, [2], [0.5, -0.5])
    save("ok_initializers", model(nodes, [vi("x", TP.FLOAT, ["batch", 3])],
                                  [vi("y", TP.FLOAT, ["batch", 2])], inits + [bias],
                                  value_info=[vi("mm", TP.FLOAT, ["batch", 2]), vi("stale", TP.FLOAT, [1])]))

    # Constant nodes of every form, out of order, feeding nodes
    consts = [
        h.make_node("Constant", [], ["c_t"], value=h.make_tensor("v", TP.FLOAT, [2], [1, 2])),
        h.make_node("Constant", [], ["c_f"], value_float=2.5),
        h.make_node("Constant", [], ["c_fs"], value_floats=[1.0, 2.0, 3.0]),
        h.make_node("Constant", [], ["c_i"], value_int=7),
        h.make_node("Constant", [], ["c_is"], value_ints=[1, 2]),
        h.make_node("Constant", [], ["c_s"], value_string="abc"),
        h.make_node("Constant", [], ["c_ss"], value_strings=["a", "bc"]),
    ]
    nodes = [h.make_node("Mul", ["a", "c_f"], ["y"], name="late")] + [
        h.make_node("Add", ["x", "c_t"], ["a"], name="early")] + consts
    save("ok_constants", model(nodes, [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])]))

    # every attribute kind the op table uses, plus old-style (type unset) attributes
    nodes = [
        h.make_node("LeakyRelu", ["x"], ["a"], alpha=0.2),                      # f
        h.make_node("Softmax", ["a"], ["b"], axis=-1),                          # i
        h.make_node("Gelu", ["b"], ["c"], approximate="tanh"),                  # s
        h.make_node("Transpose", ["c"], ["d"], perm=[1, 0]),                    # is
        h.make_node("Shape", ["d"], ["s"]),
        h.make_node("ConstantOfShape", ["s"], ["e"], value=h.make_tensor("v", TP.FLOAT, [1], [3.0])),  # t
        h.make_node("Add", ["d", "e"], ["y"]),
    ]
    old = h.make_node("Softmax", ["y"], ["z"])
    at = old.attribute.add()
    at.name = "axis"
    at.i = 1          # no `type`: inferred from the field
    nodes.append(old)
    save("ok_attributes", model(nodes, [vi("x", TP.FLOAT, [3, 4])], [vi("z", TP.FLOAT, [4, 3])], opset=20))

    # optional inputs and outputs, opset 7, a graph input with an initializer (IR 3 style)
    nodes = [
        h.make_node("Dropout", ["x"], ["d", ""], ratio=0.5),
        h.make_node("Clip", ["d", "", "hi"], ["y"]),
    ]
    hi = h.make_tensor("hi", TP.FLOAT, [], [6.0])
    m = model(nodes, [vi("x", TP.FLOAT, [1, 4]), vi("hi", TP.FLOAT, [])], [vi("y", TP.FLOAT, [1, 4])], [hi], opset=13)
    m.ir_version = 3
    save("ok_optional", m)
    save("ok_opset7", model([h.make_node("Relu", ["x"], ["y"])], [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])], opset=7))

    # com.microsoft MoE
    nodes = [h.make_node("MoE", ["x", "router", "w1", "", "w2"], ["y"], domain="com.microsoft", k=2, activation_type="relu")]
    inits = [h.make_tensor("w1", TP.FLOAT, [4, 8, 4], np.zeros(128, np.float32).tobytes(), raw=True),
             h.make_tensor("w2", TP.FLOAT, [4, 4, 8], np.zeros(128, np.float32).tobytes(), raw=True)]
    save("ok_ms_moe", model(nodes, [vi("x", TP.FLOAT, [3, 4]), vi("router", TP.FLOAT, [3, 4])],
                            [vi("y", TP.FLOAT, [3, 4])], inits, extra_opsets=[("com.microsoft", 1)]))

    # external data: one file, and one file per tensor; a Constant's tensor external too
    def ext_model():
        w = h.make_tensor("w", TP.FLOAT, [4, 4], np.arange(16, dtype=np.float32).tobytes(), raw=True)
        v = h.make_tensor("v", TP.FLOAT, [4], np.arange(4, dtype=np.float32).tobytes(), raw=True)
        i = h.make_tensor("idx", TP.INT64, [3], np.array([3, 1, 2], np.int64).tobytes(), raw=True)
        nodes = [h.make_node("Constant", [], ["c"], value=v),
                 h.make_node("MatMul", ["x", "w"], ["m"]),
                 h.make_node("Add", ["m", "c"], ["a"]),
                 h.make_node("Gather", ["a", "idx"], ["y"], axis=1)]
        return model(nodes, [vi("x", TP.FLOAT, [2, 4])], [vi("y", TP.FLOAT, [2, 3])], [w, i])
    save("ok_external_one", ext_model(), save_as_external_data=True, all_tensors_to_one_file=True,
         location="weights.bin", size_threshold=0, convert_attribute=True)
    save("ok_external_many", ext_model(), save_as_external_data=True, all_tensors_to_one_file=False,
         size_threshold=0, convert_attribute=True)
    # unaligned external data: a 1-byte pad in front of the floats forces a copy
    d = save("ok_external_unaligned", ext_model(), save_as_external_data=True, location="w.bin",
             size_threshold=0)
    m = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
    with open(os.path.join(d, "w.bin"), "rb") as f:
        blob = f.read()
    with open(os.path.join(d, "w.bin"), "wb") as f:
        f.write(b"\0" + blob)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "offset":
                e.value = str(int(e.value) + 1)
    onnx.save_model(m, os.path.join(d, "model.onnx"))


# ---- broken models: graphs with errors ------------------------------------------------
def ext_tensor(name, dims, location, offset=None, length=None):
    t = TP()
    t.name = name
    t.data_type = TP.FLOAT
    t.dims.extend(dims)
    t.data_location = TP.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return t


def err_models():
    X, Y = [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])]

    save("err_dangling", model([h.make_node("Add", ["x", "nowhere"], ["y"], name="/add")], X, Y),
         ['node "/add" (Add #0), input 1: dangling edge', "'nowhere'"])
    save("err_duplicate", model([h.make_node("Relu", ["x"], ["y"], name="r1"),
                                 h.make_node("Relu", ["x"], ["y"], name="r2"),
                                 h.make_node("Relu", ["x"], ["w"], name="r3")], X, Y,
                                [h.make_tensor("w", TP.FLOAT, [2], [1, 2])]),
         ["'y' is defined twice (first by node \"r1\"", "'w' is defined twice (first by an initializer)"])
    save("err_cycle", model([h.make_node("Add", ["x", "b"], ["a"], name="n0"),
                             h.make_node("Relu", ["a"], ["b"], name="n1"),
                             h.make_node("Relu", ["a"], ["y"], name="n2")], X, Y),
         ["cycle"])
    nodes = [h.make_node("FooOp", ["x"], ["f"], name="/blocks.0/Foo"),
             h.make_node("Relu", ["f"], ["g"], name="uses_foo"),
             h.make_node("Bar", ["g"], ["h"], domain="org.example", name="bar"),
             h.make_node("FusedThing", ["h"], ["i"], domain="com.microsoft", name="ms"),
             h.make_node("Gelu", ["i"], ["y"], name="gelu")]
    save("err_unknown_ops", model(nodes, X, Y, extra_opsets=[("com.microsoft", 1), ("org.example", 1)]),
         ['node "/blocks.0/Foo" (FooOp #0): unknown op FooOp in domain ai.onnx',
          "unknown domain 'org.example'", "unknown op FusedThing in domain com.microsoft",
          "Gelu does not exist in opset 17 (since 20)"])
    save("err_ms_not_imported", model([h.make_node("MoE", ["x", "x", "x", "x"], ["y"], domain="com.microsoft")], X, Y),
         ["com.microsoft is used but its opset is not imported"])

    then_g = h.make_graph([h.make_node("Relu", ["x"], ["t"])], "then", [], [vi("t", TP.FLOAT, [2])])
    else_g = h.make_graph([h.make_node("Neg", ["x"], ["e"])], "else", [], [vi("e", TP.FLOAT, [2])])
    nodes = [h.make_node("If", ["c"], ["y"], name="if", then_branch=then_g, else_branch=else_g),
             h.make_node("Loop", ["", "c"], ["z"], name="loop", body=then_g),
             h.make_node("Relu", ["x"], ["r"], name="relu_with_graph", body=then_g)]
    save("err_subgraphs", model(nodes, X + [vi("c", TP.BOOL, [])], Y + [vi("z", TP.FLOAT, [2]), vi("r", TP.FLOAT, [2])]),
         ["subgraph op If is not supported", "subgraph op Loop is not supported",
          "subgraph op Relu is not supported"])

    sm = h.make_node("Softmax", ["x"], ["a"], name="sm", axis=1)
    sm.attribute[0].CopyFrom(h.make_attribute("axis", [1.0, 2.0]))
    dup = h.make_node("LeakyRelu", ["a"], ["b"], name="dup", alpha=0.1)
    dup.attribute.append(h.make_attribute("alpha", 0.2))
    untyped = h.make_node("Relu", ["b"], ["c"], name="untyped")
    u = untyped.attribute.add()
    u.name = "mystery"
    nodes = [sm, dup, untyped,
             h.make_node("Relu", ["c"], ["d"], name="unk", foo=1),
             h.make_node("Cast", ["d"], ["e"], name="cast"),
             h.make_node("Concat", ["e", "e"], ["f"], name="concat"),
             h.make_node("Relu", ["f"], ["g"], name="tensors", ts=[h.make_tensor("q", TP.FLOAT, [1], [1])]),
             h.make_node("Relu", ["g"], ["y"], name="sparse",
                         sp=h.make_sparse_tensor(h.make_tensor("v", TP.FLOAT, [1], [1]),
                                                 h.make_tensor("i", TP.INT64, [1], [0]), [2]))]
    save("err_attributes", model(nodes, X, Y),
         ["attribute 'axis' of Softmax must be an int, got floats", "attribute 'alpha' is given twice",
          "attribute 'mystery' has no type and no value", "unknown attribute 'foo' of Relu",
          "missing required attribute 'to' of Cast", "missing required attribute 'axis' of Concat",
          "unknown attribute 'ts' of Relu", "unknown attribute 'sp' of Relu"])

    nodes = [h.make_node("Add", ["x", "x", "x"], ["a"], name="add3"),
             h.make_node("Add", ["a"], ["b"], name="add1"),
             h.make_node("Where", ["", "b", "b"], ["c"], name="where"),
             h.make_node("TopK", ["c", "k"], ["y"], name="topk")]
    save("err_arity", model(nodes, X + [vi("k", TP.INT64, [1])], Y),
         ["Add takes 2 inputs, got 3", "Add takes 2 inputs, got 1", "input 0: required input of Where is empty",
          "TopK has 2 outputs, got 1"])

    bad = []
    bad.append(TP(name="short_raw", data_type=TP.FLOAT, dims=[2, 2], raw_data=bytes(12)))
    t = TP(name="few_typed", data_type=TP.FLOAT, dims=[3]); t.float_data.extend([1.0, 2.0]); bad.append(t)
    t = TP(name="wrong_field", data_type=TP.INT64, dims=[2]); t.float_data.extend([1, 2]); bad.append(t)
    t = TP(name="both", data_type=TP.FLOAT, dims=[1], raw_data=b"\0\0\0\0"); t.float_data.append(1); bad.append(t)
    bad.append(TP(name="no_data", data_type=TP.FLOAT, dims=[2]))
    t = TP(name="bad_dtype", data_type=99, dims=[1]); t.raw_data = b"\0"; bad.append(t)
    bad.append(TP(name="no_dtype", dims=[1], raw_data=b"\0\0\0\0"))
    bad.append(TP(name="neg_dim", data_type=TP.FLOAT, dims=[-1]))
    bad.append(TP(name="huge", data_type=TP.FLOAT, dims=[1 << 30, 1 << 30, 1 << 30]))
    bad.append(TP(name="rank17", data_type=TP.FLOAT, dims=[1] * 17, raw_data=b"\0\0\0\0"))
    t = TP(name="str_raw", data_type=TP.STRING, dims=[1], raw_data=b"abc"); bad.append(t)
    t = TP(name="", data_type=TP.FLOAT, dims=[1]); t.float_data.append(1); bad.append(t)
    t = h.make_tensor("dup_init", TP.FLOAT, [1], [1]); bad.append(t); bad.append(t)
    t = TP(name="segmented", data_type=TP.FLOAT, dims=[1]); t.segment.begin = 0; t.segment.end = 1; t.float_data.append(1); bad.append(t)
    save("err_tensors", model([h.make_node("Relu", ["x"], ["y"])], X, Y, bad),
         ["initializer 'short_raw': raw_data holds 12 bytes, expected 16 for f32[2,2]",
          "initializer 'few_typed': float_data holds 2 elements, expected 3",
          "initializer 'wrong_field': i64 data must be in int64_data, found float_data",
          "initializer 'both': has both raw_data and typed data",
          "initializer 'no_data': no data", "initializer 'bad_dtype': unsupported data type 99",
          "initializer 'no_dtype': no data type", "initializer 'neg_dim': negative dimension -1",
          "initializer 'huge': f32[1073741824,1073741824,1073741824] has too many elements",
          "initializer 'rank17': rank 17 is larger than 16", "initializer 'str_raw': string tensors cannot use raw_data",
          "initializer #11 has no name", "initializer 'dup_init' is defined twice",
          "initializer 'segmented': segmented tensors are not supported"])

    seq = h.make_tensor_sequence_value_info("s", TP.FLOAT, [2])
    t = vi("weird", TP.FLOAT, [2]); t.type.tensor_type.elem_type = 99
    neg = vi("neg", TP.FLOAT, [2]); neg.type.tensor_type.shape.dim[0].dim_value = -4
    big = vi("big", TP.FLOAT, [1 << 30, 1 << 30, 1 << 30])
    r17 = vi("r17", TP.FLOAT, [1] * 17)
    save("err_types", model([h.make_node("Relu", ["x"], ["y"])], X + [seq, t, neg, big, r17], Y + [vi("ghost", TP.FLOAT, [1])]),
         ["graph input 's': unsupported type (sequence)", "graph input 'weird': unsupported element type 99",
          "graph input 'neg': negative dimension -4", "graph input 'big': too many elements",
          "graph input 'r17': rank 17 is larger than 16",
          "graph output 'ghost' is not a graph input, initializer or node output"])

    m = model([h.make_node("Relu", ["x"], ["y"])], X, Y, [h.make_tensor("x", TP.INT64, [2], [1, 2])])
    save("err_input_init_mismatch", m, ["graph input 'x' does not match the type of its initializer"])

    save("err_no_default_opset", model([h.make_node("Relu", ["x"], ["y"])], X, Y, opset=None,
                                       extra_opsets=[("com.microsoft", 1)]),
         ["does not import the ai.onnx opset"])
    save("err_opset22", model([h.make_node("Relu", ["x"], ["y"])], X, Y, opset=22),
         ["unsupported ai.onnx opset 22 (mixc supports 7 to 21)"])
    save("err_opset5", model([h.make_node("Relu", ["x"], ["y"])], X, Y, opset=5,
                             extra_opsets=[("com.microsoft", 2)]),
         ["unsupported ai.onnx opset 5", "unsupported com.microsoft opset 2"])

    sparse_const = h.make_node("Constant", [], ["c"], name="sc", sparse_value=h.make_sparse_tensor(
        h.make_tensor("v", TP.FLOAT, [1], [1]), h.make_tensor("i", TP.INT64, [1], [0]), [2]))
    two = h.make_node("Constant", [], ["c2"], name="two", value_int=1, value_float=2.0)
    none = h.make_node("Constant", [], ["c3"], name="none")
    wrong = h.make_node("Constant", [], ["c4"], name="wrong")
    wrong.attribute.append(h.make_attribute("value_float", 3))
    m = model([sparse_const, two, none, wrong, h.make_node("Sum", ["x", "c", "c2", "c3", "c4"], ["y"])], X, Y)
    m.graph.sparse_initializer.append(h.make_sparse_tensor(h.make_tensor("v", TP.FLOAT, [1], [1]),
                                                           h.make_tensor("i", TP.INT64, [1], [0]), [2]))
    save("err_constants", m, ["sparse initializer #0 is not supported", "sparse constants",
                              "Constant needs exactly one value attribute, got 2",
                              "Constant needs exactly one value attribute, got 0",
                              "attribute 'value_float' of Constant must be a float, got an int"])

    # external data that must be refused
    outside = os.path.join(OUT, "outside.bin")
    with open(outside, "wb") as f:
        f.write(np.zeros(64, np.float32).tobytes())
    inits = [ext_tensor("abs", [2], outside), ext_tensor("dotdot", [2], "../outside.bin"),
             ext_tensor("link", [2], "link.bin"), ext_tensor("missing", [2], "missing.bin"),
             ext_tensor("past_end", [2], "w.bin", offset=60, length=8), ext_tensor("bad_off", [2], "w.bin", offset="x1"),
             ext_tensor("len_mismatch", [2], "w.bin", length=12), ext_tensor("noloc", [2], None),
             ext_tensor("ok_ext", [2], "w.bin", offset=8, length=8), ext_tensor("sub_ok", [2], "sub/./w2.bin"),
             ext_tensor("nul", [2], "w.bin\0../outside.bin"), ext_tensor("dir", [2], "sub"),
             ext_tensor("dot", [2], ".")]
    d = save("err_external", model([h.make_node("Relu", ["x"], ["y"])], X, Y, inits),
             ["initializer 'abs': external data location", "must be a relative path",
              "initializer 'dotdot': external data location '../outside.bin' must not contain '..'",
              "initializer 'link': external data file 'link.bin' resolves outside the model's directory",
              "initializer 'missing': external data file 'missing.bin' not found",
              "initializer 'past_end': external data [60, 68) is past the end of 'w.bin' (64 bytes)",
              "initializer 'bad_off': bad external data offset 'x1'",
              "initializer 'len_mismatch': external data holds 12 bytes, expected 8",
              "initializer 'noloc': external data without a 'location'",
              "initializer 'nul': external data location \"w.bin\\x00../outside.bin\" contains a NUL byte",
              "initializer 'dir': external data file 'sub' is not a regular file",
              "initializer 'dot': external data file '.' is not a regular file"])
    with open(os.path.join(d, "w.bin"), "wb") as f:
        f.write(np.arange(16, dtype=np.float32).tobytes())
    os.makedirs(os.path.join(d, "sub"), exist_ok=True)
    with open(os.path.join(d, "sub", "w2.bin"), "wb") as f:
        f.write(np.ones(2, np.float32).tobytes())
    if os.path.lexists(os.path.join(d, "link.bin")):
        os.remove(os.path.join(d, "link.bin"))
    os.symlink(outside, os.path.join(d, "link.bin"))

    # a graph must compute something
    save("err_no_outputs", model([h.make_node("Relu", ["x"], ["y"])], X, []),
         ["the graph has no outputs: there is nothing to compute"])
    # duplicate Reduce* axes, as an attribute (before opset 18) and a constant input
    nodes = [h.make_node("ReduceMean", ["x"], ["a"], name="rm", axes=[1, -2]),
             h.make_node("ReduceSum", ["a", "ax"], ["y"], name="rs")]
    save("err_reduce_dup_axes", model(nodes, [vi("x", TP.FLOAT, [2, 3, 4])], [vi("y", TP.FLOAT, None)],
                                      [h.make_tensor("ax", TP.INT64, [2], [0, 0])]),
         ['node "rm" (ReduceMean #0): ReduceMean axes [1,-2] name axis 1 twice'])
    nodes = [h.make_node("ReduceSum", ["x", "ax"], ["y"], name="rs")]
    save("err_reduce_dup_axes_input", model(nodes, [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, None)],
                                            [h.make_tensor("ax", TP.INT64, [3], [0, 1, -2])]),
         ['node "rs" (ReduceSum #0): ReduceSum axes [0,1,-2] name axis 0 twice'])
    # names in diagnostics: NUL bytes refused, control bytes escaped, huge names shortened
    nodes = [h.make_node("Relu", ["x"], ["a"], name="nul\0name"),
             h.make_node("Bad\x1bOp", ["a"], ["b"], name="esc\x1b[2Jname\n"),
             h.make_node("Relu", ["b"], ["y"], name="L" * 1000)]
    save("err_names", model(nodes, X, Y + [vi("ghost" * 100, TP.FLOAT, [2])]),
         ['NodeProto.name "nul\\x00name" contains a NUL byte',
          'node "esc\\x1b[2Jname\\n" (Bad\\x1bOp #1): unknown op Bad\\x1bOp in domain ai.onnx',
          "graph output 'ghostghost", "g...ghost", "ghost' is not a graph input"])

    # many problems at once: all must be reported in one run
    nodes = [h.make_node("FooOp", ["x"], ["a"], name="n0"),
             h.make_node("Add", ["a", "ghost"], ["b"], name="n1"),
             h.make_node("Softmax", ["b"], ["c"], name="n2", axis=1.5),
             h.make_node("BarOp", ["c"], ["y"], name="n3")]
    save("err_many", model(nodes, X, Y),
         ["unknown op FooOp", "dangling edge", "must be an int, got a float", "unknown op BarOp"])


# ---- files that cannot be read at all ---------------------------------------------------
def varint(n):
    """n as a protobuf base-128 varint"""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def nested_bytes(depth):
    """ModelProto whose graph nests If-style subgraphs `depth` levels deep, as raw
    protobuf bytes (onnx's Python would recurse itself to build it)."""
    def key(field):  # length-delimited
        return bytes([(field << 3) | 2])

    # innermost: empty GraphProto. Levels: Graph.node(1) -> Node.attribute(5) -> Attribute.g(6) -> Graph
    sizes = [0]
    heads = []
    for _ in range(depth):
        n = sizes[-1]
        for field in (6, 5, 1):  # Attribute.g, Node.attribute, Graph.node, wrapping inside-out
            head = key(field) + varint(n)
            heads.append(head)
            n += len(head)
        sizes.append(n)
    model_head = key(7) + varint(sizes[-1])  # ModelProto.graph
    return model_head + b"".join(reversed(heads))


def fatal_models():
    good = model([h.make_node("Relu", ["x"], ["y"])], [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])]).SerializeToString()
    save("fatal_empty", b"", ["empty file"])
    save("fatal_truncated", good[: len(good) // 2], ["protobuf decoding failed"])
    rnd = random.Random(1)
    save("fatal_random", bytes(rnd.getrandbits(8) for _ in range(4096)), ["not an ONNX model"])
    save("fatal_text", b"this is not a model at all\n" * 10, ["not an ONNX model"])
    m = onnx.ModelProto()
    m.ir_version = 8
    m.opset_import.add().version = 17
    save("fatal_no_graph", m.SerializeToString(), ["it has no graph"])
    save("fatal_nested", nested_bytes(100000), ["nest deeper than"])


def main():
    global OUT
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    OUT = sys.argv[1]
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    ok_models()
    err_models()
    fatal_models()
    with open(os.path.join(OUT, "EXPECT.txt"), "w") as f:
        for name, subs in sorted(EXPECT.items()):
            f.write(name + "\n")
            for s in subs:
                f.write("\t" + s + "\n")


if __name__ == "__main__":
    main()
