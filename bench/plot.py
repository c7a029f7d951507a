#!/usr/bin/python3
"""Bar chart of mixc's time ratios to ONNX Runtime and PyTorch (lower is better).

    /usr/bin/python3 bench/plot.py results.json out.png
"""
import json
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401


def main():
    res = json.load(open(sys.argv[1]))["results"]
    labels, series = [], {"JIT / ORT": [], "AOT / ORT": [], "JIT / torch": []}
    for r in res:
        labels.append("%s\nB=%d T=%d" % (r["label"], r["batch"], r["threads"]))
        for name, (a, b) in (("JIT / ORT", ("jit_ms", "ort_ms")), ("AOT / ORT", ("aot_ms", "ort_ms")),
                             ("JIT / torch", ("jit_ms", "torch_ms"))):
            x, y = r.get(a), r.get(b)
            series[name].append(x / y if (x and y) else float("nan"))
    n = len(labels)
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * n + 2), 5))
    w = 0.8 / len(series)
    for i, (name, vals) in enumerate(series.items()):
        ax.bar([j + (i - 1) * w for j in range(n)], vals, w, label=name)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: "%g" % v))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks([0.25, 0.5, 1, 2, 4, 8, 16])
    ax.set_ylabel("time ratio (mixc / peer), < 1 = mixc faster")
    ax.set_xticks(range(n))
    ax.set_xticklabels(labels, fontsize=7, rotation=45, ha="right")
    ax.legend()
    ax.set_title("mixc vs ONNX Runtime 1.23 and PyTorch 1.13 (median times)")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
