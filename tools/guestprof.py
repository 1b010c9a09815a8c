#!/usr/bin/env python3
"""guestprof.py - where a guest spends its time under bt386, by guest function.

    perf record -g -o perf.data bt386 -perfmap -append nokaslr ...   # profile a run
    tools/guestprof.py --kallsyms FILE [-i perf.data] [--top N] [--by symbol|block]

bt386 -perfmap names every translated block in /tmp/perf-PID.map by its guest address
("guest 0xc10f3a20 cpl0"); perf report attributes samples to those names. This script asks
perf for the samples per name, maps each guest address to the kernel function that holds it
(FILE is the guest's /proc/kallsyms, read with the same kernel and `nokaslr`, for example
`cat /proc/kallsyms` at the guest's shell), and prints the shares: guest kernel functions,
guest user code (one line per block address, or all together), and the monitor itself (bt386,
the host kernel and libraries) by symbol. Standard library only; needs perf.
"""
import argparse
import bisect
import collections
import re
import subprocess
import sys

GUEST = re.compile(r"guest 0x([0-9a-f]{8}) cpl(\d)")


def read_kallsyms(path):
    """Sorted (address, name) of the text symbols in a /proc/kallsyms listing."""
    syms = []
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in "tTwW" and re.fullmatch(r"[0-9a-f]{8}", parts[0]):
                syms.append((int(parts[0], 16), parts[2]))
    if not syms:
        sys.exit(f"guestprof: {path} holds no text symbols (expected /proc/kallsyms lines "
                 "such as 'c1000000 T startup_32')")
    syms.sort()
    return syms


def perf_samples(data):
    """(share in percent, symbol) per symbol perf report sees, monitor and guest blocks alike."""
    cmd = ["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym", "-g", "none",
           "--stdio", "--percent-limit", "0"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        sys.exit("guestprof: perf not found (Debian package linux-perf)")
    except subprocess.CalledProcessError as e:
        sys.exit(f"guestprof: {' '.join(cmd)} failed:\n{e.stderr.strip()}")
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(.+?)\s+\[[.k]\]\s+(.*)", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3).strip()))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kallsyms", required=True, help="the guest's /proc/kallsyms (nokaslr)")
    ap.add_argument("-i", "--input", default="perf.data", help="perf data (default perf.data)")
    ap.add_argument("--top", type=int, default=40, help="lines per table (default 40)")
    ap.add_argument("--by", choices=("symbol", "block"), default="symbol",
                    help="group guest kernel samples by function (default) or block address")
    args = ap.parse_args()

    syms = read_kallsyms(args.kallsyms)
    starts = [a for a, _ in syms]
    kernel, user, monitor = collections.Counter(), collections.Counter(), collections.Counter()
    for share, dso, sym in perf_samples(args.input):
        m = GUEST.search(sym)
        if not m:
            monitor[f"{dso} {sym}"] += share
            continue
        eip, cpl = int(m.group(1), 16), int(m.group(2))
        if cpl == 3:
            user[f"0x{eip:08x}"] += share
            continue
        i = bisect.bisect_right(starts, eip) - 1
        name = syms[i][1] if i >= 0 and eip >= 0xc0000000 else f"0x{eip:08x}"
        if args.by == "block":
            name = f"{name} 0x{eip:08x}"
        kernel[name] += share

    for title, table in (("guest kernel (translated code)", kernel),
                         ("guest user code (translated), by block", user),
                         ("monitor: bt386, host kernel, libraries", monitor)):
        print(f"{title}: {sum(table.values()):.1f} % of samples")
        for name, share in table.most_common(args.top):
            print(f"  {share:6.2f} %  {name}")
        print()


if __name__ == "__main__":
    main()
