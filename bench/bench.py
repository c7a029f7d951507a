#!/usr/bin/python3
"""The mixc benchmark driver (bash bench/run.sh calls this).

    /usr/bin/python3 bench/bench.py [--quick] [--all-configs] [--mixc PATH] [--out DIR]
                                    [--models K ...] [--no-gemm] [--rounds R]

For each model and config, in --rounds rounds (default 3): mixc JIT (`mixc run
--bench`), the mixc AOT executable (`mixc compile`, then EXE --bench), ONNX
Runtime CPU (ort_bench.js) and PyTorch eager (torch_bench.py), then again.  All four print
'median_ms=X min_ms=Y runs=N' as their last line.  The mixc JIT run is under
/usr/bin/time -v, which gives its peak RSS, and its wall time minus the timed
runs gives the JIT compile time (it includes reading the model).  mixc's
output is compared with ORT's once per model and batch.  Unless --no-gemm: the
FMA peak (peak.c), the GEMM engine alone (gemm_ceiling.c) and single MatMuls
against ORT and OpenBLAS.

Writes OUT/results.md, OUT/results.json (and the chart via plot.py).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import export_models as em  # noqa: E402
import gemm_models as gm  # noqa: E402

PY = "/usr/bin/python3"
LINE = re.compile(r"median_ms=([0-9.]+) min_ms=([0-9.]+) runs=(\d+)")
T_START = time.time()


def log(msg):
    print("[%6.0fs] %s" % (time.time() - T_START, msg), flush=True)


def run(cmd, env=None, timeout=1800):
    """Run cmd; returns (rc, stdout, stderr, wall_s, maxrss_kb or None)."""
    full = ["/usr/bin/time", "-v"] + cmd if os.path.exists("/usr/bin/time") else cmd
    e = dict(os.environ)
    if env:
        e.update(env)
    t0 = time.time()
    try:
        p = subprocess.run(full, capture_output=True, text=True, env=e, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as x:
        rc, out, err = -9, x.stdout or "", (x.stderr or "") + "\nTIMEOUT after %ds" % timeout
        out = out.decode() if isinstance(out, bytes) else out
        err = err.decode() if isinstance(err, bytes) else err
    wall = time.time() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    rss = int(m.group(1)) if m else None
    # drop /usr/bin/time's report from stderr so error messages stay readable
    err = err.split("\tCommand being timed:")[0].strip()
    return rc, out, err, wall, rss


def parse(out):
    last = None
    for ln in out.splitlines():
        m = LINE.search(ln)
        if m:
            last = (float(m.group(1)), float(m.group(2)), int(m.group(3)))
    return last


def fail_msg(tool, rc, out, err):
    tail = "\n".join((err or out).strip().splitlines()[-6:])
    return "%s exit %d: %s" % (tool, rc, tail)


def runs_for(key, batch, quick):
    if quick:
        return 5
    if batch >= 8:
        return 5
    return 10 if key in ("mixer_b", "sparse_b") else 20


def maxdiff(a_path, b_path):
    try:
        a, b = np.load(a_path), np.load(b_path)
        if a.shape != b.shape:
            return "shape %s vs %s" % (a.shape, b.shape)
        return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
    except Exception as ex:  # noqa: BLE001
        return "n/a (%s)" % ex


def bench_config(a, key, batch, threads, mdir, exe, tmp, check_done, failures):
    """One model, batch and thread count.  The tools take turns in a.rounds
    rounds (JIT, AOT, ORT, torch, then again), so a slow spell of this shared
    machine hits every tool alike; each round times ceil(n / rounds) runs (at
    least 3).  Reported: the median of the round medians, the min of all runs."""
    model = os.path.join(mdir, "model.onnx")
    inp = os.path.join(mdir, "input_0.npy")
    n = runs_for(key, batch, a.quick)
    nr = max(3, -(-n // a.rounds))
    warm = 1 if (batch >= 8 or key in ("mixer_b", "sparse_b")) else 2
    env = {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    r = dict(model=key, label=em.MODELS[key][2], batch=batch, threads=threads, runs=nr * a.rounds)
    tag = "%s b%d t%d" % (key, batch, threads)
    jdir, adir = os.path.join(tmp, "jit"), os.path.join(tmp, "aot")
    os.makedirs(jdir, exist_ok=True)
    os.makedirs(adir, exist_ok=True)
    ort_out = os.path.join(tmp, "ort_out.npy")
    if os.path.exists(ort_out):
        os.remove(ort_out)
    # passive OpenMP waiting for torch: torch's OpenMP pool and OpenBLAS's
    # pthread pool take turns, and spinning OpenMP workers made 2-thread torch
    # 3-4x slower than 1 thread on this loaded 2-core machine
    tools = [("jit", "mixc run", [a.mixc, "run", model, "--input", "input=" + inp, "--output-dir", jdir,
                                  "--bench", str(nr), "--threads", str(threads)], env)]
    if exe:
        tools.append(("aot", "AOT exe", [exe, "--input", "input=" + inp, "--output-dir", adir,
                                         "--bench", str(nr), "--threads", str(threads)], env))
    tools.append(("ort", "ort_bench", ["node", os.path.join(HERE, "ort_bench.js"), model, inp,
                                       "--threads", str(threads), "--runs", str(nr),
                                       "--warmup", str(warm), "--out", ort_out], env))
    if not a.no_torch:
        tools.append(("torch", "torch_bench", [PY, os.path.join(HERE, "torch_bench.py"), key, str(batch),
                                               inp, "--threads", str(threads), "--runs", str(nr),
                                               "--warmup", str(warm)], dict(env, OMP_WAIT_POLICY="PASSIVE")))
    meds, mins, failed = {}, {}, set()
    for rnd in range(a.rounds):
        for name, what, cmd, e in tools:
            if name in failed:
                continue
            rc, out, err, wall, rss = run(cmd, e)
            p = parse(out)
            if rc != 0 or not p:
                failures.append("%s %s: %s" % (tag, what, fail_msg(what, rc, out, err)))
                failed.add(name)
                continue
            meds.setdefault(name, []).append(p[0])
            mins.setdefault(name, []).append(p[1])
            if rss and name in ("jit", "aot", "ort"):
                r[name + "_rss_mb"] = max(r.get(name + "_rss_mb") or 0, rss / 1024)
            if name == "jit" and rnd == 0:  # wall minus the timed and the untimed run
                r["jit_compile_s"] = max(0.0, wall - (nr + 1) * p[0] / 1e3)
        log("%s round %d: %s" % (tag, rnd + 1, " ".join("%s %.1f" % (k, v[-1]) for k, v in meds.items())))
    for name in meds:
        if name not in failed:
            r[name + "_ms"], r[name + "_min_ms"] = float(np.median(meds[name])), min(mins[name])
            r[name + "_round_ms"] = meds[name]

    # correctness: mixc JIT vs ORT, and vs the exporter's PyTorch output
    if (key, batch) not in check_done:
        jout = os.path.join(jdir, "logits.npy")
        if os.path.exists(jout) and os.path.exists(ort_out):
            r["diff_ort"] = maxdiff(jout, ort_out)
            r["diff_torch"] = maxdiff(jout, os.path.join(mdir, "output_0.npy"))
            aout = os.path.join(adir, "logits.npy")
            if exe and os.path.exists(aout):
                r["diff_aot_jit"] = maxdiff(aout, jout)
            check_done.add((key, batch))
    for f in (os.path.join(jdir, "logits.npy"), os.path.join(adir, "logits.npy")):
        if os.path.exists(f):
            os.remove(f)
    return r


def fmt(v, f="%.1f"):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f % v


def ratio(a, b):
    return a / b if (a is not None and b) else None


def table(results):
    hdr = ("| model | batch | thr | mixc JIT ms | mixc AOT ms | ORT ms | torch ms | JIT/ORT | "
           "AOT/ORT | JIT/torch | JIT compile s | mixc RSS MB | ORT RSS MB | max abs mixc−ORT |")
    lines = [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for r in results:
        d = r.get("diff_ort")
        lines.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["label"], r["batch"], r["threads"], fmt(r.get("jit_ms")), fmt(r.get("aot_ms")),
            fmt(r.get("ort_ms")), fmt(r.get("torch_ms")),
            fmt(ratio(r.get("jit_ms"), r.get("ort_ms")), "%.2f"),
            fmt(ratio(r.get("aot_ms"), r.get("ort_ms")), "%.2f"),
            fmt(ratio(r.get("jit_ms"), r.get("torch_ms")), "%.2f"),
            fmt(r.get("jit_compile_s")), fmt(r.get("jit_rss_mb"), "%.0f"),
            fmt(r.get("ort_rss_mb"), "%.0f"), fmt(d, "%.1e") if d is not None else ""))
    return "\n".join(lines)


def table_min(results):
    """The same comparison on the fastest run of each engine: on a shared,
    loaded machine the minimum is the less contaminated estimate."""
    hdr = "| model | batch | thr | JIT min ms | AOT min ms | ORT min ms | torch min ms | JIT/ORT | AOT/ORT | JIT/torch |"
    lines = [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for r in results:
        lines.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            r["label"], r["batch"], r["threads"], fmt(r.get("jit_min_ms")), fmt(r.get("aot_min_ms")),
            fmt(r.get("ort_min_ms")), fmt(r.get("torch_min_ms")),
            fmt(ratio(r.get("jit_min_ms"), r.get("ort_min_ms")), "%.2f"),
            fmt(ratio(r.get("aot_min_ms"), r.get("ort_min_ms")), "%.2f"),
            fmt(ratio(r.get("jit_min_ms"), r.get("torch_min_ms")), "%.2f")))
    return "\n".join(lines)


def gemm_bench(a, peak, results_g, failures):
    gdir = os.path.join(a.out, "gemm")
    shapes = gm.SHAPES[:4] if a.quick else gm.SHAPES
    n = 10 if a.quick else 20
    for m, k, nn, what in shapes:
        d = gm.make(gdir, m, k, nn)
        model, inp = os.path.join(d, "model.onnx"), os.path.join(d, "input_0.npy")
        flop = 2.0 * m * k * nn
        g = dict(m=m, k=k, n=nn, what=what)
        rc, out, err, _, _ = run([a.mixc, "run", model, "--input", "A=" + inp, "--output-dir",
                                  os.path.join(a.out, "tmp"), "--bench", str(n), "--threads", "1"])
        p = parse(out)
        if rc == 0 and p:
            g["mixc_ms"], g["mixc_min_ms"] = p[0], p[1]
            g["mixc_diff"] = maxdiff(os.path.join(a.out, "tmp", "Y.npy"),
                                     os.path.join(d, "output_0.npy"))
        else:
            failures.append("gemm %dx%dx%d mixc run: %s" % (m, k, nn, fail_msg("mixc run", rc, out, err)))
        rc, out, err, _, _ = run(["node", os.path.join(HERE, "ort_bench.js"), model, inp,
                                  "--threads", "1", "--runs", str(n), "--warmup", "2"])
        p = parse(out)
        if rc == 0 and p:
            g["ort_ms"], g["ort_min_ms"] = p[0], p[1]
        else:
            failures.append("gemm %dx%dx%d ORT: %s" % (m, k, nn, fail_msg("ort_bench", rc, out, err)))
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        rc, out, err, _, _ = run([PY, os.path.join(HERE, "blas_bench.py"), model, inp, "--runs", str(n)],
                                 env=env)
        p = parse(out)
        if rc == 0 and p:
            g["blas_ms"], g["blas_min_ms"] = p[0], p[1]
        else:
            failures.append("gemm %dx%dx%d OpenBLAS: %s" % (m, k, nn, fail_msg("blas_bench", rc, out, err)))
        for e in ("mixc", "ort", "blas"):
            for s in ("ms", "min_ms"):
                if g.get("%s_%s" % (e, s)):
                    g["%s_gflops%s" % (e, "" if s == "ms" else "_best")] = flop / (g["%s_%s" % (e, s)] * 1e6)
        results_g.append(g)
        log("gemm %dx%dx%d mixc %.1f GF/s  ort %.1f GF/s  OpenBLAS %.1f GF/s" % (
            m, k, nn, g.get("mixc_gflops") or 0, g.get("ort_gflops") or 0, g.get("blas_gflops") or 0))
    lines = ["| M | K | N | shape | mixc ms | mixc GFLOP/s (median / best) | % of peak (median / best) | "
             "ORT ms | ORT GFLOP/s (median / best) | ORT % of peak | OpenBLAS ms | OpenBLAS % of peak "
             "(median / best) | max abs err |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for g in results_g:
        def pc(x):
            return "%.0f%%" % (100 * x / peak) if (x and peak) else "—"
        lines.append("| %d | %d | %d | %s | %s | %s / %s | %s / %s | %s | %s / %s | %s / %s | %s | %s / %s | %s |" % (
            g["m"], g["k"], g["n"], g["what"], fmt(g.get("mixc_ms"), "%.2f"),
            fmt(g.get("mixc_gflops")), fmt(g.get("mixc_gflops_best")),
            pc(g.get("mixc_gflops")), pc(g.get("mixc_gflops_best")),
            fmt(g.get("ort_ms"), "%.2f"), fmt(g.get("ort_gflops")), fmt(g.get("ort_gflops_best")),
            pc(g.get("ort_gflops")), pc(g.get("ort_gflops_best")),
            fmt(g.get("blas_ms"), "%.2f"), pc(g.get("blas_gflops")), pc(g.get("blas_gflops_best")),
            fmt(g.get("mixc_diff"), "%.1e")))
    return "\n".join(lines)


def measure_peak(a):
    exe = os.path.join(a.out, "peak")
    src = os.path.join(HERE, "peak.c")
    rc = subprocess.run(["cc", "-O2", "-mavx512f", "-mfma", src, "-o", exe]).returncode
    if rc != 0:
        return None, "peak.c did not compile"
    best, txt = None, ""
    for _ in range(3):  # the machine is shared: keep the best of 3
        out = subprocess.run([exe], capture_output=True, text=True).stdout
        m = re.search(r"peak_gflops=([0-9.]+)", out)
        if m and (best is None or float(m.group(1)) > best):
            best, txt = float(m.group(1)), out.strip()
    return best, txt


def measure_ceiling(a):
    """bench/gemm_ceiling.c: the GEMM engine alone (micro-kernel hot, a channel
    fc1 with hot and with cold weights); [(case, shape, GFLOP/s)] or None."""
    exe = os.path.join(a.out, "gemm_ceiling")
    kern = os.path.join(ROOT, "runtime", "kernels")
    rc = subprocess.run(["clang-19", "-O2", "-march=native", "-ffp-contract=off", "-I" + ROOT,
                         "-I" + os.path.join(ROOT, "runtime"), "-I" + kern,
                         os.path.join(HERE, "gemm_ceiling.c"), os.path.join(kern, "gemm.c"),
                         "-o", exe, "-lm"]).returncode
    if rc != 0:
        return None
    out = subprocess.run([exe], capture_output=True, text=True).stdout
    rows = re.findall(r"case=(\w+) m=(\d+) k=(\d+) n=(\d+) gflops=([0-9.]+)", out)
    return [(c, "%sx%sx%s" % (m, k, n), float(g)) for c, m, k, n, g in rows] or None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="Mixer-S and Sparse-S, batch 1, 1 thread, 5 runs")
    ap.add_argument("--all-configs", action="store_true",
                    help="batch 8 at 1 thread too (default: batch 8 only at 2 threads, for time)")
    ap.add_argument("--mixc", default=os.path.join(ROOT, "build-bench", "mixc"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--models", nargs="+", choices=sorted(em.MODELS))
    ap.add_argument("--batches", nargs="+", type=int)
    ap.add_argument("--no-gemm", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds in which the tools take turns (default 3)")
    a = ap.parse_args()
    a.mixc = os.path.abspath(a.mixc)
    os.makedirs(a.out, exist_ok=True)
    tmp = os.path.join(a.out, "tmp")
    os.makedirs(tmp, exist_ok=True)
    failures = []

    if a.quick:
        models, configs = a.models or ["mixer_s", "sparse_s"], [(1, 1)]
    else:
        models = a.models or ["mixer_s", "mixer_b", "sparse_s", "sparse_b", "soft_moe", "per_image_moe"]
        configs = [(1, 1), (1, 2), (8, 2)] + ([(8, 1)] if a.all_configs else [])
    if a.batches:
        configs = [c for c in configs if c[0] in a.batches]

    peak, peak_txt = measure_peak(a)
    log("peak: %s" % peak_txt)

    # export what is missing (one process per model: the exporter holds a lot of memory)
    mroot = os.path.join(a.out, "models")
    for key in models:
        for b in sorted({c[0] for c in configs}):
            d = os.path.join(mroot, "%s_b%d" % (key, b))
            if not os.path.exists(os.path.join(d, "output_0.npy")):
                log("exporting %s batch %d" % (key, b))
                p = subprocess.run([PY, os.path.join(HERE, "export_models.py"), "--out", mroot,
                                    "%s:%d" % (key, b)], capture_output=True, text=True)
                if p.returncode != 0:
                    failures.append("export %s b%d: %s" % (key, b, (p.stdout + p.stderr)[-800:]))

    results, check_done, compile_info = [], set(), []
    for key in models:
        for b in sorted({c[0] for c in configs}):
            mdir = os.path.join(mroot, "%s_b%d" % (key, b))
            if not os.path.exists(os.path.join(mdir, "model.onnx")):
                continue
            exe = os.path.join(tmp, "%s_b%d.exe" % (key, b))
            rc, out, err, wall, rss = run([a.mixc, "compile", os.path.join(mdir, "model.onnx"),
                                           "-o", exe])
            if rc != 0:
                failures.append("%s b%d mixc compile: %s" % (key, b, fail_msg("mixc compile", rc, out, err)))
                exe = None
            else:
                compile_info.append("%s b%d: mixc compile %.1f s, %.0f MB peak RSS, exe %.0f MB" % (
                    key, b, wall, (rss or 0) / 1024, os.path.getsize(exe) / 2**20))
                log(compile_info[-1])
            for (cb, t) in configs:
                if cb != b:
                    continue
                results.append(bench_config(a, key, b, t, mdir, exe, tmp, check_done, failures))
                with open(os.path.join(a.out, "results.json"), "w") as f:
                    json.dump(dict(results=results), f, indent=1)
            if exe and os.path.exists(exe):
                os.remove(exe)

    gtab, gres, ceiling = "", [], None
    if not a.no_gemm:
        # measured again next to the GEMMs: a slow spell during the first
        # measurement would otherwise inflate every "% of peak"
        peak2, txt2 = measure_peak(a)
        if peak2 and (peak is None or peak2 > peak):
            peak, peak_txt = peak2, txt2
        log("peak (best of both measurements): %s" % peak_txt)
        ceiling = measure_ceiling(a)
        if ceiling is None:
            failures.append("bench/gemm_ceiling.c did not build or run")
        else:
            log("gemm ceiling: %s" % ", ".join("%s %.1f GF/s" % (c, g) for c, _, g in ceiling))
        gtab = gemm_bench(a, peak, gres, failures)

    uname = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
    load = open("/proc/loadavg").read().split()[:3]
    md = ["# mixc benchmark", "",
          "%s; %s; `nproc`=%d; load average at the end %s; %s run, %.0f s." % (
              time.strftime("%Y-%m-%d %H:%M"), uname, os.cpu_count(), " ".join(load),
              "quick" if a.quick else "full", time.time() - T_START),
          "The tools take turns in %d rounds (mixc JIT, AOT, ORT, torch, then again), each round "
          "timing ceil(N/%d) runs (at least 3) after warm-up (mixc: 1 untimed run; ORT/torch: 1–2); "
          "ms = the median of the round medians, so a slow spell of the shared machine hits every "
          "tool alike. " % (a.rounds, a.rounds) +
          "ORT 1.23.2 CPU (onnxruntime-node), graphOptimizationLevel all, intra-op threads = thr, "
          "inter-op 1. PyTorch 1.13 eager + OpenBLAS, no_grad, OMP_WAIT_POLICY=PASSIVE. "
          "JIT compile s = wall of `mixc run --bench N` − (N+1)·median (includes reading the model). "
          "mixc RSS = peak RSS of that `mixc run` (compile included).", "",
          table(results), "", "Fastest run of each (min over all runs):", "", table_min(results), ""]
    if compile_info:
        md += ["AOT (`mixc compile`, batch-specific executables):", ""] + ["- " + c for c in compile_info] + [""]
    diffs = [r for r in results if "diff_torch" in r]
    if diffs:
        md += ["Accuracy (once per model and batch): " + "; ".join(
            "%s b%d: |JIT−ORT| %s, |JIT−torch export| %s, |AOT−JIT| %s" % (
                r["model"], r["batch"], fmt(r.get("diff_ort"), "%.1e"), fmt(r.get("diff_torch"), "%.1e"),
                fmt(r.get("diff_aot_jit"), "%.1e")) for r in diffs), ""]
    md += ["## fp32 peak", "", "`bench/peak.c`: %s" % (peak_txt or "not measured"), ""]
    if ceiling:
        md += ["## The GEMM engine alone (1 thread)", "",
               "`bench/gemm_ceiling.c`: runtime/kernels/gemm.c compiled natively and timed on its own "
               "(best run): `kernel` has every operand hot and no epilogue (the micro-kernel's ceiling), "
               "`hot` and `cold` are Mixer-S channel fc1 with bias and GELU, its packed weights hot "
               "or coming from DRAM as in a batch-1 model.", "",
               "| case | M x K x N | GFLOP/s | % of peak |", "|---|---|---|---|"] + [
               "| %s | %s | %.1f | %s |" % (c, shp, g, "%.0f%%" % (100 * g / peak) if peak else "—")
               for c, shp, g in ceiling] + [""]
    if gtab:
        md += ["## Single MatMul (1 thread), fraction of the 1-core peak", "",
               "Y = A·W, W a constant initializer; `mixc run --bench` vs ORT.", "", gtab, ""]
    if failures:
        md += ["## Failures", ""] + ["```\n%s\n```" % f for f in failures] + [""]
    text = "\n".join(md)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(dict(results=results, gemm=gres, gemm_ceiling=ceiling, peak_gflops=peak,
                       failures=failures), f, indent=1)
    print(text)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
