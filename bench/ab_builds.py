#!/usr/bin/python3
"""A/B of two nnzc builds (or two sets of flags) on one model: whole network and per layer, the
runs alternating ABBA, each after a wait for a fair machine, so that a kernel change is judged on
pairs measured in the same conditions.

    /usr/bin/python3 bench/ab_builds.py MODEL --base PATH [--new PATH] [--rounds R] [--iters N]
                                        [--threads T] [--no-per-layer] [--quiet-wait S]
                                        [--base-flag ARG]... [--new-flag ARG]... [--flag ARG]...
                                        [--threshold F] [--out FILE]

--base / --new are nnzc binaries (each links compiled models with the libnnzrt.a of its own
build, ../lib next to the binary); --new defaults to build/bin/nnzc. With the same binary on both
sides, --base-flag / --new-flag give the difference (e.g. --new-flag=--kernels --new-flag=dense);
--flag goes to both (e.g. --flag=--detect, which the sweep's pruned models need).

Why this order. On a shared 2-vCPU virtual machine a host may move the CPUs apart or slow one for
seconds (bench/compare.py, Placement), and a layer's time drifts with it. Timing all of A and
then all of B, or always A first in each pair, showed a "gain" of 10-15% on every layer of B in
some rounds; pairs in ABBA order (round 1 A then B, round 2 B then A, ...) with the fair-machine
wait before every run spread such drift evenly over both sides.

Each run is `nnzc bench MODEL --target cpu --threads T --iters N [--per-layer]` (default: per
layer, whose build times every layer inside the network run; its whole-network times include
that timing, so judge a whole-network difference with --no-per-layer). Printed:
  - whole network: each side's median of its per-run medians, and the ratio new / base of each
    round's pair with their median (below 1: new is faster);
  - per layer: the layers whose median (over the rounds) differs by more than --threshold
    (default 0.04; none shorter than --min-ms, 0.005) between the sides, and the sums of the per-layer medians with their ratio.
Every run's JSON, the configuration and the machine facts go to --out (default
build/bench/ab.json). Exit status 0 when every run succeeded, 1 otherwise, 2 on usage errors.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare as C  # noqa: E402  (runs, JSON lines, the fair-machine wait, machine facts)

log = C.log


def bench_argv(a, nnzc, flags):
    argv = [nnzc, "bench", a.model, "--target", "cpu", "--threads", str(a.threads), "--iters", str(a.iters)]
    if a.per_layer:
        argv.append("--per-layer")
    return argv + a.flag + flags


def one_run(a, side, place):
    """One fair-machine wait, then one run of side ("base" or "new"); returns its JSON object."""
    C.wait_fair(place, a.quiet_wait)
    nnzc, flags = (a.base, a.base_flag) if side == "base" else (a.new, a.new_flag)
    status, out, err = C.run_cmd(bench_argv(a, nnzc, flags), a.timeout)
    return C.parse_bench_json("%s (%s)" % (side, nnzc), out, err, status)


def layer_times(obj):
    """[(name, ms)] of a --per-layer run, or None."""
    layers = obj.get("layers")
    if not isinstance(layers, list):
        return None
    return [(e.get("name", "?"), e.get("measured_ms") or 0.0) for e in layers]


def per_layer_report(a, runs):
    """Layers that differ, and the sums of the per-layer medians (both sides must list the same
    layers: the same graph after the passes)."""
    lists = {s: [layer_times(r) for r in runs[s]] for s in ("base", "new")}
    if any(t is None for s in lists for t in lists[s]):
        log("per layer: a run lacks its layers (a binary without --per-layer?)")
        return None
    names = [n for n, _ in lists["base"][0]]
    if any([n for n, _ in t] != names for s in lists for t in lists[s]):
        log("per layer: the two sides list different layers (different passes or fusions): not compared")
        return None
    med = {s: [statistics.median(t[i][1] for t in lists[s]) for i in range(len(names))] for s in lists}
    rows = []
    for i, name in enumerate(names):
        b, n = med["base"][i], med["new"][i]
        if b > 0 and max(b, n) >= a.min_ms and abs(n / b - 1) > a.threshold:
            rows.append((name, b, n, n / b))
    log("per layer, median of %d runs each, layers more than %.0f%% apart:" % (a.rounds, 100 * a.threshold))
    log("  %-48s %9s %9s %6s" % ("layer", "base ms", "new ms", "ratio"))
    for name, b, n, r in rows:
        log("  %-48s %9.4f %9.4f %6.3f" % (name[-48:], b, n, r))
    if not rows:
        log("  (none)")
    sb, sn = sum(med["base"]), sum(med["new"])
    if sb <= 0:
        log("  the base side's layers took no measurable time")
        return None
    per_round = [round(sum(ms for _, ms in tn) / max(sum(ms for _, ms in tb), 1e-9), 3)
                 for tb, tn in zip(lists["base"], lists["new"])]
    log("  sum of the per-layer medians: base %.4f ms, new %.4f ms, ratio %.3f (per round %s)"
        % (sb, sn, sn / sb, " ".join("%.3f" % r for r in per_round)))
    return {"layers": names, "base_median_ms": med["base"], "new_median_ms": med["new"],
            "sum_ratio": sn / sb, "sum_ratio_per_round": per_round}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="ab_builds.py", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="an .onnx file")
    p.add_argument("--base", required=True, metavar="PATH", help="the base nnzc binary")
    p.add_argument("--new", default=os.path.join(C.ROOT, "build", "bin", "nnzc"), metavar="PATH",
                   help="the new nnzc binary (default build/bin/nnzc)")
    p.add_argument("--rounds", type=int, default=6, help="pairs of runs (default 6; even keeps ABBA balanced)")
    p.add_argument("--iters", type=int, default=100, help="timed inferences per run (default 100)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-per-layer", dest="per_layer", action="store_false", help="whole network only")
    p.add_argument("--quiet-wait", type=float, default=300, metavar="S",
                   help="before each run, wait up to S s for a quiet machine and fair CPUs (default 300; 0: no wait)")
    p.add_argument("--base-flag", action="append", default=[], metavar="ARG", help="one more nnzc argument, base side")
    p.add_argument("--new-flag", action="append", default=[], metavar="ARG", help="one more nnzc argument, new side")
    p.add_argument("--flag", action="append", default=[], metavar="ARG", help="one more nnzc argument, both sides")
    p.add_argument("--threshold", type=float, default=0.04, help="per-layer difference to list (default 0.04)")
    p.add_argument("--min-ms", type=float, default=0.005, help="shorter layers are not listed (default 0.005)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    p.add_argument("--out", default=os.path.join(C.ROOT, "build", "bench", "ab.json"))
    a = p.parse_args(argv)
    if a.rounds < 1 or a.iters < 1 or a.threads < 1 or a.quiet_wait < 0 or a.threshold < 0:
        p.error("--rounds, --iters and --threads must be at least 1, --quiet-wait and --threshold not negative")
    if not os.path.isfile(a.model):
        p.error("%s: no such model file" % a.model)
    return a


def main(argv):
    a = parse_args(argv)
    try:
        for nnzc in (a.base, a.new):
            C.ensure_nnzc(nnzc, a.timeout)
        place = C.Placement(a.new, a.timeout)
        place.settle()
        runs = {"base": [], "new": []}
        for rnd in range(a.rounds):
            order = ("base", "new") if rnd % 2 == 0 else ("new", "base")
            for side in order:
                runs[side].append(one_run(a, side, place))
            b, n = runs["base"][-1]["median_ms"], runs["new"][-1]["median_ms"]
            log("round %d/%d (%s first): base %.4f ms, new %.4f ms, new/base %.3f"
                % (rnd + 1, a.rounds, order[0], b, n, n / max(b, 1e-9)))
    except C.BenchError as e:
        log("ab_builds: error: %s" % e)
        return 1
    whole = {s: statistics.median(r["median_ms"] for r in runs[s]) for s in runs}
    pairs = [n["median_ms"] / max(b["median_ms"], 1e-9) for b, n in zip(runs["base"], runs["new"])]
    log("whole network: base %.4f ms, new %.4f ms (medians of %d runs); new/base per pair: median %.3f, %.3f-%.3f"
        % (whole["base"], whole["new"], a.rounds, statistics.median(pairs), min(pairs), max(pairs)))
    layers = per_layer_report(a, runs) if a.per_layer else None
    try:
        machine = C.machine_facts(a.new, None)
    except OSError:  # no node: the facts are only a record
        machine = None
    C.write_json(a.out, {"config": vars(a), "machine": machine, "runs": runs, "pair_ratios": pairs,
                         "per_layer": layers})
    log("runs: %s" % C.rel(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
