#!/usr/bin/python3
"""generate.py OUTDIR - writes the official ONNX node test suite into OUTDIR.

Uses Debian's python3-onnx (1.12) through its own generator
(`onnx.backend.test.cmd_tools generate-data`). onnx 1.12's test generators
still use the numpy aliases that numpy 1.24 removed (np.float, np.int,
np.bool, np.object, ...), so they are set back first.

Layout produced: OUTDIR/node/test_*/model.onnx with
test_data_set_N/{input,output}_K.pb (plus OUTDIR/real and OUTDIR/simple, unused).
Cached: if OUTDIR/node already holds the tests of this onnx version, nothing is done.
Run it with /usr/bin/python3: the python3 on PATH may lack onnx."""
import os
import shutil
import sys


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: generate.py OUTDIR\n")
        return 2
    out = os.path.abspath(sys.argv[1])
    import numpy as np
    for alias, typ in (("float", float), ("int", int), ("bool", bool), ("object", object),
                       ("complex", complex), ("str", str), ("long", int), ("unicode", str)):
        if alias not in np.__dict__:
            setattr(np, alias, typ)
    import onnx
    stamp = os.path.join(out, "GENERATED")
    want = "onnx %s numpy %s\n" % (onnx.__version__, np.__version__)
    if os.path.exists(stamp) and open(stamp).read() == want:
        n = len([d for d in os.listdir(os.path.join(out, "node")) if d.startswith("test_")])
        print("onnx node suite: %d tests cached in %s" % (n, out))
        return 0
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    from onnx.backend.test.cmd_tools import main as cmd_main
    sys.argv = ["cmd_tools", "generate-data", "-o", tmp]
    cmd_main()
    with open(os.path.join(tmp, "GENERATED"), "w") as f:
        f.write(want)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    n = len([d for d in os.listdir(os.path.join(out, "node")) if d.startswith("test_")])
    print("onnx node suite: generated %d tests in %s (onnx %s)" % (n, out, onnx.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
