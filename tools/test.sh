#!/usr/bin/env bash
# test.sh: install what is needed, build, and run every test (unit, differential, guest).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
