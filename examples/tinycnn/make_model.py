#!/usr/bin/python3
"""Builds the example model shipped in examples/tinycnn: a small residual CNN (conv, batch norm,
relu, max pool, a residual block, global average pool, linear, softmax) with deterministic random
weights, exported from PyTorch with its reference input and output as ONNX test data.

Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx):
    /usr/bin/python3 examples/tinycnn/make_model.py examples/tinycnn
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


class TinyCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(16)
        self.pool = torch.nn.MaxPool2d(3, stride=2, padding=1)
        self.block = Block(16)
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.stem(x))))
        x = self.block(x)
        x = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return torch.softmax(self.head(x), dim=1)


def main(out_dir):
    torch.manual_seed(0)
    model = TinyCNN()
    # non-trivial batch-norm statistics so that folding them is actually exercised
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        y = model(x)
    os.makedirs(os.path.join(out_dir, "test_data_set_0"), exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    torch.onnx.export(model, x, path, input_names=["image"], output_names=["probabilities"],
                      opset_version=13, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)  # keep BatchNormalization nodes
    onnx.checker.check_model(onnx.load(path))
    for name, t in (("input_0.pb", numpy_helper.from_array(x.numpy(), "image")),
                    ("output_0.pb", numpy_helper.from_array(y.numpy(), "probabilities"))):
        with open(os.path.join(out_dir, "test_data_set_0", name), "wb") as f:
            f.write(t.SerializeToString())
    print("wrote", path, "top class", int(np.argmax(y.numpy())))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
