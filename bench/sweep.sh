#!/usr/bin/env bash
# The sparsity sweep (nnzc sparse vs nnzc dense vs ONNX Runtime on pruned ResNet-50/MobileNetV2):
# see bench/README.md, or `bench/sweep.sh --help`. The work is done by sparse_sweep.py with
# Debian's Python (the models are made by make_pruned.py with its torch).
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/sparse_sweep.py" "$@"
