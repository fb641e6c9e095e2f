#!/usr/bin/python3
"""The accelerator study: ResNet-50 and a BERT-like encoder block on every preset of the modeled
accelerator, dense, pruned and TASD-decomposed; cycles, energy and EDP from the simulator, next to
the papers' claims. Regenerates the section of docs/accelerator.md between
<!-- study:begin --> and <!-- study:end --> with --write-docs.

    /usr/bin/python3 bench/accel_study.py [--nnzc build/bin/nnzc] [--models resnet50,encoder]
                                          [--presets dense,stc,vegeta,demm,gs] [--out FILE.json]
                                          [--write-docs]

Models (made here, random weights from fixed seeds; nothing is downloaded):
  resnet50  torchvision ResNet-50 as tests/e2e/export_torchvision.py exports it (1x3x224x224)
  encoder   the linear layers of a BERT-base-sized encoder block at sequence length 128: the
            query and output projections (768x768, bias) with the residual Add, then the
            feed-forward half (768x3072, Relu, 3072x768, bias) with its residual Add. MatMul on a
            [1,128,768] activation with constant 2-D weights. The attention scores and Softmax
            are left out: the engine has no Softmax, and its time would be the host's.
Variants (nnzc's own passes on the dense model; the first conv of ResNet-50 is kept dense):
  dense     no pruning
  nm:2:4    --prune nm:2:4          (stc and vegeta run it natively)
  nm:1:4    --prune nm:1:4          (vegeta)
  tasd      --tasd 2:4+1:4          (two terms: one mma each on stc/vegeta)
  unstr:0.9 --prune unstructured:0.9 (demm re-encodes it to its relaxed N:128 mode)
  gs        --prune gs:16:16:0.75    (the gs preset's pattern)
A preset that cannot run a variant's pattern gets it re-encoded by the lowering into a mode it
has (the dropped magnitude is reported by nnzc on stderr), or runs it as dense.

Every number is one simulated inference (the simulator is deterministic): `nnzc bench --target
accel --accel-config P --iters 1`, whose last line carries cycles, energy_uj and edp. Speedup and
EDP are against the dense model on the dense preset (the papers compare a sparse engine running a
sparse model with a dense engine running the dense one).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PRESETS = ("dense", "stc", "vegeta", "demm", "gs")
VARIANTS = (
    ("dense", []),
    ("nm:2:4", ["--prune", "nm:2:4;keep=first"]),
    ("nm:1:4", ["--prune", "nm:1:4;keep=first"]),
    ("tasd 2:4+1:4", ["--tasd", "2:4+1:4;keep=first"]),
    ("unstructured 0.9", ["--prune", "unstructured:0.9;keep=first"]),
    ("gs 16:16 0.75", ["--prune", "gs:16:16:0.75;keep=first"]),
)
CLAIMS = [
    ("TASD (Jeong et al., MLSys 2025)", "EDP -74% on average, up to -83%, on structured-sparse accelerators, no fine-tuning",
     "tasd 2:4+1:4 on stc / vegeta"),
    ("VEGETA (HPCA 2023)", "1.09x / 2.20x / 3.74x at 4:4 / 2:4 / 1:4 over a dense CPU matrix engine",
     "nm:2:4, nm:1:4 on vegeta"),
    ("NVIDIA 2:4 sparse tensor cores", "2x math throughput; ~1.3-1.4x end to end", "nm:2:4 on stc"),
    ("GS patterns (Sun et al. 2021)", "2-3x lower runtime at equal accuracy vs conventional structured patterns",
     "gs 16:16 0.75 on gs"),
    ("DeMM (Peltekis et al., IEEE CAL 2024)", "lower latency than VEGETA-class engines on relaxed N:128 sparsity",
     "unstructured 0.9 on demm vs vegeta"),
]


class StudyError(Exception):
    pass


def log(msg):
    print("accel_study: " + msg, file=sys.stderr, flush=True)


def run(argv, what, timeout=1800):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=timeout)
    if p.returncode != 0:
        lines = [ln for ln in (p.stderr + p.stdout).splitlines() if ln.strip()]
        raise StudyError("%s failed (status %d): %s" % (what, p.returncode, lines[-1] if lines else "no output"))
    return p.stdout, p.stderr


def make_encoder(path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(2024)
    d, ff, seq = 768, 3072, 128

    def weight(name, k, n):
        return numpy_helper.from_array((rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32), name)

    def bias(name, n):
        return numpy_helper.from_array((0.02 * rng.standard_normal(n)).astype(np.float32), name)

    inits = [weight("wq", d, d), bias("bq", d), weight("wo", d, d), bias("bo", d),
             weight("w1", d, ff), bias("b1", ff), weight("w2", ff, d), bias("b2", d)]
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q0"], name="attn_q"),
        helper.make_node("Add", ["q0", "bq"], ["q"], name="attn_q_bias"),
        helper.make_node("MatMul", ["q", "wo"], ["o0"], name="attn_out"),
        helper.make_node("Add", ["o0", "bo"], ["o"], name="attn_out_bias"),
        helper.make_node("Add", ["o", "x"], ["h"], name="attn_residual"),
        helper.make_node("MatMul", ["h", "w1"], ["f0"], name="ffn_up"),
        helper.make_node("Add", ["f0", "b1"], ["f1"], name="ffn_up_bias"),
        helper.make_node("Relu", ["f1"], ["f2"], name="ffn_act"),
        helper.make_node("MatMul", ["f2", "w2"], ["g0"], name="ffn_down"),
        helper.make_node("Add", ["g0", "b2"], ["g"], name="ffn_down_bias"),
        helper.make_node("Add", ["g", "h"], ["y"], name="ffn_residual"),
    ]
    graph = helper.make_graph(nodes, "encoder_block_linear",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, d])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, d])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def models(names, workdir):
    out = []
    for name in names:
        if name == "resnet50":
            d = os.path.join(workdir, "torchvision")
            run(["/usr/bin/python3", os.path.join(ROOT, "tests", "e2e", "export_torchvision.py"), d, "resnet50"],
                "exporting resnet50")
            out.append(("resnet50", os.path.join(d, "resnet50", "model.onnx")))
        elif name == "encoder":
            p = os.path.join(workdir, "encoder", "model.onnx")
            if not os.path.exists(p):
                make_encoder(p)
            out.append(("encoder", p))
        else:
            raise StudyError("unknown model %r (resnet50, encoder)" % name)
    return out


def simulate(nnzc, model, preset, flags):
    out, err = run([nnzc, "bench", model, "--target", "accel", "--accel-config", preset, "--iters", "1"] + flags,
                   "nnzc bench %s on %s %s" % (os.path.basename(model), preset, " ".join(flags)))
    obj = json.loads(out.strip().splitlines()[-1])
    host = [ln for ln in err.splitlines() if "run on the host" in ln]
    return {"cycles": obj["cycles"], "energy_uj": obj["energy_uj"], "edp": obj["edp"],
            "utilisation": obj.get("utilisation"), "host": bool(host)}


def table(results, presets):
    lines = []
    for model in sorted({r["model"] for r in results}, key=lambda m: [r["model"] for r in results].index(m)):
        base = next(r for r in results if r["model"] == model and r["variant"] == "dense" and r["preset"] == "dense")
        lines.append("**%s** (baseline: the dense model on the `dense` preset, %d cycles, %.1f uJ)\n"
                     % (model, base["cycles"], base["energy_uj"]))
        lines.append("| variant | " + " | ".join("%s speedup / EDP" % p for p in presets) + " |")
        lines.append("|---|" + "---|" * len(presets))
        for variant, _ in VARIANTS:
            cells = []
            for p in presets:
                r = next((r for r in results if r["model"] == model and r["variant"] == variant and r["preset"] == p),
                         None)
                if r is None:
                    cells.append("-")
                    continue
                cells.append("%.2fx / %+.0f%%%s" % (base["cycles"] / r["cycles"], 100.0 * (r["edp"] / base["edp"] - 1.0),
                                                    " (host)" if r["host"] else ""))
            lines.append("| %s | %s |" % (variant, " | ".join(cells)))
        lines.append("")
    return "\n".join(lines)


def docs_section(results, presets, command, when):
    claims = ["| claim | paper | where to look here |", "|---|---|---|"]
    claims += ["| %s | %s | %s |" % (c[1], c[0], c[2]) for c in CLAIMS]
    return "\n".join([
        "<!-- study:begin -->",
        "",
        "Regenerated by `%s` on %s; do not edit by hand between the markers." % (command, when),
        "",
        "Each cell: speedup in cycles and EDP change, both against the dense model on the `dense`",
        "preset; one simulated batch-1 inference each (the simulator is deterministic). How the",
        "models and variants are made: the first comment of `bench/accel_study.py`.",
        "",
        table(results, presets),
        "The papers' claims, for comparison:",
        "",
        "\n".join(claims),
        "",
        "<!-- study:end -->",
    ])


def write_docs(path, section):
    text = open(path).read() if os.path.exists(path) else ""
    b, e = "<!-- study:begin -->", "<!-- study:end -->"
    if b in text and e in text:
        text = text[:text.index(b)] + section + text[text.index(e) + len(e):]
    else:
        text = text.rstrip("\n") + "\n\n## Study: presets, models and variants\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nnzc", default=os.path.join(ROOT, "build", "bin", "nnzc"))
    ap.add_argument("--models", default="resnet50,encoder")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench", "accel-study"))
    ap.add_argument("--out", default=None, help="JSON of every run (default WORKDIR/study.json)")
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs", "accelerator.md"))
    a = ap.parse_args(argv)
    presets = [p for p in a.presets.split(",") if p]
    try:
        results = []
        for label, path in models([m for m in a.models.split(",") if m], a.workdir):
            for variant, flags in VARIANTS:
                for p in presets:
                    r = simulate(a.nnzc, path, p, flags)
                    r.update(model=label, variant=variant, preset=p)
                    log("%-9s %-17s %-7s %12d cycles %10.1f uJ" % (label, variant, p, r["cycles"], r["energy_uj"]))
                    results.append(r)
    except (StudyError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        log(str(e))
        return 1
    if "dense" not in presets:
        log("the dense preset is the baseline: include it in --presets")
        return 2
    out = a.out or os.path.join(a.workdir, "study.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(table(results, presets))
    if a.write_docs:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cmd = "bench/accel_study.py --write-docs" + ("" if a.models == "resnet50,encoder" else " --models " + a.models)
        write_docs(a.docs, docs_section(results, presets, cmd, when))
        log("rewrote the study section of %s" % os.path.relpath(a.docs, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
