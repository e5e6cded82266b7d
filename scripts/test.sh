#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs the whole test suite: unit tests
# (plain and under AddressSanitizer), compel tests, `ckpt check`, and the
# round trips of real processes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
echo "== ckpt check"
./build/ckpt check
echo "== ctest"
ctest --test-dir build --output-on-failure -j"${CTEST_JOBS:-1}" --timeout 600 "$@"
