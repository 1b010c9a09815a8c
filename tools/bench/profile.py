#!/usr/bin/env python3
"""profile.py - where a benchmark spends its time under bt386: samples of the host PC
(perf, cpu-clock) mapped onto the translated code that bt386 -d in_asm,out_asm lists.

    tools/bench/profile.py build/bench/bytecode.elf [--bt386 build/bt386] [--top 4]

Prints the share of samples in translated code, in the monitor (bt386's C code and stubs) and
in the host kernel; inside translated code, the share of what the translator added around the
guest's own instructions (indirect-branch cache probes, ESP adjustments of push/pop/call/ret,
exit stubs and chaining jumps, callout jumps); then the hottest blocks, guest code first, host
code with sample counts per instruction. Needs `perf` (software clock events suffice, so it
works in a VM without a PMU). Python 3 standard library only.
"""
import argparse
import bisect
import collections
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSN = re.compile(r"^\s+0x([0-9a-f]+):\s+(\S+)\s*(.*)$")


def parse_listing(path):
    """Blocks from a -d in_asm,out_asm log: [{'eip', 'guest': [lines], 'host': [(addr, text)]}]"""
    blocks, cur, section = [], None, None
    with open(path) as f:
        for line in f:
            if line.startswith("IN:"):
                cur = {"eip": None, "guest": [], "host": []}
                blocks.append(cur)
                section = "in"
            elif line.startswith("OUT:"):
                m = re.search(r"guest 0x([0-9a-f]+)", line)
                if cur is None or section != "in":
                    cur = {"eip": None, "guest": [], "host": []}
                    blocks.append(cur)
                cur["eip"] = int(m.group(1), 16) if m else None
                section = "out"
            else:
                m = INSN.match(line)
                if not m or cur is None:
                    continue
                text = (m.group(2) + " " + m.group(3)).strip()
                if section == "in":
                    cur["guest"].append(f"0x{m.group(1)}: {text}")
                else:
                    cur["host"].append((int(m.group(1), 16), text))
    return [b for b in blocks if b["host"]]


def categorize(host):
    """A category for each host instruction of a block: what the translator added, or guest."""
    cats = ["guest"] * len(host)
    i = 0
    while i < len(host):
        t = host[i][1]
        if t == "mov r9, rax" and i + 1 < len(host) and host[i + 1][1] == "lahf":
            j = i
            while j < len(host) and not host[j][1].startswith("jmp qword ptr [r15 + 0x38]"):
                cats[j] = "indirect-branch probe"
                j += 1
            i = j
            continue
        if re.match(r"lea esp, \[esp [+-] ", t):
            cats[i] = "esp adjust (push/pop/call/ret)"
        elif t.startswith("jmp qword ptr [r15 + 0x38]") or t.startswith("mov r9d, ") or \
                t.startswith("lea r10, [rip") or re.match(r"jmp 0x[0-9a-f]+$", t):
            cats[i] = "exits and chaining jumps"
        elif t.startswith("jmp qword ptr [r15 + 0x30]") or t.startswith("movabs r10, "):
            cats[i] = "callout jumps"
        i += 1
    return cats


def main():
    ap = argparse.ArgumentParser(description="profile a guest kernel under bt386 (see top)")
    ap.add_argument("kernel")
    ap.add_argument("--bt386", default=os.path.join(ROOT, "build", "bt386"))
    ap.add_argument("--top", type=int, default=4, help="hottest blocks to list")
    ap.add_argument("--freq", type=int, default=4000, help="samples per second")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="bt386-profile-")
    log, data = os.path.join(tmp, "listing.txt"), os.path.join(tmp, "perf.data")
    rec = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(args.freq), "-o",
                          data, args.bt386, "-d", "in_asm,out_asm", "-D", log, "-kernel",
                          args.kernel], capture_output=True, text=True)
    print(rec.stdout.strip())
    if not os.path.exists(data):
        sys.exit("profile.py: perf record failed:\n" + rec.stderr)
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso"],
                            capture_output=True, text=True).stdout

    blocks = parse_listing(log)
    addrs, where = [], []
    for bi, b in enumerate(blocks):
        for ii, (a, _) in enumerate(b["host"]):
            addrs.append(a)
            where.append((bi, ii))
    order = sorted(range(len(addrs)), key=lambda k: addrs[k])
    addrs = [addrs[k] for k in order]
    where = [where[k] for k in order]
    block_end = {bi: b["host"][-1][0] + 16 for bi, b in enumerate(blocks)}
    cats = [categorize(b["host"]) for b in blocks]

    total, outside = 0, collections.Counter()
    per_insn = collections.Counter()
    for line in script.splitlines():
        parts = line.split(None, 1)
        if not parts:
            continue
        try:
            ip = int(parts[0], 16)
        except ValueError:
            continue
        total += 1
        k = bisect.bisect_right(addrs, ip) - 1
        if k >= 0 and ip < block_end[where[k][0]]:
            per_insn[where[k]] += 1
            continue
        rest = parts[1] if len(parts) > 1 else ""
        if ip >= 0xffff800000000000:
            outside["host kernel (page faults, syscalls, timer)"] += 1
        elif "bt386" in rest:
            outside["monitor: " + rest.split()[0]] += 1
        else:
            outside["other (" + rest.strip()[:40] + ")"] += 1
    if not total:
        sys.exit("profile.py: no samples")
    in_tc = sum(per_insn.values())
    print(f"{total} samples: {100 * in_tc / total:.1f}% in translated code")
    for name, n in outside.most_common(6):
        print(f"  {100 * n / total:5.1f}%  {name}")
    by_cat = collections.Counter()
    for (bi, ii), n in per_insn.items():
        by_cat[cats[bi][ii]] += n
    print("translated code by what the instructions are:")
    for name, n in by_cat.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    by_block = collections.Counter()
    for (bi, _), n in per_insn.items():
        by_block[bi] += n
    for bi, n in by_block.most_common(args.top):
        b = blocks[bi]
        print(f"\nblock at guest 0x{b['eip']:08x}: {100 * n / total:.1f}% of samples")
        for g in b["guest"]:
            print(f"    {g}")
        print("  host:")
        for ii, (a, t) in enumerate(b["host"]):
            s = per_insn.get((bi, ii), 0)
            mark = "" if cats[bi][ii] == "guest" else f"   [{cats[bi][ii]}]"
            print(f"  {100 * s / total:5.1f}%  {t}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
