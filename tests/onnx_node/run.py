#!/usr/bin/python3
"""run.py - runs the official ONNX node suite through `mixc run` and checks
every outcome against the manifest.

  run.py --mixc PATH --suite DIR --manifest FILE [--update] [--jobs N]
         [--filter REGEX] [--timeout S] [--threads N] [--write FILE] [-v]

For each test (DIR/test_*/ or DIR/node/test_*/) and each of its data sets:
  mixc run MODEL --input NAME=input_K.pb ... --output-dir TMP --threads N
then each output TMP/NAME.npy is compared with output_K.pb: same shape, same
dtype, and for floats abs(a-b) <= atol + rtol*abs(b) with rtol=1e-3, atol=1e-5
(ONNX Runtime's tolerances), NaN where the reference has NaN; ints, bools and
strings exactly.

Outcome of a test: `pass` or `fail <reason>`. mixc exit 1 (a diagnostic) is an
ordinary failure. A crash (signal, exit 3 = internal error, exit 2 = usage,
any other code), or a timeout always fails the run, whatever the manifest says.

Without --update, any difference between outcomes and the manifest fails the
run (a failure that now passes, a pass that now fails, a test missing from
either side). A changed failure reason is listed but does not fail the run
unless --strict. --update rewrites the manifest from this run.
Run with /usr/bin/python3 (Debian's, which has onnx and numpy).
Exit: 0 = matches the manifest and nothing crashed; 1 otherwise; 2 usage."""
import argparse
import collections
import concurrent.futures
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

RTOL = 1e-3
ATOL = 1e-5


# ---- helpers ---------------------------------------------------------------
def sanitize(name):
    """The output file name mixc uses (runtime/tensor_io.c rt_sanitize_name)."""
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return s if s else "_"


def output_files(names):
    """Output names -> file stems, with harness.c's _2, _3 suffix on clashes."""
    used = []
    for n in names:
        base = sanitize(n)[:199]
        cur, k = base, 2
        while cur in used:
            cur = "%s_%d" % (base, k)
            k += 1
        used.append(cur)
    return used


def dtype_name(code):
    try:
        return onnx.TensorProto.DataType.Name(int(code)).lower()
    except ValueError:
        return "type %s" % code


def read_tensor_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def first_line(text, limit=100):
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:limit]
    return ""


# ---- classifying mixc's diagnostics (exit 1) ---------------------------------
LOC = re.compile(r'^(?:error:\s*)?(?:node "[^"]*" \(([^ )]+) #\d+\)(?:, input \d+)?:\s*)?')


def strip_paths(msg):
    msg = re.sub(r"\s*\(from [^)]*\)", "", msg)
    msg = re.sub(r"^mixc run: (input|output) '[^']*': \S+: ", r"\1: ", msg)
    msg = re.sub(r"^mixc run: ", "", msg)
    return re.sub(r"(?:\S*/)+([^\s/:]+)", r"\1", msg)


def classify_error(stderr):
    """A short, stable reason for a mixc exit 1, the most useful one first."""
    lines = [l.strip() for l in stderr.splitlines() if l.strip()]
    errs = [l for l in lines if l.startswith("error:")] or lines
    text = "\n".join(errs)
    m = re.search(r"unknown op (\S+) in domain (\S+)", text)
    if m:
        return "unsupported op %s" % (m.group(1) if m.group(2) == "ai.onnx"
                                      else m.group(2) + "." + m.group(1))
    m = re.search(r"subgraph op (\S+) is not supported", text)
    if m:
        return "unsupported op %s (subgraph)" % m.group(1)
    m = re.search(r"unsupported type \((\w[\w ]*)\)", text)
    if m:
        return "unsupported type %s" % m.group(1)
    m = re.search(r"unsupported (?:data|element)[ _]type (\d+)", text)
    if m:
        return "unsupported dtype %s" % dtype_name(m.group(1))
    m = re.search(r"unsupported (\S+) opset (\d+)", text)
    if m:
        return "unsupported opset %s%s" % ("" if m.group(1) == "ai.onnx" else m.group(1) + " ",
                                           m.group(2))
    if not errs:
        return "error (no message)"
    line = errs[0]
    m = LOC.match(line)
    op = m.group(1) if m else None
    msg = line[m.end():] if m else line
    if re.search(r"has shape \S*\?|which is not static", msg):
        return "dynamic shape%s" % (" (%s)" % op if op else "")
    msg = re.sub(r"\s+", " ", strip_paths(msg)).strip()[:90]
    return "error: %s%s" % (op + ": " if op else "", msg)


# ---- comparing --------------------------------------------------------------
def compare(got, want):
    """None if got matches want, else a short reason."""
    if got.shape != want.shape:
        return "mismatch: shape %s, want %s" % (list(got.shape), list(want.shape))
    if got.dtype != want.dtype:
        # Strings: mixc may write fixed-width unicode where onnx gives objects.
        if not (want.dtype == object and got.dtype.kind in "US"):
            return "mismatch: dtype %s, want %s" % (got.dtype, want.dtype)
    if want.dtype.kind in "fc":
        a = got.astype(np.complex128 if want.dtype.kind == "c" else np.float64)
        b = want.astype(a.dtype)
        ok = np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)
        if not ok.all():
            bad = int((~ok).sum())
            return "mismatch: %d of %d values" % (bad, ok.size)
        return None
    if want.dtype == object or want.dtype.kind in "US":
        g = np.vectorize(lambda x: x.decode() if isinstance(x, bytes) else str(x), otypes=[object])
        same = got.size == 0 or (g(got) == g(want)).all()
    else:
        same = np.array_equal(got, want)
    if not same:
        bad = int((got != want).sum())
        return "mismatch: %d of %d values" % (bad, want.size)
    return None


# ---- running one test --------------------------------------------------------
class Result:
    __slots__ = ("name", "status", "reason", "hard", "secs", "detail")

    def __init__(self, name, status, reason="", hard=False, secs=0.0, detail=""):
        self.name, self.status, self.reason = name, status, reason
        self.hard, self.secs, self.detail = hard, secs, detail

    def outcome(self):
        return "pass" if self.status == "pass" else "fail " + self.reason


def run_proc(cmd, timeout):
    """(returncode or None on timeout, stdout, stderr); kills the whole group."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        return None, out, err


def run_test(tdir, args, tmproot):
    name = os.path.basename(tdir)
    t0 = time.monotonic()
    model_path = os.path.join(tdir, "model.onnx")
    try:
        model = onnx.load(model_path, load_external_data=False)
    except Exception as e:  # the suite itself is broken: a runner problem
        return Result(name, "fail", "runner: cannot load model: %s" % e, hard=True)
    inits = {i.name for i in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in inits]
    outputs = [o.name for o in model.graph.output]
    stems = output_files(outputs)
    # A sequence/optional/map graph input or output: its .pb files are not
    # TensorProtos, so whatever mixc says first, this is the reason.
    nontensor = None
    for v in list(model.graph.input) + list(model.graph.output):
        kind = v.type.WhichOneof("value")
        if kind != "tensor_type" and v.name not in inits:
            nontensor = "unsupported type %s" % (kind or "unknown").replace("_type", "")
            break
    sets = sorted(glob.glob(os.path.join(tdir, "test_data_set_*")),
                  key=lambda p: int(p.rsplit("_", 1)[1]))
    if not sets:
        return Result(name, "fail", "runner: no test data", hard=True)

    def done(status, reason="", hard=False, detail=""):
        return Result(name, status, reason, hard, time.monotonic() - t0, detail)

    for ds in sets:
        dsn = os.path.basename(ds)
        nin = len(glob.glob(os.path.join(ds, "input_*.pb")))
        if nin != len(inputs):
            return done("fail", "runner: %s has %d inputs, model %d" % (dsn, nin, len(inputs)),
                        hard=True)
        outdir = tempfile.mkdtemp(prefix=name + ".", dir=tmproot)
        cmd = [args.mixc, "run", model_path]
        for k, n in enumerate(inputs):
            cmd += ["--input", "%s=%s" % (n, os.path.join(ds, "input_%d.pb" % k))]
        cmd += ["--output-dir", outdir]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        rc, out, err = run_proc(cmd, args.timeout)
        err = err.decode("utf-8", "replace")
        detail = "$ %s\n%s" % (" ".join(cmd), err[-2000:])
        if rc is None:
            return done("fail", "timeout", hard=True, detail=detail)
        if rc < 0:
            try:
                sig = signal.Signals(-rc).name
            except ValueError:
                sig = str(-rc)
            return done("fail", "crash (signal %s)" % sig, hard=True, detail=detail)
        if rc == 3:
            return done("fail", "crash (exit 3: %s)" % first_line(err, 80), hard=True,
                        detail=detail)
        if rc == 1:
            shutil.rmtree(outdir, ignore_errors=True)
            return done("fail", nontensor or classify_error(err), detail=detail)
        if rc != 0:
            return done("fail", "crash (exit %d: %s)" % (rc, first_line(err, 80)), hard=True,
                        detail=detail)
        for k, (oname, stem) in enumerate(zip(outputs, stems)):
            want_pb = os.path.join(ds, "output_%d.pb" % k)
            got_path = os.path.join(outdir, stem + ".npy")
            if not os.path.exists(got_path):
                return done("fail", "missing output %s" % stem, detail=detail)
            try:
                want = read_tensor_pb(want_pb)
            except Exception as e:
                return done("fail", "runner: cannot read reference output: %s"
                            % first_line(str(e), 60), detail=detail)
            try:
                got = np.load(got_path, allow_pickle=False)
            except Exception as e:
                return done("fail", "bad output file: %s" % first_line(str(e), 60),
                            detail=detail)
            why = compare(got, want)
            if why:
                if len(outputs) > 1:
                    why += " (output %s)" % oname
                if len(sets) > 1:
                    why += " (%s)" % dsn
                return done("fail", why, detail=detail)
        shutil.rmtree(outdir, ignore_errors=True)
    return done("pass")


# ---- the manifest -------------------------------------------------------------
def read_manifest(path):
    m = collections.OrderedDict()
    if not os.path.exists(path):
        return m
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split(" ", 2)
            if len(parts) < 2 or parts[1] not in ("pass", "fail") or \
                    (parts[1] == "fail" and len(parts) < 3) or (parts[1] == "pass" and len(parts) > 2):
                raise SystemExit("%s:%d: bad line: %r" % (path, lineno, line))
            m[parts[0]] = line[len(parts[0]) + 1:]
    return m


MANIFEST_HEADER = """\
# Expected outcome of every ONNX node test (onnx 1.12) under `mixc run`.
# One line per test: `NAME pass` or `NAME fail REASON`. Regenerate with
#   tests/onnx_node/run.py ... --update   (see tests/onnx_node/README.md)
"""


def write_manifest(path, results, keep=None):
    lines = dict(keep or {})
    for r in results:
        lines[r.name] = r.outcome()
    with open(path + ".tmp", "w") as f:
        f.write(MANIFEST_HEADER)
        for n in sorted(lines):
            f.write("%s %s\n" % (n, lines[n]))
    os.replace(path + ".tmp", path)


def category(reason):
    if reason.startswith("unsupported op "):
        return "unsupported op"
    if reason.startswith("unsupported opset"):
        return "unsupported opset"
    if reason.startswith("error: "):
        return "error"
    return re.split(r"[:(]", reason, 1)[0].strip()


# ---- main -----------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mixc", required=True)
    ap.add_argument("--suite", required=True, help="generated suite (DIR or DIR/node)")
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--update", action="store_true", help="rewrite the manifest from this run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--filter", help="only tests whose name matches this regex (re.search)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per mixc run")
    ap.add_argument("--threads", type=int, default=1, help="mixc --threads (0: mixc's default)")
    ap.add_argument("--write", help="also write this run's outcomes, in manifest form, here")
    ap.add_argument("--strict", action="store_true", help="a changed failure reason fails too")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every test")
    args = ap.parse_args()
    args.mixc = os.path.abspath(args.mixc)
    if not os.access(args.mixc, os.X_OK):
        ap.error("mixc not executable: %s" % args.mixc)

    suite = args.suite
    if os.path.isdir(os.path.join(suite, "node")):
        suite = os.path.join(suite, "node")
    tests = sorted(d for d in glob.glob(os.path.join(suite, "test_*"))
                   if os.path.isfile(os.path.join(d, "model.onnx")))
    if args.filter:
        rx = re.compile(args.filter)
        tests = [t for t in tests if rx.search(os.path.basename(t))]
    if not tests:
        print("no tests found in %s" % suite)
        return 1
    manifest = read_manifest(args.manifest)

    t0 = time.monotonic()
    tmproot = tempfile.mkdtemp(prefix="mixc_onnx_node.")
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
            futs = [ex.submit(run_test, t, args, tmproot) for t in tests]
            for f in futs:
                r = f.result()
                results.append(r)
                if args.verbose:
                    print("%-60s %6.2fs %s" % (r.name, r.secs, r.outcome()), flush=True)
    finally:
        shutil.rmtree(tmproot, ignore_errors=True)
    wall = time.monotonic() - t0
    names = {r.name for r in results}

    if args.write:
        write_manifest(args.write, results)

    # Crashes and timeouts: never allowed.
    hard = [r for r in results if r.hard]
    # Differences from the manifest.
    diffs, notes = [], []
    for r in results:
        want = manifest.get(r.name)
        got = r.outcome()
        if want is None:
            diffs.append((r, "new test, not in the manifest (now: %s)" % got))
        elif want.split(" ", 1)[0] != r.status:
            if r.status == "pass":
                diffs.append((r, "now passes; manifest says: %s" % want))
            else:
                diffs.append((r, "now fails: %s; manifest says pass" % r.reason))
        elif want != got:
            notes.append((r, "reason changed: %s; manifest says: %s" % (got[5:], want[5:])))
    missing = []
    if not args.filter:
        missing = sorted(n for n in manifest if n not in names)

    if args.update:
        write_manifest(args.manifest, results, keep=manifest if args.filter else None)
        print("manifest %s updated from %d tests" % (args.manifest, len(results)))
        diffs, notes, missing = [], [], []

    # Report.
    fails = [r for r in results if r.status != "pass"]
    hist = collections.Counter(r.reason for r in fails)
    cats = collections.Counter(category(r.reason) for r in fails)
    if fails:
        print("failures by category:")
        for c, n in cats.most_common():
            print("  %5d  %s" % (n, c))
        print("failures by reason (top 40):")
        for c, n in hist.most_common(40):
            print("  %5d  %s" % (n, c))
    slow = sorted(results, key=lambda r: -r.secs)[:5]
    print("slowest: " + ", ".join("%s %.1fs" % (r.name, r.secs) for r in slow))
    for r, why in notes:
        print("NOTE %s: %s" % (r.name, why))
    for r, why in diffs:
        print("DIFF %s: %s" % (r.name, why))
        if r.status != "pass" and r.detail and (args.verbose or len(diffs) <= 20):
            print("  | " + r.detail.rstrip().replace("\n", "\n  | "))
    for n in missing:
        print("DIFF %s: in the manifest but not in the suite" % n)
    for r in hard:
        print("CRASH %s: %s" % (r.name, r.reason))
        print("  | " + r.detail.rstrip().replace("\n", "\n  | "))
    npass = len(results) - len(fails)
    print("%d tests in %.1fs with %d jobs" % (len(results), wall, args.jobs))
    bad = len(diffs) + len(missing) + len(hard) + (len(notes) if args.strict else 0)
    if bad:
        print("FAILED: %d differ from the manifest, %d crashed or timed out%s"
              % (len(diffs) + len(missing), len(hard),
                 "" if args.update else " (if intended: run.py ... --update, see tests/onnx_node/README.md)"))
    print("%d passed, %d failed" % (npass, len(fails)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
