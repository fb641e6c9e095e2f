#!/usr/bin/python3
"""Exports a BERT-like transformer encoder block with static shapes, for the cpu target's
MatMul/Gemm paths (dense and sparse weights), in the ONNX backend-test layout.

    /usr/bin/python3 tests/models/export_encoder.py OUT_DIR [--seq N] [--hidden D] [--batch B]

writes OUT_DIR/encoder/model.onnx and test_data_set_0/{input_0,output_0}.pb (PyTorch's outputs).
The block: multi-head self-attention (Q, K, V and output projections: MatMul with a constant 2-D
weight on a 3-D activation, plus Add), scaled dot-product scores (MatMul of two activations),
Softmax, residual and LayerNorm, then the feed-forward half (Linear, erf GELU, Linear),
residual and LayerNorm, and a pooled classifier (Gemm at batch size rows). Weights are random
with a fixed seed. To get a pruned model, run it through nnzc itself:

    nnzc compile OUT_DIR/encoder/model.onnx --prune unstructured:0.9 --emit onnx -o pruned.onnx

(the test data's outputs then no longer apply; compare --target cpu with --target ref instead).
"""
import argparse
import math
import os

import torch
import torch.nn.functional as F
from onnx import numpy_helper


class Encoder(torch.nn.Module):
    def __init__(self, d, heads, classes=10):
        super().__init__()
        self.heads = heads
        self.q = torch.nn.Linear(d, d)
        self.k = torch.nn.Linear(d, d)
        self.v = torch.nn.Linear(d, d)
        self.o = torch.nn.Linear(d, d)
        self.n1 = torch.nn.LayerNorm(d)
        self.f1 = torch.nn.Linear(d, 4 * d)
        self.f2 = torch.nn.Linear(4 * d, d)
        self.n2 = torch.nn.LayerNorm(d)
        self.cls = torch.nn.Linear(d, classes)

    def forward(self, x):
        b, s, d = x.shape
        h, dh = self.heads, d // self.heads

        def split(t):
            return t.reshape(b, s, h, dh).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dh), dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = self.n1(x + self.o(ctx))
        x = self.n2(x + self.f2(F.gelu(self.f1(x))))
        return self.cls(x[:, 0, :])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = Encoder(a.hidden, a.heads).eval()
    x = torch.randn(a.batch, a.seq, a.hidden)
    with torch.no_grad():
        y = model(x)
    d = os.path.join(a.out, "encoder")
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"), input_names=["x"], output_names=["y"], opset_version=17)
    for fname, t in (("input_0.pb", numpy_helper.from_array(x.numpy(), "x")),
                     ("output_0.pb", numpy_helper.from_array(y.numpy(), "y"))):
        with open(os.path.join(d, "test_data_set_0", fname), "wb") as f:
            f.write(t.SerializeToString())
    print("exported", d)


if __name__ == "__main__":
    main()
