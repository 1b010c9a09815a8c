#!/usr/bin/env bash
# check-guest-qemu.sh: boot the default guest (tools/mkguest.sh) under QEMU as the reference,
# type `uname -a` and `poweroff -f` on its serial console, and check what comes back.
#
#   tools/check-guest-qemu.sh [--dir DIR] [--timeout SECONDS] [--log FILE]
#
# When DIR holds disk.img (tools/mkdisk.sh), it is the IDE disk too, and the check mounts it
# read-only and reads /hello.txt: that exercises ata_piix, sd_mod and ext4 from the initramfs.
#
#   --dir DIR       the guest folder (default: $BT386_GUEST_DIR, or build/guest)
#   --timeout S     give up after S seconds in all (default 180; QEMU runs without KVM here)
#   --log FILE      keep the console output in FILE (default: a temporary file, shown on failure)
#
# Exit status 0 when the guest reached its shell, ran uname and powered off; 1 otherwise.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${BT386_GUEST_DIR:-$repo/build/guest}
limit=180
log=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
    --timeout) limit=${2:?--timeout needs seconds}; shift 2 ;;
    --log) log=${2:?--log needs a file}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-guest-qemu: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "check-guest-qemu: FAIL: $*" >&2; exit 1; }
for f in vmlinuz initramfs.cpio.gz; do
  [ -f "$dir/$f" ] || die "no $dir/$f: run tools/mkguest.sh first"
done
command -v qemu-system-i386 >/dev/null || die "qemu-system-i386 not found (apt-get install qemu-system-x86)"

work=$(mktemp -d)
[ -n "$log" ] || log=$work/console.log
fifo=$work/in
mkfifo "$fifo"
qemu_pid=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "check-guest-qemu: FAIL: $*" >&2
  echo "---- last lines of the console ----" >&2
  tail -n 25 "$log" | tr -d '\r' >&2
  exit 1
}

disk=()
if [ -f "$dir/disk.img" ]; then
  # snapshot=on: the guest's writes never reach the image.
  disk=(-drive "file=$dir/disk.img,format=raw,if=ide,index=0,media=disk,snapshot=on")
fi

start=$(date +%s.%N)
deadline=$(( $(date +%s) + limit ))
# -no-reboot: a panic or reboot ends QEMU instead of looping.
timeout "$limit" qemu-system-i386 -m 256 -nographic -no-reboot \
  -kernel "$dir/vmlinuz" -initrd "$dir/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1" "${disk[@]}" <"$fifo" >"$log" 2>&1 &
qemu_pid=$!
exec 3>"$fifo"

elapsed() { echo "$(date +%s.%N) $start" | awk '{printf "%.1f", $1 - $2}'; }

# Wait until the console output matches an extended regex.
expect() { # regex what
  while ! grep -qE -- "$1" < <(tr -d '\r' <"$log"); do
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU ended before $2"
    [ "$(date +%s)" -lt "$deadline" ] || fail "no $2 within ${limit}s"
    grep -q "Kernel panic" "$log" && fail "the kernel panicked before $2"
    sleep 0.2
  done
}

echo "check-guest-qemu: booting $dir/vmlinuz under qemu-system-i386 (TCG)"
expect '^bt386 guest: Linux' "/init's banner"
expect 'bt386-guest:/# ' "a shell prompt"
shell_time=$(elapsed)
echo "check-guest-qemu: shell after ${shell_time}s"

printf 'uname -a\n' >&3
expect '^Linux bt386-guest 6\.[0-9]+\.[0-9]+-[0-9]+-686 .* i686' "the output of uname -a"
uname_line=$(tr -d '\r' <"$log" | grep -E '^Linux bt386-guest ' | head -n 1)
echo "check-guest-qemu: $uname_line"

if [ ${#disk[@]} -gt 0 ]; then
  printf 'mount -t ext2 -o ro /dev/sda /mnt && cat /mnt/hello.txt\n' >&3
  expect '^hello from the bt386 test disk' "the disk's /hello.txt (IDE disk, ext2 via ext4)"
  echo "check-guest-qemu: IDE disk mounted, /hello.txt read"
fi

printf 'poweroff -f\n' >&3
expect 'reboot: Power down' "the power-off message"
status=0
wait "$qemu_pid" || status=$?
qemu_pid=""
[ "$status" -eq 0 ] || fail "QEMU exited with status $status after poweroff"

if grep -qE "job control turned off|can't access tty" < <(tr -d '\r' <"$log"); then
  fail "the shell has no controlling terminal (job control is off)"
fi
if grep -q "^init: modprobe" < <(tr -d '\r' <"$log"); then
  fail "$(tr -d '\r' <"$log" | grep "^init: modprobe" | head -n 3)"
fi
echo "check-guest-qemu: PASS: shell in ${shell_time}s, powered off after $(elapsed)s"
