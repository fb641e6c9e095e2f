#!/usr/bin/python3
"""Write the small models of the golden pass tests to tests/golden/models/*.onnx.

Deterministic: fixed seeds, no timestamps, so rerunning rewrites identical files. Run it with
the system Python (onnx 1.12, numpy):  /usr/bin/python3 tests/golden/gen_models.py
The expected dumps are then refreshed by running test_golden with NNZC_UPDATE_GOLDEN=1, and
must be reviewed by eye before they are committed.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models")


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def weights(rng, name, shape, lo=-0.5, hi=0.5):
    return const(name, rng.uniform(lo, hi, size=shape).astype(np.float32))


def bn_params(rng, prefix, c):
    return [
        weights(rng, prefix + ".gamma", (c,), 0.5, 1.5),
        weights(rng, prefix + ".beta", (c,), -0.5, 0.5),
        weights(rng, prefix + ".mean", (c,), -0.5, 0.5),
        weights(rng, prefix + ".var", (c,), 0.25, 2.0),
    ]


def bn_node(prefix, x, y):
    names = [prefix + s for s in (".gamma", ".beta", ".mean", ".var")]
    return helper.make_node("BatchNormalization", [x] + names, [y], name=prefix, epsilon=1e-5)


def save(name, nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    model = helper.make_model(graph, producer_name="nnzc-golden",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def conv_bn_relu():
    rng = np.random.default_rng(1)
    inits = [weights(rng, "conv.weight", (4, 3, 3, 3))] + bn_params(rng, "bn", 4)
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        bn_node("bn", "c", "b"),
        helper.make_node("Relu", ["b"], ["y"], name="relu"),
    ]
    save("conv_bn_relu", nodes, [f32("x", [1, 3, 8, 8])], [f32("y", [1, 4, 8, 8])], inits)


def residual_block():
    rng = np.random.default_rng(2)
    inits = [weights(rng, "conv1.weight", (4, 4, 3, 3)), weights(rng, "conv1.bias", (4,))]
    inits += bn_params(rng, "bn1", 4)
    inits += [weights(rng, "conv2.weight", (4, 4, 3, 3))] + bn_params(rng, "bn2", 4)
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        bn_node("bn1", "c1", "b1"),
        helper.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "conv2.weight"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        bn_node("bn2", "c2", "b2"),
        helper.make_node("Add", ["b2", "x"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["y"], name="relu2"),
    ]
    save("residual_block", nodes, [f32("x", [1, 4, 6, 6])], [f32("y", [1, 4, 6, 6])], inits)


def gemm_bias_relu():
    rng = np.random.default_rng(3)
    inits = [
        weights(rng, "fc1.weight", (6, 8)), weights(rng, "fc1.bias", (6,)),
        weights(rng, "fc2.weight", (6, 5)), weights(rng, "fc2.bias", (5,)),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight"], ["g1"], name="fc1", transB=1),
        helper.make_node("Add", ["g1", "fc1.bias"], ["a1"], name="fc1_bias"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("MatMul", ["r1", "fc2.weight"], ["m2"], name="fc2"),
        helper.make_node("Add", ["fc2.bias", "m2"], ["a2"], name="fc2_bias"),
        helper.make_node("Tanh", ["a2"], ["y"], name="tanh"),
    ]
    save("gemm_bias_relu", nodes, [f32("x", [2, 8])], [f32("y", [2, 5])], inits)


def identity_dropout():
    inits = [const("ratio", np.array(0.5, dtype=np.float32))]
    nodes = [
        helper.make_node("Identity", ["x"], ["i1"], name="id1"),
        helper.make_node("Dropout", ["i1", "ratio"], ["d1"], name="drop1"),
        helper.make_node("Cast", ["d1"], ["c1"], name="cast_same", to=TensorProto.FLOAT),
        helper.make_node("Relu", ["c1"], ["r"], name="relu"),
        helper.make_node("Dropout", ["r"], ["d2", "mask"], name="drop2"),
        helper.make_node("Identity", ["d2"], ["y"], name="id_out"),
    ]
    save("identity_dropout", nodes, [f32("x", [2, 3])],
         [f32("y", [2, 3]), helper.make_tensor_value_info("mask", TensorProto.BOOL, [2, 3])], inits)


def shape_arith():
    """Shape arithmetic of a dynamic-shape export, folded by shape-infer, and a transposed
    weight (72 floats: more than shape-infer folds by itself) folded by fold-constants."""
    rng = np.random.default_rng(5)
    inits = [const("zero", np.array(0, dtype=np.int64)), const("axes0", np.array([0], dtype=np.int64)),
             const("minus_one", np.array([-1], dtype=np.int64)), weights(rng, "fc.weight_t", (6, 12))]
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsqueeze"),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"], name="reshape"),
        helper.make_node("Transpose", ["fc.weight_t"], ["fc.weight"], name="transpose", perm=[1, 0]),
        helper.make_node("MatMul", ["flat", "fc.weight"], ["m"], name="fc"),
        helper.make_node("Relu", ["m"], ["y"], name="relu"),
    ]
    save("shape_arith", nodes, [f32("x", [2, 3, 4])], [f32("y", [2, 6])], inits)


def main():
    os.makedirs(OUT, exist_ok=True)
    conv_bn_relu()
    residual_block()
    gemm_bias_relu()
    identity_dropout()
    shape_arith()


if __name__ == "__main__":
    main()
