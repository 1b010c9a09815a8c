#!/usr/bin/env bash
# install-deps.sh: the Debian 12 packages bt386 builds and tests with. Safe to run again.
set -euo pipefail
packages=(build-essential cmake pkg-config gcc-multilib nasm
          libzydis-dev libcapstone-dev libelf-dev check libunicorn-dev
          qemu-system-x86
          zlib1g-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev)  # pgscan: bzImage payloads
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "bt386: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
