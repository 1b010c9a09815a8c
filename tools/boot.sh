#!/usr/bin/env bash
# boot.sh: install what is needed, build bt386, and boot the default guest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
# Until the PC platform can boot Linux, the default guest is the demonstration kernel.
exec build/bt386 -kernel build/tests/guest/hello.elf --stats "$@"
