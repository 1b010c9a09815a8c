#!/usr/bin/env python3
"""run.py - bt386's CPU benchmark: the same C workloads under bt386, under QEMU TCG and natively.

    tools/bench/run.py                 build everything, run each program 3 times under each,
                                       print the table and write it to docs/benchmarks.md
    tools/bench/run.py --reps 5 --only sieve,qsort --no-qemu --scale 0.2

Each workload (tools/bench/NAME.c, see bench.h) is built twice into build/bench/: NAME.elf, a
32-bit Multiboot kernel (gcc -m32 -O2, tests/guest/lib) that prints its checksum and the TSC
cycles the workload took on port 0xE9 and exits through port 0xF4; and NAME, the same C built
for x86-64 Linux (gcc -O2). Repetitions are interleaved (native, bt386, QEMU, then the next
program) so that a change in the machine's load hits all three alike; the minimum of the
repetitions is used. One more bt386 run per program with --stats gives the translation share.

This is a benchmark, not a test: it is not part of ctest or CI. Python 3 standard library only.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_SRC = os.path.join(ROOT, "tools", "bench")
GUEST_LIB = os.path.join(ROOT, "tests", "guest", "lib")
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(BUILD, "bench")
BT386 = os.path.join(BUILD, "bt386")  # replaced by --bt386 or --rev
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
LAST = os.path.join(OUT, "last-run.json")  # the raw figures of the last full collection

BENCHES = ["sieve", "crc32", "sha256", "qsort", "matmul_int", "matmul_fp", "bytecode", "nbody",
           "mandel", "memstr"]
# Extra guest flags: mandel is the SSE2 floating-point kernel (the others use the x87).
GUEST_EXTRA = {"mandel": ["-msse2", "-mfpmath=sse"]}

# Both builds: no loop-to-memset/memcpy rewriting (the guest's runtime has only byte loops,
# the host's glibc has AVX2 ones: that would measure the libraries, not the code), and sqrt as
# one instruction (no libm in the guest).
COMMON_CFLAGS = ["-O2", "-Wall", "-Wextra", "-fno-tree-loop-distribute-patterns",
                 "-fno-math-errno"]
GUEST_CFLAGS = ["-m32", "-g", "-ffreestanding", "-fno-pie", "-no-pie", "-nostdlib",
                "-fno-stack-protector", "-fno-builtin", "-fno-asynchronous-unwind-tables",
                "-static", "-Wno-unused-parameter"]
GUEST_LDFLAGS = ["-Wl,-T," + os.path.join(GUEST_LIB, "guest.ld"), "-Wl,--build-id=none",
                 "-Wl,--no-warn-rwx-segments"]

# --guest-isa pentium-m: build every guest for the CPU bt386 presents (CPUID family 6 model 13,
# SSE2) instead of the i686 baseline, so that the 32-bit compiler may use SSE2 for doubles and
# vectorize loops as the x86-64 build does.
GUEST_ISA = {"i686": [], "pentium-m": ["-march=pentium-m", "-msse2", "-mfpmath=sse"]}
GUEST_ISA_FLAGS = []

QEMU = "qemu-system-i386"
QEMU_ARGS = ["-accel", "tcg", "-debugcon", "stdio", "-device",
             "isa-debug-exit,iobase=0xf4,iosize=4", "-display", "none", "-nodefaults", "-m", "128"]
GUEST_OK_STATUS = 1  # guest_exit(0) through isa-debug-exit: (0 << 1) | 1
LINE = re.compile(r"bench (\S+) n (\d+) checksum ([0-9a-f]{8}) tsc (\d+)(?: ns (\d+))?")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_cmd(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def first_line(cmd):
    try:
        return run_cmd(cmd).stdout.splitlines()[0].strip()
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


# ---- building ----

def default_size(name):
    with open(os.path.join(BENCH_SRC, name + ".c")) as f:
        m = re.search(r"^#define BENCH_N (\d+)", f.read(), re.M)
    if not m:
        sys.exit(f"run.py: {name}.c has no '#define BENCH_N'")
    return int(m.group(1))


def build_bt386(rev):
    """Build bt386 from the working tree (build/bt386) or, with a revision, from that commit
    exported with git archive (build/bench/bt386-REV/), so others' unfinished edits in a shared
    tree do not end up in the figures. Returns the binary and what it was built from."""
    src, build = ROOT, BUILD
    if rev:
        commit = first_line(["git", "-C", ROOT, "rev-parse", "--short", rev + "^{commit}"])
        if commit == "unknown":
            sys.exit(f"run.py: no git revision {rev}")
        src = os.path.join(OUT, f"bt386-{commit}", "src")
        build = os.path.join(OUT, f"bt386-{commit}", "build")
        if not os.path.exists(os.path.join(src, "CMakeLists.txt")):
            log(f"exporting commit {commit} to {os.path.relpath(src, ROOT)}")
            os.makedirs(src, exist_ok=True)
            archive = subprocess.run(["git", "-C", ROOT, "archive", commit], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        log(f"configuring bt386 in {os.path.relpath(build, ROOT)} (cmake)")
        run_cmd(["cmake", "-S", src, "-B", build])
    log(f"building bt386 in {os.path.relpath(build, ROOT)}")
    r = subprocess.run(["cmake", "--build", build, "-j2", "--target", "bt386"],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit("run.py: building bt386 failed (try --rev HEAD to build the last commit):\n"
                 + r.stdout[-3000:] + r.stderr[-3000:])
    return os.path.join(build, "bt386"), (f"commit {commit}" if rev else "the working tree")


def build_benches(names, sizes):
    os.makedirs(OUT, exist_ok=True)
    for name in names:
        src = os.path.join(BENCH_SRC, name + ".c")
        size = [f"-DBENCH_N={sizes[name]}", "-I" + BENCH_SRC]
        guest = (["gcc"] + GUEST_CFLAGS + COMMON_CFLAGS + GUEST_EXTRA.get(name, []) +
                 GUEST_ISA_FLAGS + size +
                 ["-I" + os.path.dirname(GUEST_LIB)] + GUEST_LDFLAGS +
                 ["-o", os.path.join(OUT, name + ".elf"), os.path.join(GUEST_LIB, "boot.S"),
                  os.path.join(GUEST_LIB, "lib.c"), os.path.join(BENCH_SRC, "guest_main.c"), src,
                  "-lgcc"])
        native = (["gcc"] + COMMON_CFLAGS + size +
                  ["-o", os.path.join(OUT, name), os.path.join(BENCH_SRC, "native_main.c"), src])
        for cmd in (guest, native):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode or r.stderr.strip():
                sys.exit(f"run.py: building {name} failed or warned:\n{' '.join(cmd)}\n{r.stderr}")
    log(f"built {len(names)} programs into {os.path.relpath(OUT, ROOT)}/")


# ---- running ----

def run_one(kind, name, timeout):
    """One run: a dict with checksum, tsc (cycles), ns (native only), wall (s), cpu (s: user +
    system time of the process and its threads, from the rusage of waited-for children; runs
    are sequential, so the difference is this one's), or error."""
    if kind == "native":
        cmd = [os.path.join(OUT, name)]
        ok_status = 0
    elif kind == "bt386":
        cmd = [BT386, "-kernel", os.path.join(OUT, name + ".elf"), "-m", "128"]
        ok_status = GUEST_OK_STATUS
    else:
        cmd = [QEMU, "-kernel", os.path.join(OUT, name + ".elf")] + QEMU_ARGS
        ok_status = GUEST_OK_STATUS
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout} s"}
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    m = LINE.search(r.stdout)
    if r.returncode != ok_status or not m:
        tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
        return {"error": f"exit status {r.returncode}: " + " | ".join(tail)}
    return {"checksum": m.group(3), "tsc": int(m.group(4)),
            "ns": int(m.group(5)) if m.group(5) else None, "wall": wall, "cpu": cpu}


STAT_PATTERNS = {
    "insns": r"guest instructions translated\s+(\d+)",
    "blocks": r"blocks translated\s+(\d+)",
    "expansion": r"expansion ([\d.]+)x",
    "exits": r"exits to the dispatcher\s+(\d+)",
    "unchained": r"unchained (\d+)",
    "ind_miss": r"indirect misses (\d+)",
    "indirect": r"indirect branches\s+(\d+)",
    "ind_hit": r"\(([\d.]+)% hit the inline cache",
    "callouts": r"^\s*callouts\s+(\d+)",
    "faults": r"host faults\s+(\d+)",
    "translate_s": r"time translating / running\s+([\d.]+) s",
    "run_s": r"time translating / running\s+[\d.]+ s / ([\d.]+) s",
}


def run_stats(name, timeout):
    cmd = [BT386, "--stats", "-kernel", os.path.join(OUT, name + ".elf"), "-m", "128"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    st = {}
    for key, pat in STAT_PATTERNS.items():
        m = re.search(pat, r.stderr, re.M)
        if m:
            st[key] = float(m.group(1))
    m = LINE.search(r.stdout)
    st["checksum"] = m.group(3) if m else None
    return st


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt(x, spec=".2f", none="-"):
    return none if x is None else format(x, spec)


# ---- the report ----

def machine_facts(origin):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    hyp = ""
    try:
        dm = run_cmd(["dmesg"]).stdout
        m = re.search(r"Hypervisor detected: (\S+)", dm)
        hyp = f", hypervisor {m.group(1)}" if m else ""
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0
    if origin == "the working tree":
        commit = first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
        dirty = run_cmd(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no",
                         "--", "translator", "cpu", "mmu", "devices", "tools/bt386.c",
                         "CMakeLists.txt"]).stdout
        origin = f"the working tree at commit {commit}" + (
            " with uncommitted changes" if dirty.strip() else "")
    return {
        "machine": f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB{hyp}, "
                   f"Linux {platform.release()}",
        "gcc": first_line(["gcc", "--version"]),
        "qemu": first_line([QEMU, "--version"]),
        "bt386": first_line([BT386, "--version"]) + f" built from {origin}",
        "python": "Python " + platform.python_version(),
    }


def main():
    ap = argparse.ArgumentParser(description="bt386 CPU benchmark (see the top of this file)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per program (default 3)")
    ap.add_argument("--only", help="comma-separated programs (default: all)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    ap.add_argument("--qemu-reps", type=int, default=1,
                    help="repetitions under QEMU (default 1: its runs are long, 5 minutes for "
                         "the x87 programs, and their noise is small next to the ratios)")
    ap.add_argument("--no-qemu", action="store_true", help="skip QEMU")
    ap.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--nice", type=int, default=-5,
                    help="niceness increment for the runs (default -5 where allowed)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per run at most")
    ap.add_argument("--measure", choices=["tsc", "wall", "cpu"],
                    help="what the ratios use (default: the TSC when the guest TSC tracks real "
                         "time and the machine is not oversubscribed, else CPU time)")
    ap.add_argument("--rev", help="build bt386 from this git revision (default: the work tree)")
    ap.add_argument("--bt386", help="use this bt386 binary as it is (no build)")
    ap.add_argument("--rerender", action="store_true",
                    help=f"no runs: report the figures saved by the last run "
                         f"({os.path.relpath(LAST, ROOT)}) again")
    ap.add_argument("--guest-isa", choices=sorted(GUEST_ISA), default="i686",
                    help="what the guests are built for: i686 (default, the -m32 baseline the "
                         "results in docs/ use) or pentium-m (SSE2 for doubles and "
                         "vectorization, as the CPU bt386 presents allows); implies --no-docs")
    args = ap.parse_args()
    GUEST_ISA_FLAGS.extend(GUEST_ISA[args.guest_isa])
    if args.guest_isa != "i686":
        args.no_docs = True
    if args.rerender:
        with open(LAST) as f:
            data = json.load(f)
    else:
        data = collect(args)
        with open(LAST, "w") as f:
            json.dump(data, f, indent=1)
    return report(data, args)


def collect(args):
    """Build and run everything; the raw figures as a JSON-able dict."""

    names = BENCHES if not args.only else args.only.split(",")
    for n in names:
        if n not in BENCHES:
            sys.exit(f"run.py: no program {n} (known: {', '.join(BENCHES)})")
    qemu = not args.no_qemu and shutil.which(QEMU) is not None
    if not args.no_qemu and not qemu:
        log(f"{QEMU} not found: running without QEMU")
    write_docs = not args.no_docs and names == BENCHES and args.scale == 1.0 and qemu
    sizes = {n: max(1, round(default_size(n) * args.scale)) for n in names}

    global BT386
    if args.bt386:
        BT386, origin = os.path.abspath(args.bt386), "given binary " + args.bt386
    else:
        BT386, origin = build_bt386(args.rev)
    build_benches(names, sizes)

    niced = ""
    if args.nice:
        try:
            os.nice(args.nice)
            niced = f"nice {args.nice:+d}"
        except OSError:
            niced = "not reniced (no permission)"
    else:
        niced = "not reniced"
    load_before = os.getloadavg()
    started = datetime.datetime.now()

    kinds = ["native", "bt386"] + (["qemu"] if qemu else [])
    runs = {(k, n): [] for k in kinds for n in names}
    errors = []
    for rep in range(args.reps):
        for i, name in enumerate(names):
            order = kinds[(rep + i) % len(kinds):] + kinds[:(rep + i) % len(kinds)]
            for kind in order:
                if kind == "qemu" and rep >= args.qemu_reps:
                    continue
                r = run_one(kind, name, args.timeout)
                runs[(kind, name)].append(r)
                if "error" in r:
                    errors.append(f"{name} under {kind}: {r['error']}")
                    log(f"  rep {rep + 1} {name:10} {kind:6} FAILED: {r['error']}")
                else:
                    log(f"  rep {rep + 1} {name:10} {kind:6} {r['checksum']} {r['wall']:8.2f} s")
    stats = {}
    for name in names:
        stats[name] = run_stats(name, args.timeout)
        log(f"  stats {name:10} {stats[name].get('translate_s', '?')} s translating")
    load_after = os.getloadavg()
    return {
        "names": names, "sizes": sizes, "kinds": kinds, "qemu": qemu, "errors": errors,
        "runs": [[k, n, rs] for (k, n), rs in runs.items()], "stats": stats,
        "facts": machine_facts(origin), "started": started.isoformat(timespec="minutes"),
        "reps": args.reps, "qemu_reps": min(args.qemu_reps, args.reps) if qemu else 0,
        "niced": niced, "load": [load_before, load_after], "scale": args.scale,
        "write_docs": write_docs,
    }


def report(data, args):
    """Analyse the figures, print the table, write docs/benchmarks.md for a full run."""
    names, sizes, kinds, qemu = data["names"], data["sizes"], data["kinds"], data["qemu"]
    stats, errors = data["stats"], list(data["errors"])
    runs = {(k, n): rs for k, n, rs in data["runs"]}

    # TSC frequency from the native runs (each reports TSC cycles and nanoseconds).
    hz_samples = [r["tsc"] / r["ns"] * 1e9 for n in names for r in runs[("native", n)]
                  if "tsc" in r and r.get("ns")]
    if not hz_samples:
        sys.exit("run.py: no native run succeeded; cannot calibrate the TSC")
    tsc_hz = statistics.median(hz_samples)

    # Does the in-guest TSC track real time? Compare each VM run's TSC delta with its wall time:
    # the rest (wall - TSC) is start-up and exit, which must be small and positive.
    tracking = {}
    for kind in kinds[1:]:
        over, frac = [], []
        for n in names:
            for r in runs[(kind, n)]:
                if "tsc" in r:
                    over.append(r["wall"] - r["tsc"] / tsc_hz)
                    frac.append(r["tsc"] / tsc_hz / r["wall"])
        ok = bool(over) and min(over) > -0.05 and max(over) < 1.0
        tracking[kind] = (ok, min(over) if over else None, max(over) if over else None,
                          min(frac) if frac else None, max(frac) if frac else None)
    use_tsc = all(t[0] for t in tracking.values())
    # Was the machine oversubscribed? A single-threaded run that had a core to itself has
    # CPU time = wall time; time-slicing with other work shows as CPU time / wall time < 1,
    # and then TSC and wall time count the time the run waited for a core.
    share = statistics.median(r["cpu"] / r["wall"] for k in ("native", "bt386") for n in names
                              for r in runs[(k, n)] if "cpu" in r and r["wall"] > 0)
    contended = share < 0.9
    if args.measure:
        measure = args.measure
    elif not use_tsc:
        measure = "wall"
    else:
        measure = "cpu" if contended else "tsc"

    def secs_of(r, how):
        return r["tsc"] / tsc_hz if how == "tsc" else r[how]

    # Geometric means under every measure, to show how much the choice matters.
    by_measure = {}
    for how in ("tsc", "wall", "cpu"):
        best = {(k, n): min((secs_of(r, how) for r in runs[(k, n)] if "checksum" in r),
                            default=None) for k in kinds for n in names}
        bt_nat = [best[("bt386", n)] / best[("native", n)] for n in names
                  if best[("bt386", n)] and best[("native", n)]]
        q_bt = [best[("qemu", n)] / best[("bt386", n)] for n in names
                if qemu and best[("qemu", n)] and best[("bt386", n)]]
        by_measure[how] = (geomean(bt_nat), geomean(q_bt) if qemu else None)

    # Per-program results: the minimum over repetitions, the spread (max/min - 1).
    rows = []
    for name in names:
        row = {"name": name, "size": sizes[name], "ok": True, "note": ""}
        sums = set()
        for kind in kinds:
            good = [r for r in runs[(kind, name)] if "checksum" in r]
            for r in good:
                sums.add(r["checksum"])
            secs = [secs_of(r, measure) for r in good]
            row[kind] = min(secs) if secs else None
            row[kind + "_spread"] = max(secs) / min(secs) - 1 if len(secs) > 1 else None
            row[kind + "_wall"] = min(r["wall"] for r in good) if good else None
            if len(good) < len(runs[(kind, name)]):
                row["ok"] = False
                row["note"] += f"{kind} failed; "
        st = stats.get(name, {})
        if st.get("checksum"):
            sums.add(st["checksum"])
        if len(sums) > 1:
            row["ok"] = False
            row["note"] += "CHECKSUMS DIFFER: " + ", ".join(
                f"{k} {sorted({r['checksum'] for r in runs[(k, name)] if 'checksum' in r})}"
                for k in kinds) + "; "
            errors.append(f"{name}: checksums differ ({row['note']})")
        row["checksum"] = sums.pop() if len(sums) == 1 else "MISMATCH"
        row["bt_native"] = row["bt386"] / row["native"] if row["bt386"] and row["native"] else None
        row["qemu_bt"] = (row["qemu"] / row["bt386"]
                          if qemu and row.get("qemu") and row["bt386"] else None)
        tot = st.get("translate_s", 0) + st.get("run_s", 0)
        # --stats prints whole milliseconds: 0.000 s means under half of one.
        row["xlate"] = (100 * max(st["translate_s"], 0.0005) / tot
                        if tot and "translate_s" in st else None)
        row["xlate_bound"] = st.get("translate_s") == 0
        row["stats"] = st
        rows.append(row)

    valid = [r for r in rows if r["ok"]]
    gm = {
        "bt_native": geomean([r["bt_native"] for r in valid]),
        "qemu_bt": geomean([r["qemu_bt"] for r in valid]) if qemu else None,
        "xlate": max((r["xlate"] for r in valid if r["xlate"] is not None), default=None),
    }
    ctx = {
        "facts": data["facts"], "started": datetime.datetime.fromisoformat(data["started"]),
        "reps": data["reps"], "qemu_reps": data["qemu_reps"], "niced": data["niced"],
        "load": data["load"], "tsc_hz": tsc_hz, "tracking": tracking,
        "measure": measure, "forced": bool(args.measure), "share": share,
        "by_measure": by_measure, "qemu": qemu, "errors": errors, "scale": data["scale"],
    }
    text = render(rows, gm, ctx)
    print(text)
    if data["write_docs"] and not args.no_docs:
        write_doc(text)
        log(f"wrote {os.path.relpath(DOC, ROOT)}")
    else:
        log("docs/benchmarks.md not written (partial run: --only, --scale, --no-qemu or --no-docs)")
    return 1 if errors else 0


def render(rows, gm, ctx):
    """The report as Markdown (readable as plain text too)."""
    f = ctx["facts"]
    kinds = ["native", "bt386"] + (["qemu"] if ctx["qemu"] else [])
    out = []
    w = out.append
    w(f"Run {ctx['started']:%Y-%m-%d %H:%M}: {ctx['reps']} repetitions natively and under "
      f"bt386, {ctx['qemu_reps']} under QEMU (the minimum is shown; ±: slowest/fastest - 1), "
      f"{ctx['niced']}.")
    w("")
    w(f"- machine: {f['machine']}")
    w(f"- compilers and emulators: {f['gcc']}; {f['qemu']}; {f['bt386']}")
    w(f"- load average (1 min) before / after: {ctx['load'][0][0]:.2f} / {ctx['load'][1][0]:.2f}."
      " This 2-core machine is shared with other engineers, so every figure is noisy;"
      " the ratios compare runs made minutes apart in the same session, interleaved.")
    w(f"- TSC frequency {ctx['tsc_hz'] / 1e9:.3f} GHz (native runs: TSC cycles over "
      "CLOCK_MONOTONIC).")
    for kind, (ok, omin, omax, fmin, fmax) in ctx["tracking"].items():
        who = "QEMU TCG" if kind == "qemu" else "bt386"
        w(f"- {who}: in-guest TSC time / process wall time = {fmt(fmin, '.3f')}..."
          f"{fmt(fmax, '.3f')}; wall minus TSC (start-up, boot, exit) = {fmt(omin, '.2f')}..."
          f"{fmt(omax, '.2f')} s: " + ("the guest's TSC tracks real time." if ok else
                                       "the guest's TSC does NOT track real time."))
    share = ctx["share"]
    w(f"- CPU time / wall time of the native and bt386 runs (median): {share:.2f}: "
      + ("each run had a core to itself." if share >= 0.9 else
         "the machine was oversubscribed (other engineers' jobs), so runs waited for a core "
         "and TSC and wall time count that waiting."))
    tsc_why = ("the in-guest TSC deltas (rdtsc around the workload): both emulators' guest "
               "TSC runs at the host's rate, and the TSC window leaves out what is not the "
               "workload (QEMU's start-up and firmware, process exit) while it includes "
               "bt386's translation, which happens lazily inside the window")
    why = {
        "tsc": tsc_why,
        "cpu": "process CPU time (user + system, all threads): the machine was "
               "oversubscribed, and CPU time is what does not count the time a run waited for "
               "a core; it includes start-up (under 0.01 s natively and for bt386, about 0.1 s "
               "for QEMU, next to runs of seconds to minutes) and bt386's translation",
        "wall": "whole-process wall time" + (
            "" if all(t[0] for t in ctx["tracking"].values()) else
            ", because a guest TSC did not track real time (see above)")
        + "; it includes start-up and exit",
    }[ctx["measure"]]
    w(f"- Times and ratios below use {why}" + (" (chosen with --measure)." if ctx["forced"]
                                                else "."))
    bm = ctx["by_measure"]
    w("- The same geometric means by each measure, bt386/native"
      + (" and QEMU/bt386" if ctx["qemu"] else "") + ": " + "; ".join(
        f"{how} {fmt(bm[how][0], '.2f')}x"
        + (f" and {fmt(bm[how][1], '.1f')}x" if ctx["qemu"] else "")
        for how in ("tsc", "wall", "cpu")) + "." + (
        " On a busy machine TSC and wall time favour bt386 against QEMU: the fastest of "
        "several short bt386 runs can catch a quiet moment, one QEMU run of minutes cannot."
        if share < 0.9 and ctx["qemu"] else ""))
    if ctx["scale"] != 1.0:
        w(f"- Sizes scaled by {ctx['scale']} (not the standard run).")
    w("")
    head = ["program", "size", "native s", "bt386 s"] + (["QEMU s"] if ctx["qemu"] else []) + \
        ["bt386/native", "QEMU/bt386", "translating", "checksum"]
    w("| " + " | ".join(head) + " |")
    w("|" + "|".join("---" if i == 0 else "--:" for i in range(len(head))) + "|")
    for r in rows:
        cells = [r["name"], str(r["size"])]
        for k in kinds:
            sp = r.get(k + "_spread")
            cells.append(fmt(r[k], ".2f") + (f" ±{100 * sp:.0f}%" if sp is not None else ""))
        cells += [fmt(r["bt_native"], ".2f", "-") + "x" * (r["bt_native"] is not None),
                  fmt(r["qemu_bt"], ".1f") + "x" * (r["qemu_bt"] is not None),
                  ("< " if r.get("xlate_bound") else "") + fmt(r["xlate"], ".2f")
                  + " %" * (r["xlate"] is not None), r["checksum"] + ("" if r["ok"] else " **FAIL**")]
        w("| " + " | ".join(cells) + " |")
    cells = ["**geometric mean**", ""] + [""] * len(kinds) + \
        [f"**{fmt(gm['bt_native'], '.2f')}x**",
         f"**{fmt(gm['qemu_bt'], '.1f')}x**" if gm["qemu_bt"] else "-",
         f"**max {fmt(gm['xlate'], '.2f')} %**", ""]
    w("| " + " | ".join(cells) + " |")
    w("")
    w("Goals: bt386/native <= 1.25x and QEMU/bt386 >= 5x (geometric means), translating "
      "< 1 %. \"translating\" is bt386 --stats' time translating over time translating + "
      "running, from one extra run with --stats (it prints whole milliseconds, hence the "
      "\"<\"); its summary is the largest share, not a mean.")
    w("")
    w("bt386 --stats per program (the extra run; --stats also counts indirect branches inline):")
    w("")
    w("| program | guest insns translated | blocks | expansion | exits to dispatcher | "
      "unchained | indirect misses | indirect branches | inline-cache hits | callouts | "
      "host faults | translating s |")
    w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        s = r["stats"]

        def g(k, spec=".0f"):
            return fmt(s.get(k), spec)
        w(f"| {r['name']} | {g('insns')} | {g('blocks')} | {g('expansion', '.2f')}x | "
          f"{g('exits')} | {g('unchained')} | {g('ind_miss')} | {g('indirect')} | "
          f"{g('ind_hit', '.2f')} % | {g('callouts')} | {g('faults')} | "
          f"{g('translate_s', '.3f')} |")
    if ctx["errors"]:
        w("")
        w("FAILURES (a wrong answer fast is a failure):")
        for e in ctx["errors"]:
            w(f"- {e}")
    return "\n".join(out)


DOC_HEAD = """# CPU benchmarks

The CPU benchmark of the translation engine (`tools/bench/`): ten CPU-bound C programs, each
run as a 32-bit Multiboot guest under bt386 and under `qemu-system-i386 -accel tcg`, and built
natively for x86-64 with the same compiler, on the same machine in the same session.
The project's goals: bt386 at least 5x faster than QEMU TCG, within 1.25x of native
(geometric means), and translation under 1 % of run time.

## How to reproduce

    tools/bench/run.py            # builds bt386 and the programs (build/bench/), runs all,
                                  # rewrites the results below; about 20 minutes, mostly QEMU
    tools/bench/run.py --help     # --reps, --only, --scale, --no-qemu

Each program is one file, `tools/bench/NAME.c`: a workload `bench(n)` that returns a checksum
(`bench.h`). `guest_main.c` makes it a Multiboot kernel (`gcc -m32 -O2`, `tests/guest/lib`),
which reads the TSC before and after the workload and prints checksum and cycles on port 0xE9;
`native_main.c` makes it an x86-64 Linux program (`gcc -O2`) that prints the same. Both builds
add `-fno-tree-loop-distribute-patterns -fno-math-errno` (no loops turned into calls to the C
library's memset, whose guest and host versions differ; sqrt as one instruction). The guest
sets the x87 to round to double precision so that x87 arithmetic gives the same bits as
x86-64's SSE2: every checksum must agree across native, bt386 and QEMU. `mandel` is built with
`-msse2 -mfpmath=sse` for the guest (the SSE2 kernel); `matmul_fp` and `nbody` use the x87.

What "native" means: the same C, but compiled for x86-64, which has twice the registers, passes
arguments in registers, does double arithmetic in SSE2 and vectorizes some loops at -O2
(GCC 12). So bt386/native mixes the translator's overhead with what the 32-bit ISA costs;
it is the figure the project's goal names.

## Latest results

<!-- bench:begin -->
"""
DOC_TAIL = "<!-- bench:end -->\n"


def write_doc(report):
    body = report + "\n"
    if os.path.exists(DOC):
        with open(DOC) as f:
            old = f.read()
        b, e = old.find("<!-- bench:begin -->"), old.find("<!-- bench:end -->")
        if b >= 0 and e > b:
            new = old[:b] + "<!-- bench:begin -->\n" + body + old[e:]
            with open(DOC, "w") as f:
                f.write(new)
            return
    with open(DOC, "w") as f:
        f.write(DOC_HEAD + body + DOC_TAIL)


if __name__ == "__main__":
    sys.exit(main())
