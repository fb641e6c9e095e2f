#!/bin/sh
# check.sh NNZC SRCDIR WORK [NODE_TESTS]: the accelerator target end to end (ctest accel.e2e).
#  1. examples/tinycnn on every preset against its PyTorch outputs (rtol 1e-3); its Softmax has no
#     lowering and runs on the host (targets/ref), which the run says on stderr;
#  2. tinycnn pruned to 2:4 on stc and vegeta against the reference target on the same pruned
#     model, the program using `mm mode=nm`;
#  3. determinism: the same model and flags compile to byte-identical .nnza files, per preset;
#  4. bench's JSON has "cycles", "energy_uj", "edp"; run --report writes per-layer costs;
#  5. the node tests of the ops lowered on the matrix unit and the vector unit, on every preset
#     but dense (conformance.accel covers dense over the whole suite): pass, or exit 3
#     (unsupported: an integer type, ...) — never FAIL or an error.
# Needs /usr/bin/python3 with onnx for step 3 and torch for 2d (skipped without them).
nnzc=$1 src=$2 work=$3 node=${4:-/usr/share/libonnx-testdata/data/node}
presets="dense stc vegeta demm gs"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
mkdir -p "$work" || exit 1
tiny=$src/examples/tinycnn

# 1
for p in $presets; do
	if "$nnzc" run "$tiny/model.onnx" --test-data "$tiny" --target accel --accel-config $p >"$work/tiny.$p.out" 2>"$work/tiny.$p.err" &&
	   [ "$(tail -n 1 "$work/tiny.$p.out")" = PASS ]; then
		echo "tinycnn $p: PASS"
	else
		fail "tinycnn on $p: $(tail -n 2 "$work/tiny.$p.out" "$work/tiny.$p.err" | tr '\n' ' ')"
	fi
done
grep -q "run on the host" "$work/tiny.dense.err" || fail "tinycnn: no host-fallback note on stderr"

# 2
mkdir -p "$work/pruned/test_data_set_0"
cp "$tiny/test_data_set_0/input_0.pb" "$work/pruned/test_data_set_0/" || exit 1
rm -rf "$work/pruned.ref"
"$nnzc" run "$tiny/model.onnx" --prune nm:2:4 -i image="$tiny/test_data_set_0/input_0.pb" -o "$work/pruned.ref" >/dev/null 2>&1 ||
	fail "reference run of the pruned model"
cp "$work/pruned.ref/output_0.pb" "$work/pruned/test_data_set_0/output_0.pb"
for p in stc vegeta; do
	if "$nnzc" run "$tiny/model.onnx" --prune nm:2:4 --test-data "$work/pruned" --target accel --accel-config $p \
		>"$work/pruned.$p.out" 2>&1 && [ "$(tail -n 1 "$work/pruned.$p.out")" = PASS ]; then
		echo "tinycnn nm:2:4 $p: PASS"
	else
		fail "tinycnn nm:2:4 on $p: $(tail -n 2 "$work/pruned.$p.out" | tr '\n' ' ')"
	fi
done

# 2b: a TASD series (one mma per term) on vegeta, which has both terms' modes
mkdir -p "$work/tasd/test_data_set_0"
cp "$tiny/test_data_set_0/input_0.pb" "$work/tasd/test_data_set_0/" || exit 1
rm -rf "$work/tasd.ref"
"$nnzc" run "$tiny/model.onnx" --tasd 2:4+1:4 -i image="$tiny/test_data_set_0/input_0.pb" -o "$work/tasd.ref" >/dev/null 2>&1 ||
	fail "reference run of the TASD model"
cp "$work/tasd.ref/output_0.pb" "$work/tasd/test_data_set_0/output_0.pb"
if "$nnzc" run "$tiny/model.onnx" --tasd 2:4+1:4 --test-data "$work/tasd" --target accel --accel-config vegeta \
	>"$work/tasd.out" 2>&1 && [ "$(tail -n 1 "$work/tasd.out")" = PASS ]; then
	echo "tinycnn tasd 2:4+1:4 vegeta: PASS"
else
	fail "tinycnn tasd on vegeta: $(tail -n 2 "$work/tasd.out" | tr '\n' ' ')"
fi

# 2b': gather/scatter gs(16,16) weights on the gs preset (ELL packs per tile, mm mode=gs)
mkdir -p "$work/gsp/test_data_set_0"
cp "$tiny/test_data_set_0/input_0.pb" "$work/gsp/test_data_set_0/" || exit 1
rm -rf "$work/gsp.ref"
"$nnzc" run "$tiny/model.onnx" --prune gs:16:16:0.5 -i image="$tiny/test_data_set_0/input_0.pb" -o "$work/gsp.ref" \
	>/dev/null 2>&1 || fail "reference run of the gs model"
cp "$work/gsp.ref/output_0.pb" "$work/gsp/test_data_set_0/output_0.pb"
if "$nnzc" run "$tiny/model.onnx" --prune gs:16:16:0.5 --test-data "$work/gsp" --target accel --accel-config gs \
	>"$work/gsp.out" 2>&1 && [ "$(tail -n 1 "$work/gsp.out")" = PASS ]; then
	echo "tinycnn gs:16:16 gs: PASS"
else
	fail "tinycnn gs:16:16 on gs: $(tail -n 2 "$work/gsp.out" | tr '\n' ' ')"
fi

# 2c: buffers of 1-2 KiB: many tiles along every dim, N:M groups filling a buffer half, pooling
# in row blocks
printf 'base = vegeta\nw_buffer_kib = 1\ni_buffer_kib = 2\no_buffer_kib = 2\nx_buffer_kib = 1\n' >"$work/small.cfg"
for m in "--test-data $tiny" "--prune nm:2:4 --test-data $work/pruned" "--tasd 2:4+1:4 --test-data $work/tasd"; do
	# shellcheck disable=SC2086
	if "$nnzc" run "$tiny/model.onnx" $m --target accel --accel-config "$work/small.cfg" >"$work/small.out" 2>&1 &&
	   [ "$(tail -n 1 "$work/small.out")" = PASS ]; then
		echo "tinycnn small buffers ($m): PASS"
	else
		fail "tinycnn with small buffers ($m): $(tail -n 2 "$work/small.out" | tr '\n' ' ')"
	fi
done
printf 'base = gs\nw_buffer_kib = 1\ni_buffer_kib = 2\no_buffer_kib = 2\nx_buffer_kib = 1\n' >"$work/smallgs.cfg"
"$nnzc" run "$tiny/model.onnx" --prune gs:16:16:0.5 --test-data "$work/gsp" --target accel --accel-config "$work/smallgs.cfg" \
	>"$work/small.out" 2>&1 && [ "$(tail -n 1 "$work/small.out")" = PASS ] && echo "tinycnn gs small buffers: PASS" ||
	fail "tinycnn gs with small buffers: $(tail -n 2 "$work/small.out" | tr '\n' ' ')"

# 2d: grouped, depthwise, dilated, 1-D and 3-D convolutions, batch 2, average pooling without
# count_include_pad, a batched MatMul, against PyTorch (needs /usr/bin/python3 with torch)
if /usr/bin/python3 "$src/tests/accel_e2e/make_models.py" "$work/gen" >"$work/gen.log" 2>&1; then
	for m in grouped conv1d3d matmul; do
		for p in $presets; do
			"$nnzc" run "$work/gen/$m/model.onnx" --test-data "$work/gen/$m" --target accel --accel-config $p \
				>"$work/gen.out" 2>&1 && [ "$(tail -n 1 "$work/gen.out")" = PASS ] ||
				fail "$m on $p: $(tail -n 2 "$work/gen.out" | tr '\n' ' ')"
		done
		echo "$m: done on every preset"
	done
else
	echo "generated models: skipped ($(tail -n 1 "$work/gen.log"))"
fi

# 3
if /usr/bin/python3 "$src/tests/accel_e2e/strip_last.py" "$tiny/model.onnx" "$work/tiny_nosm.onnx" 2>/dev/null; then
	for p in $presets; do
		for k in 1 2; do
			"$nnzc" compile "$work/tiny_nosm.onnx" --prune nm:2:4 --target accel --accel-config $p -o "$work/d$k.$p.nnza" \
				2>"$work/d$k.$p.err" || fail "compile for $p: $(tail -n 1 "$work/d$k.$p.err")"
		done
		cmp "$work/d1.$p.nnza" "$work/d2.$p.nnza" >/dev/null && echo "determinism $p: same bytes" ||
			fail "$p: two compilations differ"
	done
	"$nnzc" disasm "$work/d1.stc.nnza" | grep -q "^mm mode=nm .*nz=2 grp=4" || fail "stc program has no 2:4 mm"
	"$nnzc" disasm "$work/d1.dense.nnza" | grep -q "mode=nm" && fail "dense program uses an nm mm"
	"$nnzc" compile "$work/tiny_nosm.onnx" --prune gs:16:16:0.5 --target accel --accel-config gs -o "$work/g.nnza" 2>/dev/null &&
		"$nnzc" disasm "$work/g.nnza" | grep -q "^mm mode=gs " || fail "gs program has no gs mm"
	"$nnzc" compile "$work/tiny_nosm.onnx" --tasd 2:4+1:4 --target accel --accel-config vegeta -o "$work/t.nnza" 2>/dev/null &&
		"$nnzc" disasm "$work/t.nnza" | grep -q "^mma mode=nm .*nz=1 grp=4 .*term=2" || fail "vegeta TASD program has no term-2 mma"
	"$nnzc" info "$work/d1.stc.nnza" >"$work/info.txt" && grep -q "config 'stc'" "$work/info.txt" || fail "nnzc info"
	# the disassembly assembles back into the same bytes
	"$nnzc" disasm "$work/d1.vegeta.nnza" -o "$work/v.s" && "$nnzc" asm "$work/v.s" -o "$work/v.nnza" &&
		cmp "$work/d1.vegeta.nnza" "$work/v.nnza" >/dev/null || fail "disasm | asm round trip"
	# a model with a node the engine cannot run is refused by compile, naming node and op
	"$nnzc" compile "$tiny/model.onnx" --target accel --accel-config dense -o "$work/x.nnza" 2>"$work/x.err"
	[ $? -eq 3 ] && grep -q "node '/Softmax' (Softmax)" "$work/x.err" || fail "compile of a Softmax: $(cat "$work/x.err")"
else
	echo "determinism: skipped (no /usr/bin/python3 with onnx)"
fi

# 4
"$nnzc" bench "$tiny/model.onnx" --target accel --accel-config stc --iters 2 --report "$work/bench.json" \
	>"$work/bench.out" 2>/dev/null || fail "bench"
tail -n 1 "$work/bench.out" | grep -q '"cycles": [1-9].*"energy_uj": .*"edp": ' || fail "bench JSON: $(tail -n 1 "$work/bench.out")"
grep -q '"layers"' "$work/bench.json" && grep -q '"host_layers": \[{"name": "/Softmax"' "$work/bench.json" ||
	fail "bench --report"
"$nnzc" run "$tiny/model.onnx" --test-data "$tiny" --target accel --accel-config demm --report "$work/run.json" \
	>/dev/null 2>&1 && grep -q '"utilisation"' "$work/run.json" || fail "run --report"

# 5
if [ -d "$node" ]; then
	for d in "$node"/test_conv_* "$node"/test_gemm_* "$node"/test_matmul_* "$node"/test_relu "$node"/test_add* \
		"$node"/test_maxpool_* "$node"/test_averagepool_* "$node"/test_clip* "$node"/test_leakyrelu*; do
		[ -f "$d/model.onnx" ] || continue
		# (the importer refuses MaxPool's Indices output for every target: not the lowering's)
		case $(basename "$d") in test_convtranspose* | test_convinteger* | test_matmulinteger* | test_maxpool_with_argmax*) continue ;; esac
		for p in stc vegeta demm gs; do
			"$nnzc" run "$d/model.onnx" --test-data "$d" --target accel --accel-config $p >"$work/n.out" 2>"$work/n.err"
			rc=$?
			if [ $rc -eq 3 ]; then
				echo "$(basename "$d") $p: unsupported: $(tail -n 1 "$work/n.err")"
			elif [ $rc -ne 0 ]; then
				fail "$(basename "$d") on $p (exit $rc): $(tail -n 1 "$work/n.out" "$work/n.err" | tr '\n' ' ')"
			fi
		done
	done
fi

[ $fails -eq 0 ] && echo "accel e2e: all passed" || echo "accel e2e: $fails failures"
[ $fails -eq 0 ]
