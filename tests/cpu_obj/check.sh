#!/bin/sh
# The user's path through the cpu target's artifacts (docs/abi.md), from the command line:
#   check.sh NNZC LIBNNZRT_A SOURCE_DIR WORK_DIR CC "EXTRA_FLAGS"
# 1. the example model compiled with --weights-file (and --report, --time-passes), linked with
#    plain cc and run against the reference output by tests/cpu_obj/app.c, which also checks that
#    set_weights rejects every defect; the same with the weights in the object;
# 2. the same model and flags give byte-identical object, weights file and header;
# 3. nnzc info on an object, a shared object and a weights file; truncated and corrupt ones give
#    exit status 1, one line on stderr and nothing on stdout;
# 4. -O0..-O3 each compile working code: the example model and a few ONNX node tests.
# EXTRA_FLAGS (the sanitizers when the tree is built with them) go to cc; may be empty.
set -eu
nnzc=$1 rt=$2 src=$3 work=$4 cc=$5 flags=$6
rm -rf "$work"
mkdir -p "$work"
cd "$work"
model=$src/examples/tinycnn/model.onnx
data=$src/examples/tinycnn/test_data_set_0
nodes=/usr/share/libonnx-testdata/data/node

fail() {
	echo "check.sh: $*" >&2
	exit 1
}

build() { # object, executable
	# shellcheck disable=SC2086
	"$cc" $flags -std=c11 -Wall -Wextra -Werror -I"$src/include" -I. "$src/tests/cpu_obj/app.c" "$1" "$rt" \
		-lpthread -lm -o "$2"
}

# 1. linked with cc and run
"$nnzc" compile "$model" -o w.o --header m.h --name m --weights-file w.bin --report w.json --time-passes 2>times.txt
grep -q "LLVM emit object" times.txt || fail "--time-passes lacks the code generation phases"
build w.o app_w
./app_w "$data/input_0.pb" "$data/output_0.pb" w.bin
cp m.h m_w.h
if [ -x /usr/bin/python3 ]; then
	/usr/bin/python3 - w.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for key in ("model", "nodes", "constants", "weight_elements", "passes", "remarks"):  # the compile report's keys
    assert key in r, key
assert r["target"] == "cpu" and r["weights_file"].endswith("w.bin")
assert set(r["codegen"]["seconds"]) == {"emit_ir", "optimise", "emit_object"}
assert r["memory"]["workspace_bytes"] > 0 and r["memory"]["buffers"] > 0
assert len(r["layers"]) == r["nodes"] and r["weight_bytes"] > 0
convs = [l for l in r["layers"] if l["weight"]]
assert convs and all(l["weight_bytes"] > 0 and l["flops"] > 0 and l["kernel"] for l in convs)
assert all(isinstance(l["outputs"][0], list) for l in r["layers"])
PY
fi
"$nnzc" compile "$model" -o e.o --header m.h --name m
build e.o app_e
./app_e "$data/input_0.pb" "$data/output_0.pb"

# 2. byte-identical
mkdir again
(cd again && "$nnzc" compile "$model" -o w.o --header m.h --name m --weights-file w.bin)
cmp w.o again/w.o
cmp w.bin again/w.bin
cmp m_w.h again/m.h

# 3. nnzc info
"$nnzc" info w.o >info.txt
grep -q "in the weights file w.bin" info.txt || fail "nnzc info w.o: $(cat info.txt)"
grep -q "image: f32\[1,3,32,32\]" info.txt || fail "nnzc info w.o lacks the input"
"$nnzc" info w.bin | grep -q "checksum ok" || fail "nnzc info w.bin"
"$nnzc" info e.o | grep -q "bytes in the object" || fail "nnzc info e.o"
"$nnzc" compile "$model" --emit shared -o s.so
"$nnzc" info s.so | grep -q "(shared object)" || fail "nnzc info s.so"
expect_error() {
	if "$nnzc" info "$1" >out.txt 2>err.txt; then
		fail "nnzc info accepted $1"
	fi
	[ ! -s out.txt ] || fail "nnzc info $1 printed before failing"
	[ "$(wc -l <err.txt)" -eq 1 ] || fail "nnzc info $1: not one line of error: $(cat err.txt)"
}
head -c 100 w.o >cut.o
expect_error cut.o
head -c 20000 e.o >cut2.o
expect_error cut2.o
head -c 1000 w.bin >cut.bin
expect_error cut.bin
printf '\177ELF\002\001garbage' >junk.o
expect_error junk.o
cp w.bin bad.bin
printf 'X' | dd of=bad.bin bs=1 seek=100 conv=notrunc 2>/dev/null
expect_error bad.bin
printf 'NNZCWGT9 and the rest' >other.bin
expect_error other.bin

# 4. every optimisation level
for level in 0 1 2 3; do
	"$nnzc" run "$model" --test-data "$src/examples/tinycnn" --target cpu -O$level >run.txt ||
		fail "-O$level: $(tail -3 run.txt)"
	for t in conv_with_strides_padding gemm_all_attributes matmul_4d maxpool_2d_pads averagepool_2d_pads \
		softmax_axis_1 batchnorm_example add_bcast reduce_mean_default_axes_keepdims_random \
		transpose_all_permutations_1 concat_2d_axis_0 relu; do
		[ -d "$nodes/test_$t" ] || continue
		"$nnzc" run "$nodes/test_$t/model.onnx" --test-data "$nodes/test_$t" --target cpu -O$level --threads 2 >run.txt ||
			fail "-O$level test_$t: $(tail -3 run.txt)"
	done
done
echo "check.sh: PASS"
