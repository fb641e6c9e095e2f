#!/bin/sh
# Freezing shape-deciding inputs for --target cpu (ctest conformance.freeze):
#   check_freeze.sh NNZC DIR   (DIR: this folder, written by gen_freeze.py)
# `k` decides Reshape's shape and differs between the two test sets; `x` has a symbolic dim and
# reaches a shape only through Shape, so it must stay an input.
nnzc=$1
dir=$2
tmp=$(mktemp -d /tmp/nnzc-freeze-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/out "$tmp"/err; do [ -f "$f" ] && sed 's/^/  | /' "$f"; done; exit 1; }
froze_td="froze input 'k' from the test data: the cpu target needs static shapes"
froze_i="froze input 'k' from its -i file: the cpu target needs static shapes"
set1="$dir/test_data_set_1"

# both sets pass; the second one specialises the model again
"$nnzc" run "$dir/model.onnx" --test-data "$dir" --target cpu >"$tmp/out" 2>"$tmp/err" || fail "run --test-data --target cpu"
[ "$(tail -n 1 "$tmp/out")" = PASS ] || fail "run --test-data --target cpu: no PASS"
[ "$(cat "$tmp/err")" = "$(printf '%s\n%s' "$froze_td" "$froze_td")" ] || fail "run --test-data --target cpu: stderr"

# the reference interpreter freezes nothing
"$nnzc" run "$dir/model.onnx" --test-data "$dir" >"$tmp/out" 2>"$tmp/err" || fail "run --test-data (ref)"
[ ! -s "$tmp/err" ] || fail "run --test-data (ref): stderr"

# -i: k frozen from its file, x's symbolic dim taken from its file (with ref too)
for target in cpu ref; do
	"$nnzc" run "$dir/model.onnx" -i "x=$set1/input_0.pb" -i "k=$set1/input_1.pb" -o "$tmp/o_$target" --target $target \
		>"$tmp/out" 2>"$tmp/err" || fail "run -i --target $target"
	[ -s "$tmp/o_$target/output_0.pb" ] && [ -s "$tmp/o_$target/output_1.pb" ] || fail "run -i --target $target: outputs"
done
grep -q "output 'y' f32\[4,3\]" "$tmp/out" || fail "run -i: shape of y"
"$nnzc" run "$dir/model.onnx" -i "x=$set1/input_0.pb" -i "k=$set1/input_1.pb" -o "$tmp/o_cpu" --target cpu >"$tmp/out" 2>"$tmp/err"
[ "$(cat "$tmp/err")" = "$froze_i" ] || fail "run -i --target cpu: stderr"
cmp -s "$tmp/o_cpu/output_0.pb" "$tmp/o_ref/output_0.pb" && cmp -s "$tmp/o_cpu/output_1.pb" "$tmp/o_ref/output_1.pb" ||
	fail "run -i: cpu and ref outputs differ"

# bench: from the test data, from -i files; without data, k is named
"$nnzc" bench "$dir/model.onnx" --test-data "$dir" --target cpu --iters 2 >"$tmp/out" 2>"$tmp/err" || fail "bench --test-data"
"$nnzc" bench "$dir/model.onnx" -i "x=$set1/input_0.pb" -i "k=$set1/input_1.pb" --target cpu --iters 2 >"$tmp/out" 2>"$tmp/err" ||
	fail "bench -i"
if "$nnzc" bench "$dir/model.onnx" --input-shape x=2,6 --target cpu --iters 2 >"$tmp/out" 2>"$tmp/err"; then
	fail "bench without data succeeded"
fi
grep -q "input 'k' decides a shape" "$tmp/err" || fail "bench without data: message"
echo "freeze: all checks passed"
