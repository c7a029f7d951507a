"""A small numpy ONNX interpreter for the ops used by mixc's test models.

onnx 1.12 has no onnx.reference and onnxruntime is not available, so this is
the independent check that an exported model computes what PyTorch computed.

Usage:
    from onnx_ref import run_model
    outs = run_model("model.onnx", {"input": x})      # dict name -> array

    /usr/bin/python3 tests/models/onnx_ref.py model.onnx input_0.npy [output_0.npy]
    /usr/bin/python3 tests/models/onnx_ref.py --ops tests/models/tiny   # op counts

Float math is done in the tensor's dtype (float32) except LayerNormalization,
Erf and the com.microsoft.MoE op, which compute in float64 and cast back.
"""
import math
import sys

import numpy as np
import onnx
from onnx import numpy_helper

try:
    _NP_OF = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE
except AttributeError:  # newer onnx
    _NP_OF = {t: onnx.helper.tensor_dtype_to_np_dtype(t)
              for t in onnx.TensorProto.DataType.values()
              if t not in (0, onnx.TensorProto.STRING)}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _s(v):
    return v.decode() if isinstance(v, bytes) else v


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _axes(node_inputs, i, a):
    if len(node_inputs) > i and node_inputs[i] is not None:
        return [int(v) for v in np.asarray(node_inputs[i]).reshape(-1)]
    if "axes" in a:
        return list(a["axes"])
    return None


def _reduce(fn, x, axes, keepdims, noop_empty=0):
    if axes is None or len(axes) == 0:
        if noop_empty:
            return x
        axes = None
    else:
        axes = tuple(int(ax) % x.ndim for ax in axes)
    return fn(x, axis=axes, keepdims=bool(keepdims))


def _conv(x, w, b, a):
    nd = x.ndim - 2
    strides = a.get("strides", [1] * nd)
    dil = a.get("dilations", [1] * nd)
    pads = a.get("pads", [0] * (2 * nd))
    if a.get("group", 1) != 1:
        raise NotImplementedError("grouped Conv")
    if _s(a.get("auto_pad", "NOTSET")) not in ("NOTSET", ""):
        raise NotImplementedError("auto_pad")
    x = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)])
    ks = w.shape[2:]
    outs = [(x.shape[2 + i] - dil[i] * (ks[i] - 1) - 1) // strides[i] + 1 for i in range(nd)]
    y = np.zeros((x.shape[0], w.shape[0]) + tuple(outs), dtype=np.float64)
    for kidx in np.ndindex(*ks):
        sl = tuple(slice(kidx[i] * dil[i], kidx[i] * dil[i] + strides[i] * (outs[i] - 1) + 1,
                         strides[i]) for i in range(nd))
        patch = x[(slice(None), slice(None)) + sl]             # (N,Cin,*outs)
        wk = w[(slice(None), slice(None)) + kidx]              # (Cout,Cin)
        y += np.einsum("nc...,oc->no...", patch.astype(np.float64), wk.astype(np.float64))
    if b is not None:
        y += b.reshape((1, -1) + (1,) * nd)
    return y.astype(x.dtype)


def _topk(x, k, a):
    axis = a.get("axis", -1) % x.ndim
    largest = a.get("largest", 1)
    # stable sort: ties -> lower index first (ONNX TopK)
    key = -x if largest else x
    idx = np.argsort(key, axis=axis, kind="stable")
    idx = np.take(idx, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)


def _scatter_elements(data, idx, upd, a):
    axis = a.get("axis", 0) % data.ndim
    red = _s(a.get("reduction", "none"))
    out = data.copy()
    idx = np.where(idx < 0, idx + data.shape[axis], idx)
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[axis] = idx[pos]
        tgt = tuple(tgt)
        if red == "none":
            out[tgt] = upd[pos]
        elif red == "add":
            out[tgt] += upd[pos]
        elif red == "mul":
            out[tgt] *= upd[pos]
        elif red == "max":
            out[tgt] = max(out[tgt], upd[pos])
        elif red == "min":
            out[tgt] = min(out[tgt], upd[pos])
    return out


def _scatter_nd(data, idx, upd, a):
    red = _s(a.get("reduction", "none"))
    out = data.copy()
    q = idx.shape[-1]
    for pos in np.ndindex(*idx.shape[:-1]):
        tgt = tuple(int(v) for v in idx[pos])
        if red == "none":
            out[tgt] = upd[pos]
        elif red == "add":
            out[tgt] += upd[pos]
        elif red == "mul":
            out[tgt] *= upd[pos]
        else:
            raise NotImplementedError(red)
    del q
    return out


def _slice(x, starts, ends, axes, steps):
    starts = [int(v) for v in starts]
    ends = [int(v) for v in ends]
    axes = list(range(len(starts))) if axes is None else [int(v) % x.ndim for v in axes]
    steps = [1] * len(starts) if steps is None else [int(v) for v in steps]
    sl = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        dim = x.shape[ax]
        # clamp like ONNX
        if s < 0:
            s += dim
        if e < 0:
            e += dim
        if st > 0:
            s = min(max(s, 0), dim)
            e = min(max(e, 0), dim)
        else:
            s = min(max(s, -1), dim - 1)
            e = min(max(e, -1), dim - 1)
        sl[ax] = slice(s, e if e >= 0 else None, st)
    return x[tuple(sl)]


def _gelu(x, kind):
    x64 = x.astype(np.float64)
    if kind == "gelu":      # ONNX Runtime MoE: tanh form
        return 0.5 * x64 * (1.0 + np.tanh(0.7978845608028654 * (x64 + 0.044715 * x64 ** 3)))
    if kind == "relu":
        return np.maximum(x64, 0)
    if kind == "silu":
        return x64 / (1.0 + np.exp(-x64))
    if kind == "identity":
        return x64
    raise NotImplementedError(kind)


def ms_moe(x, router_logits, w1, b1, w2, b2, k, activation, normalize, layout="EHI"):
    """com.microsoft.MoE reference (float64).  layout "EHI": fc1 (E,H,I),
    fc2 (E,I,H) (older ORT); layout "EIH": fc1 (E,I,H), fc2 (E,H,I)."""
    x = x.astype(np.float64)
    lg = router_logits.astype(np.float64)
    lg = lg - lg.max(axis=-1, keepdims=True)
    p = np.exp(lg)
    p /= p.sum(axis=-1, keepdims=True)
    w1 = w1.astype(np.float64)
    w2 = w2.astype(np.float64)
    if layout == "EIH":
        w1 = w1.transpose(0, 2, 1)
        w2 = w2.transpose(0, 2, 1)
    E = p.shape[1]
    b1 = np.zeros((E, w1.shape[2])) if b1 is None else b1.astype(np.float64)
    b2 = np.zeros((E, w2.shape[2])) if b2 is None else b2.astype(np.float64)
    idx = np.argsort(-p, axis=-1, kind="stable")[:, :k]
    wts = np.take_along_axis(p, idx, axis=-1)
    if normalize:
        wts = wts / wts.sum(axis=-1, keepdims=True)
    y = np.zeros_like(x)
    for r in range(x.shape[0]):
        for j in range(k):
            e = idx[r, j]
            h = _gelu(x[r] @ w1[e] + b1[e], activation)
            y[r] += wts[r, j] * (h @ w2[e] + b2[e])
    return y


def run_node(node, ins):
    op = node.op_type
    a = _attrs(node)
    x = ins[0] if ins else None
    if node.domain == "com.microsoft":
        if op != "MoE":
            raise NotImplementedError("com.microsoft." + op)
        x, r, w1 = ins[0], ins[1], ins[2]
        b1 = ins[3] if len(ins) > 3 else None
        w2 = ins[4]
        b2 = ins[5] if len(ins) > 5 else None
        H = x.shape[-1]
        layout = "EHI" if w1.shape[1] == H else "EIH"
        y = ms_moe(x, r, w1, b1, w2, b2, a.get("k", 1), _s(a.get("activation_type", "relu")),
                   a.get("normalize_routing_weights", 0), layout)
        return [y.astype(x.dtype)]
    if node.domain not in ("", "ai.onnx"):
        raise NotImplementedError(node.domain + "." + op)

    if op == "Constant":
        if "value" in a:
            return [numpy_helper.to_array(a["value"])]
        for key, dt in (("value_float", np.float32), ("value_int", np.int64),
                        ("value_floats", np.float32), ("value_ints", np.int64)):
            if key in a:
                return [np.array(a[key], dtype=dt)]
        raise NotImplementedError("Constant " + str(list(a)))
    if op == "Identity":
        return [x]
    binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
              "Equal": np.equal, "Less": np.less, "Greater": np.greater,
              "LessOrEqual": np.less_equal, "GreaterOrEqual": np.greater_equal,
              "And": np.logical_and, "Or": np.logical_or, "Pow": np.power}
    if op in binary:
        r = binary[op](ins[0], ins[1])
        if op == "Pow":
            r = r.astype(ins[0].dtype)
        return [np.asarray(r)]
    if op == "Div":
        if np.issubdtype(ins[0].dtype, np.integer):
            return [np.asarray(np.trunc(ins[0] / ins[1]).astype(ins[0].dtype))]
        return [np.asarray(ins[0] / ins[1])]
    unary = {"Sqrt": np.sqrt, "Neg": np.negative, "Abs": np.abs, "Exp": np.exp,
             "Tanh": np.tanh, "Not": np.logical_not, "Log": np.log}
    if op in unary:
        return [np.asarray(unary[op](x))]
    if op == "Reciprocal":
        return [np.asarray(np.ones((), x.dtype) / x)]
    if op == "Relu":
        return [np.maximum(x, 0).astype(x.dtype)]
    if op == "Sigmoid":
        return [(1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(x.dtype)]
    if op == "Erf":
        return [_erf(x.astype(np.float64)).astype(x.dtype)]
    if op in ("Max", "Min"):
        fn = np.maximum if op == "Max" else np.minimum
        r = ins[0]
        for t in ins[1:]:
            r = fn(r, t)
        return [r]
    if op == "Where":
        return [np.where(ins[0], ins[1], ins[2])]
    if op == "Cast":
        return [np.asarray(x).astype(_NP_OF[a["to"]])]
    if op == "MatMul":
        return [np.asarray(np.matmul(ins[0], ins[1]))]
    if op == "Gemm":
        A, B = ins[0], ins[1]
        if a.get("transA", 0):
            A = A.T
        if a.get("transB", 0):
            B = B.T
        y = a.get("alpha", 1.0) * (A @ B)
        if len(ins) > 2 and ins[2] is not None:
            y = y + a.get("beta", 1.0) * ins[2]
        return [y.astype(A.dtype)]
    if op == "Conv":
        return [_conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)]
    if op == "Einsum":
        return [np.asarray(np.einsum(_s(a["equation"]).replace(" ", ""), *ins))]
    if op == "Reshape":
        shape = [int(v) for v in ins[1]]
        if not a.get("allowzero", 0):
            shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return [x.reshape(shape)]
    if op == "Flatten":
        ax = a.get("axis", 1) % max(x.ndim, 1)
        return [x.reshape(int(np.prod(x.shape[:ax])), -1)]
    if op == "Transpose":
        perm = a.get("perm", list(range(x.ndim))[::-1])
        return [np.transpose(x, perm)]
    if op == "Squeeze":
        axes = _axes(ins, 1, a)
        if axes is None:
            return [np.squeeze(x)]
        return [np.squeeze(x, axis=tuple(ax % x.ndim for ax in axes))]
    if op == "Unsqueeze":
        axes = _axes(ins, 1, a)
        r = x
        nd = x.ndim + len(axes)
        for ax in sorted(ax % nd for ax in axes):
            r = np.expand_dims(r, ax)
        return [r]
    if op == "Concat":
        return [np.concatenate(ins, axis=a["axis"])]
    if op == "Shape":
        shp = np.array(x.shape, dtype=np.int64)
        start = a.get("start", 0)
        end = a.get("end", None)
        return [shp[start:end]]
    if op == "Size":
        return [np.array(x.size, dtype=np.int64)]
    if op == "Gather":
        return [np.take(x, ins[1].astype(np.int64), axis=a.get("axis", 0))]
    if op == "GatherElements":
        idx = ins[1]
        ax = a.get("axis", 0) % x.ndim
        idx = np.where(idx < 0, idx + x.shape[ax], idx)
        return [np.take_along_axis(x, idx, axis=ax)]
    if op == "GatherND":
        if a.get("batch_dims", 0):
            raise NotImplementedError("GatherND batch_dims")
        idx = ins[1]
        q = idx.shape[-1]
        out = np.stack([x[tuple(int(v) for v in idx[p])] for p in np.ndindex(*idx.shape[:-1])]) \
            if idx.size else np.zeros((0,) + x.shape[q:], x.dtype)
        return [out.reshape(idx.shape[:-1] + x.shape[q:])]
    if op == "Slice":
        return [_slice(x, ins[1], ins[2], ins[3] if len(ins) > 3 else None,
                       ins[4] if len(ins) > 4 else None)]
    if op == "ConstantOfShape":
        v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return [np.full([int(s) for s in x], v.reshape(-1)[0], dtype=v.dtype)]
    if op == "Expand":
        shp = np.broadcast_shapes(x.shape, tuple(int(s) for s in ins[1]))
        return [np.broadcast_to(x, shp).copy()]
    if op == "Range":
        return [np.arange(ins[0], ins[1], ins[2]).astype(ins[0].dtype)]
    if op == "Softmax":
        ax = a.get("axis", -1)
        m = x - x.max(axis=ax, keepdims=True)
        e = np.exp(m)
        return [(e / e.sum(axis=ax, keepdims=True)).astype(x.dtype)]
    if op == "LayerNormalization":
        ax = a.get("axis", -1) % x.ndim
        eps = a.get("epsilon", 1e-5)
        axes = tuple(range(ax, x.ndim))
        x64 = x.astype(np.float64)
        mu = x64.mean(axis=axes, keepdims=True)
        var = ((x64 - mu) ** 2).mean(axis=axes, keepdims=True)
        y = (x64 - mu) / np.sqrt(var + eps) * ins[1]
        if len(ins) > 2 and ins[2] is not None:
            y = y + ins[2]
        return [y.astype(x.dtype)]
    if op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceProd"):
        # opset 13+: ReduceSum takes axes as input; others (<18) as attribute
        axes = _axes(ins, 1, a)
        kd = a.get("keepdims", 1)
        noop = a.get("noop_with_empty_axes", 0)
        fn = {"ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max,
              "ReduceMin": np.min, "ReduceProd": np.prod,
              "ReduceL2": lambda t, axis, keepdims: np.sqrt(np.sum(t * t, axis=axis, keepdims=keepdims))}[op]
        return [np.asarray(_reduce(fn, x, axes, kd, noop)).astype(x.dtype)]
    if op in ("ArgMax", "ArgMin"):
        ax = a.get("axis", 0)
        fn = np.argmax if op == "ArgMax" else np.argmin
        r = fn(x, axis=ax)
        if a.get("keepdims", 1):
            r = np.expand_dims(r, ax)
        return [r.astype(np.int64)]
    if op == "TopK":
        return list(_topk(x, int(np.asarray(ins[1]).reshape(-1)[0]), a))
    if op == "ScatterElements":
        return [_scatter_elements(ins[0], ins[1], ins[2], a)]
    if op == "ScatterND":
        return [_scatter_nd(ins[0], ins[1], ins[2], a)]
    if op == "OneHot":
        idx, depth, vals = ins[0], int(np.asarray(ins[1]).reshape(-1)[0]), ins[2]
        ax = a.get("axis", -1)
        idx = np.where(idx < 0, idx + depth, idx).astype(np.int64)
        oh = (idx[..., None] == np.arange(depth)).astype(np.int64)
        out = np.where(oh == 1, vals[1], vals[0]).astype(vals.dtype)
        if ax != -1 and ax != idx.ndim:
            out = np.moveaxis(out, -1, ax)
        return [out]
    if op == "CumSum":
        ax = int(np.asarray(ins[1]).reshape(-1)[0])
        r = x
        if a.get("reverse", 0):
            r = np.flip(r, ax)
        c = np.cumsum(r, axis=ax, dtype=x.dtype)
        if a.get("exclusive", 0):
            c = c - r
        if a.get("reverse", 0):
            c = np.flip(c, ax)
        return [np.ascontiguousarray(c)]
    if op == "NonZero":
        return [np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)]
    if op == "Split":
        ax = a.get("axis", 0)
        split = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("split")
        n = len(node.output)
        if split is None:
            return list(np.split(x, n, axis=ax))
        return list(np.split(x, np.cumsum([int(s) for s in split])[:-1], axis=ax))
    raise NotImplementedError(op)


def run_model(model, feeds, want=None):
    if isinstance(model, str):
        model = onnx.load(model)
    g = model.graph
    env = {}
    for t in g.initializer:
        env[t.name] = numpy_helper.to_array(t)
    env.update(feeds)
    for node in g.node:
        ins = [env[n] if n else None for n in node.input]
        outs = run_node(node, ins)
        for name, v in zip(node.output, outs):
            if name:
                env[name] = np.asarray(v)
    names = want or [o.name for o in g.output]
    return {n: env[n] for n in names}


def op_counts(model):
    if isinstance(model, str):
        model = onnx.load(model)
    counts = {}
    for n in model.graph.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else n.domain + "." + n.op_type
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def print_op_counts(root):
    """`onnx_ref.py --ops DIR`: op types and counts of every DIR/*/model.onnx."""
    import os
    total = {}
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "model.onnx")
        if not os.path.exists(path):
            continue
        c = op_counts(path)
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
        print("%s (%d bytes, %d nodes): %s" % (name, os.path.getsize(path), sum(c.values()),
                                              ", ".join("%s %d" % kv for kv in c.items())))
    print("ALL: " + ", ".join("%s %d" % kv for kv in sorted(total.items())))


if __name__ == "__main__":
    if sys.argv[1] == "--ops":
        print_op_counts(sys.argv[2])
        sys.exit(0)
    m = onnx.load(sys.argv[1])
    x = np.load(sys.argv[2])
    y = run_model(m, {m.graph.input[0].name: x})
    y = list(y.values())[0]
    print("output", y.shape, y.dtype)
    if len(sys.argv) > 3:
        ref = np.load(sys.argv[3])
        print("max abs err", float(np.abs(y.astype(np.float64) - ref).max()))
