#!/usr/bin/python3
"""Models for tests/unit/test_onnx_import.c, written into OUTDIR (the test's build folder).

Run by the test itself: /usr/bin/python3 gen_onnx_cases.py OUTDIR. Every model is small and
built field by field (no onnx.checker: many are invalid on purpose). File names are what the
C test refers to.
"""
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def save(name, graph, opset=13, ir=8, extra_opsets=()):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)] + list(extra_opsets))
    m.ir_version = ir
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def vi(name, dtype=TensorProto.FLOAT, shape=(2, 3)):
    return helper.make_tensor_value_info(name, dtype, shape)


def tensor(name, dtype, dims, **fields):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    for k, v in fields.items():
        if k == "raw_data":
            t.raw_data = v
        else:
            getattr(t, k).extend(v)
    return t


def identity_graph(inits, name="g", nodes=None):
    nodes = nodes or [helper.make_node("Identity", ["x"], ["y"], name="id")]
    return helper.make_graph(nodes, name, [vi("x")], [vi("y")], initializer=inits)


# ---------------------------------------------------------------- typed fields and raw data
f16 = np.array([1.5, -2.0, 65504.0], dtype=np.float16).view(np.uint16).astype(np.int32)
bf16 = [0x3FC0, 0xC000, 0x4049]  # 1.5, -2.0, 3.140625
typed = [
    tensor("t_f32", TensorProto.FLOAT, [3], float_data=[1.5, -2.0, 3.25]),
    tensor("t_f16", TensorProto.FLOAT16, [3], int32_data=[int(v) for v in f16]),
    tensor("t_bf16", TensorProto.BFLOAT16, [3], int32_data=bf16),
    tensor("t_f64", TensorProto.DOUBLE, [3], double_data=[0.5, -1e3, 2.0]),
    tensor("t_i64", TensorProto.INT64, [3], int64_data=[-(2 ** 40), 0, 7]),
    tensor("t_i32", TensorProto.INT32, [3], int32_data=[-(2 ** 31), 5, 2 ** 31 - 1]),
    tensor("t_i16", TensorProto.INT16, [3], int32_data=[-32768, 1, 32767]),
    tensor("t_i8", TensorProto.INT8, [3], int32_data=[-128, 0, 127]),
    tensor("t_u8", TensorProto.UINT8, [3], int32_data=[0, 200, 255]),
    tensor("t_u16", TensorProto.UINT16, [3], int32_data=[0, 40000, 65535]),
    tensor("t_bool", TensorProto.BOOL, [3], int32_data=[1, 0, 1]),
    tensor("t_u32", TensorProto.UINT32, [3], uint64_data=[0, 3000000000, 4294967295]),
    tensor("t_u64", TensorProto.UINT64, [2], uint64_data=[1, 2 ** 62]),
    tensor("t_scalar", TensorProto.FLOAT, [], float_data=[42.0]),
    tensor("t_empty", TensorProto.FLOAT, [0, 3]),
    tensor("r_f32", TensorProto.FLOAT, [2, 2], raw_data=struct.pack("<4f", 1, 2, 3, 4)),
    tensor("r_f16", TensorProto.FLOAT16, [2], raw_data=np.array([0.5, -4], dtype=np.float16).tobytes()),
    tensor("r_i8", TensorProto.INT8, [2], raw_data=bytes([0xFF, 0x7F])),
    tensor("r_u64", TensorProto.UINT64, [1], raw_data=struct.pack("<Q", 5)),
    tensor("r_bool", TensorProto.BOOL, [2], raw_data=bytes([0, 3])),
]
save("typed.onnx", identity_graph(typed))

# ---------------------------------------------------------------- bad tensors
save("short_data.onnx", identity_graph([tensor("W", TensorProto.FLOAT, [2, 3], raw_data=b"\0" * 20)]))
save("short_typed.onnx", identity_graph([tensor("W", TensorProto.FLOAT, [2, 3], float_data=[1, 2, 3, 4, 5])]))
save("long_data.onnx", identity_graph([tensor("W", TensorProto.FLOAT, [2], raw_data=b"\0" * 12)]))
save("negative_dims.onnx", identity_graph([tensor("W", TensorProto.FLOAT, [2, -3], raw_data=b"")]))
save("overflow_dims.onnx", identity_graph([tensor("W", TensorProto.FLOAT, [2 ** 31, 2 ** 31, 2 ** 31], raw_data=b"")]))
save("overflow_bytes.onnx", identity_graph([tensor("W", TensorProto.FLOAT, [2 ** 31, 2 ** 31], raw_data=b"")]))
save("huge_claim.onnx", identity_graph([tensor("W", TensorProto.FLOAT, [2 ** 31, 2 ** 20], raw_data=b"\0" * 8)]))
save("rank9.onnx", identity_graph([tensor("W", TensorProto.FLOAT, [1] * 9, float_data=[1])]))
save("string_init.onnx", identity_graph([tensor("S", TensorProto.STRING, [1], string_data=[b"hi"])]))
save("complex_init.onnx", identity_graph([tensor("C", TensorProto.COMPLEX64, [1], float_data=[1, 2])]))
save("wrong_field.onnx", identity_graph([tensor("W", TensorProto.INT64, [2], float_data=[1, 2])]))

# ---------------------------------------------------------------- external data
ext = os.path.join(OUT, "ext")
os.makedirs(os.path.join(ext, "sub"), exist_ok=True)
with open(os.path.join(ext, "sub", "weights.bin"), "wb") as f:
    f.write(b"\xAA" * 8 + struct.pack("<6f", 1, 2, 3, 4, 5, 6))
with open(os.path.join(OUT, "secret.bin"), "wb") as f:
    f.write(struct.pack("<6f", 9, 9, 9, 9, 9, 9))
link = os.path.join(ext, "escape_link.bin")
if os.path.lexists(link):
    os.remove(link)
os.symlink(os.path.join(OUT, "secret.bin"), link)
inner_link = os.path.join(ext, "inner_link.bin")
if os.path.lexists(inner_link):
    os.remove(inner_link)
os.symlink("sub/weights.bin", inner_link)


def ext_tensor(location, offset=None, length=None, dims=(2, 3)):
    t = tensor("W", TensorProto.FLOAT, list(dims))
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key = k
            e.value = str(v)
    return t


save("ext/ok.onnx", identity_graph([ext_tensor("sub/weights.bin", 8, 24)]))
save("ext/ok_nolength.onnx", identity_graph([ext_tensor("sub/weights.bin", 8)]))
save("ext/ok_inner_link.onnx", identity_graph([ext_tensor("inner_link.bin", 8, 24)]))
save("ext/absolute.onnx", identity_graph([ext_tensor(os.path.join(OUT, "secret.bin"), 0, 24)]))
save("ext/dotdot.onnx", identity_graph([ext_tensor("../secret.bin", 0, 24)]))
save("ext/dotdot_inner.onnx", identity_graph([ext_tensor("sub/../../secret.bin", 0, 24)]))
save("ext/symlink.onnx", identity_graph([ext_tensor("escape_link.bin", 0, 24)]))
save("ext/past_end.onnx", identity_graph([ext_tensor("sub/weights.bin", 8, 64)]))
save("ext/wrong_length.onnx", identity_graph([ext_tensor("sub/weights.bin", 0, 32)]))
save("ext/bad_offset.onnx", identity_graph([ext_tensor("sub/weights.bin", "-8", 24)]))
save("ext/missing.onnx", identity_graph([ext_tensor("sub/nothere.bin", 0, 24)]))

# ---------------------------------------------------------------- graph structure errors
relu = lambda i, o, n: helper.make_node("Relu", [i], [o], name=n)
save("dangling.onnx", helper.make_graph([relu("nowhere", "y", "r0")], "g", [vi("x")], [vi("y")]))
save("dup_def.onnx", helper.make_graph([relu("x", "y", "r0"), relu("x", "y", "r1")], "g", [vi("x")], [vi("y")]))
save("dup_init_node.onnx", helper.make_graph([relu("x", "W", "r0"), relu("W", "y", "r1")], "g", [vi("x")], [vi("y")],
                                             initializer=[tensor("W", TensorProto.FLOAT, [1], float_data=[1])]))
save("cyclic.onnx", helper.make_graph([relu("b", "a", "ra"), relu("a", "b", "rb"), relu("x", "y", "r0")], "g",
                                      [vi("x")], [vi("y")]))
save("unsorted.onnx", helper.make_graph([relu("t", "y", "second"), relu("x", "t", "first")], "g", [vi("x")], [vi("y")]))
save("bad_output.onnx", helper.make_graph([relu("x", "y", "r0")], "g", [vi("x")], [vi("nothing")]))
save("unsupported.onnx", helper.make_graph([
    helper.make_node("NonMaxSuppression", ["x", "x"], ["n"], name="nms0"),
    helper.make_node("TopK", ["x", "k"], ["t1", "i1"], name="topk1"),
    helper.make_node("Relu", ["x"], ["y"], name="fine"),
    helper.make_node("TopK", ["x", "k"], ["t2", "i2"], name="topk2"),
    helper.make_node("FusedMatMul", ["x", "x"], ["f"], name="fm", domain="com.microsoft"),
    helper.make_node("TopK", ["x", "k"], ["t3", "i3"]),
], "g", [vi("x")], [vi("y")]), extra_opsets=[helper.make_opsetid("com.microsoft", 1)])
save("opset6.onnx", identity_graph([]), opset=6)
save("opset22.onnx", identity_graph([]), opset=22)
save("unnamed.onnx", helper.make_graph([helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Relu", ["t"], ["y"])],
                                       "g", [vi("x")], [vi("y")]))
save("init_in_inputs.onnx", helper.make_graph([helper.make_node("Add", ["x", "B"], ["y"], name="add")], "g",
                                              [vi("x"), vi("B")], [vi("y")],
                                              initializer=[tensor("B", TensorProto.FLOAT, [2, 3], float_data=[1] * 6)]),
     ir=3)

# ---------------------------------------------------------------- attributes
save("unknown_attr.onnx", helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r0", bogus=3)], "g",
                                            [vi("x")], [vi("y")]))
save("attr_type.onnx", helper.make_graph([helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", alpha=2)], "g",
                                         [vi("x")], [vi("y")]))
save("attr_enum.onnx", helper.make_graph([helper.make_node("Pad", ["x", "p"], ["y"], name="pad", mode="mirror")], "g",
                                         [vi("x")], [vi("y")],
                                         initializer=[tensor("p", TensorProto.INT64, [4], int64_data=[0] * 4)]))
save("attr_missing.onnx", helper.make_graph([helper.make_node("Concat", ["x", "x"], ["y"], name="cat")], "g",
                                            [vi("x")], [vi("y")]))
save("cast_string.onnx", helper.make_graph([helper.make_node("Cast", ["x"], ["y"], name="c", to=TensorProto.STRING)],
                                           "g", [vi("x")], [vi("y")]))
save("attrs_ok.onnx", helper.make_graph([
    helper.make_node("Conv", ["x", "w"], ["c"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1], auto_pad="NOTSET",
                     group=1),
    helper.make_node("Cast", ["c"], ["k"], name="cast", to=TensorProto.FLOAT16),
    helper.make_node("ConstantOfShape", ["s"], ["cs"], name="cos",
                     value=helper.make_tensor("v", TensorProto.INT32, [1], [7])),
    helper.make_node("Resize", ["k", "", "sc"], ["y"], name="rs", mode="linear",
                     coordinate_transformation_mode="align_corners"),
], "g", [vi("x", shape=(1, 1, 4, 4))], [vi("y", TensorProto.FLOAT16, (1, 1, 4, 4))],
    initializer=[tensor("w", TensorProto.FLOAT, [1, 1, 3, 3], float_data=[1] * 9),
                 tensor("s", TensorProto.INT64, [1], int64_data=[3]),
                 tensor("sc", TensorProto.FLOAT, [4], float_data=[1, 1, 2, 2])]), opset=13)
too_many = helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=list(range(17)))
save("too_many_ints.onnx", helper.make_graph([too_many], "g", [vi("x")], [vi("y")]))

# ---------------------------------------------------------------- Constant nodes
save("constants.onnx", helper.make_graph([
    helper.make_node("Constant", [], ["c_t"], name="k0", value=helper.make_tensor("v", TensorProto.INT32, [2], [4, 5])),
    helper.make_node("Constant", [], ["c_f"], name="k1", value_float=2.5),
    helper.make_node("Constant", [], ["c_fs"], name="k2", value_floats=[1.0, 2.0]),
    helper.make_node("Constant", [], ["c_i"], name="k3", value_int=-3),
    helper.make_node("Constant", [], ["c_is"], name="k4", value_ints=[7, 8, 9]),
    helper.make_node("Add", ["x", "c_f"], ["y"], name="add"),
], "g", [vi("x")], [vi("y")]))
sparse = helper.make_sparse_tensor(helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
                                   helper.make_tensor("i", TensorProto.INT64, [1], [0]), [3])
save("constant_sparse.onnx", helper.make_graph([
    helper.make_node("Constant", [], ["c"], name="ks", sparse_value=sparse),
    helper.make_node("Add", ["x", "c"], ["y"], name="add")], "g", [vi("x")], [vi("y")]))

# ---------------------------------------------------------------- opset canonicalisation
x4 = vi("x", shape=(1, 2, 3, 4))
save("clip6.onnx", helper.make_graph([helper.make_node("Clip", ["x"], ["y"], name="clip", min=-1.0, max=6.0)], "g",
                                     [vi("x")], [vi("y")]), opset=7)
save("clip6_max.onnx", helper.make_graph([helper.make_node("Clip", ["x"], ["y"], name="clip", max=6.0)], "g",
                                         [vi("x")], [vi("y")]), opset=7)
save("pad2.onnx", helper.make_graph([helper.make_node("Pad", ["x"], ["y"], name="pad", pads=[0, 1, 0, 2], value=1.5,
                                                      mode="constant")], "g", [vi("x")], [vi("y")]), opset=10)
save("slice9.onnx", helper.make_graph([helper.make_node("Slice", ["x"], ["y"], name="sl", starts=[0, 1], ends=[1, 3],
                                                        axes=[0, 1])], "g", [vi("x")], [vi("y")]), opset=9)
save("unsqueeze11.onnx", helper.make_graph([helper.make_node("Unsqueeze", ["x"], ["y"], name="us", axes=[0, 3])], "g",
                                           [vi("x")], [vi("y")]), opset=11)
save("unsqueeze11_noaxes.onnx", helper.make_graph([helper.make_node("Unsqueeze", ["x"], ["y"], name="us")], "g",
                                                  [vi("x")], [vi("y")]), opset=11)
save("squeeze11_noaxes.onnx", helper.make_graph([helper.make_node("Squeeze", ["x"], ["y"], name="sq")], "g",
                                                [vi("x")], [vi("y")]), opset=11)
save("split11.onnx", helper.make_graph([helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=1, split=[1, 2])],
                                       "g", [vi("x")], [vi("a"), vi("b")]), opset=11)
save("reducemean13.onnx", helper.make_graph([helper.make_node("ReduceMean", ["x"], ["y"], name="rm", axes=[1],
                                                              keepdims=0)], "g", [vi("x")], [vi("y")]), opset=13)
save("reducesum13_input.onnx", helper.make_graph([helper.make_node("ReduceSum", ["x", "ax"], ["y"], name="rs")], "g",
                                                 [vi("x")], [vi("y")],
                                                 initializer=[tensor("ax", TensorProto.INT64, [1], int64_data=[1])]),
     opset=13)
save("reducesum13_attr.onnx", helper.make_graph([helper.make_node("ReduceSum", ["x"], ["y"], name="rs", axes=[1])],
                                                "g", [vi("x")], [vi("y")]), opset=13)
save("reducemean18_input.onnx", helper.make_graph([helper.make_node("ReduceMean", ["x", "ax"], ["y"], name="rm")], "g",
                                                  [vi("x")], [vi("y")],
                                                  initializer=[tensor("ax", TensorProto.INT64, [1], int64_data=[0])]),
     opset=18)
save("softmax11_rank4.onnx", helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="sm")], "g", [x4],
                                               [vi("y", shape=(1, 2, 3, 4))]), opset=11)
save("softmax11_rank2.onnx", helper.make_graph([helper.make_node("LogSoftmax", ["x"], ["y"], name="lsm")], "g",
                                               [vi("x")], [vi("y")]), opset=11)
save("softmax11_last.onnx", helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=3)], "g", [x4],
                                              [vi("y", shape=(1, 2, 3, 4))]), opset=11)
save("dropout7.onnx", helper.make_graph([helper.make_node("Dropout", ["x"], ["y"], name="dr", ratio=0.3)], "g",
                                        [vi("x")], [vi("y")]), opset=7)
save("dropout13_ratio.onnx", helper.make_graph([helper.make_node("Dropout", ["x"], ["y"], name="dr", ratio=0.3)], "g",
                                               [vi("x")], [vi("y")]), opset=13)
save("upsample7.onnx", helper.make_graph([helper.make_node("Upsample", ["x"], ["y"], name="up", scales=[1.0, 1.0, 2.0, 2.0],
                                                           mode="nearest")], "g", [x4], [vi("y", shape=(1, 2, 6, 8))]),
     opset=7)
save("upsample9.onnx", helper.make_graph([helper.make_node("Upsample", ["x", "sc"], ["y"], name="up", mode="linear")],
                                         "g", [x4], [vi("y", shape=(1, 2, 6, 8))],
                                         initializer=[tensor("sc", TensorProto.FLOAT, [4], float_data=[1, 1, 2, 2])]),
     opset=9)
save("resize10.onnx", helper.make_graph([helper.make_node("Resize", ["x", "sc"], ["y"], name="rz")], "g", [x4],
                                        [vi("y", shape=(1, 2, 6, 8))],
                                        initializer=[tensor("sc", TensorProto.FLOAT, [4], float_data=[1, 1, 2, 2])]),
     opset=10)
save("resize18_axes.onnx", helper.make_graph([helper.make_node("Resize", ["x", "", "sc"], ["y"], name="rz", axes=[2, 3])],
                                             "g", [x4], [vi("y", shape=(1, 2, 6, 8))],
                                             initializer=[tensor("sc", TensorProto.FLOAT, [2], float_data=[2, 2])]),
     opset=18)
save("bn7_spatial0.onnx", helper.make_graph([helper.make_node("BatchNormalization", ["x", "s", "s", "s", "s"], ["y"],
                                                              name="bn", spatial=0)], "g", [x4], [x4],
                                            initializer=[tensor("s", TensorProto.FLOAT, [2], float_data=[1, 1])]),
     opset=7)
save("maxpool_indices.onnx", helper.make_graph([helper.make_node("MaxPool", ["x"], ["y", "idx"], name="mp",
                                                                 kernel_shape=[2, 2])], "g", [x4], [x4]), opset=12)
save("split18.onnx", helper.make_graph([helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=1, num_outputs=2)],
                                       "g", [vi("x")], [vi("a"), vi("b")]), opset=18)

# ---------------------------------------------------------------- input shapes
dyn = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4])
save("dynamic.onnx", helper.make_graph([relu("x", "y", "r0")], "g", [dyn], [vi("y")]))
noshape = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
save("noshape.onnx", helper.make_graph([relu("x", "y", "r0")], "g", [noshape], [vi("y")]))

# ---------------------------------------------------------------- Resize-11 tf_half_pixel_for_nn
def resize11(name, **attrs):
    return helper.make_graph([helper.make_node("Resize", ["x", "roi", "sc"], ["y"], name="rz",
                                               coordinate_transformation_mode="tf_half_pixel_for_nn", **attrs)],
                             "g", [x4], [vi("y", shape=(1, 2, 6, 8))],
                             initializer=[tensor("roi", TensorProto.FLOAT, [0]),
                                          tensor("sc", TensorProto.FLOAT, [4], float_data=[1, 1, 2, 2])])


save("resize11_tfnn.onnx", resize11("rz"), opset=11)
save("resize11_tfnn_floor.onnx", resize11("rz", nearest_mode="floor"), opset=11)
save("resize11_tfnn_linear.onnx", resize11("rz", mode="linear"), opset=11)
