#!/usr/bin/env bash
# mkdisk.sh: a small ext2 disk image for the guest's IDE disk (the boot tests mount it).
#
#   tools/mkdisk.sh [--out FILE] [--size MIB] [--force]
#
#   --out FILE   the image (default: $BT386_GUEST_DIR/disk.img, or build/guest/disk.img)
#   --size MIB   its size (default 16)
#   --force      make it again even if it exists
#
# The file system (label bt386disk) holds /hello.txt with a known line, and /lost+found.
# mke2fs comes from the e2fsprogs package, installed if missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${BT386_GUEST_DIR:-$repo/build/guest}/disk.img
size=16
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a file}; shift 2 ;;
    --size) size=${2:?--size needs a number of MiB}; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mkdisk: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
die() { echo "mkdisk: error: $*" >&2; exit 1; }
[[ "$size" =~ ^[0-9]+$ ]] && [ "$size" -ge 1 ] && [ "$size" -le 4096 ] ||
  die "--size $size: give a number of MiB between 1 and 4096"

if [ -f "$out" ] && [ "$force" -eq 0 ]; then
  echo "mkdisk: $out exists (--force makes it again)"
  exit 0
fi

mke2fs=$(PATH=$PATH:/sbin:/usr/sbin command -v mke2fs || true)
if [ -z "$mke2fs" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "mkdisk: installing e2fsprogs"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends e2fsprogs >/dev/null 2>&1 ||
    die "mke2fs is missing and could not be installed (apt-get install e2fsprogs)"
  mke2fs=$(PATH=$PATH:/sbin:/usr/sbin command -v mke2fs)
fi

mkdir -p "$(dirname "$out")"
content=$(mktemp -d)
trap 'rm -rf "$content" "$out.tmp"' EXIT
echo "hello from the bt386 test disk" >"$content/hello.txt"
rm -f "$out.tmp"
truncate -s "${size}M" "$out.tmp"
# -d fills the file system from a folder without mounting it (no root needed); no UUID or
# time randomness beyond what mke2fs always records.
"$mke2fs" -q -F -t ext2 -L bt386disk -m 0 -d "$content" "$out.tmp" ||
  die "mke2fs failed on $out.tmp"
mv "$out.tmp" "$out"
echo "mkdisk: $out: ext2, $size MiB, label bt386disk, /hello.txt"
