#!/usr/bin/python3
"""Exports small models shaped like the ones deployment engineers bring, with *dynamic* input dims
(PaddleOCR-style text detector and recogniser, a transformer-style MLP), plus reference outputs
from PyTorch at one concrete input shape, in the ONNX backend-test layout.

    /usr/bin/python3 tests/models/export_dynamic.py OUT_DIR

writes OUT_DIR/{ocr_det,ocr_rec,mlp}/model.onnx, test_data_set_0/{input_0,output_0}.pb and
input_shape.txt (the --input-shape argument that fixes the dynamic dims to the data's shape).
Weights are random with a fixed seed; only the graph structure matters here.
"""
import os
import sys

import torch
import torch.nn.functional as F
from onnx import numpy_helper


class OcrDet(torch.nn.Module):
    """DB-style detector: a strided backbone, an FPN that upsamples (nearest and bilinear Resize
    whose sizes are computed from Shape at run time), concatenation and a sigmoid probability map."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.b1 = torch.nn.BatchNorm2d(8)
        self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.c3 = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.l3 = torch.nn.Conv2d(32, 16, 1)
        self.l2 = torch.nn.Conv2d(16, 16, 1)
        self.head = torch.nn.Conv2d(32, 1, 3, padding=1)

    def forward(self, x):
        f1 = F.hardswish(self.b1(self.c1(x)))
        f2 = F.relu(self.c2(f1))
        f3 = F.relu(self.c3(f2))
        p3 = self.l3(f3)
        p2 = self.l2(f2) + F.interpolate(p3, size=f2.shape[2:], mode="nearest")
        up3 = F.interpolate(p3, size=f2.shape[2:], mode="bilinear", align_corners=False)
        y = self.head(torch.cat([p2, up3], dim=1))
        return torch.sigmoid(F.interpolate(y, scale_factor=4.0, mode="nearest"))


class OcrRec(torch.nn.Module):
    """CRNN-style recogniser without the RNN: convolutions collapse the height, the width becomes
    the sequence axis (reshape from computed shapes, transpose), then per-step classification."""

    def __init__(self, classes=37):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.pool = torch.nn.MaxPool2d((2, 1), (2, 1))
        self.fc = torch.nn.Linear(32 * 4, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.c1(x)))
        x = self.pool(F.leaky_relu(self.c2(x), 0.1))
        x = F.avg_pool2d(x, (2, 1))
        n, c, h, w = x.shape
        seq = x.reshape(n, c * h, w).permute(0, 2, 1)
        return F.log_softmax(self.fc(seq), dim=-1)


class Mlp(torch.nn.Module):
    """Transformer-style feed-forward block: LayerNorm, Linear, erf GELU, Linear, residual."""

    def __init__(self, d=32):
        super().__init__()
        self.norm = torch.nn.LayerNorm(d)
        self.fc1 = torch.nn.Linear(d, 4 * d)
        self.fc2 = torch.nn.Linear(4 * d, d)

    def forward(self, x):
        h = self.fc2(F.gelu(self.fc1(self.norm(x))))
        return torch.softmax(x + h, dim=-1)


CASES = [
    # name, module, example input, dynamic axes of the input, opset
    ("ocr_det", OcrDet, (1, 3, 64, 96), {0: "batch", 2: "height", 3: "width"}, 11),
    ("ocr_rec", OcrRec, (2, 3, 32, 80), {0: "batch", 3: "width"}, 13),
    ("mlp", Mlp, (3, 7, 32), {0: "batch", 1: "tokens"}, 17),
]


def export(out_dir, name, cls, shape, dyn, opset):
    torch.manual_seed(0)
    model = cls().eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.rand(*shape)
    with torch.no_grad():
        y = model(x)
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": dyn, "y": {0: "batch"}}, opset_version=opset)
    for fname, t in (("input_0.pb", numpy_helper.from_array(x.numpy(), "x")),
                     ("output_0.pb", numpy_helper.from_array(y.numpy(), "y"))):
        with open(os.path.join(d, "test_data_set_0", fname), "wb") as f:
            f.write(t.SerializeToString())
    with open(os.path.join(d, "input_shape.txt"), "w") as f:
        f.write("x=" + ",".join(str(s) for s in shape) + "\n")


def main(out_dir):
    for case in CASES:
        export(out_dir, *case)
        print("exported", case[0])


if __name__ == "__main__":
    main(sys.argv[1])
