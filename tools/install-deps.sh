#!/usr/bin/env bash
# install-deps.sh: the Debian 12 packages bt386 builds and tests with. Safe to run again.
set -euo pipefail
packages=(build-essential cmake pkg-config gcc-multilib nasm
          libzydis-dev libcapstone-dev libelf-dev check libunicorn-dev
          qemu-system-x86 python3
          zlib1g-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev)  # pgscan: bzImage payloads
# The boot test (tests/boot): tools/mkguest.sh unpacks Debian's i386 kernel and busybox (cpio,
# depmod from kmod); tools/mkdisk.sh, debugfs and e2fsck come from e2fsprogs.
packages+=(e2fsprogs cpio kmod)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# mkguest.sh downloads i386 packages: their lists must be there before the tests run.
update=0
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  echo "bt386: dpkg --add-architecture i386 (for the boot test's guest)" >&2
  $sudo dpkg --add-architecture i386
  update=1
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && [ "$update" -eq 0 ]; then
  exit 0
fi
$sudo apt-get update -qq
[ ${#missing[@]} -gt 0 ] || exit 0
echo "bt386: installing ${missing[*]}" >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
