"""Writes the model and test data of the freeze tests (tests/conformance.cmake): an input `k`
whose value decides Reshape's target shape, and a data input `x` whose first dim is symbolic and
which also reaches a shape, but only through Shape (so it must stay an input). The two test sets
give k different values, so `nnzc run --target cpu` has to specialise the model twice.
Run with /usr/bin/python3 (onnx 1.12) from this folder."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
k = helper.make_tensor_value_info("k", TensorProto.INT64, [1])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])
z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, None])
minus1 = numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus1")
one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
nodes = [
    helper.make_node("Concat", ["k", "minus1"], ["target"], axis=0, name="target"),
    helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
    helper.make_node("Shape", ["x"], ["xshape"], name="xshape"),
    helper.make_node("Expand", ["one", "xshape"], ["ones"], name="ones"),
    helper.make_node("Add", ["x", "ones"], ["z"], name="z"),
]
graph = helper.make_graph(nodes, "freeze", [x, k], [y, z], initializer=[minus1, one])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, "model.onnx")

rng = np.random.default_rng(7)
for i, kv in enumerate([3, 4]):
    d = f"test_data_set_{i}"
    os.makedirs(d, exist_ok=True)
    xv = rng.standard_normal((2, 6)).astype(np.float32)
    kk = np.array([kv], dtype=np.int64)
    for j, (name, v) in enumerate([("x", xv), ("k", kk)]):
        with open(f"{d}/input_{j}.pb", "wb") as f:
            f.write(numpy_helper.from_array(v, name).SerializeToString())
    for j, (name, v) in enumerate([("y", xv.reshape(kv, -1)), ("z", xv + 1)]):
        with open(f"{d}/output_{j}.pb", "wb") as f:
            f.write(numpy_helper.from_array(v, name).SerializeToString())
