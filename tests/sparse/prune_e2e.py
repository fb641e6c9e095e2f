#!/usr/bin/python3
"""End to end for the prune and convert-pattern passes on the shipped model examples/tinycnn.

  1. numpy re-implementation: nnzc's folded dense model (`compile --emit onnx`) pruned by numpy
     must equal, bit for bit, the model nnzc prunes itself (`compile --prune SPEC --emit onnx`),
     for unstructured, nm, block and channel patterns, layer-wise and global, with keep=first/last
     and per-layer rules, spelled in the pass argument and with the driver's --prune-* flags;
     gs results are checked for their pattern (k per row, no bank above k per row-group);
  2. the interpreter on the encoded form (`run --prune SPEC`) against the exported pruned model
     run dense (`run pruned.onnx`), and prune at sparsity 0 against PyTorch's output;
  3. every exported model passes onnx.checker; --print-after shows the whole pass argument;
     --report has a "sparsity" remark per pruned layer; bad specs are one-line errors.

usage: prune_e2e.py NNZC SOURCE_DIR WORK_DIR      (/usr/bin/python3: numpy, onnx)
"""
import json
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:  # ctest: skipped, not failed
    print("prune_e2e: SKIP (%s)" % e)
    sys.exit(77)

NNZC, SRC, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
MODEL = os.path.join(SRC, "examples", "tinycnn", "model.onnx")
DATA = os.path.join(SRC, "examples", "tinycnn")
failures = []


def run(*args, ok=True):
    p = subprocess.run([NNZC, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise SystemExit("FAILED: nnzc %s\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


# ---------------------------------------------------------------- the model's weight layers

def load(path):
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def layers(m):
    """(weight name, op, transB) of every Conv/Gemm/MatMul weight in node order"""
    inits = {i.name for i in m.graph.initializer}
    out = []
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits:
            tb = next((a.i for a in n.attribute if a.name == "transB"), 0)
            out.append((n.input[1], n.op_type, tb))
    return out


def weights(m):
    return {i.name: numpy_helper.to_array(i).copy() for i in m.graph.initializer}


def to_matrix(w, op, tb):
    """the matrix view (docs/sparsity.md): a Conv's columns are tap-major, channel-minor"""
    if op == "Conv":
        o, cg = w.shape[0], w.shape[1]
        return w.reshape(o, cg, -1).transpose(0, 2, 1).reshape(o, -1)
    return w if (op == "Gemm" and tb) else w.T


def from_matrix(mat, like, op, tb):
    if op == "Conv":
        o, cg = like.shape[0], like.shape[1]
        return mat.reshape(o, -1, cg).transpose(0, 2, 1).reshape(like.shape)
    return mat if (op == "Gemm" and tb) else mat.T


def llround(x):
    return int(np.floor(x + 0.5))


# ---------------------------------------------------------------- numpy pruning, as documented

def unit_scores(mat, kind, r=1, c=1):
    """scores of the units (elements, RxC blocks, rows) in unit order, as float32"""
    if kind == "unstructured":
        return np.abs(mat).ravel().astype(np.float32)
    if kind == "channel":
        s = (mat.astype(np.float64) ** 2).sum(axis=1)
        return np.sqrt(s / mat.shape[1]).astype(np.float32)
    rows, cols = mat.shape
    nbr, nbc = -(-rows // r), -(-cols // c)
    pad = np.zeros((nbr * r, nbc * c), np.float64)
    pad[:rows, :cols] = mat
    s = (pad.reshape(nbr, r, nbc, c) ** 2).sum(axis=(1, 3))
    return np.sqrt(s).astype(np.float32).ravel()


def zero_units(mat, kind, pruned, r=1, c=1):
    mat = mat.copy()
    if kind == "unstructured":
        mat.ravel()[pruned] = 0
    elif kind == "channel":
        mat[pruned, :] = 0
    else:
        nbc = -(-mat.shape[1] // c)
        for u in np.nonzero(pruned)[0]:
            i, j = divmod(int(u), nbc)
            mat[i * r:(i + 1) * r, j * c:(j + 1) * c] = 0
    return mat


def lowest(scores, k):
    """masks of the k lowest units over all score arrays; ties: later units go first"""
    allsc = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    pos = np.arange(allsc.size)
    order = np.lexsort((-pos, allsc))
    mask = np.zeros(allsc.size, bool)
    mask[order[:k]] = True
    out, at = [], 0
    for s in scores:
        out.append(mask[at:at + s.size])
        at += s.size
    return out


def nm(mat, n, m):
    mat = mat.copy()
    for row in mat:
        for c0 in range(0, row.size, m):
            g = row[c0:c0 + m]
            if g.size <= n:
                continue
            order = np.lexsort((np.arange(g.size), -np.abs(g)))
            g[order[n:]] = 0
    return mat


def parse_pattern(p):
    f = p.split(":")
    if f[0] == "dense":
        return ("dense",)
    if f[0] in ("unstructured", "channel"):
        return (f[0], float(f[1]))
    if f[0] == "nm":
        return ("nm", int(f[1]), int(f[2]))
    if f[0] == "block":
        r, c = f[1].split("x")
        return ("block", float(f[2]), int(r), int(c))
    raise ValueError(p)


def numpy_prune(dense_model, arg, node_of_weight):
    """the prune argument applied with numpy to the dense model's weights"""
    items = [s.strip() for s in arg.split(";")]
    default, glob, keep, rules = None, False, set(), []
    for it in items:
        if it == "global":
            glob = True
        elif it.startswith("keep="):
            keep |= set(it[5:].split(","))
        elif "=" in it:
            g, p = it.rsplit("=", 1)
            rules.append((g, parse_pattern(p)))
        else:
            default = parse_pattern(it)
    import fnmatch
    ls = layers(dense_model)
    ws = weights(dense_model)
    pats = []
    for i, (wn, op, tb) in enumerate(ls):
        pat = default
        ruled = [p for g, p in rules if fnmatch.fnmatchcase(node_of_weight[wn], g)]
        if ruled:
            pat = ruled[-1]
        elif ("first" in keep and i == 0) or ("last" in keep and i == len(ls) - 1):
            pat = ("dense",)
        pats.append((pat, bool(ruled)))
    mats = [to_matrix(ws[wn], op, tb) for wn, op, tb in ls]
    out = [m.copy() for m in mats]
    # global: the default's units of every layer that has it, one ranking
    pool = [i for i, (p, ruled) in enumerate(pats) if glob and not ruled and p == default and p[0] != "dense"]
    def ranked(idx, pat):
        kind = pat[0]
        rc = pat[2:] if kind == "block" else ()
        scores = [unit_scores(mats[i], kind, *rc) for i in idx]
        k = llround(pat[1] * sum(s.size for s in scores))
        for i, mask in zip(idx, lowest(scores, k)):
            out[i] = zero_units(mats[i], kind, mask, *rc)
    if pool:
        ranked(pool, default)
    for i, (p, ruled) in enumerate(pats):
        if i in pool or p[0] == "dense":
            continue
        if p[0] == "nm":
            # a Conv with fewer input channels per group than M stays dense (docs/sparsity.md)
            if ls[i][1] != "Conv" or ws[ls[i][0]].shape[1] >= p[2]:
                out[i] = nm(mats[i], p[1], p[2])
        else:
            ranked([i], p)
    return {wn: from_matrix(out[i], ws[wn], op, tb) for i, (wn, op, tb) in enumerate(ls)}


# ---------------------------------------------------------------- 1. numpy against nnzc

os.makedirs(WORK, exist_ok=True)
dense_path = os.path.join(WORK, "dense.onnx")
run("compile", MODEL, "--emit", "onnx", "-o", dense_path)
dense = load(dense_path)
# node names of the weight layers, as the IR has them (the glob rules match these)
node_of_weight = {"stem.weight_bn": "/stem/Conv", "block.conv1.weight_bn": "/block/conv1/Conv",
                  "block.conv2.weight_bn": "/block/conv2/Conv", "head.weight": "/head/Gemm"}
check(sorted(node_of_weight) == sorted(w for w, _, _ in layers(dense)), "tinycnn has the four weight layers expected")

SPECS = [
    ("unstructured:0.5", []),
    ("unstructured:0.9", []),
    ("unstructured:0.7;global", []),
    ("nm:2:4", []),
    ("nm:1:8;keep=first,last", []),
    ("block:4x1:0.5", []),
    ("block:2x2:0.6;global", []),
    ("channel:0.25", []),
    ("channel:0.3;global", []),
    ("unstructured:0.5;/head/*=nm:2:4;/block/conv2/*=dense", []),
    # the driver's flags compose the same argument
    ("unstructured:0.7;global;keep=first;/head/*=nm:2:4",
     ["--prune", "unstructured:0.7", "--prune-global", "--prune-keep", "first", "--prune-layer", "/head/*=nm:2:4"]),
]
for i, (arg, flags) in enumerate(SPECS):
    path = os.path.join(WORK, "pruned_%d.onnx" % i)
    p = run("compile", MODEL, "--emit", "onnx", "-o", path, *(flags or ["--prune", arg]),
            "--print-after", "prune", "--elide", "0")
    check("// ----- IR after prune(%s) ----- //" % arg in p.stderr, "%s: --print-after shows the whole argument" % arg)
    got = weights(load(path))
    want = numpy_prune(dense, arg, node_of_weight)
    same = all(np.array_equal(got[w], want[w]) for w in want)
    check(same, "%s: nnzc's pruned weights equal numpy's" % arg)
    if not same:
        for w in want:
            d = got[w] != want[w]
            if d.any():
                print("   %s: %d of %d differ" % (w, int(d.sum()), d.size))
    # the remarks: one per weight layer, the pruned ones with their achieved sparsity
    for line in p.stderr.splitlines():
        if line.startswith("remark: prune: node ") and "sparsity " in line:
            node = line.split("'")[1]
            wn = next(k for k, v in node_of_weight.items() if v == node)
            achieved = float((got[wn] == 0).mean())
            check(abs(float(line.split("sparsity ")[1].split(",")[0]) - achieved) < 1e-3,
                  "%s: remark on %s tells sparsity %.3f" % (arg, node, achieved))

# gs: the pattern holds (k per row, no bank above k within a group of V rows)
for V, B, S in ((4, 4, 0.5), (8, 16, 0.75), (16, 16, 0.9)):
    path = os.path.join(WORK, "gs.onnx")
    run("compile", MODEL, "--emit", "onnx", "-o", path, "--prune", "gs:%d:%d:%g" % (V, B, S))
    got = weights(load(path))
    ok = True
    for wn, op, tb in layers(dense):
        mat = to_matrix(got[wn], op, tb)
        rows, cols = mat.shape
        if cols < min(V, rows):
            ok &= np.array_equal(got[wn], weights(dense)[wn])  # kept dense
            continue
        k = llround((1 - S) * cols)
        nzr = (mat != 0).sum(axis=1)
        ok &= bool((nzr <= k).all())
        for r0 in range(0, rows, V):
            g = mat[r0:r0 + V] != 0
            banks = np.bincount(np.nonzero(g)[1] % B, minlength=B)
            ok &= bool((banks <= k).all())
        kept = mat != 0
        dmat = to_matrix(weights(dense)[wn], op, tb)
        ok &= bool(np.array_equal(mat[kept], dmat[kept]))
    check(ok, "gs:%d:%d:%g: every row-group holds its pattern" % (V, B, S))

# ---------------------------------------------------------------- 2. runs

p = run("run", MODEL, "--test-data", DATA, "--prune", "unstructured:0.0", ok=False)
check(p.returncode == 0 and p.stdout.rstrip().endswith("PASS"), "prune unstructured:0.0 matches PyTorch's output")

for spec in ("nm:2:4", "unstructured:0.9", "block:4x1:0.8", "channel:0.3", "gs:4:4:0.5", "nm:2:4;keep=first"):
    tag = spec.replace(":", "_").replace(";", "_").replace("=", "_").replace(",", "_")
    pruned = os.path.join(WORK, "run_%s.onnx" % tag)
    run("compile", MODEL, "--emit", "onnx", "-o", pruned, "--prune", spec)
    ref = os.path.join(WORK, "ref_%s" % tag)
    shutil.rmtree(ref, ignore_errors=True)
    os.makedirs(os.path.join(ref, "test_data_set_0"))
    shutil.copy(os.path.join(DATA, "test_data_set_0", "input_0.pb"), os.path.join(ref, "test_data_set_0"))
    run("run", pruned, "-i", "image=" + os.path.join(DATA, "test_data_set_0", "input_0.pb"),
        "-o", os.path.join(ref, "test_data_set_0"))
    p = run("run", MODEL, "--test-data", ref, "--prune", spec, "--rtol", "1e-5", "--atol", "1e-6", ok=False)
    check(p.returncode == 0 and p.stdout.rstrip().endswith("PASS"),
          "%s: run on the encoded form equals the exported pruned model run dense" % spec)

# convert-pattern: after 90% unstructured, 2:4 for a target; the exported model runs the same
conv = os.path.join(WORK, "converted.onnx")
p = run("compile", MODEL, "--emit", "onnx", "-o", conv, "--prune", "unstructured:0.5", "--pattern", "nm:2:4")
lines = [l for l in p.stderr.splitlines() if l.startswith("remark: convert-pattern:")]
# the stem (3 input channels) cannot take 2:4 along its channels: it stays csr
check(len(lines) == 4 and all("csr -> nm(2,4): dropped L2 fraction" in l for l in lines if "'/stem/Conv'" not in l)
      and any("'/stem/Conv'" in l and "kept as csr: 3 input channels per tap cannot take nm(2,4)" in l for l in lines),
      "convert-pattern remarks the dropped L2 fraction per layer")
got = weights(load(conv))
ok = True
for wn, op, tb in layers(dense):
    if node_of_weight[wn] == "/stem/Conv":
        continue
    mat = to_matrix(got[wn], op, tb)
    for row in mat:
        for c0 in range(0, row.size, 4):
            ok &= bool((row[c0:c0 + 4] != 0).sum() <= 2)
check(ok, "convert-pattern nm:2:4: every group of 4 holds at most 2")

# ---------------------------------------------------------------- 3. report and errors

rep = os.path.join(WORK, "report.json")
run("compile", MODEL, "--emit", "onnx", "-o", os.path.join(WORK, "r.onnx"), "--prune", "nm:2:4", "--report", rep)
with open(rep) as f:
    remarks = json.load(f)["remarks"]
check(sum(1 for r in remarks if r["pass"] == "prune" and r["key"] == "sparsity") == 3
      and any(r["pass"] == "prune" and r["node"] == "/stem/Conv" and "kept dense" in r["text"] for r in remarks),
      "--report has a sparsity remark per pruned layer (the 3-channel stem is kept dense)")

for bad, msg in (("nm:2:x", "prune: bad pattern 'nm:2:x': 'x' is not a group size M in 1..256"),
                 ("unstructured:1.5", "prune: bad pattern 'unstructured:1.5': '1.5' is not a sparsity in [0, 1]"),
                 ("nm:2:4;global", "prune: global ranks unstructured, block and channel patterns, not 'nm:2:4'")):
    p = run("compile", MODEL, "--emit", "onnx", "-o", os.path.join(WORK, "bad.onnx"), "--prune", bad, ok=False)
    err = [l for l in p.stderr.splitlines() if l.strip()]
    check(p.returncode == 1 and len(err) == 1 and msg in err[0], "--prune %s: one line: %s" % (bad, msg))

print("prune_e2e: %s (%d failure(s))" % ("FAIL" if failures else "PASS", len(failures)))
sys.exit(1 if failures else 0)
