#!/usr/bin/env bash
# The main job on the shipped example: compile the model (optimised ONNX, showing the IR after
# every pass), then run the compiled model and check it against PyTorch's output.
#   examples/tinycnn/run.sh [path/to/nnzc]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nnzc="${1:-$here/../../build/bin/nnzc}"
out="$(dirname "$nnzc")/../examples"
mkdir -p "$out"

echo "== nnzc compile tinycnn (IR after every pass) =="
"$nnzc" compile "$here/model.onnx" --emit onnx -o "$out/tinycnn.opt.onnx" --print-after all --time-passes
echo "== nnzc run the optimised model against PyTorch's output =="
"$nnzc" run "$out/tinycnn.opt.onnx" --test-data "$here"
