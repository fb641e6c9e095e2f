#!/usr/bin/python3
"""Write the hostile-input corpus into tests/hostile/corpus/ (deterministic; the files are
committed, so run this again only to change the corpus, and commit what it writes).

Every model is valid ONNX except for the one defect its name says, so that the frontend gets
as far as that defect. Models that take an input X also get NAME.data/test_data_set_0/ with an
input_0.pb of the right shape (and an output_0.pb), so that `nnzc run` reaches the defect
too; the others use generic.data/. What nnzc must answer for each file is in ../cases.txt.

Run with /usr/bin/python3 (onnx 1.12 + numpy).
"""
import os
import random
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
OPSET = 13


def model(nodes, inputs, outputs, inits=(), opset=OPSET, name="hostile"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="nnzc-hostile")
    m.ir_version = 8
    return m


def fin(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def raw_tensor(name, dims, raw, dtype=TensorProto.FLOAT):
    """A TensorProto with exactly these dims and raw bytes, however inconsistent."""
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def external_tensor(name, dims, location, length):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(length))):
        e = t.external_data.add()
        e.key = k
        e.value = v
    return t


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def save(m, fname):
    # No onnx.checker here: several models are deliberately invalid.
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(m.SerializeToString())


def save_data(stem, x):
    d = os.path.join(OUT, stem + ".data", "test_data_set_0")
    os.makedirs(d)
    with open(os.path.join(d, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "X").SerializeToString())
    # The expected output is irrelevant (every case must fail before comparing), but the
    # layout of a backend test directory has one.
    with open(os.path.join(d, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.zeros((1,), np.float32), "Y").SerializeToString())


def x_of(shape):
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float32) / 8.0).reshape(shape)


def matmul_model(w_init, w_dims_out=4):
    """Y = X[1,4] @ W: the carrier for every defect in an initializer."""
    node = helper.make_node("MatMul", ["X", w_init.name], ["Y"], name="matmul")
    return model([node], [fin("X", [1, 4])], [fin("Y", [1, w_dims_out])], [w_init])


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    rng = random.Random(20240601)
    # generic input for files that are not models at all
    save_data("generic", x_of([1, 4]))

    # --- not a model
    open(os.path.join(OUT, "empty.onnx"), "wb").close()
    with open(os.path.join(OUT, "random.onnx"), "wb") as f:
        f.write(bytes(rng.randrange(256) for _ in range(2048)))
    good = model([helper.make_node("MatMul", ["X", "W"], ["Y"], name="matmul")],
                 [fin("X", [1, 4])], [fin("Y", [1, 4])],
                 [numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4), "W")])
    blob = good.SerializeToString()
    with open(os.path.join(OUT, "truncated.onnx"), "wb") as f:
        f.write(blob[: len(blob) * 3 // 5])

    # --- initializers whose payload and dims disagree
    save(matmul_model(raw_tensor("W_short", [4, 4], b"\0" * 8)), "short_data.onnx")
    save_data("short_data", x_of([1, 4]))
    save(matmul_model(raw_tensor("W_neg", [-3, 4], b"\0" * 48)), "negative_dims.onnx")
    save_data("negative_dims", x_of([1, 4]))
    big = 1 << 31
    save(matmul_model(raw_tensor("W_huge", [4, big, big, big], b"\0" * 16)), "overflow_dims.onnx")
    save_data("overflow_dims", x_of([1, 4]))

    # --- external data that escapes the model's folder
    save(matmul_model(external_tensor("W_parent", [4, 4], "../secret.bin", 64)), "external_parent.onnx")
    save_data("external_parent", x_of([1, 4]))
    save(matmul_model(external_tensor("W_abs", [4, 4], "/etc/passwd", 64)), "external_absolute.onnx")
    save_data("external_absolute", x_of([1, 4]))
    # A symlink inside the folder that resolves outside it: only a check on the resolved path
    # catches it. Its target exists and is long enough, so a lax reader would succeed.
    os.symlink("../gen_hostile.py", os.path.join(OUT, "escape_link.bin"))
    save(matmul_model(external_tensor("W_link", [4, 4], "escape_link.bin", 64)), "external_symlink.onnx")
    save_data("external_symlink", x_of([1, 4]))

    # --- graphs that are not DAGs over defined values
    cyc = [helper.make_node("Add", ["X", "t2"], ["t1"], name="cyc_add"),
           helper.make_node("Relu", ["t1"], ["t2"], name="cyc_relu"),
           helper.make_node("Identity", ["t2"], ["Y"], name="cyc_out")]
    save(model(cyc, [fin("X", [1, 4])], [fin("Y", [1, 4])]), "cyclic.onnx")
    save_data("cyclic", x_of([1, 4]))
    dang = [helper.make_node("Add", ["X", "nowhere_value"], ["Y"], name="dangling_add")]
    save(model(dang, [fin("X", [1, 4])], [fin("Y", [1, 4])]), "dangling_input.onnx")
    save_data("dangling_input", x_of([1, 4]))

    # --- nodes whose attributes or shapes are impossible
    conv = helper.make_node("Conv", ["X", "Wc"], ["Y"], name="conv_zero_stride",
                            kernel_shape=[3, 3], strides=[0, 0])
    wc = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "Wc")
    save(model([conv], [fin("X", [1, 1, 5, 5])], [fin("Y", None)], [wc]), "conv_zero_stride.onnx")
    save_data("conv_zero_stride", x_of([1, 1, 5, 5]))
    rs = helper.make_node("Reshape", ["X", "shape"], ["Y"], name="reshape_bad")
    shp = numpy_helper.from_array(np.array([5, -1], np.int64), "shape")
    save(model([rs], [fin("X", [1, 12])], [fin("Y", None)], [shp]), "reshape_impossible.onnx")
    save_data("reshape_impossible", x_of([1, 12]))
    add = helper.make_node("Add", ["X", "B"], ["Y"], name="add_bad")
    b = numpy_helper.from_array(np.ones((4, 5), np.float32), "B")
    save(model([add], [fin("X", [2, 3])], [fin("Y", None)], [b]), "add_mismatch.onnx")
    save_data("add_mismatch", x_of([2, 3]))

    # --- two op types nnzc does not implement: the message must name both
    det = helper.make_node("Det", ["X"], ["D"], name="det")
    rois = numpy_helper.from_array(np.array([[0, 0, 0, 1, 1]], np.float32), "rois")
    mrp = helper.make_node("MaxRoiPool", ["X4", "rois"], ["P"], name="roipool", pooled_shape=[1, 1])
    x4 = helper.make_node("Reshape", ["X", "s4"], ["X4"], name="to4d")
    s4 = numpy_helper.from_array(np.array([1, 1, 3, 3], np.int64), "s4")
    save(model([det, x4, mrp], [fin("X", [1, 3, 3])], [fin("D", [1]), fin("P", [1, 1, 1, 1])], [rois, s4]),
         "unsupported_ops.onnx")
    save_data("unsupported_ops", x_of([1, 3, 3]))

    # --- a symbolic dim: compile needs --input-shape to make it static
    relu = helper.make_node("Relu", ["X"], ["Y"], name="relu")
    save(model([relu], [fin("X", ["N", 4])], [fin("Y", ["N", 4])]), "unknown_dim.onnx")

    # --- constant sizes far beyond memory: 2^40 int64 (8 TiB) and 2^50 floats (4 PiB)
    rng_inputs = [numpy_helper.from_array(np.array(v, np.int64), n)
                  for n, v in (("start", 0), ("limit", 1 << 40), ("delta", 1))]
    rnode = helper.make_node("Range", ["start", "limit", "delta"], ["R"], name="range_huge")
    relu = helper.make_node("Relu", ["X"], ["Y"], name="relu")
    save(model([relu, rnode], [fin("X", [1, 4])],
               [fin("Y", [1, 4]), helper.make_tensor_value_info("R", TensorProto.INT64, None)], rng_inputs),
         "huge_range.onnx")
    save_data("huge_range", x_of([1, 4]))
    cshape = numpy_helper.from_array(np.array([1 << 20, 1 << 20, 1 << 10], np.int64), "cshape")
    cnode = helper.make_node("ConstantOfShape", ["cshape"], ["C"], name="cos_huge",
                             value=numpy_helper.from_array(np.array([1.0], np.float32), "v"))
    save(model([relu, cnode], [fin("X", [1, 4])], [fin("Y", [1, 4]), fin("C", None)], [cshape]),
         "huge_constant_of_shape.onnx")
    save_data("huge_constant_of_shape", x_of([1, 4]))

    # --- indices, steps, permutations and sizes that only make sense within limits
    gx = numpy_helper.from_array(np.array([7], np.int64), "idx")
    gnode = helper.make_node("Gather", ["X", "idx"], ["Y"], name="gather_oob", axis=1)
    save(model([gnode], [fin("X", [1, 4])], [fin("Y", None)], [gx]), "gather_out_of_range.onnx")
    save_data("gather_out_of_range", x_of([1, 4]))
    # the same at run time: indices computed from the input (X*100 = 0, 12, 25, 37), so only the
    # interpreter's bounds check can catch it
    hundred = numpy_helper.from_array(np.array(100, np.float32), "hundred")
    table = numpy_helper.from_array(np.arange(4, dtype=np.float32), "table")
    rt = [helper.make_node("Mul", ["X", "hundred"], ["X100"], name="scale"),
          helper.make_node("Cast", ["X100"], ["I"], name="to_index", to=TensorProto.INT64),
          helper.make_node("Gather", ["table", "I"], ["Y"], name="gather_runtime_oob", axis=0)]
    save(model(rt, [fin("X", [1, 4])], [fin("Y", [1, 4])], [hundred, table]), "gather_runtime_oob.onnx")
    save_data("gather_runtime_oob", x_of([1, 4]))
    sl = [numpy_helper.from_array(np.array(v, np.int64), n)
          for n, v in (("starts", [0]), ("ends", [4]), ("axes", [1]), ("steps", [0]))]
    snode = helper.make_node("Slice", ["X", "starts", "ends", "axes", "steps"], ["Y"], name="slice_step0")
    save(model([snode], [fin("X", [1, 4])], [fin("Y", None)], sl), "slice_zero_step.onnx")
    save_data("slice_zero_step", x_of([1, 4]))
    tnode = helper.make_node("Transpose", ["X"], ["Y"], name="transpose_dup", perm=[1, 1])
    save(model([tnode], [fin("X", [1, 4])], [fin("Y", None)]), "transpose_bad_perm.onnx")
    save_data("transpose_bad_perm", x_of([1, 4]))
    eshape = numpy_helper.from_array(np.array([1 << 30, 1 << 30, 4], np.int64), "eshape")
    enode = helper.make_node("Expand", ["X", "eshape"], ["Y"], name="expand_huge")
    save(model([enode], [fin("X", [1, 4])], [fin("Y", None)], [eshape]), "expand_huge.onnx")
    save_data("expand_huge", x_of([1, 4]))
    reps = numpy_helper.from_array(np.array([1 << 62, 4], np.int64), "reps")
    tile = helper.make_node("Tile", ["X", "reps"], ["Y"], name="tile_overflow")
    save(model([tile], [fin("X", [1, 4])], [fin("Y", None)], [reps]), "tile_overflow.onnx")
    save_data("tile_overflow", x_of([1, 4]))

    # --- a valid model with bad input files: only `nnzc run` reads them
    relu_m = model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [fin("X", [1, 4])], [fin("Y", [1, 4])])
    save(relu_m, "input_truncated.onnx")
    save_data("input_truncated", x_of([1, 4]))
    p = os.path.join(OUT, "input_truncated.data", "test_data_set_0", "input_0.pb")
    blob = open(p, "rb").read()
    with open(p, "wb") as f:
        f.write(blob[:-5])
    save(relu_m, "input_wrong_shape.onnx")
    save_data("input_wrong_shape", x_of([2, 3]))

    # --- protobuf nesting far deeper than any model: a graph attribute holding a node holding a
    # graph attribute ... 3000 levels. A recursive decoder must not overflow its stack.
    inner = b""
    for _ in range(3000):
        node = b"\x22\x02If" + b"\x2a" + varint(len(b"\x0a\x01g\x32" + varint(len(inner)) + inner)) + \
            b"\x0a\x01g\x32" + varint(len(inner)) + inner
        inner = b"\x0a" + varint(len(node)) + node  # GraphProto.node
    m = onnx.ModelProto()
    m.ir_version = 8
    m.opset_import.add().version = OPSET
    blob = m.SerializeToString() + b"\x3a" + varint(len(inner)) + inner  # ModelProto.graph
    with open(os.path.join(OUT, "deep_nesting.onnx"), "wb") as f:
        f.write(blob)

    # --- regressions found by fuzzing (tests/fuzz): keep each minimal
    # A TENSOR attribute without its tensor: crashed the frontend (NULL TensorProto).
    cnode = helper.make_node("ConstantOfShape", ["cshape"], ["C"], name="cos_novalue")
    a = cnode.attribute.add()
    a.name = "value"
    a.type = onnx.AttributeProto.TENSOR
    cshape = numpy_helper.from_array(np.array([2, 2], np.int64), "cshape")
    save(model([relu, cnode], [fin("X", [1, 4])], [fin("Y", [1, 4]), fin("C", None)], [cshape]),
         "attr_tensor_missing.onnx")
    save_data("attr_tensor_missing", x_of([1, 4]))

    # An axes input declared with 2^63-1 elements: rank arithmetic overflowed in Unsqueeze
    # inference (UBSan: signed overflow in infer_unsqueeze).
    unode = helper.make_node("Unsqueeze", ["X", "A"], ["Y"], name="unsqueeze_huge_axes")
    save(model([unode], [fin("X", [3, 4, 5]), helper.make_tensor_value_info("A", TensorProto.INT64, [(1 << 63) - 1])],
               [fin("Y", None)]), "unsqueeze_huge_axes.onnx")
    save_data("unsqueeze_huge_axes", x_of([3, 4, 5]))

    # A tensor with no elements whose other dims multiply past int64 (legal ONNX; numpy refuses
    # it): stride arithmetic overflowed in the elementwise kernels (UBSan in
    # targets/ref/loop.c), both when shape-infer folds Z+Z and when run evaluates Z*X. Either a
    # clean error or an empty result is right (cases.txt status 0|1).
    zdims = [0, 1 << 40, 1 << 34]
    z = raw_tensor("Z", zdims, b"")
    enodes = [helper.make_node("Add", ["Z", "Z"], ["Y1"], name="add_empty_huge"),
              helper.make_node("Mul", ["Z", "X"], ["Y2"], name="mul_empty_huge")]
    save(model(enodes, [fin("X", [1])], [fin("Y1", zdims), fin("Y2", zdims)], [z]), "empty_huge_dims.onnx")
    d = os.path.join(OUT, "empty_huge_dims.data", "test_data_set_0")
    os.makedirs(d)
    for fname, t in (("input_0.pb", numpy_helper.from_array(np.ones((1,), np.float32), "X")),
                     ("output_0.pb", raw_tensor("Y1", zdims, b"")), ("output_1.pb", raw_tensor("Y2", zdims, b""))):
        with open(os.path.join(d, fname), "wb") as f:
            f.write(t.SerializeToString())

    n = sum(len(fs) for _, _, fs in os.walk(OUT))
    print("gen_hostile: wrote %d files into %s" % (n, OUT))


if __name__ == "__main__":
    sys.exit(main())
