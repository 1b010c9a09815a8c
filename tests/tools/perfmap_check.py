#!/usr/bin/env python3
"""perfmap_check.py - bt386 -perfmap writes perf's JIT map (/tmp/perf-PID.map) with one line
per translated block: "START SIZE guest 0xEIP cplN" in hex, as tools/guestprof.py reads it.

    perfmap_check.py BT386 GUEST_DIR WORK_DIR

On a guest test kernel: one line per block --stats-json counts, host ranges inside one
another never, sizes adding up to the host bytes translated, and every guest address inside
the kernel's code (its ELF load range).
"""
import json
import os
import re
import subprocess
import sys

LINE = re.compile(r"^([0-9a-f]+) ([0-9a-f]+) guest 0x([0-9a-f]{8}) cpl([0-3])$")


def main():
    bt386, guest_dir, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    kernel = os.path.join(guest_dir, "indirect.elf")
    stats = os.path.join(work, "perfmap-stats.json")
    p = subprocess.Popen([bt386, "-perfmap", "--stats-json", stats, "-kernel", kernel],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p.communicate(timeout=60)
    path = "/tmp/perf-%d.map" % p.pid
    try:
        lines = open(path).read().splitlines()
    finally:
        if os.path.exists(path):
            os.unlink(path)
    t = json.load(open(stats))["total"]["translation"]
    failures = []
    rows = []
    for l in lines:
        m = LINE.match(l)
        if not m:
            failures.append("malformed line: %r" % l)
            continue
        rows.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16)))
    if len(rows) != t["blocks"]:
        failures.append("%d lines for %d blocks translated" % (len(rows), t["blocks"]))
    if sum(r[1] for r in rows) != t["host_bytes"]:
        failures.append("sizes add up to %d, host bytes %d" % (sum(r[1] for r in rows),
                                                              t["host_bytes"]))
    rows.sort()
    for a, b in zip(rows, rows[1:]):
        if a[0] + a[1] > b[0]:
            failures.append("blocks at %x and %x overlap" % (a[0], b[0]))
    # The Multiboot kernel is linked at 1 MiB (tests/guest/lib/guest.ld).
    for _, _, eip in rows:
        if not 0x100000 <= eip < 0x200000:
            failures.append("guest address 0x%08x outside the kernel" % eip)
    for f in failures[:20]:
        print("perfmap: " + f)
    print("perfmap: %d blocks named, %s" % (len(rows), "ok" if not failures else "FAILED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
