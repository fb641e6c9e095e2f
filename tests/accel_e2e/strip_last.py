"""Write MODEL without its last node (tinycnn without its Softmax): a model the accelerator runs
entirely, for the tests that compile a .nnza (a program cannot hold host nodes).
   strip_last.py IN.onnx OUT.onnx"""
import sys

import onnx

m = onnx.load(sys.argv[1])
g = m.graph
last = g.node[-1]
del g.node[-1]
out = g.output[0]
out.name = last.input[0]
onnx.save(m, sys.argv[2])
