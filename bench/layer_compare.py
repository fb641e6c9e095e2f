#!/usr/bin/python3
"""Per layer, one `nnzc bench --per-layer --report` of a model against another of the same model
(typically the cost model's choice against `--kernels dense`): each weight layer's density (the
fraction of non-zeros of its constant weight, read from the ONNX file), both measured times,
the speedup, and the efficiency speedup x density (1.0: the sparse layer ran as fast as its
density alone would give); then the time per kernel, and what choosing per layer the faster of
the two runs would save (an upper bound on what a better kernel choice could gain).

    /usr/bin/python3 bench/layer_compare.py MODEL.onnx REPORT.json OTHER.json

Make the reports with, e.g.,
    nnzc bench MODEL.onnx --target cpu --threads 2 --iters 50 --per-layer --report REPORT.json
    nnzc bench MODEL.onnx --target cpu --threads 2 --iters 50 --per-layer --kernels dense --report OTHER.json
Both runs are separate processes: on a noisy machine run each pair twice before reading a layer.
"""
import json
import sys
from collections import defaultdict

import numpy as np
import onnx
from onnx import numpy_helper


def densities(path):
    """Node name -> (density, weight shape) of every Conv, Gemm and MatMul with a constant weight."""
    m = onnx.load(path)
    weights = {i.name: i for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in weights:
            w = numpy_helper.to_array(weights[n.input[1]])
            out[n.name] = (np.count_nonzero(w) / max(w.size, 1), tuple(w.shape))
    return out


def layers(path):
    with open(path) as f:
        return json.load(f)["layers"]


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    try:
        dens = densities(argv[1])
        first, other = layers(argv[2]), {l["name"]: l for l in layers(argv[3])}
    except Exception as e:  # unreadable model or report: one line, not a traceback
        sys.stderr.write(f"layer_compare: error: {e.__class__.__name__}: {e}\n")
        return 1
    missing = [l["name"] for l in first if l["name"] not in other]
    if missing:
        sys.stderr.write(f"layer_compare: error: {argv[3]} lacks layer {missing[0]} (another model?)\n")
        return 1
    print(f"{'layer':<44} {'weight':<20} {'density':>7} {'kernel':<22} {'ms':>8} {'other ms':>8} "
          f"{'speedup':>7} {'eff':>5}")
    per_kernel = defaultdict(lambda: [0.0, 0.0])
    total = saved = 0.0
    for l in first:
        a, b = l["measured_ms"], other[l["name"]]["measured_ms"]
        total += a
        saved += max(0.0, a - b)
        per_kernel[l["kernel"]][0] += a
        per_kernel[l["kernel"]][1] += b
        if l["name"] not in dens:
            continue
        d, shape = dens[l["name"]]
        speedup = b / a if a > 0 else float("nan")
        print(f"{l['name'][-44:]:<44} {'x'.join(map(str, shape)):<20} {d:7.3f} {l['kernel']:<22} {a:8.4f} "
              f"{b:8.4f} {speedup:7.2f} {speedup * d:5.2f}")
    print()
    print(f"{'kernel (first report)':<28} {'ms':>8} {'other ms':>8}")
    for k, (a, b) in sorted(per_kernel.items(), key=lambda kv: -kv[1][0]):
        print(f"{k:<28} {a:8.3f} {b:8.3f}")
    pct = 100.0 * saved / total if total > 0 else 0.0
    print(f"sum of the layers {total:.3f} ms; the faster run per layer would save {saved:.3f} ms ({pct:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
