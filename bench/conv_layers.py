#!/usr/bin/python3
"""GFLOP/s of nnzc's cpu target (and optionally ONNX Runtime) per convolution / matrix-product
layer shape: the layers of ResNet-50 and MobileNetV2 at batch 1, each as a one-node model with
random constant weights, a bias and a fused-able Relu.

    /usr/bin/python3 bench/conv_layers.py [--nnzc PATH] [--threads N] [--iters N] [--ort]
                                          [--only SUBSTRING] [--cpu NAME]
                                          [--density D | --nm N:M] [--nnzc-flag ARG]...

--density D prunes every layer's weights to density D (the largest |w| kept, layer by layer) and
--nm N:M to N:M along the input channels at each tap (layers whose input channels per group are
not a multiple of M stay dense), to time sparse kernels one layer at a time; MFLOP and GFLOP/s
stay those of the dense layer (the work a dense kernel does), so they read as effective rates.
--nnzc-flag passes an argument to `nnzc bench` (e.g. --nnzc-flag=--kernels=dense).

Prints one row per layer: shape, MFLOP, median ms and GFLOP/s for each side. Models are written
to a temporary directory. Measurements on a loaded machine are noisy: compare min columns.
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

HERE = os.path.dirname(os.path.abspath(__file__))

# name, C, H, W, M, kernel, stride, pad, group
LAYERS = [
    ("r50.conv1", 3, 224, 224, 64, 7, 2, 3, 1),
    ("r50.l1.1x1a", 64, 56, 56, 64, 1, 1, 0, 1),
    ("r50.l1.3x3", 64, 56, 56, 64, 3, 1, 1, 1),
    ("r50.l1.1x1b", 64, 56, 56, 256, 1, 1, 0, 1),
    ("r50.l1.1x1c", 256, 56, 56, 64, 1, 1, 0, 1),
    ("r50.l2.3x3s2", 128, 56, 56, 128, 3, 2, 1, 1),
    ("r50.l2.down", 256, 56, 56, 512, 1, 2, 0, 1),
    ("r50.l2.3x3", 128, 28, 28, 128, 3, 1, 1, 1),
    ("r50.l2.1x1b", 128, 28, 28, 512, 1, 1, 0, 1),
    ("r50.l2.1x1c", 512, 28, 28, 128, 1, 1, 0, 1),
    ("r50.l3.3x3", 256, 14, 14, 256, 3, 1, 1, 1),
    ("r50.l3.1x1b", 256, 14, 14, 1024, 1, 1, 0, 1),
    ("r50.l3.1x1c", 1024, 14, 14, 256, 1, 1, 0, 1),
    ("r50.l4.3x3", 512, 7, 7, 512, 3, 1, 1, 1),
    ("r50.l4.1x1b", 512, 7, 7, 2048, 1, 1, 0, 1),
    ("r50.l4.1x1c", 2048, 7, 7, 512, 1, 1, 0, 1),
    ("mb2.conv0", 3, 224, 224, 32, 3, 2, 1, 1),
    ("mb2.dw112", 32, 112, 112, 32, 3, 1, 1, 32),
    ("mb2.pw112", 32, 112, 112, 16, 1, 1, 0, 1),
    ("mb2.exp112", 16, 112, 112, 96, 1, 1, 0, 1),
    ("mb2.dw112s2", 96, 112, 112, 96, 3, 2, 1, 96),
    ("mb2.dw56", 144, 56, 56, 144, 3, 1, 1, 144),
    ("mb2.pw56", 144, 56, 56, 24, 1, 1, 0, 1),
    ("mb2.exp56", 24, 56, 56, 144, 1, 1, 0, 1),
    ("mb2.dw28", 192, 28, 28, 192, 3, 1, 1, 192),
    ("mb2.exp28", 32, 28, 28, 192, 1, 1, 0, 1),
    ("mb2.dw14", 576, 14, 14, 576, 3, 1, 1, 576),
    ("mb2.exp14", 96, 14, 14, 576, 1, 1, 0, 1),
    ("mb2.pw14", 576, 14, 14, 96, 1, 1, 0, 1),
    ("mb2.dw7", 960, 7, 7, 960, 3, 1, 1, 960),
    ("mb2.exp7", 160, 7, 7, 960, 1, 1, 0, 1),
    ("mb2.last", 320, 7, 7, 1280, 1, 1, 0, 1),
]
# name, M, K, N (Gemm with constant B^T, as a classifier)
GEMMS = [
    ("r50.fc", 1, 2048, 1000),
    ("mb2.fc", 1, 1280, 1000),
]


SPARSITY = {"density": None, "nm": None}


def sparsify(wt, density=None, nm=None):
    """A weight (conv [O, I, kh, kw] or gemm [N, K]) pruned to `density` (the largest |w| kept)
    or to nm = (N, M) along the input channels at each tap (unchanged when they are not a multiple
    of M); as it is when both are None. --density / --nm (SPARSITY) for this script's layers."""
    if density is not None:
        keep = max(1, int(round(density * wt.size)))
        flat = np.abs(wt).ravel()
        order = np.argsort(-flat, kind="stable")
        mask = np.zeros(wt.size, dtype=bool)
        mask[order[:keep]] = True
        return np.where(mask.reshape(wt.shape), wt, 0).astype(np.float32)
    if nm is not None:
        n, mm = nm
        w4 = wt if wt.ndim == 4 else wt[:, :, None, None]
        if w4.shape[1] % mm:
            return wt
        perm = np.transpose(w4, (0, 2, 3, 1))                    # [O, kh, kw, I]: groups along I
        groups = np.abs(perm).reshape(-1, mm)
        order = np.argsort(-groups, axis=1, kind="stable")
        mask = np.zeros_like(groups, dtype=bool)
        np.put_along_axis(mask, order[:, :n], True, axis=1)
        mask = np.transpose(mask.reshape(perm.shape), (0, 3, 1, 2)).reshape(wt.shape)
        return np.where(mask, wt, 0).astype(np.float32)
    return wt


def conv_model(c, h, w, m, k, s, p, g):
    rng = np.random.default_rng(0)
    wt = sparsify((rng.standard_normal((m, c // g, k, k)) * 0.1).astype(np.float32), **SPARSITY)
    b = rng.standard_normal(m).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, w])
    oh = (h + 2 * p - k) // s + 1
    ow = (w + 2 * p - k) // s + 1
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, m, oh, ow])
    conv = helper.make_node("Conv", ["x", "w", "b"], ["t"], kernel_shape=[k, k], strides=[s, s],
                            pads=[p, p, p, p], group=g)
    relu = helper.make_node("Relu", ["t"], ["y"])
    graph = helper.make_graph([conv, relu], "layer", [x], [y],
                              [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(b, "b")])
    flops = 2.0 * m * oh * ow * (c // g) * k * k
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), flops


def gemm_model(m, k, n):
    rng = np.random.default_rng(0)
    wt = sparsify((rng.standard_normal((n, k)) * 0.1).astype(np.float32), **SPARSITY)
    b = rng.standard_normal(n).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)
    graph = helper.make_graph([node], "layer", [x], [y],
                              [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), 2.0 * m * n * k


def last_json(out):
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(out[-400:])


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(" ".join(cmd) + ": " + (r.stderr or r.stdout)[-400:])
    return last_json(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnzc", default=os.path.join(HERE, "..", "build", "bin", "nnzc"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--ort", action="store_true", help="also time ONNX Runtime (bench/ort/ort_bench.js)")
    ap.add_argument("--only", default="")
    ap.add_argument("--cpu", default=None)
    ap.add_argument("--density", type=float, default=None, help="prune each layer to this density")
    ap.add_argument("--nm", default=None, metavar="N:M", help="prune each layer to N:M along the input channels")
    ap.add_argument("--nnzc-flag", action="append", default=[], metavar="ARG")
    a = ap.parse_args()
    if a.density is not None and a.nm is not None:
        ap.error("--density and --nm exclude each other")
    if a.density is not None:
        if not 0 < a.density <= 1:
            ap.error("--density: expected a value in (0, 1]")
        SPARSITY["density"] = a.density
    if a.nm is not None:
        try:
            n, m = (int(x) for x in a.nm.split(":"))
            if not 1 <= n <= m:
                raise ValueError
        except ValueError:
            ap.error("--nm: expected N:M with 1 <= N <= M")
        SPARSITY["nm"] = (n, m)
    rows = [(n, conv_model(*shape)) for n, *shape in LAYERS] + [(n, gemm_model(*shape)) for n, *shape in GEMMS]
    tot = {"nnzc": 0.0, "ort": 0.0}
    head = f"{'layer':14} {'MFLOP':>8} {'nnzc ms':>8} {'GF/s':>6} {'min GF/s':>8}"
    if a.ort:
        head += f"  {'ort ms':>8} {'GF/s':>6} {'ratio':>6}"
    print(head)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, flops) in rows:
            if a.only and a.only not in name:
                continue
            path = os.path.join(tmp, name + ".onnx")
            onnx.save(model, path)
            cmd = [a.nnzc, "bench", path, "--target", "cpu", "--threads", str(a.threads), "--iters", str(a.iters)]
            if a.cpu:
                cmd += ["--cpu", a.cpu]
            cmd += a.nnzc_flag
            r = run(cmd)
            line = f"{name:14} {flops / 1e6:8.1f} {r['median_ms']:8.3f} {flops / r['median_ms'] / 1e6:6.1f} {flops / r['min_ms'] / 1e6:8.1f}"
            tot["nnzc"] += r["median_ms"]
            if a.ort:
                o = run(["node", os.path.join(HERE, "ort", "ort_bench.js"), path, "--threads", str(a.threads),
                         "--iters", str(a.iters)])
                tot["ort"] += o["median_ms"]
                line += f"  {o['median_ms']:8.3f} {flops / o['median_ms'] / 1e6:6.1f} {r['median_ms'] / o['median_ms']:6.2f}"
            print(line, flush=True)
    print(f"total median ms: nnzc {tot['nnzc']:.3f}" + (f", ort {tot['ort']:.3f}" if a.ort else ""))


if __name__ == "__main__":
    sys.exit(main())
