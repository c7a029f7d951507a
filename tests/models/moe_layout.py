#!/usr/bin/python3
"""moe_layout.py FILE.mir [--want-transposed N] - checks the optimized IR
around every mixc.moe: its x is no Transpose's output (directly or through one
Reshape), and none of its output's users is a Transpose (directly or through a
Reshape): a token-mixing MoE must read and write its transposed rows in place
(passes/strided_moe.c). With --want-transposed N, exactly N mixc.moe nodes
have rows_transposed = 1. Prints what is wrong and exits 1, else exits 0.
Reads the text IR of docs/mir.md: one node a line, `%out : T[, ...] = OP(ins)`."""
import argparse
import re
import sys

ap = argparse.ArgumentParser()
ap.add_argument("mir")
ap.add_argument("--want-transposed", type=int, default=None)
a = ap.parse_args()

NODE = re.compile(r"^\s+(%.*?) = ([A-Za-z_][\w.]*)\((.*?)\)(?: \{(.*?)\})?(?: @|$| #)")
VAL = re.compile(r'%(?:"(?:[^"\\]|\\.)*"|[^\s,:()]+)')
defs, users, moes = {}, {}, []
for line in open(a.mir, encoding="utf-8"):
    m = NODE.match(line)
    if not m:
        continue
    outs = [v for v in VAL.findall(m.group(1))]
    op, ins, attrs = m.group(2), VAL.findall(m.group(3)), m.group(4) or ""
    node = (op, outs, ins, attrs)
    for v in outs:
        defs[v] = node
    for v in ins:
        users.setdefault(v, []).append(node)
    if op == "mixc.moe":
        moes.append(node)

bad = []
for op, outs, ins, attrs in moes:
    x = defs.get(ins[0])
    if x and x[0] == "Reshape":
        x = defs.get(x[2][0])
    if x and x[0] == "Transpose":
        bad.append(f"mixc.moe {outs[0]} reads a Transpose")
    for u in users.get(outs[0], []):
        nxt = users.get(u[1][0], []) if u[0] == "Reshape" else [u]
        if any(n[0] == "Transpose" for n in nxt):
            bad.append(f"mixc.moe {outs[0]} goes to a Transpose")
ntr = sum("rows_transposed = 1" in m[3] for m in moes)
if a.want_transposed is not None and ntr != a.want_transposed:
    bad.append(f"{ntr} mixc.moe with rows_transposed = 1, want {a.want_transposed}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
