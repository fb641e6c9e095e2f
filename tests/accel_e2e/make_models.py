"""Small models that exercise the lowering's corners, with PyTorch's outputs as the reference,
in the ONNX backend-test layout (OUTDIR/NAME/model.onnx, test_data_set_0/{input,output}_0.pb):
grouped and depthwise convolutions, batch 2, dilation, 1-D and 3-D convolutions, strided
average pooling without count_include_pad, a batched MatMul with a constant weight, LeakyRelu
and Clip fused or not.
   /usr/bin/python3 make_models.py OUTDIR"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

torch.manual_seed(7)


class Grouped(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=4)
        self.dw = torch.nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16)
        self.b = torch.nn.Conv2d(16, 12, 1)
        self.pool = torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True)

    def forward(self, x):
        y = torch.nn.functional.leaky_relu(self.a(x), 0.1)
        y = torch.clamp(self.dw(y), -0.5, 0.5)
        return self.pool(self.b(y) + 0.25)


class Conv1d3d(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv1d(6, 10, 5, stride=2, padding=1)
        self.c3 = torch.nn.Conv3d(2, 4, (2, 3, 3), padding=(0, 1, 1))

    def forward(self, x, v):
        # the reductions last: they have no lowering and run on the host, with what follows them
        a = torch.relu(self.c1(x))
        b = self.c3(v)
        p = torch.nn.functional.max_pool3d(b, 2)
        return a.sum() + b.mean(), p


class Mm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(40, 24))
        self.fc = torch.nn.Linear(24, 7)

    def forward(self, x):
        return torch.relu(self.fc(torch.matmul(x, self.w)))


def save(out, name, model, inputs):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    model.eval()
    with torch.no_grad():
        outs = model(*inputs)
    if not isinstance(outs, tuple):
        outs = (outs,)
    torch.onnx.export(model, tuple(inputs), os.path.join(d, "model.onnx"), opset_version=13,
                      input_names=["in%d" % i for i in range(len(inputs))],
                      output_names=["out%d" % i for i in range(len(outs))])
    for i, t in enumerate(inputs):
        p = numpy_helper.from_array(t.numpy(), "in%d" % i)
        open(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), "wb").write(p.SerializeToString())
    for i, t in enumerate(outs):
        p = numpy_helper.from_array(np.asarray(t.numpy(), dtype=np.float32), "out%d" % i)
        open(os.path.join(d, "test_data_set_0", "output_%d.pb" % i), "wb").write(p.SerializeToString())


out = sys.argv[1]
save(out, "grouped", Grouped(), [torch.randn(2, 8, 13, 11)])
save(out, "conv1d3d", Conv1d3d(), [torch.randn(2, 6, 31), torch.randn(1, 2, 5, 8, 9)])
save(out, "matmul", Mm(), [torch.randn(3, 5, 40)])
