#!/usr/bin/python3
"""Latency of nnzc against ONNX Runtime on the same models, inputs and thread count.

usage: bench/compare.sh [MODEL ...] [--rounds R] [--iters N] [--threads T[,T...]]
                        [--target cpu|ref|accel] [--strict] [--nnzc PATH] [--ort-warmup N]
                        [--input-shape NAME=D0,D1,...]... [--nnzc-flag ARG]... [--out FILE]
                        [--quiet-wait S] [--timeout S]

MODEL is an .onnx file, a directory holding model.onnx, or a model name of
tests/e2e/export_torchvision.py (resnet50, mobilenetv2), exported into build/bench-models/ when
missing or stale. Default: resnet50 mobilenetv2.

For every model and thread count, R rounds each run `nnzc bench` once and the ORT harness
(bench/ort/ort_bench.js) once, N timed iterations each, alternating which goes first, so that
slow drifts of a shared machine (another job starting, clocks changing) hit both sides alike.
Each run reports its median; the table shows the median of the R medians per side, their range,
and the ratio nnzc/ORT (below 1: nnzc is faster). Everything, per run, goes to
build/bench/results.json (--out).

--target passes through to `nnzc bench` (default cpu). When `nnzc bench --target cpu` fails on a
model (the CPU code generator is not there yet), that model is measured with --target ref, the
reference interpreter, and the table and JSON say so; --strict makes that an error instead.

Needs node/npm (the ORT side installs itself: `npm ci` in bench/ort, skipped when already
installed) and, for the named models, Debian's python3-torch/torchvision. Only the standard
library is used here. Exit status: 0 when every row was measured, 1 otherwise, 2 on usage errors.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORT_DIR = os.path.join(HERE, "ort")
EXPORT_SCRIPT = os.path.join(ROOT, "tests", "e2e", "export_torchvision.py")
NAMED_MODELS = ("resnet50", "mobilenetv2")
JSON_KEYS = ("model", "target", "threads", "iters", "median_ms", "min_ms", "mean_ms", "max_ms")


class BenchError(Exception):
    """A failure of one run or one set-up step; one line, printed as `compare: error: ...`."""


def log(msg):
    print(msg, flush=True)


def rel(path):
    """Paths in the output are relative to the repository when they are inside it."""
    p = os.path.abspath(path)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


def run_cmd(argv, timeout, env=None):
    """Runs argv; returns (exit status, stdout, stderr). A time-out is a BenchError."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: no answer after %g s" % (" ".join(map(shlex.quote, argv)), timeout))
    except OSError as e:
        raise BenchError("%s: %s" % (argv[0], e.strerror))
    return p.returncode, p.stdout, p.stderr


def last_line(text):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def parse_bench_json(who, out, err, status):
    """The last stdout line of both harnesses is one JSON object with JSON_KEYS."""
    if status != 0:
        msg = last_line(err) or last_line(out) or "no output"
        raise BenchError("%s exited with status %d: %s" % (who, status, msg))
    line = last_line(out)
    try:
        obj = json.loads(line)
    except ValueError:
        raise BenchError("%s: last line is not JSON: %r" % (who, line[:200]))
    missing = [k for k in JSON_KEYS if k not in obj]
    if not isinstance(obj, dict) or missing:
        raise BenchError("%s: JSON line lacks %s" % (who, ", ".join(missing)))
    return obj


# ---------------------------------------------------------------- set-up

def ensure_ort(timeout):
    """npm ci in bench/ort unless the pinned onnxruntime-node is already installed and loads."""
    with open(os.path.join(ORT_DIR, "package.json")) as f:
        pin = json.load(f)["dependencies"]["onnxruntime-node"]
    installed = os.path.join(ORT_DIR, "node_modules", "onnxruntime-node", "package.json")
    try:
        with open(installed) as f:
            have = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        have = None
    if have == pin:
        mod = os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")
        status, _, err = run_cmd(["node", "-e", "require(%s)" % json.dumps(mod)], timeout)
        if status == 0:
            return have
        log("compare: onnxruntime-node %s is installed but does not load (%s); reinstalling"
            % (have, last_line(err)))
    log("compare: installing onnxruntime-node %s in %s (npm ci)" % (pin, rel(ORT_DIR)))
    # The package's install script would fetch CUDA libraries; the CPU library ships inside the
    # npm package, so the script is told to skip.
    env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
    try:
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ORT_DIR, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError("npm ci in %s failed: %s" % (rel(ORT_DIR), e))
    if p.returncode != 0:
        raise BenchError("npm ci in %s failed: %s" % (rel(ORT_DIR), last_line(p.stdout)))
    with open(installed) as f:
        return json.load(f)["version"]


def ensure_nnzc(path, timeout):
    """The default binary, build/bin/nnzc, is built when missing (in the existing configuration),
    with the runtime library that --target cpu links the compiled model against."""
    if os.access(path, os.X_OK):
        return
    if os.path.abspath(path) != os.path.join(ROOT, "build", "bin", "nnzc"):
        raise BenchError("%s: no such executable" % path)
    log("compare: building build/bin/nnzc")
    for argv in (["cmake", "-S", ROOT, "-B", os.path.join(ROOT, "build")],
                 ["cmake", "--build", os.path.join(ROOT, "build"), "--target", "nnzc", "nnzrt",
                  "-j%d" % (os.cpu_count() or 1)]):
        status, out, err = run_cmd(argv, timeout)
        if status != 0:
            # make's last line says only "Error 2"; the compiler's first error says why.
            first = next((ln.strip() for ln in (out + err).splitlines() if "error" in ln.lower()), None)
            raise BenchError("%s failed: %s" % (" ".join(argv[:2]), first or last_line(err) or last_line(out)))


def resolve_models(specs, timeout):
    """Returns [(label, path)]; exports the named torchvision models that are asked for."""
    names = [s for s in specs if s in NAMED_MODELS and not os.path.exists(s)]
    if names:
        outdir = os.path.join(ROOT, "build", "bench-models")
        # The export script keeps an up-to-date export (stamp file), so calling it is cheap.
        status, out, err = run_cmd(["/usr/bin/python3", EXPORT_SCRIPT, outdir] + names, timeout)
        for ln in out.splitlines():
            log(ln)
        if status == 77:
            raise BenchError("torch/torchvision are missing: %s" % last_line(out))
        if status != 0:
            raise BenchError("%s failed: %s" % (rel(EXPORT_SCRIPT), last_line(err) or last_line(out)))
    models = []
    for s in specs:
        if s in names:
            models.append((s, os.path.join(ROOT, "build", "bench-models", s, "model.onnx")))
        elif os.path.isdir(s):
            models.append((os.path.basename(os.path.normpath(s)), os.path.join(s, "model.onnx")))
        else:
            base = os.path.basename(s)
            label = os.path.basename(os.path.dirname(os.path.abspath(s))) if base == "model.onnx" \
                else os.path.splitext(base)[0]
            models.append((label, s))
    for label, p in models:
        if not os.path.isfile(p):
            raise BenchError("%s: no such model file" % p)
    return models


# ---------------------------------------------------------------- machine facts

def read_first(path, key):
    try:
        with open(path) as f:
            for ln in f:
                if ln.startswith(key):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return None


def nnzc_build_type(nnzc):
    """CMAKE_BUILD_TYPE of the build tree the binary lives in (bin/ is under the build dir)."""
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(nnzc))), "CMakeCache.txt")
    try:
        with open(cache) as f:
            for ln in f:
                if ln.startswith("CMAKE_BUILD_TYPE:"):
                    # An empty cache entry means CMakeLists.txt's default, RelWithDebInfo.
                    return ln.split("=", 1)[1].strip() or "RelWithDebInfo (default)"
    except OSError:
        pass
    return "unknown"


def git_revision():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip()
    except OSError:
        return "unknown"
    return (head + (" (with uncommitted changes)" if dirty else "")) if head else "unknown"


def machine_facts(nnzc, ort_version):
    node = subprocess.run(["node", "--version"], text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout.strip()
    mem = read_first("/proc/meminfo", "MemTotal")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": read_first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cpu_family_model": "%s/%s" % (read_first("/proc/cpuinfo", "cpu family"), read_first("/proc/cpuinfo", "model\t")),
        # What the dense kernels of both sides can use; MLAS picks its kernels by these at run time.
        "simd": " ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
                                     "amx_tile") if f in (read_first("/proc/cpuinfo", "flags") or "").split()),
        "logical_cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory": mem,
        "kernel": platform.release(),
        "loadavg_start": loadavg(),
        "nnzc": rel(nnzc),
        "nnzc_build_type": nnzc_build_type(nnzc),
        # The git revision below is the tree's now; the binary may have been built from an older one.
        "nnzc_built": datetime.datetime.fromtimestamp(os.path.getmtime(nnzc), datetime.timezone.utc)
                                       .strftime("%Y-%m-%d %H:%M UTC"),
        "nnzc_git": git_revision(),
        "onnxruntime_node": ort_version,
        "node": node,
    }


class OtherLoad:
    """How many CPUs other processes kept busy, on average, between start and stop: the CPU time
    the whole machine spent (/proc/stat) less what this script and its children spent (os.times).
    Unlike the load average, this leaves out the benchmark's own runs."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.monotonic(), self.busy(), self.own()

    @staticmethod
    def busy():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal ...: all but idle and iowait is busy.
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def own():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def cpus(self):
        b = self.busy()
        dt = time.monotonic() - self.t0
        if b is None or self.busy0 is None or dt <= 0:
            return None
        return round(max(0.0, (b - self.busy0) - (self.own() - self.own0)) / dt, 2)


def wait_quiet(limit_s):
    """Waits, up to limit_s seconds, for a 2-second window in which other processes use less than
    a quarter of a CPU; returns False when the machine stayed busy."""
    start = time.monotonic()
    told = False
    while True:
        m = OtherLoad()
        time.sleep(2)
        c = m.cpus()
        if c is None or c < 0.25:
            return True
        if time.monotonic() - start >= limit_s:
            log("compare: the machine stayed busy (%.2f CPUs in use by others); measuring anyway" % c)
            return False
        if not told:
            log("compare: waiting for other work to finish (%.2f CPUs busy), up to %g s" % (c, limit_s))
            told = True


class Placement:
    """Whether the virtual CPUs can all run at full speed, together: build/bin/bench_core_latency
    (next to nnzc; bench/core_latency.c says why) measures the largest round trip of a cache line
    between two of them and the time per iteration of a fixed loop run on all of them at once. A
    host may move a guest's CPUs apart, onto core complexes with separate L3s, for seconds or
    minutes (ResNet-50 90% on 2 threads: nnzc 7.8 -> 10.5 ms, ORT 18.2 -> 19.5-20), or slow one
    down for seconds (MobileNetV2 80% on 2 threads: nnzc 0.96 -> 1.9 ms, ORT 1.6 -> 2.5); nothing
    in /proc shows either. A probe is unfair when its round trip is more than SPLIT times the
    smallest seen in this run (the CPUs are apart) or its slowest CPU's loop more than SLOW times
    the fastest seen (a CPU is slowed). Without the tool, probe() returns None and nothing
    waits."""

    # Round trips of 56-125 ns are the CPUs together, 340-410 apart; at 2x the best, a run whose
    # best was 56 ns counted a 118 ns round trip as apart.
    SPLIT = 2.5
    SLOW = 1.25

    def __init__(self, nnzc, timeout):
        tool = os.path.join(os.path.dirname(os.path.abspath(nnzc)), "bench_core_latency")
        self.tool = tool if os.access(tool, os.X_OK) else None
        self.timeout = timeout
        self.best = None       # smallest round trip seen (ns)
        self.best_loop = None  # fastest slowest-CPU loop seen (ns per iteration)

    def probe(self):
        """{"round_trip_ns", "cpu_loop_ns"} now (the loop None from a tool without it), or None
        without the tool or when it fails."""
        if self.tool is None:
            return None
        try:
            status, out, _ = run_cmd([self.tool, "20000"], self.timeout)
            got = json.loads(last_line(out)) if status == 0 else None
            pr = {"round_trip_ns": got["max_round_trip_ns"], "cpu_loop_ns": got.get("max_cpu_loop_ns")} if got else None
        except (BenchError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if pr is None or not pr["round_trip_ns"]:
            return None
        if self.best is None or pr["round_trip_ns"] < self.best:
            self.best = pr["round_trip_ns"]
        if pr["cpu_loop_ns"] and (self.best_loop is None or pr["cpu_loop_ns"] < self.best_loop):
            self.best_loop = pr["cpu_loop_ns"]
        return pr

    def why_unfair(self, pr):
        """What is wrong with probe pr ("" when nothing, or no probe)."""
        return unfair_why(pr and pr["round_trip_ns"], pr and pr["cpu_loop_ns"], self.best, self.best_loop)

    def settle(self, probes=5):
        """A baseline before measuring: a few probes a second apart (a run that starts split
        or slowed would otherwise take that as the best)."""
        for i in range(probes if self.tool else 0):
            if i:
                time.sleep(1)
            self.probe()

    def wait_fair(self, limit_s):
        """Probes every 2 s, up to limit_s, until the CPUs are together and at full speed;
        returns the last probe (None without the tool)."""
        start = time.monotonic()
        told = False
        while True:
            pr = self.probe()
            why = self.why_unfair(pr)
            if not why:
                return pr
            if time.monotonic() - start >= limit_s:
                log("compare: %s all along; measuring anyway" % why)
                return pr
            if not told:
                log("compare: %s: waiting up to %g s" % (why, limit_s))
                told = True
            time.sleep(2)


def unfair_why(round_trip, loop, best, best_loop):
    """Why a probe (its round trip and slowest loop, either None) is unfair against the bests;
    "" when it is not."""
    why = []
    if round_trip is not None and best and round_trip > Placement.SPLIT * best:
        why.append("the CPUs are apart (a %.0f ns round trip, %.0f at best)" % (round_trip, best))
    if loop is not None and best_loop and loop > Placement.SLOW * best_loop:
        why.append("a CPU is slowed (%.3f ns per loop iteration, %.3f at best)" % (loop, best_loop))
    return " and ".join(why)


ROUND_ATTEMPTS = 3  # runs of one round at most, when the CPUs moved apart or slowed during it


def wait_fair(place, quiet_wait):
    """With quiet_wait > 0, waits up to that long for a quiet machine and then for the CPUs to be
    together and at full speed; returns a probe now (None without the tool)."""
    if quiet_wait <= 0:
        return place.probe()
    wait_quiet(quiet_wait)
    return place.wait_fair(quiet_wait)


def placed_round(place, quiet_wait, run, what):
    """One round of measurements, run(), with every side measured in the conditions of its start.
    With quiet_wait > 0: waits first for a quiet machine and for the CPUs to be together and at
    full speed (Placement), and runs the round again, ROUND_ATTEMPTS times at most, when they moved
    apart or one slowed during it; otherwise only records the probes. Returns run()'s result, the
    probes [before, after] (None without the tool) and the OtherLoad of the last attempt."""
    for attempt in range(ROUND_ATTEMPTS):
        before = wait_fair(place, quiet_wait)
        other = OtherLoad()
        result = run()
        after = place.probe()
        why = place.why_unfair(before) or place.why_unfair(after)
        if quiet_wait > 0 and attempt + 1 < ROUND_ATTEMPTS and why:
            log("  %s: %s during the runs: again" % (what, why))
            continue
        return result, [before, after], other


def probe_fields(probes):
    """[round trip before, after] and [slowest loop before, after] of a round's probes."""
    return ([p and p["round_trip_ns"] for p in probes], [p and p["cpu_loop_ns"] for p in probes])


def probe_note(probes):
    """The round's probes for a progress line ("" without the tool)."""
    trips, loops = probe_fields(probes)
    if None in trips:
        return ""
    return "   (round trip %.0f/%.0f ns%s)" % (trips[0], trips[1], "" if None in loops else
                                            ", loop %.3f/%.3f ns" % tuple(loops))


def unfair_count(trips, loops, best, best_loop):
    """Rounds with a probe before or after that was unfair against the run's bests (round trips
    and loops per round, [before, after]; loops may be missing, from an older run); None without
    the tool."""
    if not best:
        return None
    loops = loops or [[None, None]] * len(trips)
    return sum(1 for tp, lp in zip(trips, loops)
               if any(unfair_why(t, l, best, best_loop) for t, l in zip(tp, lp)))


def busy_note(other_cpus, cpus):
    """Other work on a quarter of a CPU or more competes with the runs; with as many threads as
    CPUs, one descheduled worker stalls the whole inference."""
    if other_cpus is None or other_cpus < 0.25:
        return None
    return ("other processes kept %.2f of the %d CPUs busy during the runs: absolute times are noisy "
            "and multi-threaded runs suffer most; compare ratios, and rerun when the machine is quiet"
            % (other_cpus, cpus or 1))


# ---------------------------------------------------------------- measuring

def nnzc_argv(a, model, target, threads, iters):
    argv = [a.nnzc, "bench", model, "--target", target, "--threads", str(threads), "--iters", str(iters)]
    for s in a.input_shape:
        argv += ["--input-shape", s]
    return argv + a.nnzc_flag


def ort_argv(a, model, threads):
    argv = ["node", os.path.join(ORT_DIR, "ort_bench.js"), model, "--threads", str(threads),
            "--iters", str(a.iters), "--warmup", str(a.ort_warmup)]
    for s in a.input_shape:
        argv += ["--input-shape", s]
    return argv


PICKED = {}


def pick_target(a, label, model, threads):
    """The nnzc target to measure this model with, and a note when it is not the one asked for.
    Probed once per model: the CPU target may compile one model and not another."""
    if a.target != "cpu":
        return a.target, None
    if model in PICKED:
        return PICKED[model]
    PICKED[model] = pick_cpu_or_ref(a, label, model, threads)
    return PICKED[model]


def pick_cpu_or_ref(a, label, model, threads):
    status, out, err = run_cmd(nnzc_argv(a, model, "cpu", threads, 1), a.timeout)
    if status == 0:
        return "cpu", None
    why = last_line(err) or last_line(out) or "exit status %d" % status
    if a.strict:
        raise BenchError("nnzc bench --target cpu is not available for %s (%s), and --strict "
                         "forbids falling back to --target ref" % (label, why))
    return "ref", ("nnzc bench --target cpu is not available for %s (%s); measured the reference "
                   "interpreter (--target ref) instead: a baseline, not the compiler" % (label, why))


def weighted(samples):
    """Time-weighted mean of (value, seconds) samples, None when a value is unknown."""
    total = sum(dt for _, dt in samples)
    if total <= 0 or any(v is None for v, _ in samples):
        return None
    return round(sum(v * dt for v, dt in samples) / total, 2)


def measure(a, label, model, threads, place):
    fresh = model not in PICKED
    target, note = pick_target(a, label, model, threads)
    if note and fresh:
        log("compare: NOTE: " + note)
    runs = {"nnzc": [], "ort": []}
    busy = []  # (CPUs other processes kept busy, seconds) per round, waits left out
    trips, loops = [], []  # the CPUs' round trips and slowest loops before and after each round (Placement)
    for r in range(a.rounds):
        # Alternate who goes first, so that neither side always runs right after the other.
        order = ("nnzc", "ort") if r % 2 == 0 else ("ort", "nnzc")

        def one_round():
            got = {}
            for who in order:
                argv = nnzc_argv(a, model, target, threads, a.iters) if who == "nnzc" else ort_argv(a, model, threads)
                status, out, err = run_cmd(argv, a.timeout)
                got[who] = parse_bench_json("%s on %s" % ("nnzc bench" if who == "nnzc" else "ort_bench", label),
                                            out, err, status)
            return got

        got, probes, other = placed_round(place, a.quiet_wait, one_round,
                                          "%-12s threads %d  round %d/%d" % (label, threads, r + 1, a.rounds))
        for who in order:
            runs[who].append(got[who])
        busy.append((other.cpus(), time.monotonic() - other.t0))
        trip, loop = probe_fields(probes)
        trips.append(trip)
        loops.append(loop)
        log("  %-12s threads %d  round %d/%d: nnzc %9.3f ms   ORT %9.3f ms%s" % (
            label, threads, r + 1, a.rounds, got["nnzc"]["median_ms"], got["ort"]["median_ms"], probe_note(probes)))
    nm = [x["median_ms"] for x in runs["nnzc"]]
    om = [x["median_ms"] for x in runs["ort"]]
    n_med, o_med = statistics.median(nm), statistics.median(om)
    return {
        "model": label,
        "path": rel(model),
        "threads": threads,
        "target_requested": a.target,
        "nnzc_target": target,
        # The reference interpreter is single-threaded and says so in its JSON line.
        "nnzc_threads": runs["nnzc"][0]["threads"],
        "note": note,
        "other_cpus_busy": weighted(busy),
        "other_cpus_busy_per_round": [b for b, _ in busy],
        "core_round_trip_ns": trips,
        "cpu_loop_ns": loops,
        "measured_s": sum(dt for _, dt in busy),
        "nnzc_medians_ms": nm,
        "ort_medians_ms": om,
        "nnzc_median_ms": n_med,
        "ort_median_ms": o_med,
        "ratio": n_med / o_med if o_med > 0 else None,
        "nnzc_runs": runs["nnzc"],
        "ort_runs": runs["ort"],
    }


# ---------------------------------------------------------------- output

def fmt_ms(x):
    """Three significant digits at least: the noise of a shared machine is larger than that."""
    return "%.0f" % x if x >= 100 else "%.1f" % x if x >= 10 else "%.2f" % x if x >= 1 else "%.3g" % x


def table(rows):
    head = ["model", "threads", "nnzc target", "nnzc ms", "nnzc range", "ORT ms", "ORT range", "nnzc/ORT",
            "other load", "unfair rounds"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["model"], str(r["threads"]), "-", "-", "-", "-", "-", "FAILED", "-", "-"])
            continue
        tgt = r["nnzc_target"]
        if r["nnzc_threads"] != r["threads"]:
            tgt += " (%s thread%s)" % (r["nnzc_threads"], "" if r["nnzc_threads"] == 1 else "s")
        body.append([
            r["model"], str(r["threads"]), tgt,
            fmt_ms(r["nnzc_median_ms"]),
            "%s-%s" % (fmt_ms(min(r["nnzc_medians_ms"])), fmt_ms(max(r["nnzc_medians_ms"]))),
            fmt_ms(r["ort_median_ms"]),
            "%s-%s" % (fmt_ms(min(r["ort_medians_ms"])), fmt_ms(max(r["ort_medians_ms"]))),
            "%.2f" % r["ratio"] if r["ratio"] is not None else "-",
            "-" if r["other_cpus_busy"] is None else "%.2f CPU" % r["other_cpus_busy"],
            "-" if r.get("unfair_rounds") is None else "%d/%d" % (r["unfair_rounds"], len(r["core_round_trip_ns"])),
        ])
    w = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cells)) + " |"
    out = [line(head), "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    return "\n".join(out + [line(b) for b in body])


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/compare.sh", description=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", metavar="MODEL")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds per model (default 5)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations per run (default 20)")
    p.add_argument("--threads", default="2", help="thread count, or a comma list (default 2)")
    p.add_argument("--target", default="cpu", choices=("cpu", "ref", "accel"),
                   help="nnzc target (default cpu, falling back to ref while cpu is not available)")
    p.add_argument("--strict", action="store_true", help="fail instead of falling back to ref")
    p.add_argument("--nnzc", default=os.path.join(ROOT, "build", "bin", "nnzc"),
                   help="the nnzc binary (default build/bin/nnzc, built when missing)")
    p.add_argument("--ort-warmup", type=int, default=3, help="ORT warm-up runs per run (default 3)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...",
                   help="fixes a symbolic input dim, for both sides (repeatable)")
    p.add_argument("--nnzc-flag", action="append", default=[], metavar="ARG",
                   help="one more argument for nnzc bench, e.g. --nnzc-flag=-O3 (repeatable)")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "results.json"))
    p.add_argument("--quiet-wait", type=float, default=0, metavar="S",
                   help="before each round, wait up to S seconds for other processes to leave the "
                        "CPUs alone (default 0: no wait)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed for one run (default 1800)")
    a = p.parse_args(argv)
    try:
        a.threads = [int(t) for t in a.threads.split(",")]
    except ValueError:
        p.error("--threads: expected N or N,N,..., got %r" % a.threads)
    if a.rounds < 1 or a.iters < 1 or a.ort_warmup < 0 or min(a.threads) < 1 or a.timeout <= 0 \
            or a.quiet_wait < 0:
        p.error("--rounds, --iters, --threads and --timeout must be positive, --ort-warmup and "
                "--quiet-wait non-negative")
    a.models = a.models or list(NAMED_MODELS)
    return a


def main(argv):
    a = parse_args(argv[1:])
    command = "bench/compare.sh" + "".join(" " + shlex.quote(x) for x in argv[1:])
    try:
        ort_version = ensure_ort(a.timeout)
        ensure_nnzc(a.nnzc, a.timeout)
        models = resolve_models(a.models, a.timeout)
    except BenchError as e:
        print("compare: error: %s" % e, file=sys.stderr)
        return 1
    facts = machine_facts(a.nnzc, ort_version)
    log("compare: %s" % command)
    for k, v in facts.items():
        log("  %-17s %s" % (k + ":", v))
    if facts["nnzc_build_type"] in ("Debug", "unknown"):
        log("compare: NOTE: nnzc build type is %s: its times are not representative" % facts["nnzc_build_type"])

    rows = []
    t0 = time.time()
    place = Placement(a.nnzc, a.timeout)
    if a.quiet_wait > 0:
        place.settle()
    for label, model in models:
        for threads in a.threads:
            try:
                rows.append(measure(a, label, model, threads, place))
            except BenchError as e:
                print("compare: error: %s" % e, file=sys.stderr)
                rows.append({"model": label, "path": rel(model), "threads": threads, "error": str(e)})
    facts["loadavg_end"] = loadavg()
    # Over the measuring only (waits for a quiet machine left out), like the rows.
    facts["other_cpus_busy"] = weighted([(r["other_cpus_busy"], r["measured_s"]) for r in rows if "error" not in r])
    facts["wall_s"] = round(time.time() - t0, 1)
    facts["core_round_trip_best_ns"] = place.best
    facts["cpu_loop_best_ns"] = place.best_loop
    for r in rows:
        if "error" not in r:
            r["unfair_rounds"] = unfair_count(r["core_round_trip_ns"], r["cpu_loop_ns"], place.best, place.best_loop)

    log("")
    log("nnzc vs ONNX Runtime %s: median of %d per-run medians (%d timed iterations each); "
        "ratio < 1 means nnzc is faster; other load: CPUs kept busy by other processes meanwhile"
        % (ort_version, a.rounds, a.iters))
    log(table(rows))
    for note in dict.fromkeys(r["note"] for r in rows if r.get("note")):
        log("note: " + note)
    log("%.0f s; load average %s at the start, %s at the end; other processes kept %s CPUs busy"
        % (facts["wall_s"], facts["loadavg_start"], facts["loadavg_end"], facts["other_cpus_busy"]))
    busy = busy_note(facts["other_cpus_busy"], facts["cpus_usable"] or facts["logical_cpus"])
    if busy:
        log("note: " + busy)
    write_json(a.out, {
        "schema": 1,
        "command": command,
        "machine": facts,
        "config": {"rounds": a.rounds, "iters": a.iters, "threads": a.threads, "target": a.target,
                   "quiet_wait_s": a.quiet_wait,
                   "ort_warmup": a.ort_warmup, "input_shape": a.input_shape, "nnzc_flags": a.nnzc_flag},
        "results": rows,
    })
    log("compare: wrote %s" % rel(a.out))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
