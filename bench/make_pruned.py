#!/usr/bin/python3
"""Pruned ResNet-50 / MobileNetV2 models for the sparsity sweep (bench/sparse_sweep.py).

    /usr/bin/python3 bench/make_pruned.py OUTDIR [--nnzc PATH] [--models resnet50,mobilenetv2]
                                          [--points dense,unstructured:0.9,nm:2:4,tasd:2:4+1:4,...]

The networks are tests/e2e/export_torchvision.py's (torchvision, random weights from its fixed
seed, randomised BatchNorm, eval mode; its build() is imported, not copied), exported like it does
(opset 13, input 1x3x224x224, BatchNorm folded into the convs by the exporter). Per model and
point, OUTDIR/MODEL/POINT/ holds

    model.onnx
    test_data_set_0/input_0.pb    the export script's input (its seed)
    test_data_set_0/output_0.pb   the reference interpreter's output on model.onnx (`nnzc run
                                  --target ref`): the oracle the sweep checks the cpu target against
    info.json                     what was done, weight densities per layer, the MAC-weighted ideal

Points (POINT directory name in brackets):

  dense                 no pruning [dense]
  unstructured:S        global magnitude pruning (torch.nn.utils.prune.global_unstructured, L1)
                        to sparsity S over the weights of every Conv2d but the first and the
                        depthwise ones; the first conv, MobileNetV2's depthwise convs (1.6% of
                        its weights) and the classifier (Linear) stay dense [unstructured-S]
  layerwise:S           magnitude pruning to sparsity S within each layer (l1_unstructured), same
                        layers as unstructured:S: every pruned layer ends at exactly density 1-S
                        [layerwise-S]
  nm:N:M                N:M along the input channels at each (kh, kw) tap, as NVIDIA ASP and
                        nnzc's nm encoding (docs/sparsity.md): W[O, I, kh, kw] permuted to
                        [O, kh, kw, I], the N largest |w| of every M consecutive input channels
                        kept. Every Conv2d but the first; a conv whose input channels per group
                        are not a multiple of M stays dense (ResNet-50's and MobileNetV2's first
                        convs, MobileNetV2's depthwise convs); the Linear stays dense [nm-N-M]
  tasd:SERIES           made by nnzc from the dense export: `nnzc compile DENSE --tasd
                        'SERIES;keep=first,last' --emit onnx` (the effective weights are written;
                        the first conv and the classifier, the first and last weight layers, are
                        kept as they are) [tasd-SERIES with ':' as '-']

Random weights: global magnitude ranking across layers is decided by the init scale (kaiming
normal with fan_out: a conv with more outputs has smaller weights), not by what a trained network
would consider important, so layers end up with very different densities. That is acceptable for
latency, which depends on the zeros and not on their meaning; info.json records every layer's
density and this script fails if any pruned layer ends up 100% zero. It is also why the depthwise
convs are left out of the global ranking: PyTorch's fan_out of a depthwise weight [C, 1, 3, 3] is
9C, so kaiming init gives them the smallest weights of the network and global pruning at 80%
zeroes several of them entirely (dead channels), which no trained network would do. For the same
reason a layer keeps at least 1% of its weights (--floor): global_unstructured first, then a
layer left below the floor gets its largest weights back up to it (without the floor, MobileNetV2
at 95% loses its whole last 1x1 conv); info.json's recipe says which layers were raised.

A point whose info.json records the same recipe, script, tool versions and nnzc binary is kept.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

MODELS = ("resnet50", "mobilenetv2")
DEFAULT_POINTS = ("dense", "unstructured:0.5", "unstructured:0.7", "unstructured:0.8", "unstructured:0.9",
                  "unstructured:0.95", "nm:2:4", "nm:1:4", "tasd:2:4+1:4")


class MakeError(Exception):
    pass


def log(msg):
    print("make_pruned: " + msg, flush=True)


def parse_point(spec):
    """'unstructured:0.9' -> ('unstructured', 0.9); 'nm:2:4' -> ('nm', (2, 4)); 'tasd:2:4+1:4' ->
    ('tasd', '2:4+1:4'); 'dense' -> ('dense', None)."""
    kind, _, arg = spec.partition(":")
    try:
        if kind == "dense" and not arg:
            return kind, None
        if kind in ("unstructured", "layerwise"):
            s = float(arg)
            if not 0 < s < 1:
                raise ValueError
            return kind, s
        if kind == "nm":
            n, m = (int(x) for x in arg.split(":"))
            if not 1 <= n < m <= 256:
                raise ValueError
            return kind, (n, m)
        if kind == "tasd" and arg and all(c in "0123456789:+" for c in arg):
            return kind, arg
    except ValueError:
        pass
    raise MakeError("bad point %r (expected dense, unstructured:S or layerwise:S with 0<S<1, nm:N:M, "
                    "tasd:N:M[+N:M...])"
                    % spec)


def point_dir(spec):
    kind, arg = parse_point(spec)
    if kind in ("unstructured", "layerwise"):
        return "%s-%g" % (kind, arg)
    return spec.replace(":", "-")


def convs(net):
    import torch
    return [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]


def nm_mask(w, n, m):
    """1 at the n largest |w| of every m consecutive input channels at each tap (ties: the lower
    channel, as nnzc's sparse_project), W[O, I, kh, kw]."""
    import torch
    perm = w.permute(0, 2, 3, 1).contiguous()          # [O, kh, kw, I]
    groups = perm.abs().reshape(-1, m)
    # topk is not guaranteed stable on ties: sort by (-|w|, index) explicitly.
    order = torch.sort(-groups, dim=1, stable=True).indices
    keep = torch.zeros_like(groups)
    keep.scatter_(1, order[:, :n], 1.0)
    return keep.reshape(perm.shape).permute(0, 3, 1, 2).contiguous()


def prune(net, net_orig, kind, arg, floor):
    """Prunes net in place (net_orig: an unpruned copy); returns a list of (module name, how)."""
    import torch
    from torch.nn.utils import prune as P
    names = {m: n for n, m in net.named_modules()}
    layers = convs(net)[1:]  # every conv but the first
    what = [(names[m], "dense: depthwise") for m in layers if m.groups > 1 and m.groups == m.in_channels]
    if kind == "unstructured":
        # Depthwise convs stay dense: see the top comment.
        layers = [m for m in layers if not (m.groups > 1 and m.groups == m.in_channels)]
        P.global_unstructured([(m, "weight") for m in layers], pruning_method=P.L1Unstructured, amount=arg)
        for m in layers:
            P.remove(m, "weight")
            # The floor (see the top comment): a layer the global threshold left below it gets
            # its largest weights back, up to the floor.
            keep = int(round(floor * m.weight.numel()))
            left = int((m.weight != 0).sum())
            if left >= keep:
                what.append((names[m], "global unstructured %g" % arg))
                continue
            orig = dict(net_orig.named_modules())[names[m]].weight.detach()
            flat = orig.abs().flatten()
            top = torch.sort(-flat, stable=True).indices[:keep]
            mask = torch.zeros_like(flat)
            mask[top] = 1.0
            with torch.no_grad():
                m.weight.copy_(orig * mask.reshape(orig.shape))
            what.append((names[m], "global unstructured %g left density %.5f, raised to the floor %g"
                         % (arg, left / m.weight.numel(), floor)))
    elif kind == "layerwise":
        # Every pruned layer at the same sparsity, by magnitude within the layer: the literal
        # reading of "S of the weights of every conv", free of the random init's scale.
        layers = [m for m in layers if not (m.groups > 1 and m.groups == m.in_channels)]
        for m in layers:
            P.l1_unstructured(m, "weight", amount=arg)
            P.remove(m, "weight")
            what.append((names[m], "layerwise unstructured %g" % arg))
    elif kind == "nm":
        what = []
        n, mm = arg
        for m in layers:
            cg = m.in_channels // m.groups
            if cg % mm:
                what.append((names[m], "dense: %d input channels per group" % cg))
                continue
            with torch.no_grad():
                m.weight.mul_(nm_mask(m.weight.detach(), n, mm))
            what.append((names[m], "nm %d:%d" % (n, mm)))
    return what


def write_tensor(path, arr, name):
    from onnx import numpy_helper
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def read_tensor(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def run(argv, what):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    if p.returncode != 0:
        lines = [ln for ln in (p.stderr + p.stdout).splitlines() if ln.strip()]
        raise MakeError("%s failed (status %d): %s" % (what, p.returncode, lines[-1] if lines else "no output"))
    return p.stdout


def analyse(path):
    """Per Conv/Gemm layer: name, op, weight shape, output shape, non-zeros; and the totals the
    sweep reports. 'pruned scope' = every Conv but the first (in node order), the layers the
    recipes prune; the MAC-weighted ideal counts every Conv and Gemm of the network."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    model = onnx.shape_inference.infer_shapes(onnx.load(path))
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    shapes = {}
    for vi in list(g.value_info) + list(g.output) + list(g.input):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    consumers = {}
    for node in g.node:
        for t in node.input:
            consumers.setdefault(t, []).append(node)

    def aliases(node, depth):
        # ONNX Runtime names a node it fused after the last fused node's output (a Conv + Relu is
        # 'relu_output_0_nchwc'), so the per-layer join needs the names of the activations and the
        # residual Add that follow a layer: its node and output names and theirs, two levels deep.
        names = [node.name] + list(node.output)
        if depth < 2:
            for c in consumers.get(node.output[0], []):
                if c.op_type in ("Relu", "Clip", "Add", "Sum", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish"):
                    names += aliases(c, depth + 1)
        return names

    layers = []
    for node in g.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2 or node.input[1] not in inits:
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        out = shapes.get(node.output[0])
        if not out or any(d <= 0 for d in out):
            raise MakeError("%s: no static output shape for %s" % (path, node.name))
        if node.op_type == "Conv":
            positions = int(np.prod(out)) // out[1]       # N * OH * OW: each weight is used once per position
        else:
            positions = int(np.prod(out)) // out[-1]      # rows of the product
        layers.append({"node": node.name, "op": node.op_type, "weight_shape": list(w.shape), "output_shape": out,
                       "weights": int(w.size), "nnz": int(np.count_nonzero(w)),
                       "macs": int(w.size) * positions, "nnz_macs": int(np.count_nonzero(w)) * positions,
                       "aliases": aliases(node, 0)})
    scope = [l for l in layers if l["op"] == "Conv"][1:]
    for l in layers:
        l["density"] = round(l["nnz"] / l["weights"], 6)
        l["pruned_scope"] = l in scope
    w = sum(l["weights"] for l in scope)
    nz = sum(l["nnz"] for l in scope)
    macs = sum(l["macs"] for l in layers)
    nz_macs = sum(l["nnz_macs"] for l in layers)
    dens = [l["density"] for l in scope]
    return {
        "density": round(nz / w, 6),                     # of the pruned scope's weights
        "density_all_layers": round(sum(l["nnz"] for l in layers) / sum(l["weights"] for l in layers), 6),
        "layer_density_min": min(dens), "layer_density_max": max(dens),
        "macs": macs, "nnz_macs": nz_macs,
        "ideal_macs": round(macs / nz_macs, 4),          # every zero skipped, everything else free
        "layers": layers,
    }


def versions():
    import onnx
    import torch
    import torchvision
    return "torch %s torchvision %s onnx %s" % (torch.__version__, torchvision.__version__, onnx.__version__)


def file_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def stamp(spec, nnzc):
    import export_torchvision as et
    return {"point": spec, "seed": et.SEED, "script": file_hash(os.path.abspath(__file__)),
            "export_script": file_hash(et.__file__), "versions": versions(),
            # The interpreter computes the expected output (and nnzc writes the TASD model).
            "nnzc": os.path.abspath(nnzc), "nnzc_mtime": int(os.path.getmtime(nnzc))}


def up_to_date(d, st):
    try:
        with open(os.path.join(d, "info.json")) as f:
            return json.load(f).get("stamp") == st and os.path.isfile(os.path.join(d, "model.onnx"))
    except (OSError, ValueError):
        return False


def make_point(name, spec, outdir, nnzc, dense_dir, floor):
    """Makes OUTDIR/NAME/POINT; returns its info dict. dense_dir: the dense point's directory,
    made first (the TASD points are derived from it)."""
    import numpy as np
    import torch
    import export_torchvision as et
    kind, arg = parse_point(spec)
    final = os.path.join(outdir, name, point_dir(spec))
    st = stamp(spec, nnzc)
    st["floor"] = floor
    if up_to_date(final, st):
        with open(os.path.join(final, "info.json")) as f:
            info = json.load(f)
        log("%s %s: up to date (density %.3f)" % (name, spec, info["density"]))
        return info
    t0 = time.time()
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "test_data_set_0"))
    model = os.path.join(tmp, "model.onnx")
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(et.SEED + 2))
    inp = os.path.join(tmp, "test_data_set_0", "input_0.pb")
    write_tensor(inp, x.numpy().astype(np.float32), "input")
    recipe, torch_out = [], None
    if kind == "tasd":
        series = "%s;keep=first,last" % arg
        run([nnzc, "compile", os.path.join(dense_dir, "model.onnx"), "--tasd", series, "--emit", "onnx",
             "-o", model], "nnzc compile --tasd %s" % series)
        recipe = [("*", "nnzc --tasd '%s' on the dense export" % series)]
    else:
        net = et.build(name)
        recipe = prune(net, et.build(name), kind, arg, floor) if kind != "dense" else []
        with torch.no_grad():
            torch_out = net(x).numpy()
        torch.onnx.export(net, x, model, opset_version=13, input_names=["input"], output_names=["output"],
                          do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    import onnx
    onnx.checker.check_model(model)
    info = analyse(model)
    empty = [l["node"] for l in info["layers"] if l["pruned_scope"] and l["nnz"] == 0]
    if empty:
        raise MakeError("%s %s: layers pruned to 100%% zeros: %s" % (name, spec, ", ".join(empty)))
    # The oracle: the reference interpreter on this very model.
    run([nnzc, "run", model, "--target", "ref", "-i", "input=" + inp, "-o", os.path.join(tmp, "test_data_set_0")],
        "nnzc run --target ref on %s %s" % (name, spec))
    ref = read_tensor(os.path.join(tmp, "test_data_set_0", "output_0.pb"))
    if torch_out is not None:
        # The export and the interpreter agree (a sanity check of the model, not of the kernels).
        err = float(np.max(np.abs(ref - torch_out)))
        scale = float(np.max(np.abs(torch_out)))
        info["torch_vs_ref_max_abs"] = err
        if not err <= 1e-3 * max(scale, 1e-3):
            raise MakeError("%s %s: the interpreter's output differs from PyTorch's by %.3g (output scale %.3g)"
                            % (name, spec, err, scale))
    info.update({"model": name, "point": spec, "recipe": [{"layer": a, "how": b} for a, b in recipe],
                 "output_absmax": float(np.max(np.abs(ref))), "stamp": st})
    with open(os.path.join(tmp, "info.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    log("%s %s -> %s in %.1f s: density %.3f of the pruned scope (layers %.3f..%.3f), ideal by MACs %.2fx"
        % (name, spec, os.path.relpath(final, ROOT) if final.startswith(ROOT) else final, time.time() - t0,
           info["density"], info["layer_density_min"], info["layer_density_max"], info["ideal_macs"]))
    return info


def main(argv):
    ap = argparse.ArgumentParser(prog="make_pruned.py", description=__doc__.split("\n\n")[0],
                                 epilog="Points: " + ",".join(DEFAULT_POINTS) + " by default.")
    ap.add_argument("outdir")
    ap.add_argument("--nnzc", default=os.path.join(ROOT, "build", "bin", "nnzc"))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--points", default=",".join(DEFAULT_POINTS))
    ap.add_argument("--floor", type=float, default=0.01,
                    help="unstructured: the least density a layer keeps (default 0.01)")
    a = ap.parse_args(argv[1:])
    try:
        import torch
        import torchvision  # noqa: F401
        import onnx  # noqa: F401
    except ImportError as e:
        print("make_pruned: SKIPPED: %s (run with /usr/bin/python3)" % e)
        return 77
    models = [m for m in a.models.split(",") if m]
    points = [p for p in a.points.split(",") if p]
    try:
        for m in models:
            if m not in MODELS:
                raise MakeError("unknown model %r (known: %s)" % (m, ", ".join(MODELS)))
        for p in points:
            parse_point(p)
        if not os.access(a.nnzc, os.X_OK):
            raise MakeError("%s: no such executable (--nnzc)" % a.nnzc)
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        for m in models:
            dense_dir = os.path.join(a.outdir, m, "dense")
            todo = points
            if any(p.startswith("tasd:") for p in points):
                # TASD points are derived from the dense export, which is made first.
                todo = ["dense"] + [p for p in points if p != "dense"]
            for p in todo:
                make_point(m, p, a.outdir, a.nnzc, dense_dir, a.floor)
    except MakeError as e:
        print("make_pruned: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
