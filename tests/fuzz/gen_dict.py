#!/usr/bin/python3
"""Write onnx.dict, the libFuzzer dictionary for fuzz_import, from the op table and the
attribute tables: op types and attribute names as the protobuf fields they appear in, so that
mutations produce models that reach the op-specific code. Run again when ops.def grows."""
import os
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def esc(b):
    return "".join(chr(c) if 32 <= c < 127 and chr(c) not in '"\\' else "\\x%02x" % c for c in b)


def field(tag, s):
    b = s.encode()
    return esc(bytes([tag, len(b)]) + b)


def main():
    ops = re.findall(r'^OP\([A-Za-z_]+, *"([A-Za-z.]+)"',
                     open(os.path.join(ROOT, "include/nnzc/ops.def")).read(), re.M)
    attrs = sorted(set(re.findall(r'"([A-Za-z_]+)"', open(os.path.join(ROOT, "compiler/attrs.c")).read())))
    out = ["# libFuzzer dictionary for fuzz_import, written by gen_dict.py from include/nnzc/ops.def",
           "# and compiler/attrs.c. NodeProto.op_type is field 4 (0x22), AttributeProto.name field 1",
           "# (0x0a); plus a few ops nnzc does not implement and the external-data keys."]
    for o in ops + ["Constant", "Det", "Loop", "If", "Einsum"]:
        out.append('op_%s="%s"' % (re.sub(r"\W", "_", o), field(0x22, o)))
    for a in attrs:
        out.append('attr_%s="%s"' % (a, field(0x0A, a)))
    for k in ["location", "offset", "length", "..", "/etc/passwd"]:
        out.append('ext_%s="%s"' % (re.sub(r"\W", "_", k), esc(k.encode())))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx.dict"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
