#!/bin/sh
# The cost model and per-layer timing from the command line (issue 5):
#   check.sh NNZC SOURCE_DIR WORK_DIR
# 1. bench --per-layer: the last line is JSON with a "layers" array (name, op, kernel, choice,
#    predicted_ms, dense_predicted_ms, measured_ms per node) besides the usual fields, a table on
#    stderr, and --report FILE with the same layers; --per-layer without --target cpu is refused;
# 2. compile --report: cost_model and per layer choice / predicted_ms / dense_predicted_ms;
#    --kernels dense makes every choice dense; nnzc info shows the choice and the cost model;
# 3. --kernels and --cost-model reject bad values (the file named in the message);
# 4. calibrate --quick writes a cost file that compile --cost-model accepts and names.
# No timing is checked: only that the numbers are there and well-formed.
set -eu
nnzc=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cd "$work"
model=$src/examples/tinycnn/model.onnx
py=/usr/bin/python3

fail() {
	echo "check.sh: $*" >&2
	exit 1
}

# 1. bench --per-layer
"$nnzc" bench "$model" --target cpu --threads 2 --iters 3 --per-layer --report bench.json >bench.out 2>bench.err
grep -q "total of the medians" bench.err || fail "bench --per-layer printed no table"
tail -n 1 bench.out >last.json
"$py" - last.json bench.json <<'PY'
import json, sys
last = json.load(open(sys.argv[1]))
for k in ("model", "target", "threads", "iters", "median_ms", "min_ms", "mean_ms", "max_ms", "cost_model", "layers"):
    assert k in last, "last line lacks " + k
rep = json.load(open(sys.argv[2]))
for doc in (last, rep):
    layers = doc["layers"]
    assert len(layers) > 3, layers
    for l in layers:
        for k in ("name", "op", "kernel", "choice", "predicted_ms", "dense_predicted_ms", "measured_ms"):
            assert k in l, (k, l)
        assert l["measured_ms"] >= 0
        if l["op"] in ("nnzc.FusedConv", "Conv", "Gemm", "nnzc.FusedGemm"):
            assert l["choice"] in ("dense", "sparse-rows", "sparse-blocks", "sparse-lanes", "sparse-patterns"), l
            assert l["predicted_ms"] > 0 and l["dense_predicted_ms"] > 0, l
assert [l["name"] for l in last["layers"]] == [l["name"] for l in rep["layers"]]
assert rep["threads"] == 2 and rep["cost_model"] == last["cost_model"]
PY
if "$nnzc" bench "$model" --per-layer --iters 1 >/dev/null 2>err.txt; then
	fail "--per-layer on the ref target accepted"
fi
grep -q "target cpu" err.txt || fail "--per-layer without --target cpu: $(cat err.txt)"

# 2. compile --report, --kernels dense, nnzc info
"$nnzc" compile "$model" -o m.o --report auto.json --cost-model defaults
"$nnzc" compile "$model" -o d.o --report dense.json --kernels dense --cost-model defaults
"$py" - auto.json dense.json <<'PY'
import json, sys
auto, dense = (json.load(open(p)) for p in sys.argv[1:3])
for doc in (auto, dense):
    assert doc["cost_model"] == "defaults" and doc["cost_model_threads"] == 1
    products = [l for l in doc["layers"] if l["weight"] is not None]
    assert products, "no layer with weights"
    for l in doc["layers"]:
        for k in ("choice", "predicted_ms", "dense_predicted_ms"):
            assert k in l, (k, l)
    for l in products:
        assert l["choice"] is not None and l["dense_predicted_ms"] > 0, l
for l in dense["layers"]:
    assert l["choice"] in (None, "dense"), l
PY
"$nnzc" info m.o >info.txt
grep -q "\[dense\]" info.txt || fail "nnzc info shows no kernel choice"
grep -q "cost model defaults" info.txt || fail "nnzc info does not name the cost model"

# 3. bad values
if "$nnzc" compile "$model" -o x.o --kernels fast 2>err.txt; then fail "--kernels fast accepted"; fi
grep -q -- "--kernels" err.txt || fail "bad --kernels message: $(cat err.txt)"
printf 'nnzc-cost 1\ncpu\n' >bad.txt
if "$nnzc" compile "$model" -o x.o --cost-model bad.txt 2>err.txt; then fail "a bad cost model accepted"; fi
grep -q "bad.txt:2" err.txt || fail "the cost model error does not name the file and line: $(cat err.txt)"
[ ! -e x.o ] || fail "a failed compilation left x.o"
if "$nnzc" run "$model" --target cpu --test-data "$src/examples/tinycnn" --cost-model missing.txt 2>err.txt; then
	fail "a missing cost model accepted"
fi
grep -q "missing.txt" err.txt || fail "a missing cost model: $(cat err.txt)"

# 4. calibrate --quick, then compile with it
"$nnzc" calibrate --quick --out cost.txt 2>cal.txt
head -n 1 cost.txt | grep -q "^nnzc-cost 1$" || fail "calibrate wrote no cost file"
grep -q "^kind dense " cost.txt || fail "calibrate did not calibrate the dense kernels"
"$nnzc" compile "$model" -o c.o --name m --report c.json --cost-model cost.txt
grep -q '"cost_model": "cost.txt fnv1a64:' c.json || fail "the report does not name the calibration file"
"$nnzc" compile "$model" -o c2.o --name m --cost-model cost.txt
cmp -s c.o c2.o || fail "the same model, flags and cost model gave different objects"
"$nnzc" run "$model" --target cpu --test-data "$src/examples/tinycnn" --cost-model cost.txt --kernels sparse >run.txt
tail -n 1 run.txt | grep -q PASS || fail "--kernels sparse run failed"
echo "cpu_cost.cli: ok"
