#!/usr/bin/python3
"""How much slower a kernel runs inside a network than alone: the per-layer medians of a pair of
1x1 layers (C -> M -> C channels on an HxW map, each with a bias and a Relu) run as a model of
their own, and of a chain of N such pairs with distinct random weights.

    /usr/bin/python3 bench/layer_chain.py [--nnzc PATH] [--threads N] [--iters N] [--pairs N]
                                          [--channels C,M] [--map H,W] [--density D | --nm N:M]
                                          [--nnzc-flag ARG]...

Single-layer benchmarks (conv_layers.py, a layer timed again and again) flatter the sparse
kernels: their weight tables stay in the caches and the branch predictors learn the loop trip
counts their weights give. In a network every layer brings a table of its own from memory and
new trip counts. The chain reproduces that with one shape, so that a kernel change can be judged
on what a network will see (with 48 layers of 14x14 2:4 1x1 products, whose tables exceed L3,
the pattern groups ran 13-17% slower per layer than in the pair alone, the dense kernel 1-3%;
by hand, 2026-11-24).

Prints per side the mean over its layers of each layer's median ms, for the C -> M and the
M -> C layers, and the chain / pair ratios. Models go to a temporary directory.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

from conv_layers import sparsify

HERE = os.path.dirname(os.path.abspath(__file__))


def pruned(rng, m, c, density, nm):
    """A random [m, c, 1, 1] weight pruned as conv_layers.py prunes its layers."""
    return sparsify((rng.standard_normal((m, c, 1, 1)) / np.sqrt(c)).astype(np.float32), density, nm)


def chain_model(path, pairs, c, m, h, wd, density, nm):
    rng = np.random.default_rng(1)
    nodes, inits, cur = [], [], "x"
    for p in range(pairs):
        for j, (co, ci) in enumerate([(m, c), (c, m)]):
            name = f"p{p}_{j}"
            inits.append(numpy_helper.from_array(pruned(rng, co, ci, density, nm), name + "_w"))
            inits.append(numpy_helper.from_array(np.full(co, 0.01, np.float32), name + "_b"))
            nodes.append(helper.make_node("Conv", [cur, name + "_w", name + "_b"], [name + "_c"],
                                          kernel_shape=[1, 1], name=name))
            nodes.append(helper.make_node("Relu", [name + "_c"], [name + "_y"]))
            cur = name + "_y"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, wd])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, h, wd])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def layer_means(nnzc, model, args):
    """Mean over the layers of each kind (C -> M: name ends in _0, M -> C: _1) of their medians."""
    cmd = [nnzc, "bench", model, "--target", "cpu", "--detect", "--per-layer", "--threads", str(args.threads),
           "--iters", str(args.iters)] + args.nnzc_flag
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"layer_chain: {' '.join(cmd)} failed:\n{r.stderr}")
    layers = json.loads(r.stdout.strip().splitlines()[-1])["layers"]
    out = {}
    for suffix in ("_0", "_1"):
        ms = [l["measured_ms"] for l in layers if l["name"].endswith(suffix)]
        kinds = sorted({l["kernel"] for l in layers if l["name"].endswith(suffix)})
        out[suffix] = (sum(ms) / len(ms), "+".join(kinds))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nnzc", default=os.path.join(HERE, "..", "build", "bin", "nnzc"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--pairs", type=int, default=24, help="pairs in the chain (default 24: 48 layers)")
    ap.add_argument("--channels", default="1024,256", help="C,M (default 1024,256)")
    ap.add_argument("--map", default="14,14", help="H,W (default 14,14)")
    sp = ap.add_mutually_exclusive_group()
    sp.add_argument("--density", type=float)
    sp.add_argument("--nm", help="N:M along the input channels (default 2:4 when no --density)")
    ap.add_argument("--nnzc-flag", action="append", default=[], help="one more argument to nnzc bench")
    args = ap.parse_args()

    def two_ints(text, sep, what):
        try:
            v = [int(x) for x in text.split(sep)]
        except ValueError:
            v = []
        if len(v) != 2 or min(v) < 1:
            ap.error(f"{what} {text!r}: expected two positive integers A{sep}B")
        return v

    c, m = two_ints(args.channels, ",", "--channels")
    h, wd = two_ints(args.map, ",", "--map")
    if args.pairs < 1 or args.iters < 1 or args.threads < 1:
        ap.error("--pairs, --iters and --threads must be at least 1")
    if args.density is not None and not 0 < args.density <= 1:
        ap.error(f"--density {args.density}: expected 0 < D <= 1")
    nm = None
    if args.density is None:
        n, mm = two_ints(args.nm or "2:4", ":", "--nm")
        if n > mm or c % mm or m % mm:
            ap.error(f"--nm {n}:{mm}: needs N <= M and both channel counts ({c}, {m}) multiples of M")
        nm = (n, mm)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for pairs in (1, args.pairs):
            path = os.path.join(tmp, f"chain{pairs}.onnx")
            chain_model(path, pairs, c, m, h, wd, args.density, nm)
            rows.append((pairs, layer_means(args.nnzc, path, args)))
    print(f"{'pairs':>5}  {f'{c}->{m} ms':>14}  {f'{m}->{c} ms':>14}  kernels")
    for pairs, lm in rows:
        print(f"{pairs:>5}  {lm['_0'][0]:>14.4f}  {lm['_1'][0]:>14.4f}  {lm['_0'][1]}, {lm['_1'][1]}")
    (_, one), (_, many) = rows
    print(f"chain / pair: {many['_0'][0] / one['_0'][0]:.3f}  {many['_1'][0] / one['_1'][0]:.3f}")


if __name__ == "__main__":
    main()
