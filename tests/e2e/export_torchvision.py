#!/usr/bin/python3
"""Export torchvision ResNet-50 and MobileNetV2 to ONNX with PyTorch's own output as the
reference, in the layout of an ONNX backend test:

    OUTDIR/NAME/model.onnx
    OUTDIR/NAME/test_data_set_0/input_0.pb    1x3x224x224 float32
    OUTDIR/NAME/test_data_set_0/output_0.pb   1x1000 float32, computed by PyTorch

Random weights with a fixed seed (nothing is downloaded), eval mode, opset 13, batch 1.
BatchNorm statistics and affine parameters are randomised too, so that folding BatchNorm into
Conv is checked with non-trivial values (the defaults 0/1 would hide mistakes); in ResNet the
last BatchNorm of each residual branch is scaled down so that activations stay O(1).

A model whose directory already holds a complete export from the same script and versions is
kept (the stamp file records them), so the ctest fixture is cheap after the first run.

usage: /usr/bin/python3 export_torchvision.py OUTDIR [NAME ...]      NAME: resnet50, mobilenetv2
exit status 77 if torch/torchvision are missing (ctest reports the tests as skipped).
"""
import hashlib
import os
import shutil
import sys
import time

SEED = 20240601
MODELS = ("resnet50", "mobilenetv2")


def stamp_text():
    import onnx
    import torch
    import torchvision
    with open(os.path.abspath(__file__), "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()[:16]
    return "script %s torch %s torchvision %s onnx %s seed %d\n" % (
        h, torch.__version__, torchvision.__version__, onnx.__version__, SEED)


def build(name):
    import torch
    import torchvision
    torch.manual_seed(SEED)
    if name == "resnet50":
        net = torchvision.models.resnet50(weights=None)
    elif name == "mobilenetv2":
        net = torchvision.models.mobilenet_v2(weights=None)
    else:
        raise SystemExit("export_torchvision: unknown model %r (known: %s)" % (name, ", ".join(MODELS)))
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
        # Without trained weights, ResNet's residual sums grow block by block (the logits
        # reach 1e3); a small last BN scale in each residual branch keeps every stage O(1), so
        # that the tolerance means the same thing for every output element.
        for m in net.modules():
            if isinstance(m, torchvision.models.resnet.Bottleneck):
                m.bn3.weight.mul_(0.2)
    return net.eval()


def export(name, outdir):
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    final = os.path.join(outdir, name)
    stamp = stamp_text()
    try:
        with open(os.path.join(final, "stamp.txt")) as f:
            if f.read() == stamp:
                print("export_torchvision: %s is up to date in %s" % (name, final))
                return
    except OSError:
        pass

    t0 = time.time()
    net = build(name)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(SEED + 2))
    with torch.no_grad():
        y = net(x)
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "test_data_set_0"))
    torch.onnx.export(net, x, os.path.join(tmp, "model.onnx"), opset_version=13,
                      input_names=["input"], output_names=["output"], do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)
    onnx.checker.check_model(os.path.join(tmp, "model.onnx"))
    for fname, arr, tname in (("input_0.pb", x, "input"), ("output_0.pb", y, "output")):
        t = numpy_helper.from_array(arr.numpy().astype(np.float32), tname)
        with open(os.path.join(tmp, "test_data_set_0", fname), "wb") as f:
            f.write(t.SerializeToString())
    with open(os.path.join(tmp, "stamp.txt"), "w") as f:
        f.write(stamp)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    yn = y.numpy()
    print("export_torchvision: %s -> %s in %.1f s (output range [%.3g, %.3g], argmax %d)" % (
        name, final, time.time() - t0, yn.min(), yn.max(), int(yn.argmax())))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        import onnx  # noqa: F401
    except ImportError as e:
        print("export_torchvision: SKIPPED: %s (run with /usr/bin/python3)" % e)
        return 77
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name in argv[2:] or MODELS:
        export(name, outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
