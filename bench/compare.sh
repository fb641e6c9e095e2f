#!/usr/bin/env bash
# nnzc against ONNX Runtime: see bench/README.md, or `bench/compare.sh --help`.
# The work is done by compare.py with Debian's Python (standard library only).
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/compare.py" "$@"
