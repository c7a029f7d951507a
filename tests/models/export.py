#!/usr/bin/python3
"""Export mixc's test models to ONNX.

    /usr/bin/python3 tests/models/export.py --size tiny|realistic --out DIR [--only NAME ...]

The committed sets are made with
    /usr/bin/python3 tests/models/export.py --size tiny --out tests/models/tiny \
        --default-out models/default

For each model writes DIR/NAME/model.onnx, DIR/NAME/input_0.npy and
DIR/NAME/output_0.npy (float32), and prints one line per model.

For --size tiny every model is also checked (disable with --no-check):
onnx.checker, the numpy interpreter onnx_ref.py against PyTorch's output
(max abs err < 1e-4), routing margins (so that fp32 rounding in a compiler
cannot flip a routing decision), importance-score drops in the token MoE,
capacity drops in the onehot style, and the equivalence of the masked, loop
and dropless-onehot styles.
"""
import argparse
import math
import os
import shutil
import sys
import time
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mixc_models as mm  # noqa: E402
import onnx_ref  # noqa: E402

torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
warnings.filterwarnings("ignore", message=".*ONNX export.*")

INPUT_SEED = 1234
# onehot style: cap = ceil(CAP_FACTOR * k * rows / E).  With 1.0 the tiny
# model drops rows in both the token MoE (top-1) and the channel MoE (top-2).
CAP_FACTOR = 1.0
DROP_FRAC = 0.1
MARGIN_MIN = 1e-4
# seed 15 gives routing margins >= 2e-3 and capacity drops in every MoE of
# the tiny sparse_mlp_onehot
SPARSE_SEED = 15

# ---------------------------------------------------------------------------
# configurations

CFG = {
    "tiny": {
        "batch": 2,
        "mixer": dict(img=32, patch=8, C=24, blocks=3, DS=12, DC=96, n_classes=10),
        "sparse": dict(img=16, patch=4, C=20, n_dense=1, n_sparse=2, S1=32, C1=10,
                       E_S=4, D_S=20, E_C=(4, 0), D_C=40, n_classes=10),
        "soft": dict(mixer=dict(img=32, patch=8, C=24, blocks=3, DS=12, DC=96, n_classes=10),
                     n_soft=2, n=4, p=2, h=48),
        "per_image": dict(mixer=dict(img=32, patch=8, C=24, blocks=3, DS=12, DC=48,
                                     n_classes=10),
                          n_moe=2, E=4, h=48),
        "ms": dict(rows=12, H=16, I=40, E=4),
    },
    "realistic": {
        "batch": 1,
        "mixer": dict(img=224, patch=16, C=512, blocks=8, DS=256, DC=2048, n_classes=1000),
        "sparse_S": dict(img=224, patch=16, C=512, n_dense=6, n_sparse=2, S1=392, C1=512,
                         E_S=4, D_S=512, E_C=0, D_C=2048, n_classes=1000),
        "sparse_B": dict(img=224, patch=16, C=768, n_dense=10, n_sparse=2, S1=392, C1=384,
                         E_S=8, D_S=768, E_C=4, D_C=1536, n_classes=1000),
        "sparse_L": dict(img=224, patch=16, C=768, n_dense=8, n_sparse=6, S1=392, C1=384,
                         E_S=16, D_S=768, E_C=4, D_C=1536, n_classes=1000),
        # Mixer-S/16 whose last 2 channel MLPs are Soft MoE: 16 experts x 8
        # slots = 128 slots for m=196 tokens, each expert 512->2048->512.
        "soft": dict(mixer=dict(img=224, patch=16, C=512, blocks=8, DS=256, DC=2048,
                                n_classes=1000),
                     n_soft=2, n=16, p=8, h=2048),
        "per_image": dict(mixer=dict(img=224, patch=16, C=384, blocks=8, DS=192, DC=1536,
                                     n_classes=1000),
                          n_moe=2, E=8, h=1536),
        "ms": dict(rows=196, H=512, I=2048, E=8),
    },
}

NAMES = ["mixer", "mixer_dynbatch", "mixer_conv1d", "mixer_einsum", "mixer_opset14",
         "sparse_mlp_masked", "sparse_mlp_onehot", "sparse_mlp_loop", "sparse_mlp_opset14",
         "soft_moe", "per_image_moe", "per_image_moe_k2", "ms_moe"]


# ---------------------------------------------------------------------------
# model builders: return (model, input_shape, dynamic)


def build(name, size, sparse_variant="S", cap_factor=CAP_FACTOR):
    cfg = CFG[size]
    B = cfg["batch"]
    if name.startswith("mixer"):
        c = cfg["mixer"]
        style = {"mixer_conv1d": "conv1d", "mixer_einsum": "einsum"}.get(name, "linear")
        m = mm.init_params(mm.Mixer(token_style=style, **c), seed=1)
        return m, (B, 3, c["img"], c["img"]), name == "mixer_dynbatch"
    if name.startswith("sparse_mlp_"):
        c = cfg["sparse"] if size == "tiny" else cfg["sparse_" + sparse_variant]
        style = name[len("sparse_mlp_"):]
        if style == "opset14":  # the masked export at opset 14
            style = "masked"
        m = mm.SparseMLP(style=style, drop_frac=DROP_FRAC,
                         cap_factor=cap_factor if style == "onehot" else None, **c)
        return mm.init_params(m, seed=SPARSE_SEED), (B, 3, c["img"], c["img"]), False
    if name == "soft_moe":
        c = cfg["soft"]
        mc = c["mixer"]
        nb = mc["blocks"]

        def chan(i):
            if i >= nb - c["n_soft"]:
                return mm.SoftMoE(mc["C"], c["n"], c["p"], c["h"])
            return None
        m = mm.Mixer(channel_factory=chan, eps=1e-5, **mc)
        return mm.init_params(m, seed=3), (B, 3, mc["img"], mc["img"]), False
    if name.startswith("per_image_moe"):
        c = cfg["per_image"]
        mc = c["mixer"]
        nb = mc["blocks"]
        k = 2 if name.endswith("_k2") else 1

        def chan(i):
            if i >= nb - c["n_moe"]:
                return mm.PerImageMoE(mc["C"], c["h"], c["E"], k)
            return None
        m = mm.Mixer(channel_factory=chan, eps=1e-5, **mc)
        return mm.init_params(m, seed=4), (B, 3, mc["img"], mc["img"]), False
    raise KeyError(name)


def make_input(shape):
    g = torch.Generator().manual_seed(INPUT_SEED)
    return torch.randn(shape, generator=g, dtype=torch.float32)


def export_torch(model, x, path, dynamic, opset=17):
    model.eval()
    kw = {}
    if dynamic:
        kw["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(model, (x,), path, opset_version=opset, do_constant_folding=True,
                          input_names=["input"], output_names=["logits"], **kw)


# ---------------------------------------------------------------------------
# com.microsoft.MoE model built with onnx.helper

MS_LAYOUT = "EHI"   # fc1 (E, H, I), fc2 (E, I, H): the layout given in the brief


def build_ms_moe(size, layout=MS_LAYOUT):
    c = CFG[size]["ms"]
    N, H, I, E = c["rows"], c["H"], c["I"], c["E"]
    rs = np.random.RandomState(5)
    wr = (mm.ROUTER_STD * rs.randn(H, E) / math.sqrt(H)).astype(np.float32)
    w1 = (rs.randn(E, H, I) / math.sqrt(H)).astype(np.float32)
    b1 = (0.1 * rs.randn(E, I)).astype(np.float32)
    w2 = (rs.randn(E, I, H) / math.sqrt(I)).astype(np.float32)
    b2 = (0.1 * rs.randn(E, H)).astype(np.float32)
    x = np.random.RandomState(INPUT_SEED).randn(N, H).astype(np.float32)
    # stored layout (the math below always uses w1 (E,H,I), w2 (E,I,H))
    sw1, sw2 = (w1, w2) if layout == "EHI" else (np.ascontiguousarray(w1.transpose(0, 2, 1)),
                                                 np.ascontiguousarray(w2.transpose(0, 2, 1)))
    inits = [numpy_helper.from_array(wr, "router_weight"),
             numpy_helper.from_array(sw1, "fc1_experts_weights"),
             numpy_helper.from_array(b1, "fc1_experts_bias"),
             numpy_helper.from_array(sw2, "fc2_experts_weights"),
             numpy_helper.from_array(b2, "fc2_experts_bias")]
    nodes = [
        helper.make_node("MatMul", ["input", "router_weight"], ["router_probs"], name="router"),
        helper.make_node("MoE", ["input", "router_probs", "fc1_experts_weights",
                                 "fc1_experts_bias", "fc2_experts_weights", "fc2_experts_bias"],
                         ["logits"], name="moe", domain="com.microsoft",
                         k=2, activation_type="gelu", normalize_routing_weights=1),
    ]
    graph = helper.make_graph(
        nodes, "ms_moe",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [N, H])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [N, H])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="mixc-tests", opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    # reference in float64 (tanh GELU, softmax over router logits, top-2, renormalised)
    logits = x.astype(np.float64) @ wr.astype(np.float64)
    y = onnx_ref.ms_moe(x, logits, w1, b1, w2, b2, 2, "gelu", 1, "EHI").astype(np.float32)
    # routing margin between 2nd and 3rd expert probability
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ps = -np.sort(-p, axis=-1)
    margin = float((ps[:, 1] - ps[:, 2]).min())
    return model, x, y, margin


# ---------------------------------------------------------------------------
# checks


class CheckError(Exception):
    pass


def routing_checks(name, model, x, strict=True):
    """Run PyTorch forward with stats recording; returns a short summary."""
    mm.set_record(model, True)
    with torch.no_grad():
        y = model(x)
    stats = mm.collect_stats(model)
    mm.set_record(model, False)
    msgs = []
    if not stats:
        return y, ""
    min_margin = min(min(s["topk_margin"], s.get("imp_margin", float("inf"))) for _, s in stats)
    if min_margin < MARGIN_MIN:
        # near-ties are expected with hundreds of rows (realistic sizes):
        # only the tiny test models must be robust to fp32 rounding
        if strict:
            raise CheckError("%s: routing margin %.2e < %.0e (near-tie)"
                             % (name, min_margin, MARGIN_MIN))
        msgs.append("WARN near-tie")
    msgs.append("margin=%.1e" % min_margin)
    naive = max((s.get("naive_err", 0.0) for _, s in stats), default=0.0)
    if naive > 1e-5:
        raise CheckError("%s: MoE output differs from the naive loop by %.2e" % (name, naive))
    if any("naive_err" in s for _, s in stats):
        msgs.append("naive=%.0e" % naive)
    if name.startswith("sparse_mlp"):
        tok = [(n, s) for n, s in stats if n.endswith("moe_s")]
        for n, s in tok:
            exp = int(math.floor(DROP_FRAC * s["rows"] + 1e-9))
            if s["imp_dropped"] != exp or exp == 0:
                raise CheckError("%s %s: importance dropped %d rows, expected %d > 0"
                                 % (name, n, s["imp_dropped"], exp))
            if not s["imp_dropped_rows_zero"]:
                raise CheckError("%s %s: importance-dropped rows have non-zero MoE output" % (name, n))
        msgs.append("imp_drop=%s" % "+".join(str(s["imp_dropped"]) for _, s in tok))
        if name == "sparse_mlp_onehot":
            caps = ["%s:cap%d/drop%d" % (n.split(".")[1] + "." + n.split(".")[-1], s["cap"],
                                         s["cap_dropped"]) for n, s in stats]
            if sum(s["cap_dropped"] for _, s in stats) == 0:
                raise CheckError("%s: no row dropped by capacity" % name)
            for kind in ("moe_s", "moe_c"):
                ks = [s for n, s in stats if n.endswith(kind)]
                if ks and not any(s["cap_dropped"] > 0 for s in ks):
                    msgs.append("WARN no capacity drop in %s" % kind)
            msgs.append(" ".join(caps))
    if name.startswith("per_image"):
        msgs.append("chosen=" + ";".join(str(s["chosen"]) for _, s in stats))
    return y, " ".join(msgs)


def style_equivalence(size, sparse_variant, x):
    """masked == loop == onehot(dropless) in PyTorch (same weights)."""
    outs = {}
    for st in ("masked", "loop", "onehot"):
        m, _, _ = build("sparse_mlp_" + st, size, sparse_variant, cap_factor=None)
        m.eval()
        with torch.no_grad():
            outs[st] = m(x).numpy()
    e1 = float(np.abs(outs["masked"] - outs["loop"]).max())
    e2 = float(np.abs(outs["masked"] - outs["onehot"]).max())
    if max(e1, e2) > 1e-4:
        raise CheckError("style mismatch masked/loop %.2e masked/onehot-dropless %.2e" % (e1, e2))
    return max(e1, e2)


def onnx_check(path, x, y_ref):
    onnx.checker.check_model(path)
    m = onnx.load(path)
    y = onnx_ref.run_model(m, {"input": x})["logits"]
    if y.shape != y_ref.shape:
        raise CheckError("shape %s vs %s" % (y.shape, y_ref.shape))
    return float(np.abs(y.astype(np.float64) - y_ref.astype(np.float64)).max()), m


# ---------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--size", choices=["tiny", "realistic"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", nargs="+", choices=NAMES)
    ap.add_argument("--sparse-variant", choices=["S", "B", "L"], default="S",
                    help="Table 8 config for realistic sparse_mlp_* (default S)")
    ap.add_argument("--check", dest="check", action="store_true", default=None,
                    help="run the checks (default: on for tiny, off for realistic)")
    ap.add_argument("--no-check", dest="check", action="store_false")
    ap.add_argument("--ms-layout", choices=["EHI", "EIH"], default="EHI",
                    help="ms_moe weight layout: EHI = fc1 (E,H,I), fc2 (E,I,H) (default, older "
                         "ONNX Runtime); EIH = fc1 (E,I,H), fc2 (E,H,I) (newer ONNX Runtime)")
    ap.add_argument("--default-out", metavar="DIR",
                    help="also copy sparse_mlp_masked to DIR/sparse_mlp.onnx, DIR/input.npy, "
                         "DIR/expected.npy (the embedded default model: models/default)")
    args = ap.parse_args(argv)
    check = (args.size == "tiny") if args.check is None else args.check
    names = args.only or NAMES
    failures = []
    equiv_done = False
    for name in names:
        t0 = time.time()
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        info = ""
        try:
            if name == "ms_moe":
                model, x, y, margin = build_ms_moe(args.size, args.ms_layout)
                onnx.save(model, path)
                if check and margin < MARGIN_MIN:
                    raise CheckError("ms_moe routing margin %.2e" % margin)
                info = "margin=%.1e" % margin
            else:
                model, shape, dynamic = build(name, args.size, args.sparse_variant)
                model.eval()
                xt = make_input(shape)
                if check:
                    yt, info = routing_checks(name, model, xt, strict=args.size == "tiny")
                else:
                    with torch.no_grad():
                        yt = model(xt)
                # *_opset14: PyTorch 1.13's default opset, LayerNorm decomposed
                export_torch(model, xt, path, dynamic, 14 if name.endswith("_opset14") else 17)
                x, y = xt.numpy(), yt.numpy().astype(np.float32)
                if check and name.startswith("sparse_mlp") and not equiv_done:
                    info += " styles_equiv=%.1e" % style_equivalence(args.size, args.sparse_variant, xt)
                    equiv_done = True
            np.save(os.path.join(d, "input_0.npy"), np.ascontiguousarray(x, dtype=np.float32))
            np.save(os.path.join(d, "output_0.npy"), np.ascontiguousarray(y, dtype=np.float32))
            t_exp = time.time() - t0
            err_s = ""
            if check:
                err, om = onnx_check(path, x, y)
                if not err < 1e-4:
                    raise CheckError("max abs err %.3e >= 1e-4" % err)
                if name == "mixer_dynbatch":
                    # the dynamic-batch graph must also run at batch 1 and 3
                    m0, _, _ = build("mixer", args.size)
                    for b in (1, 3):
                        xb = make_input((b,) + tuple(x.shape[1:]))
                        with torch.no_grad():
                            yb = m0.eval()(xb).numpy()
                        eb = float(np.abs(onnx_ref.run_model(om, {"input": xb.numpy()})["logits"]
                                          - yb).max())
                        if not eb < 1e-4:
                            raise CheckError("dynbatch batch=%d err %.3e" % (b, eb))
                err_s = " err=%.2e" % err
            size = os.path.getsize(path)
            nops = sum(onnx_ref.op_counts(path).values()) if size < 1 << 30 else -1
            print("%-18s %9d B  %4d nodes  in%s out%s  %.1fs%s  %s" % (
                name, size, nops, list(x.shape), list(y.shape), t_exp, err_s, info), flush=True)
        except Exception as exc:  # report and continue with the others
            failures.append(name)
            print("%-18s FAILED: %s: %s" % (name, type(exc).__name__, exc), flush=True)
    if args.default_out and "sparse_mlp_masked" in names and "sparse_mlp_masked" not in failures:
        src = os.path.join(args.out, "sparse_mlp_masked")
        os.makedirs(args.default_out, exist_ok=True)
        for a, b in (("model.onnx", "sparse_mlp.onnx"), ("input_0.npy", "input.npy"),
                     ("output_0.npy", "expected.npy")):
            shutil.copyfile(os.path.join(src, a), os.path.join(args.default_out, b))
        print("default model -> %s/sparse_mlp.onnx" % args.default_out)
    if failures:
        print("FAILED: " + " ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
