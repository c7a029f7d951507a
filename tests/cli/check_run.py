"""check_run.py - checks for tests/cli/runtime.sh (Debian's /usr/bin/python3
with numpy and onnx). Exit 0 when the check passes; otherwise 1 with a line
saying why.

    check_run.py profile FILE NCALLS RUNS
        FILE is valid JSON: an array of exactly NCALLS complete ("X") trace
        events, one per call 0..NCALLS-1 in order, each with name, cat, ts,
        dur >= 0, pid, tid and args {op, kernel, call, node_index, runs ==
        RUNS, mean_us, min_us <= mean_us}; calls start in order.
    check_run.py same-events A B
        two profiles of one program list the same (call, name, cat, kernel).
    check_run.py stats MODEL_DIR STDOUT_FILE
        parses `--stats` output (at least one layer) and checks, per layer,
        sum(rows per expert) + over_capacity + k * dropped_rows == rows * k and
        routed == sum; then recomputes the routing with the numpy reference
        interpreter (tests/models/onnx_ref.py) from the layer's TopK node (the
        mixc.moe node keeps its name): the rows dropped by importance are the
        ones with the lowest top probability, and each expert's count is
        min(rows that chose it, capacity) for one capacity shared by all
        experts (no capacity: exactly the rows that chose it).
    check_run.py views-model DIR
        DIR/model.onnx, DIR/x.npy and DIR/want_{y,y2,y3}.npy: views (Reshape,
        Identity, Flatten, Squeeze, Unsqueeze) of a graph input and of an
        intermediate whose last direct user comes before new intermediates
        are written, a chain of views read after that, and views that are
        model outputs; every op is exact in float32.
    check_run.py views-check DIR OUT_DIR PROFILE
        OUT_DIR's outputs equal DIR's want_*.npy bit for bit, and the profile
        has a call for the two views that are model outputs and for no other.
    check_run.py chain-model DIR
        DIR/fused.onnx: a chain of f32 elementwise ops (vector and libm unary
        ops, Add/Sub/Mul/Div/Max/Min, a scalar constant and a [1] input) on
        3x7000 elements (several pool pieces, a partial last chunk);
        DIR/unfused.onnx: the same with every intermediate a model output too,
        so that nothing fuses; inputs DIR/{x,z,s}.npy and numpy's y in
        DIR/want_y.npy.
    check_run.py chain-check DIR FUSED_OUT UNFUSED_OUT
        y is bit-identical fused and unfused, and within 1e-5 (relative to
        max(1, |want|)) of numpy's.
    check_run.py weights-model DIR
        DIR/model.onnx: y = relu(x . W1) . W2 with two 768x768 constants (2.25
        MiB each: an executable's embedded weights are more than 1 MiB of
        read-only data, which it moves into anonymous memory at start);
        DIR/x.npy (256x768) and numpy's y (float64) in DIR/want_y.npy.
    check_run.py weights-check DIR OUT_DIR
        OUT_DIR/y.npy is within 1e-4 (relative to max(1, |want|)) of numpy's.
    check_run.py gather-model OUT.onnx NAME
        a Gather model (data f32[4,3], idx i64[2] -> y) whose node is named
        NAME ("" for none; "\\n" and "\\xff" escapes are decoded, so names can
        hold control bytes and invalid UTF-8).
"""
import json
import os
import re
import sys

import numpy as np


def fail(msg):
    print(msg)
    sys.exit(1)


def load_events(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        ev = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        fail("%s: not valid JSON: %s" % (path, e))
    if not isinstance(ev, list):
        fail("%s: not a JSON array" % path)
    return ev


def profile(path, ncalls, runs):
    ev = load_events(path)
    xs = [e for e in ev if e.get("ph") == "X"]
    if len(xs) != ncalls or len(ev) != ncalls:
        fail("%s: %d events (%d complete), want %d" % (path, len(ev), len(xs), ncalls))
    last = -1.0
    for i, e in enumerate(xs):
        for k in ("name", "cat", "ph", "ts", "dur", "pid", "tid", "args"):
            if k not in e:
                fail("%s: event %d has no %s" % (path, i, k))
        a = e["args"]
        for k in ("op", "kernel", "call", "node_index", "runs", "mean_us", "min_us"):
            if k not in a:
                fail("%s: event %d args have no %s" % (path, i, k))
        if a["call"] != i:
            fail("%s: event %d is call %d" % (path, i, a["call"]))
        if not e["name"] or not a["kernel"].startswith("mixc_k_"):
            fail("%s: event %d: empty name or bad kernel %r" % (path, i, a["kernel"]))
        if e["dur"] < 0 or e["ts"] < last:
            fail("%s: event %d: dur %s, ts %s after %s" % (path, i, e["dur"], e["ts"], last))
        last = e["ts"]
        if a["runs"] != runs:
            fail("%s: event %d: runs %s, want %d" % (path, i, a["runs"], runs))
        if a["min_us"] > a["mean_us"] + 1e-3 or a["min_us"] < 0:
            fail("%s: event %d: min_us %s > mean_us %s" % (path, i, a["min_us"], a["mean_us"]))


def same_events(pa, pb):
    key = lambda e: (e["args"]["call"], e["name"], e["cat"], e["args"]["kernel"])
    a = [key(e) for e in load_events(pa)]
    b = [key(e) for e in load_events(pb)]
    if a != b:
        diff = next((x, y) for x, y in zip(a + [None], b + [None]) if x != y)
        fail("%s and %s differ: %s vs %s" % (pa, pb, diff[0], diff[1]))


LAYER = re.compile(r"^moe '(.*)' \((.*)\): rows=(\d+) k=(\d+) experts=(\d+)$")


def parse_stats(text):
    lines = text.splitlines()
    layers = []
    for i, line in enumerate(lines):
        m = LAYER.match(line)
        if not m:
            continue
        per = lines[i + 1].strip()
        tail = lines[i + 2].strip()
        if not per.startswith("rows per expert:"):
            fail("no 'rows per expert:' after %r" % line)
        counts = [int(v) for v in per.split(":")[1].split()]
        kv = dict(t.split("=") for t in tail.split())
        layers.append(dict(name=m.group(1), op=m.group(2), rows=int(m.group(3)), k=int(m.group(4)),
                           E=int(m.group(5)), counts=counts, routed=int(kv["routed"]),
                           over=int(kv["over_capacity"]), dropped=int(kv["dropped_rows"])))
    return layers


def stats(model_dir, out_file):
    with open(out_file) as f:
        layers = parse_stats(f.read())
    if not layers:
        fail("%s: no MoE layer in the --stats output" % out_file)
    for L in layers:
        if L["op"] != "mixc.moe" or len(L["counts"]) != L["E"]:
            fail("layer %s: op %s, %d counts for %d experts" % (L["name"], L["op"], len(L["counts"]), L["E"]))
        s = sum(L["counts"])
        if s != L["routed"] or s + L["over"] + L["k"] * L["dropped"] != L["rows"] * L["k"]:
            fail("layer %s: %d routed + %d over capacity + %d * %d dropped != %d rows * %d"
                 % (L["name"], s, L["over"], L["k"], L["dropped"], L["rows"], L["k"]))

    # The routing, recomputed from each layer's TopK node.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    import onnx
    from onnx_ref import run_model
    model = onnx.load(os.path.join(model_dir, "model.onnx"))
    topk = {n.name: n for n in model.graph.node if n.op_type == "TopK"}
    want = []
    for L in layers:
        if L["name"] not in topk:
            fail("layer %s: no TopK node of that name in the model" % L["name"])
        want += list(topk[L["name"]].output[:2])
    x = np.load(os.path.join(model_dir, "input_0.npy"))
    env = run_model(model, {model.graph.input[0].name: x}, want)
    for L in layers:
        n = topk[L["name"]]
        vals, idx = env[n.output[0]], env[n.output[1]]
        k = L["k"]
        vals, idx = vals.reshape(-1, k), idx.reshape(-1, k)
        groups = idx.shape[0]
        if L["rows"] % groups:
            fail("layer %s: %d rows, %d routed groups" % (L["name"], L["rows"], groups))
        G = L["rows"] // groups
        if L["dropped"] % G:
            fail("layer %s: %d dropped rows is not a multiple of the group %d" % (L["name"], L["dropped"], G))
        nd = L["dropped"] // G
        order = sorted(range(groups), key=lambda r: (float(vals[r, 0]), r))
        kept = sorted(order[nd:])
        chose = np.bincount(idx[kept].reshape(-1), minlength=L["E"])[:L["E"]] * G
        got = np.array(L["counts"])
        if L["over"] == 0:
            ok = np.array_equal(got, chose)
        else:
            cap = int(got.max())
            ok = np.array_equal(got, np.minimum(chose, cap)) and int(chose.sum() - got.sum()) == L["over"]
        if not ok:
            fail("layer %s: rows per expert %s; the reference routing gives %s (%d over capacity)"
                 % (L["name"], got.tolist(), chose.tolist(), L["over"]))


def _model(g):
    """An opset-17, IR-version-8 model of graph g (what mixc's tests export)."""
    from onnx import helper as h
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _save(m, path):
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def views_model(d):
    from onnx import TensorProto as TP
    from onnx import helper as h
    from onnx import numpy_helper as nh
    shape = lambda name, dims: nh.from_array(np.array(dims, dtype=np.int64), name)
    nodes = [
        h.make_node("Reshape", ["x", "s64"], ["r0"]),           # a view of a graph input
        h.make_node("Relu", ["r0"], ["a"]),
        h.make_node("Reshape", ["a", "s46"], ["v1"]),           # a's last direct user
        h.make_node("Identity", ["v1"], ["v2"]),
        h.make_node("Flatten", ["v2"], ["v3"], axis=0),
        h.make_node("Neg", ["x"], ["t"]),                       # new intermediates, written
        h.make_node("Abs", ["t"], ["t2"]),                      # while only views of a live
        h.make_node("Reshape", ["t2", "s124"], ["t3"]),
        h.make_node("Squeeze", ["v3", "ax0"], ["v4"]),
        h.make_node("Unsqueeze", ["v4", "ax0"], ["u"]),
        h.make_node("Add", ["u", "t3"], ["y"]),
        h.make_node("Reshape", ["v1", "s24"], ["y2"]),          # a view that is an output
        h.make_node("Identity", ["x"], ["y3"]),                 # and one of the input
    ]
    inits = [shape("s64", [6, 4]), shape("s46", [4, 6]), shape("s124", [1, 24]),
             shape("s24", [24]), shape("ax0", [0])]
    g = h.make_graph(nodes, "views", [h.make_tensor_value_info("x", TP.FLOAT, [2, 3, 4])],
                     [h.make_tensor_value_info("y", TP.FLOAT, [1, 24]),
                      h.make_tensor_value_info("y2", TP.FLOAT, [24]),
                      h.make_tensor_value_info("y3", TP.FLOAT, [2, 3, 4])], inits)
    os.makedirs(d, exist_ok=True)
    _save(_model(g), os.path.join(d, "model.onnx"))
    x = (np.arange(24, dtype=np.float32) - 11.5).reshape(2, 3, 4) * np.float32(0.37)
    np.save(os.path.join(d, "x.npy"), x)
    a = np.maximum(x.reshape(6, 4), np.float32(0))
    np.save(os.path.join(d, "want_y.npy"), a.reshape(1, 24) + np.abs(-x).reshape(1, 24))
    np.save(os.path.join(d, "want_y2.npy"), a.reshape(24))
    np.save(os.path.join(d, "want_y3.npy"), x)


def views_check(d, out, prof):
    for name in ("y", "y2", "y3"):
        want, got = np.load(os.path.join(d, "want_%s.npy" % name)), np.load(os.path.join(out, name + ".npy"))
        if want.shape != got.shape or want.tobytes() != got.tobytes():
            fail("%s: got %s, want %s" % (name, got.tolist(), want.tolist()))
    views = ("Reshape", "Identity", "Flatten", "Squeeze", "Unsqueeze")
    cats = [e["cat"] for e in load_events(prof) if e.get("ph") == "X"]
    n = sum(c in views for c in cats)
    if n != 2:
        fail("%s: %d calls for views (%s), want 2 (the two model outputs)" % (prof, n, cats))


CHAIN = [("Mul", "x", "h", "a"), ("Erf", "a", None, "b"), ("Add", "b", "z", "c"),
         ("Mul", "c", "s", "d"), ("Sin", "d", None, "e"), ("Max", "e", "z", "f"),
         ("Sigmoid", "f", None, "g"), ("Div", "g", "x", "i"), ("Tanh", "i", None, "j"),
         ("Min", "j", "s", "k"), ("Sub", "k", "x", "l"), ("Exp", "l", None, "y")]


def chain_model(d):
    from onnx import TensorProto as TP
    from onnx import helper as h
    from onnx import numpy_helper as nh
    os.makedirs(d, exist_ok=True)
    shape = [3, 7000]
    for fused in (True, False):
        nodes = [h.make_node(op, [a] + ([b] if b else []), [o]) for op, a, b, o in CHAIN]
        outs = [h.make_tensor_value_info("y", TP.FLOAT, shape)]
        if not fused:
            outs += [h.make_tensor_value_info(o, TP.FLOAT, shape) for _, _, _, o in CHAIN[:-1]]
        g = h.make_graph(nodes, "chain", [h.make_tensor_value_info("x", TP.FLOAT, shape),
                                          h.make_tensor_value_info("z", TP.FLOAT, shape),
                                          h.make_tensor_value_info("s", TP.FLOAT, [1])],
                         outs, [nh.from_array(np.array(0.5, dtype=np.float32), "h")])
        _save(_model(g), os.path.join(d, "fused.onnx" if fused else "unfused.onnx"))
    rng = np.random.default_rng(7)
    v = {"x": rng.uniform(0.5, 2.0, shape).astype(np.float32),
         "z": rng.standard_normal(shape).astype(np.float32),
         "s": np.array([0.75], dtype=np.float32), "h": np.float32(0.5)}
    for k in ("x", "z", "s"):
        np.save(os.path.join(d, k + ".npy"), v[k])
    from math import erf
    f64 = {k: np.asarray(a, dtype=np.float64) for k, a in v.items()}
    fn = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide,
          "Max": np.maximum, "Min": np.minimum, "Sin": np.sin, "Exp": np.exp, "Tanh": np.tanh,
          "Sigmoid": lambda t: 1 / (1 + np.exp(-t)), "Erf": np.vectorize(erf)}
    for op, a, b, o in CHAIN:
        f64[o] = fn[op](f64[a], f64[b]) if b else fn[op](f64[a])
    np.save(os.path.join(d, "want_y.npy"), f64["y"])


def chain_check(d, fused, unfused):
    a, b = np.load(os.path.join(fused, "y.npy")), np.load(os.path.join(unfused, "y.npy"))
    if a.shape != b.shape or a.tobytes() != b.tobytes():
        fail("fused and unfused y differ in %d elements" % int(np.sum(a != b)))
    want = np.load(os.path.join(d, "want_y.npy"))
    err = np.max(np.abs(a - want) / np.maximum(1, np.abs(want)))
    if not err <= 1e-5:
        fail("y is %.3g from numpy's (relative), over 1e-5" % err)


def weights_model(d):
    from onnx import TensorProto as TP
    from onnx import helper as h
    from onnx import numpy_helper as nh
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((768, 768)) * 0.04).astype(np.float32)
    w2 = (rng.standard_normal((768, 768)) * 0.04).astype(np.float32)
    nodes = [h.make_node("MatMul", ["x", "w1"], ["a"]), h.make_node("Relu", ["a"], ["r"]),
             h.make_node("MatMul", ["r", "w2"], ["y"])]
    g = h.make_graph(nodes, "weights", [h.make_tensor_value_info("x", TP.FLOAT, [256, 768])],
                     [h.make_tensor_value_info("y", TP.FLOAT, [256, 768])],
                     [nh.from_array(w1, "w1"), nh.from_array(w2, "w2")])
    os.makedirs(d, exist_ok=True)
    _save(_model(g), os.path.join(d, "model.onnx"))
    x = rng.standard_normal((256, 768)).astype(np.float32)
    np.save(os.path.join(d, "x.npy"), x)
    y = np.maximum(x.astype(np.float64) @ w1, 0) @ w2
    np.save(os.path.join(d, "want_y.npy"), y)


def weights_check(d, out):
    a, want = np.load(os.path.join(out, "y.npy")), np.load(os.path.join(d, "want_y.npy"))
    err = np.max(np.abs(a - want) / np.maximum(1, np.abs(want)))
    if a.shape != want.shape or not err <= 1e-4:
        fail("y is %.3g from numpy's (relative), over 1e-4" % err)


def gather_model(out, name):
    from onnx import TensorProto as TP
    from onnx import helper as h
    raw_name = name.encode("utf-8", "surrogateescape").decode("unicode_escape").encode("latin-1")
    ph = b"PLACEHOLDER_NAME"
    node = h.make_node("Gather", ["data", "idx"], ["y"], name=ph.decode() if raw_name else None, axis=0)
    g = h.make_graph([node], "g",
                     [h.make_tensor_value_info("data", TP.FLOAT, [4, 3]),
                      h.make_tensor_value_info("idx", TP.INT64, [2])],
                     [h.make_tensor_value_info("y", TP.FLOAT, [2, 3])])
    m = _model(g)
    # protobuf refuses invalid UTF-8 in a string field: splice the raw bytes in.
    raw = _replace_string(m, ph, raw_name) if raw_name else m.SerializeToString()
    with open(out, "wb") as f:
        f.write(raw)


def _replace_string(model, placeholder, new):
    """Serializes model with the node name placeholder replaced by raw bytes
    (which may be invalid UTF-8): the node, then the graph, then the model are
    re-encoded by hand around the new bytes."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "malformed"))
    from make_malformed import varint

    def field(num, payload):
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    node = model.graph.node[0]
    node_bytes = node.SerializeToString()
    old = field(3, placeholder)   # NodeProto.name is field 3
    assert old in node_bytes
    node_bytes = node_bytes.replace(old, field(3, new))
    graph = model.graph
    rest = type(graph)()
    rest.CopyFrom(graph)
    del rest.node[:]
    graph_bytes = field(1, node_bytes) + rest.SerializeToString()   # GraphProto.node is field 1
    top = type(model)()
    top.CopyFrom(model)
    top.ClearField("graph")
    return top.SerializeToString() + field(7, graph_bytes)          # ModelProto.graph is field 7


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "profile":
        profile(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "same-events":
        same_events(sys.argv[2], sys.argv[3])
    elif cmd == "stats":
        stats(sys.argv[2], sys.argv[3])
    elif cmd == "weights-model":
        weights_model(sys.argv[2])
    elif cmd == "weights-check":
        weights_check(sys.argv[2], sys.argv[3])
    elif cmd == "views-model":
        views_model(sys.argv[2])
    elif cmd == "views-check":
        views_check(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "chain-model":
        chain_model(sys.argv[2])
    elif cmd == "chain-check":
        chain_check(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "gather-model":
        gather_model(sys.argv[2], sys.argv[3])
    else:
        fail("unknown command %s" % cmd)
