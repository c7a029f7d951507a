#!/usr/bin/python3
"""Export the benchmark models with the project's exporter (tests/models/export.py).

    /usr/bin/python3 bench/export_models.py --out DIR KEY[:BATCH] ...

KEY is one of the keys of MODELS below.  Writes DIR/KEY_bBATCH/{model.onnx,
input_0.npy, output_0.npy} unless model.onnx is already there.

The exporter only knows batch 1 for realistic sizes and has no Mixer-B/16
entry.  Rather than change it, this wrapper edits its CFG table in memory
(batch, and the Mixer-B/16 geometry of MODELS.md for 'mixer_b') and calls its
own build/export path, so the weights, the seeds and the input generator are
exactly the exporter's.  torch_bench.py uses configure() to rebuild the same
nn.Module.
"""
import argparse
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
import export as ex  # noqa: E402

MIXER_B16 = dict(img=224, patch=16, C=768, blocks=12, DS=384, DC=3072, n_classes=1000)

# key -> (exporter name, sparse variant, label)
MODELS = {
    "mixer_s": ("mixer", "S", "Mixer-S/16"),
    "mixer_b": ("mixer", "S", "Mixer-B/16"),
    "sparse_s": ("sparse_mlp_masked", "S", "Sparse-S masked"),
    "sparse_b": ("sparse_mlp_masked", "B", "Sparse-B masked"),
    "soft_moe": ("soft_moe", "S", "Soft MoE (S/16)"),
    "per_image_moe": ("per_image_moe", "S", "per-image MoE"),
}

_ORIG_MIXER = dict(ex.CFG["realistic"]["mixer"])


def configure(key, batch):
    """Point the exporter's CFG at (key, batch); returns (name, variant)."""
    name, variant, _ = MODELS[key]
    ex.CFG["realistic"]["batch"] = batch
    ex.CFG["realistic"]["mixer"] = dict(MIXER_B16 if key == "mixer_b" else _ORIG_MIXER)
    return name, variant


def export_one(out, key, batch):
    d = os.path.join(out, "%s_b%d" % (key, batch))
    if os.path.exists(os.path.join(d, "model.onnx")) and os.path.exists(os.path.join(d, "output_0.npy")):
        return d
    name, variant = configure(key, batch)
    stage = d + ".tmp"
    shutil.rmtree(stage, ignore_errors=True)
    t0 = time.time()
    rc = ex.main(["--size", "realistic", "--out", stage, "--only", name, "--no-check",
                  "--sparse-variant", variant])
    if rc != 0:
        raise SystemExit("export of %s batch %d failed" % (key, batch))
    shutil.rmtree(d, ignore_errors=True)
    os.rename(os.path.join(stage, name), d)
    shutil.rmtree(stage, ignore_errors=True)
    print("exported %s batch %d in %.1fs -> %s" % (key, batch, time.time() - t0, d), flush=True)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("items", nargs="+", help="KEY[:BATCH]")
    a = ap.parse_args()
    for it in a.items:
        key, _, b = it.partition(":")
        export_one(a.out, key, int(b or 1))


if __name__ == "__main__":
    main()
