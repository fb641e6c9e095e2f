#!/usr/bin/python3
"""The sparsity sweep: nnzc's sparse kernels against ONNX Runtime and nnzc's own dense kernels on
pruned ResNet-50 and MobileNetV2, whole network and per layer, in one run.

usage: bench/sweep.sh [--models resnet50,mobilenetv2] [--points P,P,...] [--rounds R] [--iters N]
                      [--threads T] [--nnzc PATH] [--workdir DIR] [--no-per-layer] [--quick]
                      [--check-cpu host,haswell,generic] [--quiet-wait S] [--write-docs]
                      [--from-json FILE]

Steps:
  1. bench/make_pruned.py (Debian's /usr/bin/python3 with torch) makes, once, every model x point
     under --workdir (default build/bench/sweep): pruned with PyTorch (unstructured global
     magnitude, N:M along the input channels) or by nnzc (a TASD series), each with a
     test_data_set_0 whose expected output is the reference interpreter's.
  2. Every model is checked once: `nnzc run --target cpu --test-data` (rtol 1e-3) for each nnzc
     variant timed below; a failure is reported (column `check`) and makes the exit status 1.
  3. Whole network: R rounds; in each round every point runs ONNX Runtime
     (bench/ort/ort_bench.js), `nnzc bench --kernels dense` ("nnzc dense") and `nnzc bench`
     (the cost model's choice, --kernels auto), N timed iterations each, the order of the three
     rotating from one run to the next; the table gives the median of the R per-run medians.
     Around each point's round, build/bin/bench_core_latency (next to nnzc) measures how far
     apart the CPUs are and how fast each runs a fixed loop while all run it (bench/core_latency.c:
     a virtual machine's host moves them apart, or slows one down, at times, unseen in /proc, and
     every 2-thread run slows). With --quiet-wait S the sweep waits, up to S seconds, for other
     processes to go quiet and for the CPUs to be together and at full speed again, and runs a
     round again (at most 3 times) when they moved apart or one slowed during it; the column
     `unfair rounds` counts the rounds that were measured so all the same.
  4. Per layer (unless --no-per-layer): one more run per side for the --layer-points (default:
     the dense model and the issue's target point), ORT with its profiler (ort_bench.js
     --per-node), nnzc with `nnzc bench --per-layer` (the "layers" array of its last line);
     layers are joined to the ONNX model's Conv/Gemm nodes (ORT's by the names it gives fused
     nodes, else by weight and output shape; nnzc's by node name).
  5. Output: the table on stdout; every run's JSON, the configuration and the machine facts in
     --out (default build/bench/sweep.json); SVG charts (speedup vs sparsity with the ideal
     1/density line) in --svg-dir (default build/bench); with --write-docs the charts go to docs/
     and the section between <!-- sweep:begin --> and <!-- sweep:end --> of docs/performance.md is
     rewritten.

`--kernels` and `--per-layer` are nnzc options of issue 5; when the binary does not have them,
the sweep says so, times nnzc's default only (no "nnzc dense" column) and skips nnzc's per-layer
times. --quick: MobileNetV2 only (unless --models), points dense, unstructured:0.9, nm:2:4,
tasd:2:4+1:4, one round of 3 iterations: a smoke test of the whole path, not a measurement.
--from-json FILE redraws the table, charts and docs from an earlier run without measuring.

Exit status: 0 when everything was measured and every check passed, 1 otherwise, 2 on usage
errors, 77 (with --skip-missing) when torch, node or ONNX Runtime is not available.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare as C  # noqa: E402  (the harness's machinery: runs, JSON lines, load, machine facts)
import sweep_plot  # noqa: E402

ROOT = C.ROOT
MAKE_PRUNED = os.path.join(HERE, "make_pruned.py")
DOC = os.path.join(ROOT, "docs", "performance.md")
BEGIN, END = "<!-- sweep:begin -->", "<!-- sweep:end -->"
MODELS = ("resnet50", "mobilenetv2")
POINTS = ("dense", "unstructured:0.5", "unstructured:0.7", "unstructured:0.8", "unstructured:0.9",
          "unstructured:0.95", "layerwise:0.8", "layerwise:0.9", "layerwise:0.95", "nm:2:4", "nm:1:4",
          "tasd:2:4+1:4")
QUICK_POINTS = ("dense", "unstructured:0.9", "nm:2:4", "tasd:2:4+1:4")
# The per-layer table of the docs shows one point per model: those of the targets.
LAYER_POINT = {"resnet50": "unstructured:0.9", "mobilenetv2": "unstructured:0.8"}
TITLES = {"resnet50": "ResNet-50", "mobilenetv2": "MobileNetV2"}
log = C.log


class Skip(Exception):
    """A prerequisite is missing (exit 77 with --skip-missing)."""


def point_kind(p):
    return p.split(":", 1)[0]


def point_label(p):
    k, _, arg = p.partition(":")
    if k == "unstructured":
        return "%g%% unstructured" % (float(arg) * 100)
    if k == "layerwise":
        return "%g%% layer-wise" % (float(arg) * 100)
    if k == "nm":
        return arg
    if k == "tasd":
        return "TASD " + arg
    return p


def point_dir(p):
    # As make_pruned.point_dir (not imported: that module needs torch at import time of its callers).
    k, _, arg = p.partition(":")
    if k in ("unstructured", "layerwise"):
        return "%s-%g" % (k, float(arg))
    return p.replace(":", "-")


# ---------------------------------------------------------------- nnzc's options

def nnzc_features(nnzc, timeout):
    status, out, err = C.run_cmd([nnzc, "bench", "--help"], timeout)
    text = out + err
    return {"kernels": "--kernels" in text, "per_layer": "--per-layer" in text}


def variants(a):
    """(column, extra nnzc flags): nnzc dense and nnzc's own choice, or the default alone."""
    if a.features["kernels"]:
        return [("nnzc_dense", ["--kernels", "dense"]), ("nnzc", ["--kernels", "auto"])]
    return [("nnzc", [])]


def nnzc_bench_argv(a, model, flags, iters, extra=()):
    return [a.nnzc, "bench", model, "--target", "cpu", "--threads", str(a.threads), "--iters", str(iters)] \
        + flags + a.nnzc_flag + list(extra)


def ort_argv(a, model, iters, extra=()):
    return ["node", os.path.join(C.ORT_DIR, "ort_bench.js"), model, "--threads", str(a.threads),
            "--iters", str(iters), "--warmup", str(a.ort_warmup)] + list(extra)


# ---------------------------------------------------------------- steps

def make_models(a):
    argv = ["/usr/bin/python3", MAKE_PRUNED, a.workdir, "--nnzc", a.nnzc, "--models", ",".join(a.models),
            "--points", ",".join(a.points)]
    status, out, err = C.run_cmd(argv, a.timeout * 4)
    for ln in out.splitlines():
        log(ln)
    if status == 77:
        raise Skip("torch/torchvision/onnx are missing for /usr/bin/python3: %s" % C.last_line(out))
    if status != 0:
        raise C.BenchError("bench/make_pruned.py failed: %s" % (C.last_line(err) or C.last_line(out)))
    infos = {}
    for m in a.models:
        for p in a.points:
            d = os.path.join(a.workdir, m, point_dir(p))
            with open(os.path.join(d, "info.json")) as f:
                info = json.load(f)
            info["dir"] = d
            infos[(m, p)] = info
    return infos


def check(a, info):
    """nnzc run --target cpu --test-data, per variant and --check-cpu; returns {variant/cpu: ok}."""
    res = {}
    model = os.path.join(info["dir"], "model.onnx")
    for col, flags in variants(a):
        for cpu in a.check_cpu:
            argv = [a.nnzc, "run", model, "--target", "cpu", "--threads", str(a.threads), "--test-data",
                    info["dir"]] + flags + a.nnzc_flag + ([] if cpu == "host" else ["--cpu", cpu])
            status, out, err = C.run_cmd(argv, a.timeout)
            ok = status == 0 and C.last_line(out) == "PASS"
            key = col if cpu == "host" else "%s@%s" % (col, cpu)
            res[key] = ok
            detail = next((ln for ln in out.splitlines() if "max abs error" in ln), C.last_line(err) or C.last_line(out))
            log("  check %-12s %-18s %-16s %s  %s" % (info["model"], info["point"], key, "ok" if ok else "FAIL", detail))
    return res


def measure(a, infos, place):
    """Whole-network rounds; returns {(model, point): {side: [run JSON, ...]}}, load samples,
    errors, and per round the CPUs' round trips and slowest loops before and after its runs
    (place, a C.Placement; C.placed_round waits for fair CPUs and reruns an unfair round)."""
    sides = ["ort"] + [c for c, _ in variants(a)]
    flags = dict(variants(a))
    runs = {k: {s: [] for s in sides} for k in infos}
    busy = {k: [] for k in infos}
    trips = {k: [] for k in infos}
    loops = {k: [] for k in infos}
    errors = {}
    for m in a.models:
        for r in range(a.rounds):
            for i, p in enumerate(a.points):
                model = os.path.join(infos[(m, p)]["dir"], "model.onnx")
                k = (r + i) % len(sides)   # rotate who goes first, run to run

                def one_round():
                    got, failed = {}, []
                    for s in sides[k:] + sides[:k]:
                        argv = ort_argv(a, model, a.iters) if s == "ort" else nnzc_bench_argv(a, model, flags[s], a.iters)
                        try:
                            status, out, err = C.run_cmd(argv, a.timeout)
                            got[s] = C.parse_bench_json("%s on %s %s" % (s, m, p), out, err, status)
                        except C.BenchError as e:
                            failed.append(str(e))
                    return got, failed

                (got, failed), probes, other = C.placed_round(place, a.quiet_wait, one_round, "%-12s %-18s round %d/%d"
                                                              % (m, p, r + 1, a.rounds))
                for s in sides:
                    if s in got:
                        runs[(m, p)][s].append(got[s])
                for e in failed:
                    # One failing run does not lose the others: the row says FAILED.
                    print("sweep: error: %s" % e, file=sys.stderr)
                    errors.setdefault((m, p), []).append(e)
                busy[(m, p)].append((other.cpus(), time.monotonic() - other.t0))
                trip, loop = C.probe_fields(probes)
                trips[(m, p)].append(trip)
                loops[(m, p)].append(loop)
                log("  %-12s %-18s round %d/%d: %s%s" % (m, p, r + 1, a.rounds, "   ".join(
                    "%s %8.3f ms" % (s, got[s]["median_ms"]) if s in got else "%s   FAILED" % s for s in sides),
                    C.probe_note(probes)))
    return runs, busy, errors, trips, loops


def parse_per_layer(text):
    """nnzc bench --per-layer: a JSON array of {node, op, kernel, ms}, on one line or several,
    before the last line; returns the list or None."""
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if not ln.lstrip().startswith("["):
            continue
        for j in range(len(lines), i, -1):
            try:
                v = json.loads("\n".join(lines[i:j]))
            except ValueError:
                continue
            if isinstance(v, list):
                return v
    return None


def layer_ms(e):
    for k in ("measured_ms", "ms", "median_ms"):
        if isinstance(e.get(k), (int, float)):
            return e[k]
    return None


def per_layer(a, info):
    """One ORT profile run and one nnzc --per-layer run per variant; returns the rows joined to
    the model's Conv/Gemm layers (info["layers"]) and notes on what did not join."""
    model = os.path.join(info["dir"], "model.onnx")
    notes, errors = [], []
    rows = [{"node": l["node"], "op": l["op"], "weight_shape": l["weight_shape"], "output_shape": l["output_shape"],
             "density": l["density"], "macs": l["macs"]} for l in info["layers"]]
    status, out, err = C.run_cmd(ort_argv(a, model, a.layer_iters, ["--per-node"]), a.timeout)
    C.parse_bench_json("ort_bench --per-node on %s %s" % (info["model"], info["point"]), out, err, status)
    nodes = next((json.loads(ln)["per_node"] for ln in out.splitlines() if ln.startswith('{"per_node"')), None)
    if nodes is None:
        raise C.BenchError("ort_bench --per-node printed no per_node line")
    # ORT renames a node it fused after the output of the last node fused into it, plus a suffix
    # for its NCHWc layout ('/layer1/layer1.0/relu/Relu_output_0_nchwc'); make_pruned.py lists
    # those names per layer (aliases). What is left is joined on the weight's and the output's
    # shapes, in order (NCHWc pads channels to its block, so that does not always work).
    pool = [n for n in nodes if n["op"] in ("Conv", "FusedConv", "Gemm", "FusedGemm", "MatMul")]
    for l, row in zip(info["layers"], rows):
        names = set(l.get("aliases", [l["node"]]))
        hit = next((n for n in pool if n["name"] in names or n["name"].rsplit("_nchwc", 1)[0] in names), None)
        if hit is not None:
            pool.remove(hit)
            row["ort_ms"], row["ort_node"] = hit["median_ms"], hit["name"]
    for row in rows:
        key = (row["weight_shape"], row["output_shape"])
        hit = None if "ort_ms" in row else next(
            (n for n in pool if len(n["inputs"]) > 1 and n["outputs"] and (n["inputs"][1], n["outputs"][0]) == key), None)
        if hit is not None:
            pool.remove(hit)
            row["ort_ms"], row["ort_node"] = hit["median_ms"], hit["name"]
    if pool:
        notes.append("%d ORT Conv/Gemm nodes joined no layer (%s...)" % (len(pool), pool[0]["name"]))
    row_other = sum(n["median_ms"] for n in nodes) - sum(r.get("ort_ms", 0) for r in rows)
    others = {"ort_ms": round(row_other, 4)}
    if a.features["per_layer"]:
        for col, flags in variants(a):
            try:
                status, out, err = C.run_cmd(nnzc_bench_argv(a, model, flags, a.layer_iters, ["--per-layer"]),
                                             a.timeout)
                last = C.parse_bench_json("nnzc bench --per-layer %s on %s %s" % (" ".join(flags), info["model"],
                                                                                   info["point"]), out, err, status)
            except C.BenchError as e:
                # Keep ORT's layers and the other variant's.
                print("sweep: error: %s" % e, file=sys.stderr)
                errors.append(str(e))
                continue
            # nnzc puts a "layers" array into its last line (name, op, kernel, choice, predicted and
            # measured_ms per node); a separate array before it is also accepted.
            layers = last.get("layers") if isinstance(last.get("layers"), list) else parse_per_layer(out)
            if layers is None:
                notes.append("nnzc bench --per-layer %s: no JSON array found in its output" % " ".join(flags))
                continue
            by_name = {}
            for e in layers:
                if isinstance(e, dict) and (e.get("name") or e.get("node")):
                    by_name.setdefault(e.get("name") or e.get("node"), e)
            joined = 0
            for row in rows:
                e = by_name.pop(row["node"], None)
                if e is None:
                    continue
                joined += 1
                row[col + "_ms"] = layer_ms(e)
                # the cpu target's subsample-1x1 reads a strided 1x1 conv through a Slice of its
                # own, named after the conv: part of the layer's time
                sub = by_name.pop(row["node"] + "/subsample", None)
                if sub is not None and row[col + "_ms"] is not None:
                    row[col + "_ms"] += layer_ms(sub) or 0
                if "kernel" in e:
                    row[col + "_kernel"] = e["kernel"]
                row[col + "_layer"] = e
            # Nodes that are no Conv/Gemm of the model (pools, adds, movement) and the boundary
            # conversions.
            others[col + "_ms"] = round(sum(layer_ms(e) or 0 for e in by_name.values())
                                        + (last.get("conversions_ms") or 0), 4)
            if joined < len(rows):
                notes.append("nnzc --per-layer %s: %d of %d layers found by name" % (" ".join(flags), joined, len(rows)))
    return {"layers": rows, "other_nodes": others, "notes": notes, "errors": errors}


# ---------------------------------------------------------------- results

def summarise(a, infos, runs, busy, trips, loops, best_trip, best_loop, checks, layers, errors):
    rows = []
    for m in a.models:
        for p in a.points:
            info = infos[(m, p)]
            r = {"model": m, "point": p, "kind": point_kind(p), "label": point_label(p),
                 "path": C.rel(os.path.join(info["dir"], "model.onnx")),
                 "density": info["density"], "layer_density_min": info["layer_density_min"],
                 "layer_density_max": info["layer_density_max"], "ideal": round(1 / info["density"], 4),
                 "ideal_macs": info["ideal_macs"], "recipe": info["recipe"], "check": checks.get((m, p), {}),
                 "errors": errors.get((m, p), [])}
            if (m, p) in runs:
                for s, lst in runs[(m, p)].items():
                    r[s + "_medians_ms"] = [x["median_ms"] for x in lst]
                    # A side with a failed run has no median: a median of the survivors would
                    # compare different rounds.
                    r[s + "_ms"] = statistics.median(r[s + "_medians_ms"]) if len(lst) == a.rounds else None
                    r[s + "_runs"] = lst
                r["other_cpus_busy"] = C.weighted(busy[(m, p)])
                r["measured_s"] = sum(dt for _, dt in busy[(m, p)])
                r["core_round_trip_ns"] = trips[(m, p)]
                r["cpu_loop_ns"] = loops[(m, p)]
                # judged against the bests of the whole sweep
                r["unfair_rounds"] = C.unfair_count(trips[(m, p)], loops[(m, p)], best_trip, best_loop)
                if r.get("nnzc_ms") and r.get("ort_ms"):
                    r["vs_ort"] = r["ort_ms"] / r["nnzc_ms"]
                    r["vs_dense"] = r["nnzc_dense_ms"] / r["nnzc_ms"] if r.get("nnzc_dense_ms") else None
            if (m, p) in layers:
                r["per_layer"] = layers[(m, p)]
            rows.append(r)
    return rows


def fmt(x, f="%.2f"):
    return "-" if x is None else f % x


def ms(r, side):
    if r.get(side + "_ms"):
        return C.fmt_ms(r[side + "_ms"])
    return "FAILED" if side + "_runs" in r else "-"


def table(rows):
    head = ["model", "point", "density", "ideal 1/d", "ideal MACs", "ORT ms", "nnzc dense ms", "nnzc ms",
            "vs ORT", "vs nnzc dense", "check", "other load", "unfair rounds"]
    body = []
    for r in rows:
        chk = r.get("check") or {}
        body.append([
            r["model"], r["label"], "%.3f" % r["density"], "%.2fx" % r["ideal"], "%.2fx" % r["ideal_macs"],
            ms(r, "ort"), ms(r, "nnzc_dense"), ms(r, "nnzc"),
            fmt(r.get("vs_ort"), "%.2fx"), fmt(r.get("vs_dense"), "%.2fx"),
            ("ok" if all(chk.values()) else "FAIL") if chk else "-",
            "-" if r.get("other_cpus_busy") is None else "%.2f CPU" % r["other_cpus_busy"],
            "-" if r.get("unfair_rounds") is None else "%d/%d" % (r["unfair_rounds"], len(r["core_round_trip_ns"])),
        ])
    w = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cells)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (x + 2) for x in w) + "|"] + [line(b) for b in body])


def layer_point(res, model):
    """The point whose per-layer table is shown: the issue's target (LAYER_POINT), else the
    sparsest point measured per layer."""
    pts = [r for r in res["results"] if r["model"] == model and r.get("per_layer")]
    if any(r["point"] == LAYER_POINT.get(model) for r in pts):
        return LAYER_POINT[model]
    return min(pts, key=lambda r: r["density"])["point"] if pts else None


def layer_table(r):
    """Per-layer rows of one point, grouped by layer shape (ResNet-50 repeats its blocks): count,
    density range, summed times, kernels chosen."""
    pl = r.get("per_layer")
    if not pl:
        return None
    groups = {}
    for l in pl["layers"]:
        w = l["weight_shape"]
        shape = "%s %s->%s" % (l["op"], "x".join(map(str, w)), "x".join(map(str, l["output_shape"][1:])))
        g = groups.setdefault(shape, {"n": 0, "d": [], "ort": 0.0, "nnzc_dense": 0.0, "nnzc": 0.0, "k": {}, "miss": set()})
        g["n"] += 1
        g["d"].append(l["density"])
        for s in ("ort", "nnzc_dense", "nnzc"):
            if l.get(s + "_ms") is None:
                g["miss"].add(s)
            else:
                g[s] += l[s + "_ms"]
        if l.get("nnzc_kernel"):
            g["k"][l["nnzc_kernel"]] = g["k"].get(l["nnzc_kernel"], 0) + 1
    head = ["layer (op weight->output)", "n", "density", "ORT ms", "nnzc dense ms", "nnzc ms", "vs ORT", "nnzc kernels"]
    body = []
    for shape, g in groups.items():
        t = {s: (None if s in g["miss"] else g[s]) for s in ("ort", "nnzc_dense", "nnzc")}
        lo, hi = "%.3f" % min(g["d"]), "%.3f" % max(g["d"])
        dens = lo if lo == hi else "%s-%s" % (lo, hi)
        body.append([shape, str(g["n"]), dens] + [fmt(t[s], "%.3f") for s in ("ort", "nnzc_dense", "nnzc")]
                    + [fmt(t["ort"] / t["nnzc"] if t["ort"] and t["nnzc"] else None, "%.2fx"),
                       ", ".join("%s %d" % kv for kv in sorted(g["k"].items())) or "-"])
    w = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cells)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (x + 2) for x in w) + "|"] + [line(b) for b in body])


def charts(res, svg_dir, docs_rel=None):
    """Writes one SVG per model; returns {model: path}."""
    os.makedirs(svg_dir, exist_ok=True)
    paths = {}
    cfg = res["config"]
    for m in dict.fromkeys(r["model"] for r in res["results"]):
        # A point whose outputs did not match the interpreter has no speedup to show.
        pts = [r if all((r.get("check") or {}).values()) else dict(r, vs_ort=None, vs_dense=None)
               for r in res["results"] if r["model"] == m]
        note = "batch 1, %d threads, median of %d runs\n%s" % (cfg["threads"], cfg["rounds"], res["machine"]["date"])
        text = sweep_plot.svg("%s: speedup vs sparsity" % TITLES.get(m, m), pts, note)
        path = os.path.join(svg_dir, "sweep-%s.svg" % m)
        with open(path, "w") as f:
            f.write(text)
        paths[m] = path
    return paths


def docs_section(res, svgs, doc):
    cfg, mach = res["config"], res["machine"]
    wrap = lambda t: textwrap.fill(t, 100, break_long_words=False, break_on_hyphens=False)
    out = [BEGIN, "",
           "Regenerated by `bench/sweep.sh --write-docs` (bench/README.md says how it measures); do not "
           "edit by hand between the markers.", "",
           "Command: `%s`" % res["command"], "",
           "Machine: %s; %s (%s), `%s`, %s logical CPUs; nnzc `%s` (%s build, built %s, tree at git %s); "
           "onnxruntime-node %s, Node %s. Other processes kept %s CPUs busy during the runs." % (
               mach["date"], mach["cpu"], mach["cpu_family_model"], mach["simd"], mach["logical_cpus"], mach["nnzc"],
               mach["nnzc_build_type"], mach["nnzc_built"], mach["nnzc_git"], mach["onnxruntime_node"], mach["node"],
               mach.get("other_cpus_busy")), "",
           "Batch 1, %d threads, %d round(s) of %d timed iterations per side and point, the three sides' order "
           "rotating; medians of the per-run medians. `vs ORT` = ORT ms / nnzc ms and `vs nnzc dense` = "
           "nnzc dense ms / nnzc ms on the same pruned model (above 1: nnzc's choice is faster). `density`: "
           "non-zeros of the pruned scope (every conv but the first); `ideal 1/d` its inverse; `ideal MACs`: "
           "dense / non-zero multiply-adds of every Conv and Gemm, the speedup if every zero were skipped for "
           "free and nothing else cost anything. `check`: `nnzc run --target cpu --test-data` against the "
           "reference interpreter on the same model (rtol 1e-3). `unfair rounds`: rounds in which the CPUs were "
           "apart (a cache line's round trip between them more than %g times the sweep's smallest, %s ns) or one "
           "was slowed (the slowest CPU's time per iteration of a loop run on all at once more than %g times "
           "the sweep's best, %s ns); bench/core_latency.c says why it matters. With --quiet-wait the sweep "
           "waits for the CPUs to be together and at full speed and reruns such a round." % (
               cfg["threads"], cfg["rounds"], cfg["iters"], C.Placement.SPLIT, fmt(mach.get("core_round_trip_best_ns"), "%.0f"),
               C.Placement.SLOW, fmt(mach.get("cpu_loop_best_ns"), "%.3f")), ""]
    out = out[:2] + [wrap(t) if t else t for t in out[2:]]
    for n in res.get("notes", []):
        out += [wrap("Note: " + n), ""]
    out += [table(res["results"]), ""]
    for m, p in svgs.items():
        out += ["![%s: speedup vs sparsity](%s)" % (TITLES.get(m, m), os.path.relpath(p, os.path.dirname(os.path.abspath(doc)))), ""]
    for m in dict.fromkeys(r["model"] for r in res["results"]):
        r = next((r for r in res["results"] if r["model"] == m and r["point"] == layer_point(res, m)), None)
        t = layer_table(r) if r else None
        if t:
            out += [wrap("Per layer, %s at %s (layers of the same shape summed; per-layer times come from "
                         "separate profiled runs, ORT's profiler and `nnzc bench --per-layer`, %d iterations):"
                         % (TITLES.get(m, m), r["label"], cfg["layer_iters"])), "", t, ""]
    out.append(END)
    return "\n".join(out)


def write_docs(res, svgs, doc):
    with open(doc) as f:
        text = f.read()
    sec = docs_section(res, svgs, doc)
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
        text = pre + sec + post
    else:
        text = text.rstrip("\n") + "\n\n## Sparsity sweep (`bench/sweep.sh`)\n\n" + sec + "\n"
    with open(doc + ".tmp", "w") as f:
        f.write(text)
    os.replace(doc + ".tmp", doc)


def report(res, a):
    log("")
    log("sparsity sweep: batch 1, %d threads, median of %d per-run medians (%d timed iterations each)"
        % (res["config"]["threads"], res["config"]["rounds"], res["config"]["iters"]))
    log(table(res["results"]))
    for r in res["results"]:
        t = layer_table(r) if (a.all_layers or r["point"] == layer_point(res, r["model"])) else None
        if t:
            log("\nper layer, %s %s:" % (r["model"], r["label"]))
            log(t)
        for n in (r.get("per_layer") or {}).get("notes", []):
            log("note: %s %s per layer: %s" % (r["model"], r["point"], n))
    for n in res.get("notes", []):
        log("note: " + n)
    svg_dir = os.path.dirname(os.path.abspath(a.docs)) if a.write_docs else a.svg_dir
    svgs = charts(res, svg_dir)
    for p in svgs.values():
        log("sweep: wrote %s" % C.rel(p))
    if a.write_docs:
        write_docs(res, svgs, a.docs)
        log("sweep: rewrote the sweep section of %s" % C.rel(a.docs))


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/sweep.sh", description=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=None, help="comma list (default resnet50,mobilenetv2)")
    p.add_argument("--points", default=None, help="comma list (default: %s)" % ",".join(POINTS))
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    p.add_argument("--iters", type=int, default=None, help="timed iterations per run (default 20)")
    p.add_argument("--layer-iters", type=int, default=None, help="iterations of the per-layer runs (default 20)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--nnzc", default=os.path.join(ROOT, "build", "bin", "nnzc"))
    p.add_argument("--nnzc-flag", action="append", default=[], metavar="ARG", help="one more nnzc argument (repeatable)")
    p.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench", "sweep"), help="where the models go")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "sweep.json"))
    p.add_argument("--svg-dir", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--ort-warmup", type=int, default=3)
    p.add_argument("--no-per-layer", action="store_true", help="skip the per-layer runs")
    p.add_argument("--layer-points", default="dense,target", metavar="P,P,...|all",
                   help="points measured per layer (default dense,target: the dense model and the issue's "
                        "target point, ResNet-50 90%% / MobileNetV2 80%%; --quick: all)")
    p.add_argument("--all-layers", action="store_true", help="print the per-layer table of every point measured")
    p.add_argument("--check-cpu", default="host", help="CPUs the outputs are checked with (e.g. host,haswell,generic)")
    p.add_argument("--quiet-wait", type=float, default=0, metavar="S",
                   help="before each round, wait up to S seconds for other processes to go quiet and for the "
                        "CPUs to share their caches again; rerun a round in which they moved apart")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--quick", action="store_true", help="smoke test: few points, one short round")
    p.add_argument("--write-docs", action="store_true", help="charts into docs/ and the section of docs/performance.md")
    p.add_argument("--docs", default=DOC, help="the page --write-docs rewrites (default docs/performance.md; "
                   "the charts go into its folder)")
    p.add_argument("--from-json", metavar="FILE", help="redraw from an earlier --out, without measuring")
    p.add_argument("--skip-missing", action="store_true", help="exit 77 when torch, node or ORT is missing")
    a = p.parse_args(argv)
    q = a.quick
    a.models = (a.models or ("mobilenetv2" if q else ",".join(MODELS))).split(",")
    a.points = (a.points or ",".join(QUICK_POINTS if q else POINTS)).split(",")
    a.rounds = a.rounds or (1 if q else 5)
    a.iters = a.iters or (3 if q else 20)
    a.layer_iters = a.layer_iters or (2 if q else 20)
    if q:
        a.ort_warmup = min(a.ort_warmup, 1)
        if a.layer_points == "dense,target":
            a.layer_points = "all"
    a.layer_points = [x for x in a.layer_points.split(",") if x]
    a.check_cpu = [c for c in a.check_cpu.split(",") if c]
    bad = [m for m in a.models if m not in MODELS]
    if bad:
        p.error("unknown model %s (known: %s)" % (", ".join(bad), ", ".join(MODELS)))
    if min(a.rounds, a.iters, a.layer_iters, a.threads) < 1 or a.ort_warmup < 0 or a.quiet_wait < 0:
        p.error("--rounds, --iters, --layer-iters and --threads must be positive")
    a.nnzc = os.path.abspath(a.nnzc)
    return a


def main(argv):
    a = parse_args(argv[1:])
    command = "bench/sweep.sh" + "".join(" " + shlex.quote(x) for x in argv[1:])
    if a.from_json:
        with open(a.from_json) as f:
            res = json.load(f)
        # counted again with this script's thresholds, from the probes the run recorded
        mach = res.get("machine", {})
        for r in res.get("results", []):
            if r.get("core_round_trip_ns") is not None:
                r["unfair_rounds"] = C.unfair_count(r["core_round_trip_ns"], r.get("cpu_loop_ns"),
                                                    mach.get("core_round_trip_best_ns"), mach.get("cpu_loop_best_ns"))
        report(res, a)
        return 0
    t0 = time.time()
    try:
        if a.skip_missing and subprocess.run(["sh", "-c", "command -v node"], stdout=subprocess.DEVNULL).returncode:
            raise Skip("node is not installed")
        if a.skip_missing and not os.path.isfile(os.path.join(C.ORT_DIR, "node_modules", "onnxruntime-node",
                                                              "package.json")):
            # A test does not install packages from the network.
            raise Skip("onnxruntime-node is not installed in bench/ort (npm ci there)")
        try:
            ort_version = C.ensure_ort(a.timeout)
        except C.BenchError as e:
            if a.skip_missing:
                raise Skip(str(e))
            raise
        C.ensure_nnzc(a.nnzc, a.timeout)
        a.features = nnzc_features(a.nnzc, a.timeout)
        notes = []
        if not a.features["kernels"]:
            notes.append("this nnzc has no --kernels option: only its default kernels were timed (no "
                         "\"nnzc dense\" column)")
        if not a.features["per_layer"] and not a.no_per_layer:
            notes.append("this nnzc has no `bench --per-layer`: per-layer times are ORT's only")
        for n in notes:
            log("sweep: NOTE: " + n)
        infos = make_models(a)
        facts = C.machine_facts(a.nnzc, ort_version)
        log("sweep: %s" % command)
        for k, v in facts.items():
            log("  %-17s %s" % (k + ":", v))
        if facts["nnzc_build_type"] in ("Debug", "unknown"):
            notes.append("nnzc build type is %s: its times are not representative" % facts["nnzc_build_type"])
        checks = {}
        for m in a.models:
            for p in a.points:
                checks[(m, p)] = check(a, infos[(m, p)])
        place = C.Placement(a.nnzc, a.timeout)
        if a.quiet_wait > 0:
            place.settle()
        runs, busy, errors, trips, loops = measure(a, infos, place)
        layers = {}
        if not a.no_per_layer:
            for m in a.models:
                for p in a.points:
                    if a.layer_points != ["all"] and p not in a.layer_points and \
                            not (p == LAYER_POINT.get(m) and "target" in a.layer_points):
                        continue
                    if a.quiet_wait > 0:  # without it nothing waits, and a probe here records nothing
                        C.wait_fair(place, a.quiet_wait)
                    try:
                        layers[(m, p)] = per_layer(a, infos[(m, p)])
                        for e in layers[(m, p)]["errors"]:
                            errors.setdefault((m, p), []).append("per layer: %s" % e)
                    except C.BenchError as e:
                        print("sweep: error: %s" % e, file=sys.stderr)
                        errors.setdefault((m, p), []).append("per layer: %s" % e)
    except Skip as e:
        print("sweep: SKIPPED: %s" % e)
        return 77 if a.skip_missing else 1
    except C.BenchError as e:
        print("sweep: error: %s" % e, file=sys.stderr)
        return 1
    facts["loadavg_end"] = C.loadavg()
    rows = summarise(a, infos, runs, busy, trips, loops, place.best, place.best_loop, checks, layers, errors)
    facts["core_round_trip_best_ns"] = place.best
    facts["cpu_loop_best_ns"] = place.best_loop
    facts["other_cpus_busy"] = C.weighted([(r["other_cpus_busy"], r["measured_s"]) for r in rows])
    facts["wall_s"] = round(time.time() - t0, 1)
    failed = [r for r in rows if r["check"] and not all(r["check"].values())]
    if failed:
        notes.append("outputs differ from the interpreter's for %s: those speedups are not results"
                     % ", ".join("%s %s" % (r["model"], r["point"]) for r in failed))
    busy_note = C.busy_note(facts["other_cpus_busy"], facts["cpus_usable"] or facts["logical_cpus"])
    if busy_note:
        notes.append(busy_note)
    if errors:
        notes.append("runs failed for %s (errors in the JSON's rows)" % ", ".join("%s %s" % k for k in errors))
    if a.quick:
        notes.append("--quick: one short round, a smoke test of the harness; the times mean nothing")
    res = {"schema": 1, "command": command, "machine": facts, "notes": notes,
           "config": {"models": a.models, "points": a.points, "rounds": a.rounds, "iters": a.iters,
                      "layer_iters": a.layer_iters, "threads": a.threads, "ort_warmup": a.ort_warmup,
                      "quiet_wait_s": a.quiet_wait, "nnzc_flags": a.nnzc_flag, "nnzc_features": a.features,
                      "check_cpu": a.check_cpu, "quick": a.quick, "workdir": C.rel(a.workdir)},
           "results": rows}
    C.write_json(a.out, res)
    report(res, a)
    log("sweep: %.0f s; wrote %s" % (facts["wall_s"], C.rel(a.out)))
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
