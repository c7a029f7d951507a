#!/usr/bin/python3
"""make_hostile.py OUTDIR - writes hostile ONNX models (an ONNX file is
untrusted input) and a manifest, OUTDIR/MANIFEST.tsv, one line per model:

    NAME <TAB> MODE <TAB> SUBSTRING...

  MODE err      `mixc check` exits 1 with an "error:" line
  MODE lower    `mixc compile --emit=llvm` exits 1 with an "error:" line (the
                problem is only visible once shapes are planned)
  MODE any      exit 0 or 1 (a mutated file that may stay valid); when 0,
                `mixc run` on the tiny model's input must exit 0 or 1 too
SUBSTRINGs (tab separated, optional) must each appear in the diagnostics.

Categories: external data escaping the model's folder (absolute, ../,
symlinked file and directory, a NUL byte in the location), dims whose element count overflows int64 or is
absurd, negative and zero dims, dangling edges, cycles, duplicate
definitions, graphs without outputs, bad attributes (type, range, perm,
duplicate Reduce* axes), unknown ops/domains/opsets, hostile names (format
strings, control characters, NUL bytes, bidi overrides, invalid UTF-8, huge),
and truncated and mutated tiny models (deterministic: fixed seeds).

Requires /usr/bin/python3 with onnx 1.12 + numpy. Nothing is checked with
onnx.checker: every model is broken on purpose."""
import os
import random
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "malformed"))
from make_malformed import ext_tensor  # noqa: E402  (one builder of external-data tensors)

OUT = sys.argv[1]
TINY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "tiny")
MANIFEST = []


def vi(name, dtype, shape):
    return h.make_tensor_value_info(name, dtype, shape)


X = [vi("x", TP.FLOAT, [2, 3])]
Y = [vi("y", TP.FLOAT, None)]


def model(nodes, inputs=None, outputs=None, inits=(), opset=17, extra=(), name="g"):
    g = h.make_graph(nodes, name, X if inputs is None else inputs, Y if outputs is None else outputs,
                     initializer=list(inits))
    ops = [h.make_opsetid("", opset)] + [h.make_opsetid(d, v) for d, v in extra]
    m = h.make_model(g, opset_imports=ops, producer_name="make_hostile")
    m.ir_version = 8
    return m


def save(name, m, mode="err", *expect):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(m if isinstance(m, bytes) else m.SerializeToString())
    MANIFEST.append("\t".join([name, mode, *expect]))
    return d


def node(op, ins, outs, name=None, domain=None, **attrs):
    return h.make_node(op, ins, outs, name=name or op.lower(), domain=domain, **attrs)


def c64(name, vals):
    return h.make_tensor(name, TP.INT64, [len(vals)], vals)


def relu_with_init(t):
    return model([node("Add", ["x", t.name], ["y"])], inits=[t])


# ---- external data -----------------------------------------------------------------
def external():
    secret = os.path.join(OUT, "secret.bin")
    with open(secret, "wb") as f:
        f.write(np.arange(64, dtype=np.float32).tobytes())
    cases = {
        "ext_abs": (secret, "must be a relative path"),
        "ext_abs_etc": ("/etc/passwd", "must be a relative path"),
        "ext_abs_dev": ("/dev/zero", "must be a relative path"),
        "ext_dotdot": ("../secret.bin", ".."),
        "ext_dotdot_deep": ("sub/../../secret.bin", ".."),
        "ext_dotdot_many": ("../" * 20 + "etc/passwd", ".."),
        "ext_dotdot_backslash": ("..\\secret.bin", "ext"),
        "ext_link_file": ("link.bin", "outside"),
        "ext_link_dir": ("linkdir/secret.bin", "outside"),
        "ext_empty_loc": ("", "ext"),
        "ext_dir_loc": ("sub", "ext"),
        "ext_missing": ("nope.bin", "not found"),
        # protobuf-c would cut the string at the NUL (reading w.bin): refused
        "ext_nul": ("w.bin\x00../../etc/passwd", "external data location"),
        "ext_nul_only": ("\x00", "contains a NUL byte"),
        "ext_dot": (".", "ext"),
        "ext_dot_slash": ("./", "ext"),
        "ext_trailing_dotdot": ("sub/..", ".."),
        "ext_dotdot_dotslash": ("./../secret.bin", ".."),
        "ext_dslash_abs": ("//etc/passwd", "must be a relative path"),
        "ext_proc": ("/proc/self/mem", "must be a relative path"),
        "ext_link_dir_dotdot": ("linkdir/../secret.bin", "ext"),
    }
    for name, (loc, want) in cases.items():
        mode = "any" if want == "any" else "err"
        d = save(name, relu_with_init(ext_tensor("w", [2, 3], loc)), mode, want if want not in ("ext", "any") else "",
                 "initializer 'w'")
        os.makedirs(os.path.join(d, "sub"), exist_ok=True)
        with open(os.path.join(d, "w.bin"), "wb") as f:
            f.write(np.zeros(6, np.float32).tobytes())
        os.symlink(secret, os.path.join(d, "link.bin"))
        os.symlink(OUT, os.path.join(d, "linkdir"))
    t = ext_tensor("w", [2, 3], "w.bin")
    e = t.external_data.add()
    e.key, e.value = "checksum\x00x", "0"
    d = save("ext_nul_key", relu_with_init(t), "err", "initializer 'w': external data entry", "NUL")
    with open(os.path.join(d, "w.bin"), "wb") as f:
        f.write(np.zeros(6, np.float32).tobytes())
    c = node("Constant", [], ["c"], name="cst", value=ext_tensor("cv", [2, 3], "w.bin\x00x"))
    d = save("ext_nul_constant", model([c, node("Add", ["x", "c"], ["y"])]), "err",
             "tensor 'cv': external data location", "NUL")
    with open(os.path.join(d, "w.bin"), "wb") as f:
        f.write(np.zeros(6, np.float32).tobytes())
    for name, off, ln, want in (("ext_off_neg", -8, 24, "offset"), ("ext_off_huge", 2**63 - 1, 24, "past the end"),
                                ("ext_len_huge", 0, 2**63 - 1, "w"), ("ext_off_wrap", 2**64 - 8, 24, "offset"),
                                ("ext_len_neg", 0, -24, "length"), ("ext_off_past", 4096, 24, "past the end")):
        d = save(name, relu_with_init(ext_tensor("w", [2, 3], "w.bin", off, ln)), "err", want)
        with open(os.path.join(d, "w.bin"), "wb") as f:
            f.write(np.zeros(6, np.float32).tobytes())


# ---- dims ----------------------------------------------------------------------------
def dims():
    big = 2**62
    # initializers claiming huge dims with little or no data
    for name, shape in (("init_overflow", [big, big]), ("init_overflow3", [2**31, 2**31, 2**31]),
                        ("init_huge", [1 << 20, 1 << 20]), ("init_neg", [2, -3]), ("init_neg_big", [-(2**63)]),
                        ("init_zero_mismatch", [0, 3])):
        t = TP(name="w", data_type=TP.FLOAT, dims=shape, raw_data=np.zeros(6, np.float32).tobytes())
        save(name, relu_with_init(t), "err", "w")
    t = TP(name="w", data_type=TP.FLOAT, dims=[big, 4])
    t.float_data.extend([0.0] * 6)
    save("init_overflow_typed", relu_with_init(t), "err", "w")
    # graph inputs with absurd dims
    for name, shape in (("input_overflow", [big, big, 4]), ("input_neg", [2, -5]), ("input_huge_rank", [1] * 40),
                        ("input_neg_big", [-(2**63), 3])):
        save(name, model([node("Relu", ["x"], ["y"])], inputs=[vi("x", TP.FLOAT, shape)]), "err", "")
    # shapes computed from constants
    for name, op, extra_in, shp, mode in (
            ("cos_overflow", "ConstantOfShape", [], [big, big], "err"),
            ("cos_huge", "ConstantOfShape", [], [1 << 20, 1 << 20, 1 << 10], "lower"),
            ("cos_neg", "ConstantOfShape", [], [2, -4], "err"),
            ("expand_overflow", "Expand", ["x"], [big, 2, 3], "err"),
            ("expand_huge", "Expand", ["x"], [1 << 30, 1 << 10, 3], "lower"),
            ("reshape_neg2", "Reshape", ["x"], [-2, 3], "err"),
            ("reshape_two_minus1", "Reshape", ["x"], [-1, -1], "err"),
            ("reshape_mismatch", "Reshape", ["x"], [4, 4], "err"),
            ("reshape_overflow", "Reshape", ["x"], [big, big, 0], "err"),
            ("tile_overflow", "Tile", ["x"], [big, big], "err"),
            ("tile_neg", "Tile", ["x"], [-1, 2], "err")):
        ins = extra_in + ["s"]
        save(name, model([node(op, ins, ["y"], name=name)], inits=[c64("s", shp)]), mode, "")
    # a 32 GiB intermediate (2^33 f32, under the 2^40-element limit): only the
    # planned-memory limit (MIXC_MAX_ARENA_BYTES, default 16 GiB) stops it
    save("arena_32g", model([node("ConstantOfShape", ["s"], ["big"], name="cos32"),
                             node("ReduceSum", ["big"], ["y"], name="sum", keepdims=0)], inputs=[],
                            inits=[c64("s", [1 << 17, 1 << 16])]), "lower", "(MIXC_MAX_ARENA_BYTES)")
    save("output_32g", model([node("ConstantOfShape", ["s"], ["y"], name="cos32")], inputs=[],
                             inits=[c64("s", [1 << 17, 1 << 16])]), "lower", "(MIXC_MAX_ARENA_BYTES)")
    save("range_delta0", model([node("Range", ["a", "b", "d"], ["y"], name="range")], inputs=[],
                               inits=[h.make_tensor(n, TP.FLOAT, [], [v]) for n, v in (("a", 0.0), ("b", 10.0), ("d", 0.0))]),
         "err", "")
    save("range_huge", model([node("Range", ["a", "b", "d"], ["y"], name="range")], inputs=[],
                             inits=[h.make_tensor(n, TP.INT64, [], [v]) for n, v in (("a", 0), ("b", 2**62), ("d", 1))]),
         "err", "")
    # zero dims where they are invalid
    W = h.make_tensor("w", TP.FLOAT, [1, 1, 1], [1.0])
    for name, attrs in (("conv_stride0", dict(strides=[0])), ("conv_kernel0", dict(kernel_shape=[0])),
                        ("conv_dilation0", dict(dilations=[0])), ("conv_group0", dict(group=0)),
                        ("conv_pads_neg", dict(pads=[-5, -5]))):
        save(name, model([node("Conv", ["x", "w"], ["y"], name=name, **attrs)], inputs=[vi("x", TP.FLOAT, [1, 1, 4])],
                         inits=[W]), "err", name)
    for name, attrs in (("pool_kernel0", dict(kernel_shape=[0])), ("pool_stride0", dict(kernel_shape=[2], strides=[0])),
                        ("pool_nokernel", {})):
        save(name, model([node("AveragePool", ["x"], ["y"], name=name, **attrs)], inputs=[vi("x", TP.FLOAT, [1, 1, 4])]),
             "err", name)
    save("gather_axis_empty", model([node("Gather", ["x", "i"], ["y"], name="gz", axis=0)], inputs=[vi("x", TP.FLOAT, [0, 3])],
                                    inits=[c64("i", [0])]), "err", "gz")
    save("gather_const_oob", model([node("Gather", ["x", "i"], ["y"], name="gc", axis=0)], inits=[c64("i", [5])]),
         "err", "gc")
    save("split_sum", model([node("Split", ["x", "s"], ["y", "z"], name="sp", axis=1)], inits=[c64("s", [2, 2])],
                            outputs=[vi("y", TP.FLOAT, None), vi("z", TP.FLOAT, None)]), "err", "sp")


# ---- graph structure ---------------------------------------------------------------
def structure():
    save("dangling_input", model([node("Add", ["x", "ghost"], ["y"], name="add")]), "err", "ghost")
    save("dangling_output", model([node("Relu", ["x"], ["z"])]), "err", "y")
    save("empty_input_name_required", model([node("Add", ["x", ""], ["y"], name="add")]), "err", "add")
    save("cycle2", model([node("Relu", ["b"], ["a"], name="n1"), node("Relu", ["a"], ["b"], name="n2"),
                          node("Add", ["x", "a"], ["y"], name="n3")]), "err", "cycle")
    save("self_loop", model([node("Add", ["x", "y"], ["y"], name="n1")]), "err", "")
    save("dup_output", model([node("Relu", ["x"], ["y"], name="a"), node("Neg", ["x"], ["y"], name="b")]), "err", "y")
    save("dup_input", model([node("Relu", ["x"], ["y"])], inputs=[vi("x", TP.FLOAT, [2, 3]), vi("x", TP.FLOAT, [2, 3])]),
         "err", "x")
    save("output_is_input_redefined", model([node("Relu", ["x"], ["x"], name="r")], outputs=[vi("x", TP.FLOAT, None)]),
         "err", "x")
    save("init_redefined", model([node("Relu", ["x"], ["w"], name="r"), node("Add", ["x", "w"], ["y"])],
                                 inits=[h.make_tensor("w", TP.FLOAT, [2, 3], [0] * 6)]), "err", "w")
    save("dup_init", model([node("Add", ["x", "w"], ["y"])], inits=[h.make_tensor("w", TP.FLOAT, [2, 3], [0] * 6)] * 2),
         "err", "w")
    save("no_nodes_no_outputs", model([], outputs=[]), "err", "the graph has no outputs")
    save("no_outputs", model([node("Relu", ["x"], ["y"])], outputs=[]), "err", "the graph has no outputs")
    save("no_inputs_no_outputs", model([], inputs=[], outputs=[]), "err", "the graph has no outputs")
    save("too_many_inputs", model([node("Relu", ["x", "x", "x"], ["y"], name="r")]), "err", "r")
    save("too_few_inputs", model([node("MatMul", ["x"], ["y"], name="mm")]), "err", "mm")
    save("too_many_outputs", model([node("Relu", ["x"], ["y", "z"], name="r")]), "err", "r")
    save("type_mismatch", model([node("Add", ["x", "i"], ["y"], name="add")], inits=[c64("i", [1])]), "err", "add")
    save("matmul_mismatch", model([node("MatMul", ["x", "w"], ["y"], name="mm")],
                                  inits=[h.make_tensor("w", TP.FLOAT, [4, 2], [0] * 8)]), "err", "mm")
    save("bad_elem_type", model([node("Relu", ["x"], ["y"])], inputs=[vi("x", 99, [2, 3])]), "err", "")
    save("string_input", model([node("Relu", ["x"], ["y"])], inputs=[vi("x", TP.STRING, [2, 3])]), "err", "")
    # 1000-deep chain of Relu with the nodes in reverse order (toposort)
    n = [node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"r{i}") for i in range(1000)]
    n[0].input[0] = "x"
    n[-1].output[0] = "y"
    save("deep_reverse", model(n[::-1]), "any")
    # 5000-node cycle
    n = [node("Relu", [f"c{(i + 1) % 5000}"], [f"c{i}"], name=f"c{i}") for i in range(5000)]
    save("big_cycle", model(n + [node("Add", ["x", "c0"], ["y"])]), "err", "cycle")


# ---- attributes ---------------------------------------------------------------------
def attributes():
    def one(name, op, ins=("x",), inits=(), nout=1, **attrs):
        outs = ["y"] + [f"o{i}" for i in range(1, nout)]
        save(name, model([node(op, list(ins), outs, name=name, **attrs)], inits=list(inits),
                         outputs=[vi(o, TP.FLOAT, None) for o in outs]), "err", name)

    one("softmax_axis_float", "Softmax", axis=1.5)
    one("softmax_axis_str", "Softmax", axis="one")
    one("softmax_axis_big", "Softmax", axis=5)
    one("softmax_axis_neg", "Softmax", axis=-9)
    one("softmax_axis_int_min", "Softmax", axis=-(2**63))
    one("concat_axis", "Concat", ins=("x", "x"), axis=7)
    one("concat_noaxis", "Concat", ins=("x", "x"))
    one("transpose_dup", "Transpose", perm=[0, 0])
    one("transpose_range", "Transpose", perm=[0, 5])
    one("transpose_neg", "Transpose", perm=[-1, 0])
    one("transpose_len", "Transpose", perm=[0, 1, 2])
    one("transpose_str", "Transpose", perm="01")
    one("flatten_axis", "Flatten", axis=9)
    one("gather_axis", "Gather", ins=("x", "i"), inits=[c64("i", [0])], axis=4)
    one("reduce_axes", "ReduceMean", axes=[7], keepdims=1)
    # duplicate axes (onnxruntime refuses them), also after normalizing -1
    save("reduce_axes_dup", model([node("ReduceSum", ["x", "a"], ["y"], name="rs")], inits=[c64("a", [1, 1])]),
         "err", 'node "rs" (ReduceSum #0)', "name axis 1 twice")
    save("reduce_axes_dup_neg", model([node("ReduceSum", ["x", "a"], ["y"], name="rs")], inits=[c64("a", [-1, 1])]),
         "err", 'node "rs"', "name axis 1 twice")
    for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
               "ReduceSumSquare", "ReduceLogSum"):
        save(f"reduce_axes_dup_attr_{op}", model([node(op, ["x"], ["y"], name="r", axes=[0, -2])]),
             "err", f'node "r" ({op} #0)', "name axis 0 twice")
        save(f"reduce_axes_dup_input_{op}", model([node(op, ["x", "a"], ["y"], name="r")], opset=18,
                                                  inits=[c64("a", [1, 0, 1])]),
             "err", f'node "r" ({op} #0)', "name axis 1 twice")
    one("squeeze_axes", "Squeeze", ins=("x", "a"), inits=[c64("a", [5])])
    one("squeeze_nonone", "Squeeze", ins=("x", "a"), inits=[c64("a", [1])])
    one("unsqueeze_dup", "Unsqueeze", ins=("x", "a"), inits=[c64("a", [0, 0])])
    one("unsqueeze_range", "Unsqueeze", ins=("x", "a"), inits=[c64("a", [9])])
    one("split_axis", "Split", axis=4, nout=2)
    one("layernorm_axis", "LayerNormalization", ins=("x", "s"), inits=[h.make_tensor("s", TP.FLOAT, [3], [1] * 3)], axis=5)
    one("einsum_bad", "Einsum", equation="ij,,->?")
    one("einsum_mismatch", "Einsum", ins=("x", "x"), equation="ij,ij->k")
    one("cast_to", "Cast", to=999)
    one("cast_to_str", "Cast", to="float")
    save("gemm_trans", model([node("Gemm", ["x", "x"], ["y"], transA=7)]), "any")  # nonzero is true
    one("topk_axis", "TopK", ins=("x", "k"), inits=[c64("k", [1])], axis=3, nout=2)
    one("topk_k_big", "TopK", ins=("x", "k"), inits=[c64("k", [99])], axis=1, nout=2)
    one("topk_k_neg", "TopK", ins=("x", "k"), inits=[c64("k", [-1])], axis=1, nout=2)
    one("slice_axes", "Slice", ins=("x", "s", "e", "a"), inits=[c64("s", [0]), c64("e", [1]), c64("a", [6])])
    one("slice_step0", "Slice", ins=("x", "s", "e", "a", "st"),
        inits=[c64("s", [0]), c64("e", [1]), c64("a", [1]), c64("st", [0])])
    one("attr_graph", "Relu", alpha=h.make_graph([], "sub", [], []))
    one("attr_tensor_for_int", "Softmax", axis=h.make_tensor("t", TP.INT64, [1], [1]))
    c = node("Constant", [], ["y"], name="const_empty_attr")
    c.attribute.append(onnx.AttributeProto(name="value", type=onnx.AttributeProto.TENSOR))
    save("const_empty_tensor", model([c], inputs=[]), "err", "const")
    c = node("Constant", [], ["y"], name="const_bad", value=TP(name="v", data_type=TP.FLOAT, dims=[4], raw_data=b"\0" * 3))
    save("const_short_raw", model([c], inputs=[]), "err", "const")
    a = onnx.AttributeProto(name="axis", type=onnx.AttributeProto.INTS)
    save("attr_type_lies", model([node("Softmax", ["x"], ["y"], name="sm")]), "any")
    m = model([node("Softmax", ["x"], ["y"], name="sm")])
    m.graph.node[0].attribute.append(a)
    save("attr_ints_empty", m, "err", "sm")
    m = model([node("Softmax", ["x"], ["y"], name="sm", axis=1)])
    m.graph.node[0].attribute.append(h.make_attribute("axis", 0))
    save("attr_duplicate", m, "err", "sm")


# ---- ops, domains, names ----------------------------------------------------------------
def ops_and_names():
    save("unknown_op", model([node("FooBar", ["x"], ["y"], name="fb")]), "err", "FooBar")
    save("unknown_domain", model([node("Relu", ["x"], ["y"], name="r", domain="com.evil")], extra=[("com.evil", 1)]),
         "err", "com.evil")
    save("domain_not_imported", model([node("MoE", ["x"], ["y"], name="moe", domain="com.microsoft")]), "err", "moe")
    save("ml_domain", model([node("LinearClassifier", ["x"], ["y"], name="lc", domain="ai.onnx.ml")], extra=[("ai.onnx.ml", 3)]),
         "err", "lc")
    save("opset_99", model([node("Relu", ["x"], ["y"])], opset=99), "err", "99")
    save("opset_1", model([node("Relu", ["x"], ["y"])], opset=1), "err", "")
    save("opset_neg", model([node("Relu", ["x"], ["y"])], opset=-3), "err", "")
    m = model([node("Relu", ["x"], ["y"])])
    del m.opset_import[:]
    save("no_opset", m, "err", "")
    save("empty_op_type", model([node("", ["x"], ["y"], name="noop")]), "err", "noop")
    save("huge_op_name", model([node("A" * 100000, ["x"], ["y"], name="big")]), "err", "big", "AAA...AAA")
    save("fmt_node_name", model([node("FooBar", ["x"], ["y"], name="%s%s%n%n%x%p")]), "err", "%s%s%n%n")
    save("fmt_op_name", model([node("%n%n%s%s", ["x"], ["y"], name="fmt")]), "err", "fmt")
    save("fmt_value_name", model([node("Add", ["x", "%s%n%s"], ["y"], name="add")]), "err", "add")
    # names are escaped and shortened in diagnostics (run.sh checks every
    # diagnostic is printable UTF-8 and no line is absurdly long)
    save("ctrl_names", model([node("Foo\n\x1b[2J\r", ["x"], ["y"], name="ctl\x00x\n")]), "err",
         'NodeProto.name "ctl\\x00x\\n" contains a NUL byte', "Foo\\n\\x1b[2J\\r")
    save("ctrl_node_name", model([node("FooBar", ["x"], ["y"], name="a\x1b]0;pwned\x07b\x7f")]), "err",
         'node "a\\x1b]0;pwned\\x07b\\x7f" (FooBar #0)')
    save("ctrl_value_name", model([node("Add", ["x", "v\x1b[31m"], ["y"], name="add")]), "err",
         "value 'v\\x1b[31m' is not")
    save("c1_name", model([node("FooBar", ["x"], ["y"], name="c1\u009b2J")]), "err", 'node "c1\\xc2\\x9b2J"')
    save("bidi_name", model([node("FooBar", ["x"], ["y"], name="evil\u202egnp.exe")]), "err",
         'node "evil\\xe2\\x80\\xaegnp.exe"')
    save("utf8_ok_name", model([node("FooBar", ["x"], ["y"], name="größe_專家")]), "err", 'node "größe_專家"')
    save("huge_node_name", model([node("FooBar", ["x"], ["y"], name="N" * 300000 + "_end")]), "err",
         "NNN...NNN", 'NNN_end" (FooBar #0): unknown op FooBar')
    save("huge_value_name", model([node("Add", ["x", "v" * 1000000], ["y"], name="add")]), "err",
         "vvv...vvv", "vvv' is not a graph input")
    save("huge_init_name", relu_with_init(TP(name="w" * 100000, data_type=TP.FLOAT, dims=[2], raw_data=b"\0" * 4)),
         "err", "initializer 'www", "www...www", "www': raw_data holds 4 bytes")
    save("ctrl_init_name", relu_with_init(TP(name="w\x1b[2J", data_type=TP.FLOAT, dims=[2], raw_data=b"\0" * 4)),
         "err", "initializer 'w\\x1b[2J'")
    save("utf8_bad_name", model([node("FooBar", ["x"], ["y"], name="\udcff".encode("utf-8", "surrogatepass").decode("latin-1"))]),
         "err", "")
    # bytes that are not UTF-8 at all (onnx's Python will not write them: patched in)
    raw = model([node("FooBar", ["x"], ["y"], name="@@@@@@")]).SerializeToString()
    save("utf8_invalid_name", raw.replace(b"@@@@@@", b"\xff\xc0\x80\xed\xa0\x80"), "err",
         'node "\\xff\\xc0\\x80\\xed\\xa0\\x80"')
    for op in ("If", "Loop", "Scan"):
        save(f"subgraph_{op.lower()}", model([node(op, ["x"], ["y"], name=op)]), "err", op)
    save("many_unknown", model([node(f"Op{i}", ["x"], [f"v{i}"], name=f"u{i}") for i in range(3000)] +
                               [node("Relu", ["x"], ["y"])]), "err", "u0")


# ---- truncated and mutated tiny models (deterministic) -----------------------------------------
def varint_positions(b):
    # bytes followed by a plausible protobuf length: where mutating hurts most
    return [i for i in range(1, len(b)) if b[i - 1] in (0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A, 0x42, 0x4A)]


def mutated():
    rng = random.Random(20261126)
    for name in sorted(os.listdir(TINY)):
        data = open(os.path.join(TINY, name, "model.onnx"), "rb").read()
        for frac in (0.01, 0.13, 0.5, 0.77, 0.999):
            save(f"trunc_{name}_{int(frac * 1000)}", data[: max(1, int(len(data) * frac))], "err", "")
        vp = varint_positions(data[:4096]) or [1]
        for k in range(10):
            b = bytearray(data)
            kind = k % 5
            if kind == 0:      # a length/varint byte near the head
                for _ in range(3):
                    b[rng.choice(vp)] = rng.choice((0x00, 0x7F, 0xFF, 0x80, 0x01))
            elif kind == 1:    # random bytes anywhere
                for _ in range(16):
                    b[rng.randrange(len(b))] = rng.randrange(256)
            elif kind == 2:    # a zeroed run in the header (graph structure, names, dims)
                s = rng.randrange(0, min(len(b), 2048))
                b[s:s + 32] = bytes(len(b[s:s + 32]))
            elif kind == 3:    # a chunk duplicated (repeated fields, duplicated nodes)
                s = rng.randrange(0, min(len(b), 4096))
                b[s:s] = b[s:s + 64]
            else:              # an 0xFF run: maximal varints
                s = rng.choice(vp)
                b[s:s + 10] = b"\xff" * 10
            save(f"mut_{name}_{k}", bytes(b), "any")


def main():
    os.makedirs(OUT, exist_ok=True)
    external()
    dims()
    structure()
    attributes()
    ops_and_names()
    mutated()
    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as f:
        f.write("\n".join(MANIFEST) + "\n")
    print(len(MANIFEST), "models")


main()
