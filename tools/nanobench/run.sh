#!/usr/bin/env bash
# run.sh: build the nanobenchmark kernel, run it under bt386 and qemu-system-i386 (TCG) in the
# same run, print cycles per operation side by side, and write docs/nanobench.md.
# Not a test: the numbers depend on the machine and its load.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/nanobench
mkdir -p "$out"
lib=$top/tests/guest/lib
gcc -m32 -O2 -ffreestanding -fno-pie -no-pie -nostdlib -fno-stack-protector -fno-builtin \
  -fno-asynchronous-unwind-tables -static -I"$top/tests/guest" \
  -Wl,-T,"$lib/guest.ld" -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
  -o "$out/nanobench.elf" "$lib/boot.S" "$lib/lib.c" "$lib/traps.c" "$lib/isr.S" \
  "$top/tools/nanobench/nanobench.c" -lgcc
[ -x "$top/build/bt386" ] || { echo "build bt386 first (tools/build.sh)"; exit 1; }

"$top/build/bt386" -kernel "$out/nanobench.elf" >"$out/bt386.txt" || true
qemu-system-i386 -accel tcg -kernel "$out/nanobench.elf" -debugcon "file:$out/qemu.txt" \
  -device isa-debug-exit,iobase=0xf4,iosize=4 -display none -nodefaults -m 128 || true

python3 - "$out/bt386.txt" "$out/qemu.txt" "$top/docs/nanobench.md" <<'PY'
import re, sys, datetime, platform, subprocess
def load(path):
    rows = {}
    for line in open(path):
        m = re.match(r"(.+?): ([\d.]+) cycles", line)
        if m:
            rows[m.group(1).strip()] = float(m.group(2))
    return rows
bt, qm = load(sys.argv[1]), load(sys.argv[2])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
qv = subprocess.run(["qemu-system-i386", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
lines = ["| operation | bt386 (cycles) | QEMU TCG (cycles) | QEMU / bt386 |", "| --- | ---: | ---: | ---: |"]
for op, c in bt.items():
    q = qm.get(op)
    lines.append("| %s | %.1f | %s | %s |" % (op, c, "%.1f" % q if q else "-", "%.1fx" % (q / c) if q and c else "-"))
table = "\n".join(lines)
print(table)
# What follows the table (from "How to read the rows" on) is written by hand: keep it.
try:
    old = open(sys.argv[3]).read()
    notes = old[old.index("How to read the rows"):]
except (OSError, ValueError):
    notes = ""
with open(sys.argv[3], "w") as f:
    f.write("# Nanobenchmarks: single sensitive operations\n\n")
    f.write("Time per operation in host TSC cycles, measured inside the guest with rdtsc over many\n"
            "repetitions (`tools/nanobench/nanobench.c`), under bt386 and QEMU's TCG in the same run\n"
            "(`tools/nanobench/run.sh`). In the spirit of Adams and Agesen, ASPLOS 2006, table 2.\n\n")
    f.write("Measured %s on %s, %s; the machine is shared, so take the ratios, not the absolute "
            "numbers.\n\n" % (datetime.date.today().isoformat(), cpu, qv))
    f.write(table + "\n")
    if notes:
        f.write("\n" + notes)
PY
