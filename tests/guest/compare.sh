#!/usr/bin/env bash
# compare.sh BT386 QEMU KERNEL: run a test kernel under bt386 and under QEMU (the reference
# for what hardware does) and require the same debug-console output and exit status.
#
# One exception: a kernel named triple_fault* ends in a triple fault, which QEMU (-no-reboot)
# reports with status 0 and bt386 with status 3 and a message; that pair counts as the same.
#
# compare.sh BT386 QEMU KERNEL EXPECTED: for behaviour QEMU does not model, bt386's output
# must be the file EXPECTED, written from the Intel SDM, and the kernel must end normally
# (exit status 1); QEMU's output is shown for reference when it differs, not required.
#
# GUEST_INITRD in the environment: given to both as -initrd (a Multiboot kernel's modules).
set -u
bt386=$1 qemu=$2 kernel=$3 expected=${4:-}
extra=()
if [ -n "${GUEST_INITRD:-}" ]; then extra=(-initrd "$GUEST_INITRD"); fi
how=""
name=$(basename "$kernel" .elf)
if [ ! -f "$kernel" ]; then
  echo "$name: no kernel $kernel (did it build?)"; exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if [ -n "$expected" ]; then
  timeout 60 "$bt386" -kernel "$kernel" "${extra[@]}" -m 128 -no-reboot -nodefaults >"$dir/bt386.out" 2>"$dir/bt386.err"
  bt_status=$?
  if ! cmp -s "$expected" "$dir/bt386.out" || [ "$bt_status" -ne 1 ]; then
    echo "$name: output differs from $(basename "$expected") (--- the SDM, +++ bt386), or" \
      "exit status $bt_status is not 1:"
    diff -u "$expected" "$dir/bt386.out" | head -60
    echo "--- bt386 stderr:"; head -20 "$dir/bt386.err"
    exit 1
  fi
  # For reference only, and QEMU may run astray where it does not model the check: 10 s.
  timeout 10 "$qemu" -kernel "$kernel" "${extra[@]}" -debugcon "file:$dir/qemu.out" \
    -device isa-debug-exit,iobase=0xf4,iosize=4 -display none -nodefaults -no-reboot \
    -m 128 >/dev/null 2>&1
  echo "$name: the output the SDM gives ($(wc -l <"$expected") lines)"
  if ! cmp -s "$expected" "$dir/qemu.out"; then
    echo "(QEMU differs, for reference: --- the SDM, +++ QEMU)"
    diff -u "$expected" "$dir/qemu.out" | head -40
  fi
  exit 0
fi

timeout 60 "$qemu" -kernel "$kernel" "${extra[@]}" -debugcon "file:$dir/qemu.out" \
  -device isa-debug-exit,iobase=0xf4,iosize=4 -display none -nodefaults -no-reboot \
  -m 128 >/dev/null 2>"$dir/qemu.err"
qemu_status=$?
timeout 60 "$bt386" -kernel "$kernel" "${extra[@]}" -m 128 -no-reboot -nodefaults >"$dir/bt386.out" 2>"$dir/bt386.err"
bt_status=$?

if [ "$qemu_status" -eq 124 ]; then
  echo "$name: QEMU did not finish within 60 s"; cat "$dir/qemu.err"; exit 1
fi
fail=0
if ! cmp -s "$dir/qemu.out" "$dir/bt386.out"; then
  echo "$name: output differs (--- QEMU, +++ bt386):"
  diff -u "$dir/qemu.out" "$dir/bt386.out" | head -60
  fail=1
fi
if [[ $name == triple_fault* ]]; then
  if [ "$qemu_status" -eq 0 ] && [ "$bt_status" -eq 3 ] && grep -q "triple fault" "$dir/bt386.err"
  then
    bt_status=0 how="a triple fault"
  else
    echo "$name: expected a triple fault (QEMU status 0, bt386 status 3 saying \"triple fault\")"
    fail=1
  fi
fi
if [ "$qemu_status" -ne "$bt_status" ]; then
  echo "$name: exit status differs: QEMU $qemu_status, bt386 $bt_status"
  fail=1
fi
if [ $fail -ne 0 ]; then
  echo "--- bt386 stderr:"; head -20 "$dir/bt386.err"
  exit 1
fi
lines=$(wc -l <"$dir/bt386.out")
echo "$name: same output as QEMU ($lines lines), ${how:-exit status $bt_status}"
