#!/usr/bin/env bash
# Configures and builds ckpt into build/ (the binary is build/ckpt).
#   scripts/build.sh              everything: ckpt and the test suite
#   scripts/build.sh TARGET...    only those targets and what they need
#                                 (the demo: ckpt ckpt_demo_ticker)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j"$(nproc)" "${targets[@]}"
