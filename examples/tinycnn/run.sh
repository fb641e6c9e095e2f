#!/usr/bin/env bash
# The main job on the shipped example, in three steps:
#  1. nnzc compiles the model to an object and a C header, showing the IR after every pass and
#     the time per pass;
#  2. the app examples/classify is configured and built against the build tree: its CMake
#     compiles the model again at build time, as a user's project does, and links model.o
#     with libnnzrt;
#  3. the app runs on the test input, prints the top classes and checks its output against
#     PyTorch's (the last line is PASS or FAIL; the exit status is 0 only on PASS).
#   examples/tinycnn/run.sh [BUILD_DIR]     BUILD_DIR: a built nnzc tree (default: build)
# Writes BUILD_DIR/examples/tinycnn.{o,h} and builds the app in BUILD_DIR/examples/classify.
# Environment: NNZC_CPU=generic (or an LLVM CPU name) compiles for that CPU instead of the host's;
# CMAKE names the cmake to use (default: cmake on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../../build}" && pwd)"
nnzc="$build/bin/nnzc"
cmake="${CMAKE:-cmake}"
out="$build/examples"
data="$here/test_data_set_0"
cpu=()
[ -z "${NNZC_CPU:-}" ] || cpu=(--cpu "$NNZC_CPU")
mkdir -p "$out"

echo "== nnzc compile examples/tinycnn/model.onnx -o $out/tinycnn.o --header $out/tinycnn.h${NNZC_CPU:+ --cpu $NNZC_CPU} =="
echo "   (the IR after every pass, then the time per pass)"
"$nnzc" compile "$here/model.onnx" -o "$out/tinycnn.o" --header "$out/tinycnn.h" --name tinycnn \
  "${cpu[@]}" --print-after all --time-passes

echo "== build examples/classify against $build =="
"$cmake" -S "$here/../classify" -B "$out/classify" -DNNZC_BUILD_DIR="$build" -DNNZC_NAME=tinycnn \
  -DNNZC_CPU="${NNZC_CPU:-}" >/dev/null
"$cmake" --build "$out/classify"

echo "== classify test_data_set_0/input_0.pb, checked against PyTorch's output_0.pb =="
"$out/classify/classify" "$data/input_0.pb" --expect "$data/output_0.pb" --top 3
