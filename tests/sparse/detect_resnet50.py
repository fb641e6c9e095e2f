#!/usr/bin/python3
"""detect-sparsity on ResNet-50 models pruned by PyTorch (issue 4's acceptance test).

Two torchvision ResNet-50s (random weights, fixed seed, randomised BatchNorm: nothing is
downloaded) are pruned with torch.nn.utils.prune and exported to ONNX:

  nm24    every Conv2d and Linear weight pruned to 2:4 the way PyTorch ASP does it: along the
          input channels at a fixed tap (W permuted to [O, kh, kw, I], the top 2 magnitudes of
          every 4 consecutive input channels kept; for 1x1 convs and Linear this is simply
          along the rows). This is the order of nnzc's matrix view (docs/sparsity.md). A layer
          whose input channels are not a multiple of 4 is left dense (ResNet-50's first conv,
          3 channels), as nnzc's own prune would. Mask applied with prune.custom_from_mask.
  unstr90 every Conv2d and Linear weight pruned to 90% by prune.l1_unstructured.

Then, for each model,
  nnzc dump MODEL --passes DEFAULT,detect-sparsity --format json
must report every Conv/Gemm weight (after BatchNorm folding and fusion, which keep the zeros)
as nm(2,4), respectively csr, with the density PyTorch left (the layers left dense: dense);
and
  nnzc run MODEL --test-data DIR --passes DEFAULT,detect-sparsity
must match PyTorch's output, computed by the reference interpreter from the packed weights.

usage: /usr/bin/python3 detect_resnet50.py NNZC WORKDIR
exit status 77 if torch/torchvision/onnx are missing (ctest reports the test as skipped).
"""
import json
import os
import subprocess
import sys
import time

SEED = 20240611
PIPELINE = "shape-infer,elim-identity,fold-constants,fold-bn,fuse,dce,detect-sparsity"


def build():
    import torch
    import torchvision
    torch.manual_seed(SEED)
    net = torchvision.models.resnet50(weights=None)
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
        for m in net.modules():  # keep activations O(1) without training (as tests/e2e)
            if isinstance(m, torchvision.models.resnet.Bottleneck):
                m.bn3.weight.mul_(0.2)
    return net.eval()


def asp_prunable(w):
    return w.shape[1] % 4 == 0


def mask_2_4(w):
    """ASP's 2:4 mask: 1 at the top-2 magnitudes of every 4 consecutive input channels at each
    (kh, kw) — W[O, I, kh, kw] permuted to [O, kh, kw, I], groups along I."""
    import torch
    perm = w.permute(0, 2, 3, 1) if w.dim() == 4 else w  # [O, kh, kw, I] or [O, I]
    groups = perm.abs().reshape(-1, 4)
    keep = torch.zeros_like(groups)
    keep.scatter_(1, groups.topk(2, dim=1).indices, 1.0)
    keep = keep.reshape(perm.shape)
    return keep.permute(0, 3, 1, 2).contiguous() if w.dim() == 4 else keep


def prune(net, kind):
    import torch
    from torch.nn.utils import prune as P
    layers = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    dense = 0
    for m in layers:
        if kind == "nm24":
            if not asp_prunable(m.weight):
                dense += 1
                continue  # left dense: no group of 4 input channels
            P.custom_from_mask(m, "weight", mask_2_4(m.weight.detach()))
        else:
            P.l1_unstructured(m, "weight", amount=0.9)
        P.remove(m, "weight")
    return len(layers), dense


def export(kind, outdir):
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
    net = build()
    nlayers, ndense = prune(net, kind)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(SEED + 2))
    with torch.no_grad():
        y = net(x)
    d = os.path.join(outdir, kind)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(net, x, path, opset_version=13, input_names=["input"], output_names=["output"],
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    onnx.checker.check_model(path)
    for fname, arr, tname in (("input_0.pb", x, "input"), ("output_0.pb", y, "output")):
        t = numpy_helper.from_array(arr.numpy().astype(np.float32), tname)
        with open(os.path.join(d, "test_data_set_0", fname), "wb") as f:
            f.write(t.SerializeToString())
    return d, nlayers, ndense


def check(nnzc, kind, d, nlayers, ndense):
    model = os.path.join(d, "model.onnx")
    r = subprocess.run([nnzc, "dump", model, "--passes", PIPELINE, "--format", "json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr)
        raise SystemExit("detect_resnet50: %s: nnzc dump failed (%d)" % (kind, r.returncode))
    g = json.loads(r.stdout)
    consts = {c["name"]: c for c in g["constants"]}
    weights = [n["inputs"][1] for n in g["nodes"]
               if n["op"] in ("Conv", "nnzc.FusedConv", "Gemm", "nnzc.FusedGemm", "MatMul")]
    want = "nm(2,4)" if kind == "nm24" else "csr"
    bad = []
    found_dense = 0
    for w in weights:
        c = consts[w]
        if kind == "nm24" and not (len(c["shape"]) != 4 or c["shape"][1] % 4 == 0):
            # left dense by the pruning (input channels not a multiple of 4): found dense
            ok = c["encoding"] == "dense" and c["density"] > 0.99
            found_dense += 1
        elif kind == "nm24":
            ok = c["encoding"] == want and abs(c["density"] - 0.5) < 0.01
        else:
            ok = c["encoding"] == want and abs(c["density"] - 0.1) < 0.01
        if not ok:
            bad.append("%s: %s, density %.4f" % (w, c["encoding"], c["density"]))
    if found_dense != ndense:
        bad.append("expected %d layers left dense, found %d" % (ndense, found_dense))
    remarks = [l for l in r.stderr.splitlines() if l.startswith("remark: detect-sparsity:")]
    print("detect_resnet50: %s: %d weights (%d layers, %d left dense), %d remarks, e.g. %s" % (
        kind, len(weights), nlayers, ndense, len(remarks), remarks[0] if remarks else "none"))
    if len(weights) != nlayers:
        bad.append("expected %d weights, found %d" % (nlayers, len(weights)))
    if len(remarks) != len(weights):
        bad.append("expected one remark per weight, found %d" % len(remarks))
    if bad:
        raise SystemExit("detect_resnet50: %s: not %s:\n  %s" % (kind, want, "\n  ".join(bad)))
    t0 = time.time()
    r = subprocess.run([nnzc, "run", model, "--test-data", d, "--passes", PIPELINE, "--rtol", "1e-3"],
                       capture_output=True, text=True)
    last = (r.stdout.strip().splitlines() or ["?"])[-1]
    print("detect_resnet50: %s: interpreter on the packed weights: %s (%.1f s)" % (kind, last, time.time() - t0))
    if r.returncode != 0 or last != "PASS":
        print(r.stdout, r.stderr)
        raise SystemExit("detect_resnet50: %s: nnzc run failed" % kind)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import torch
        import torchvision  # noqa: F401
        import onnx  # noqa: F401
    except ImportError as e:
        print("detect_resnet50: SKIPPED: %s (run with /usr/bin/python3)" % e)
        return 77
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    nnzc, work = argv[1], argv[2]
    os.makedirs(work, exist_ok=True)
    for kind in ("nm24", "unstr90"):
        d, nlayers, ndense = export(kind, work)
        check(nnzc, kind, d, nlayers, ndense)
    print("detect_resnet50: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
