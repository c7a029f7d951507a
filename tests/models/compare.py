#!/usr/bin/python3
"""compare.py GOT.npy WANT.npy [--rtol R] [--atol A] - exits 0 when GOT matches
WANT: same shape and dtype, |got - want| <= atol + rtol * |want| everywhere,
NaNs in the same places. Prints one line either way (max abs/rel error)."""
import argparse
import sys

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("got")
ap.add_argument("want")
ap.add_argument("--rtol", type=float, default=1e-3)
ap.add_argument("--atol", type=float, default=1e-4)
a = ap.parse_args()
got, want = np.load(a.got), np.load(a.want)
if got.shape != want.shape or got.dtype != want.dtype:
    print(f"MISMATCH shape/dtype: got {got.dtype}{list(got.shape)}, want {want.dtype}{list(want.shape)}")
    sys.exit(1)
g, w = got.astype(np.float64), want.astype(np.float64)
nan = np.isnan(g) != np.isnan(w)
err = np.abs(g - w)
bad = (err > a.atol + a.rtol * np.abs(w)) | nan
maxabs = float(np.nanmax(err)) if err.size else 0.0
if bad.any():
    i = np.unravel_index(np.argmax(bad), bad.shape)
    print(f"MISMATCH {int(bad.sum())}/{bad.size} elements, max abs err {maxabs:.3g}, first at {tuple(int(x) for x in i)}: got {g[i]}, want {w[i]}")
    sys.exit(1)
print(f"OK max abs err {maxabs:.3g} (rtol {a.rtol}, atol {a.atol})")
