#!/usr/bin/env bash
# boot.sh: install what is needed, build bt386, build the default guest (Debian's 686 kernel
# and a busybox initramfs, downloaded once), and boot it with the shell on this terminal.
# Ctrl-A x quits; extra arguments go to bt386 (e.g. -m 512M).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
tools/mkguest.sh
exec build/bt386 -m 256M -nographic -kernel build/guest/vmlinuz \
  -initrd build/guest/initramfs.cpio.gz -append "console=ttyS0 quiet" "$@"
