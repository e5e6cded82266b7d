#!/usr/bin/env bash
# compel's figures: the median (and 90th percentile) time of one
# infect + parasite command (PROCESS_INFO) + cure cycle against a running
# single-threaded target and a running 8-thread target, with and without the
# seize/release around it; then the speed of the parasite's page path
# (splice_pages of one large buffer into /dev/null and into a file).
#
#   scripts/bench-compel.sh [CYCLES [PAGES_MIB]]     default: 200 256
#
# Uses the build in $BUILD_DIR (default: build), building compel_bench there
# if it is missing.  Needs root (ptrace of its own children is enough, but
# the targets are run as the caller).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
bench=$build/test/compel/compel_bench
if [ ! -x "$bench" ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" >/dev/null
  cmake --build "$build" --target compel_bench -j"$(nproc)" >/dev/null
fi
exec "$bench" "${1:-200}" "${2:-256}"
