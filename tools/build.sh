#!/usr/bin/env bash
# build.sh: configure and build bt386 and its test kernels into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DBT386_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
