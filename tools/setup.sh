#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine: installs the Debian packages nnzc needs (only the missing
# ones, so it is cheap to re-run), configures and builds into build/, and runs the main job on the
# example model unless --no-example is given.
#   tools/setup.sh [--no-example] [--build-dir DIR] [cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
run_example=1
cmake_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-example) run_example=0 ;;
    --build-dir) build_dir="$2"; shift ;;
    *) cmake_args+=("$1") ;;
  esac
  shift
done

packages=(
  build-essential cmake pkg-config
  llvm-19-dev clang-19 libclang-rt-19-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata
  check
  # test-model generation and reference outputs only (the product itself is C)
  python3-onnx python3-numpy python3-torch python3-torchvision python3-sklearn
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
echo "setup: built $build_dir/bin/nnzc"

if [ "$run_example" = 1 ]; then
  examples/tinycnn/run.sh "$build_dir"
fi
