#!/usr/bin/env python3
"""platbench.py - the PC platform benchmark: the default Linux guest under bt386 and QEMU TCG.

    tools/platbench.py                     3 boots under each, table to docs/platform-benchmarks.md
    tools/platbench.py --reps 1 --no-write --vmms bt386

Boots the same kernel and initramfs (tools/mkguest.sh's, plus a second archive with the
workloads below in /bench) under build/bt386 and under `qemu-system-i386 -accel tcg`, in one
run, and times on each:

    shell          from starting the VMM to the shell prompt on the serial console
    fork+exec      1000 x fork, execv /bin/true (busybox), wait          (bw forkexec)
    getppid        10^6 getppid() system calls                          (bw getppid)
    cpu            tools/bench/sha256.c, a static i386 Linux program; the same C built for
                   x86-64 runs natively on the host for the cpu row's native ratio
    pipe           dd if=/dev/zero bs=1M count=100 | cat > /dev/null
    disk write     dd 50 MB to a file on the ext2 IDE disk, then sync
    disk read      drop the guest's caches, dd the 50 MB file to /dev/null

Each workload command is timed from the host (from typing the command to its end marker on
the console), with the CPU time the VMM process used meanwhile (/proc/PID/stat: less
distorted than wall time when the machine is loaded); bw also reports the guest's own
CLOCK_MONOTONIC time, shown as a cross-check of the guest's clock.
Repetitions alternate the VMMs (bt386, QEMU, then QEMU, bt386, ...) so that a change in the
machine's load hits both; the table gives the median. QEMU runs with -nic none (bt386 has no
NIC) and the disk as -drive file=IMG,format=raw,if=ide; bt386 with -hda IMG. If bt386 has no
-hda option the disk rows are skipped for it, with a note in the table.

This is a benchmark, not a test: not part of ctest or CI. Python 3 standard library, gcc with
gcc-multilib (-m32 -static), qemu-system-i386, e2fsprogs (tools/mkdisk.sh).
"""
import argparse
import datetime
import gzip
import os
import platform
import re
import resource
import select
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = re.compile(rb"bt386-guest:[^\n#]*# ")
APPEND = "console=ttyS0 quiet panic=-1"
MEMORY_MIB = 256 # the default guest RAM (--memory)
CFLAGS = ["-O2", "-Wall", "-Wextra", "-fno-tree-loop-distribute-patterns", "-fno-math-errno"]
DISK_MIB = 128

# (key, label, shell command in the guest, what bw prints or None, needs the disk)
ROWS = [
    ("shell", "time to the shell prompt", None, None, False),
    ("forkexec", "fork+exec of /bin/true, 1000 times", "/bench/bw forkexec 1000 /bin/true",
     "forkexec", False),
    ("getppid", "getppid(), 10^6 calls", "/bench/bw getppid 1000000", "getppid", False),
    ("cpu", "CPU: sha256 (tools/bench/sha256.c, static i386)", "/bench/sha256", "bench",
     False),
    ("pipe", "dd bs=1M count=100 through a pipe to cat",
     "/bench/bw run 'dd if=/dev/zero bs=1M count=100 2>/dev/null | cat > /dev/null'", "run",
     False),
    ("dwrite", "disk: write 50 MB (dd, sync)",
     "/bench/bw run 'dd if=/dev/zero of=/mnt/big bs=1M count=50 2>/dev/null && sync'", "run",
     True),
    ("dread", "disk: read 50 MB (caches dropped)",
     "/bench/bw run 'dd if=/mnt/big of=/dev/null bs=1M 2>/dev/null'", "run", True),
]
BW_LINE = re.compile(r"bw (\S+) (\d+) ns (\d+) status (\d+)")
BENCH_LINE = re.compile(r"bench (\S+) n (\d+) checksum ([0-9a-f]{8}) tsc (\d+) ns (\d+)")


class Failure(Exception):
    pass


class CommandFailed(Failure):
    """A guest command ended with a non-zero status: the session goes on without it."""


def log(msg):
    print("platbench: " + msg, flush=True)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise Failure("%s failed (status %d):\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                        r.stderr))
    return r.stdout


# ---- the guest's files ----

def cpio_newc(entries):
    """A newc cpio archive of (name, mode, data) entries, directories with data None."""
    out = bytearray()

    def add(name, mode, data, ino):
        nb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 2 if data is None else 1, 0, len(data or b""), 0, 0, 0, 0,
                  len(nb), 0]
        out.extend(b"070701" + b"".join(b"%08x" % f for f in fields) + nb)
        out.extend(b"\0" * (-len(out) % 4))
        if data:
            out.extend(data)
            out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data) in enumerate(entries, 1):
        add(name, mode, data, ino)
    add("TRAILER!!!", 0, b"", 0)
    return bytes(out)


def build(args):
    """The workloads, the native baseline and the guest's initramfs with /bench."""
    os.makedirs(args.work, exist_ok=True)
    bench = os.path.join(ROOT, "tools", "bench")
    bw = os.path.join(args.work, "bw")
    sha_guest = os.path.join(args.work, "sha256-i386")
    sha_native = os.path.join(args.work, "sha256-native")
    n = "-DBENCH_N=%d" % args.cpu_n
    log("building the workloads in %s" % args.work)
    run(["gcc", "-m32", "-static", "-O2", "-Wall", "-Wextra", "-o", bw,
         os.path.join(ROOT, "tools", "platbench", "bw.c")])
    for out, flags in ((sha_guest, ["-m32", "-static"]), (sha_native, [])):
        run(["gcc"] + flags + CFLAGS + [n, "-I", bench, "-o", out,
                                        os.path.join(bench, "native_main.c"),
                                        os.path.join(bench, "sha256.c")])
    base = os.path.join(args.guest, "initramfs.cpio.gz")
    for f in (base, os.path.join(args.guest, "vmlinuz")):
        if not os.path.isfile(f):
            log("no %s: running tools/mkguest.sh" % f)
            subprocess.run([os.path.join(ROOT, "tools", "mkguest.sh"), "--out", args.guest],
                           check=True)
    extra = cpio_newc([("bench", 0o40755, None),
                       ("bench/bw", 0o100755, open(bw, "rb").read()),
                       ("bench/sha256", 0o100755, open(sha_guest, "rb").read())])
    initrd = os.path.join(args.work, "initramfs-bench.cpio.gz")
    with open(initrd, "wb") as f:
        data = open(base, "rb").read()
        f.write(data)
        f.write(b"\0" * (-len(data) % 4))
        # The kernel unpacks concatenated archives in turn: this one adds /bench.
        f.write(gzip.compress(extra, 6, mtime=0))
    return initrd, sha_native


# ---- a guest session ----

class Console:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.start = time.monotonic()
        self.log = b""
        self.mark = 0

    def cpu(self):
        """The CPU time (user + system, all threads) the VMM has used so far, in seconds."""
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def expect(self, pattern, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            m = pattern.search(self.log, self.mark)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("no %s within %.0f s" % (what, timeout))
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    self.proc.wait()
                    raise Failure("the VMM ended (status %s) while waiting for %s: %s" % (
                        self.proc.returncode, what,
                        self.proc.stderr.read().decode(errors="replace").strip()))
                self.log += chunk

    def run(self, command, timeout):
        """Type a command; (its output, host seconds from typing to its end marker, the VMM's
        CPU seconds in that time)."""
        self.mark = len(self.log)
        c0 = self.cpu()
        t0 = time.monotonic()
        self.proc.stdin.write(b'%s; echo "@@status=$?@@"\n' % command.encode())
        self.proc.stdin.flush()
        m = self.expect(re.compile(rb"@@status=(\d+)@@"), timeout, "the end of %r" % command)
        took = time.monotonic() - t0
        c1 = self.cpu()
        out = self.log[self.mark:m.start()].decode(errors="replace").replace("\r", "")
        self.mark = m.end()
        self.expect(PROMPT, timeout, "the prompt after %r" % command)
        if m.group(1) != b"0":
            raise CommandFailed("%r ended with status %s:\n%s" % (command, m.group(1).decode(), out))
        return out, took, (c1 - c0 if c0 is not None and c1 is not None else None)

    def close(self):
        try:
            self.proc.stdin.write(b"poweroff -f\n")
            self.proc.stdin.flush()
            self.proc.wait(30)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def vmm_argv(vmm, args, initrd, disk):
    kernel = os.path.join(args.guest, "vmlinuz")
    if vmm == "qemu":
        argv = ["qemu-system-i386", "-accel", "tcg", "-m", str(args.memory), "-nographic",
                "-no-reboot", "-nic", "none", "-kernel", kernel, "-initrd", initrd,
                "-append", APPEND]
        if disk:
            argv += ["-drive", "file=%s,format=raw,if=ide,index=0,media=disk" % disk]
        return argv
    argv = [args.bt386, "-m", "%dM" % args.memory, "-nographic", "-no-reboot", "-kernel",
            kernel, "-initrd", initrd, "-append", APPEND]
    if disk:
        argv += ["-hda", disk]
    return argv


def session(vmm, args, initrd, disk, notes):
    """One repetition under vmm: the time to the shell, then each workload once.
    {key: (host s, guest s)}. A workload that fails is left out with a note; one that does not
    finish in --timeout seconds (or stops the VMM) too, and the VMM is booted again for the
    workloads after it."""
    def short(e):
        return " ".join(str(e).split())[:400]

    res = {}
    todo = [r for r in ROWS if r[2] is not None and (disk or not r[4])]
    while True:
        con = Console(vmm_argv(vmm, args, initrd, disk))
        try:
            con.expect(PROMPT, args.timeout, "shell prompt")
        except Failure as e:
            notes.append("%s: no shell: %s; console: ...%s" % (vmm, short(e), short(
                con.log.decode(errors="replace")[-600:])))
            con.close()
            return res
        res.setdefault("shell", (time.monotonic() - con.start, None, con.cpu()))
        con.mark = len(con.log)
        if disk and any(r[4] for r in todo):
            try:
                con.run("mount -t ext2 /dev/sda /mnt", args.timeout)
            except CommandFailed as e:
                notes.append("%s: the disk could not be mounted, so the disk rows were not run "
                             "under it: %s" % (vmm, short(e)))
                todo = [r for r in todo if not r[4]]
        hung = False
        while todo and not hung:
            key, _, command, kind, _ = todo.pop(0)
            try:
                if key == "dread":
                    con.run("sync && echo 3 > /proc/sys/vm/drop_caches", args.timeout)
                out, host, cpu = con.run(command, args.timeout)
            except CommandFailed as e:
                notes.append("%s: %s failed: %s" % (vmm, key, short(e)))
                continue
            except Failure as e:
                notes.append("%s: %s: %s (the VMM was stopped and booted again for the rows "
                             "after it)" % (vmm, key, short(e)))
                log("  %s: %s" % (key, short(e)))
                hung = True
                continue
            guest = None
            m = (BENCH_LINE if kind == "bench" else BW_LINE).search(out)
            if not m or (kind != "bench" and (m.group(1) != kind or m.group(4) != "0")):
                notes.append("%s: %s printed no result line: %s" % (vmm, key, short(out)))
                continue
            if kind == "bench":
                guest = int(m.group(5)) / 1e9
                res["cpu_checksum"] = m.group(3)
            else:
                guest = int(m.group(3)) / 1e9
            res[key] = (host, guest, cpu)
        con.close()
        if not todo:
            return res


def native_cpu(path):
    """The x86-64 build on the host: (wall seconds, CPU seconds, checksum)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = run([path])
    took = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = BENCH_LINE.search(out)
    if not m:
        raise Failure("%s printed no bench line: %s" % (path, out))
    return took, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), m.group(3)


# ---- the report ----

def fmt_s(x):
    if x is None:
        return "-"
    return "%.3f s" % x if x < 10 else "%.1f s" % x


def render(args, results, native, notes, loads, started, took):
    def med(vmm, key, which=0):
        xs = [r[key][which] for r in results[vmm] if key in r and r[key][which] is not None]
        return statistics.median(xs) if xs else None

    def ratio(q, b):
        return "-" if not q or not b else "%.2fx" % (q / b)

    lines = []
    lines.append("| workload | QEMU TCG | bt386 | QEMU / bt386 | goal (>= 2x) "
                 "| QEMU CPU | bt386 CPU | QEMU / bt386 CPU |")
    lines.append("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    summary = []
    for key, label, _, _, _ in ROWS:
        q, b = med("qemu", key), med("bt386", key)
        qc, bc = med("qemu", key, 2), med("bt386", key, 2)
        verdict = "-" if not q or not b else ("met" if q / b >= 2 else "not met")
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, fmt_s(q), fmt_s(b), ratio(q, b), verdict, fmt_s(qc), fmt_s(bc),
            ratio(qc, bc)))
        summary.append((key, q, b))
    nat = statistics.median(n[0] for n in native) if native else None
    nat_c = statistics.median(n[1] for n in native) if native else None
    lines.append("")
    lines.append("The CPU row against the same C built for x86-64 and run natively (goal: bt386 "
                 "within 1.3x of native):")
    lines.append("")
    lines.append("| sha256 | wall time | / native | CPU time | / native |")
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    lines.append("| native x86-64 | %s | 1.00x | %s | 1.00x |" % (fmt_s(nat), fmt_s(nat_c)))
    for name, vmm in (("QEMU TCG (i386 guest)", "qemu"), ("bt386 (i386 guest)", "bt386")):
        t, c = med(vmm, "cpu"), med(vmm, "cpu", 2)
        lines.append("| %s | %s | %s | %s | %s |" % (name, fmt_s(t), ratio(t, nat), fmt_s(c),
                                                      ratio(c, nat_c)))

    for vmm in ("qemu", "bt386"):
        rates = [r[k][1] / r[k][0] for r in results[vmm] for k in r
                 if r[k][1] is not None and r[k][0] >= 1.0]
        if rates and (min(rates) < 0.9 or max(rates) > 1.1):
            notes.append("Under %s the guest's clock disagrees with the host's: on the rows "
                         "that took 1 s or more, the guest measured %.0f%%-%.0f%% of the host's "
                         "time (more than the ~0.1 s of typing the command and starting the "
                         "program explains). The table uses the host's times."
                         % ("QEMU" if vmm == "qemu" else "bt386", 100 * min(rates),
                            100 * max(rates)))

    detail = ["| workload | VMM | wall time (each run) | VMM CPU time (each run) "
              "| guest CLOCK_MONOTONIC (median) |", "| --- | --- | --- | --- | ---: |"]
    for key, label, _, _, _ in ROWS:
        for vmm in ("qemu", "bt386"):
            xs = [r[key][0] for r in results[vmm] if key in r]
            if not xs:
                continue
            cs = [r[key][2] for r in results[vmm] if key in r]
            detail.append("| %s | %s | %s | %s | %s |" % (
                key, vmm, ", ".join(fmt_s(x) for x in xs), ", ".join(fmt_s(x) for x in cs),
                fmt_s(med(vmm, key, 1))))

    qemu_version = subprocess.run(["qemu-system-i386", "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0]
    cpu_model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    guest_txt = open(os.path.join(args.guest, "guest.txt")).read().splitlines()[0]
    # The source tree the bt386 binary was built in (its build folder sits inside it).
    src = os.path.dirname(os.path.abspath(args.bt386))
    rev = subprocess.run(["git", "-C", src, "log", "-1", "--format=%h, %cd", "--date=short"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", src, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    doc = []
    doc.append("# Platform benchmarks: the Linux guest under bt386 and QEMU TCG")
    doc.append("")
    doc.append("Made by `tools/platbench.py` (see its header for what each row runs); the "
               "latest run replaces this file. Median of %d boots per VMM. Wall time is "
               "measured from the host (typing the command to its end marker on the console); "
               "CPU time is what the VMM process used in that time (user + system, all "
               "threads, from /proc), which a loaded machine distorts less. QEMU / bt386 above "
               "1 means bt386 is faster. The issue's goal: at least 2x on every row, and the "
               "CPU row within 1.3x of native." % args.reps)
    doc.append("")
    doc.extend(lines)
    doc.append("")
    if notes:
        doc.append("Notes:")
        doc.append("")
        for n in notes:
            doc.append("- " + n)
        doc.append("")
    doc.append("## The run")
    doc.append("")
    doc.append("- when: %s UTC, %.0f s in all" % (started.strftime("%Y-%m-%d %H:%M"), took))
    where = os.path.abspath(args.bt386)
    if where.startswith(ROOT + os.sep):
        where = os.path.relpath(where, ROOT)
    doc.append("- bt386: %s, built from commit %s%s" % (
        where, rev or "(not in a git tree)", " with uncommitted changes" if dirty else ""))
    doc.append("- QEMU: %s, `-accel tcg -m %d -nic none`" % (qemu_version, args.memory))
    doc.append("- guest: %s; `-append \"%s\"`, %d MiB RAM; a fresh %d MiB ext2 image per boot"
               % (guest_txt, APPEND, args.memory, DISK_MIB))
    doc.append("- cpu workload: sha256 with BENCH_N=%d (gcc -O2; `-m32 -static` for the guest)"
               % args.cpu_n)
    doc.append("- host: %s, %d CPUs (%s); load average before each boot: %s" % (
        cpu_model, os.cpu_count(), platform.release(),
        ", ".join("%.1f" % x for x in loads)))
    doc.append("- repetitions: %d boots per VMM, alternating; each boot runs every row once"
               % args.reps)
    doc.append("")
    doc.append("Each run, with the guest's own clock for the rows bw or sha256 time themselves "
               "(a check that guest time follows host time; the host-measured figure also "
               "includes typing the command and the shell starting the program):")
    doc.append("")
    doc.extend(detail)
    doc.append("")
    return "\n".join(lines), "\n".join(doc), summary


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=3, help="boots per VMM (default 3)")
    p.add_argument("--vmms", default="bt386,qemu", help="which to run (default bt386,qemu)")
    p.add_argument("--bt386", default=os.path.join(ROOT, "build", "bt386"))
    p.add_argument("--guest", default=os.environ.get("BT386_GUEST_DIR",
                                                     os.path.join(ROOT, "build", "guest")))
    p.add_argument("--work", default=os.path.join(ROOT, "build", "platbench"))
    p.add_argument("--memory", type=int, default=MEMORY_MIB,
                   help="guest RAM in MiB for both VMMs (default %d; from about 1024 a 32-bit "
                   "Linux has highmem, reached through kmap)" % MEMORY_MIB)
    p.add_argument("--cpu-n", type=int, default=140, help="sha256's BENCH_N (default 140, "
                   "about 0.5 s natively)")
    p.add_argument("--timeout", type=float, default=300, help="seconds for the shell or any "
                   "one workload (default 300)")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "platform-benchmarks.md"))
    p.add_argument("--no-write", action="store_true", help="print the table, write no file")
    args = p.parse_args()
    vmms = args.vmms.split(",")
    for v in vmms:
        if v not in ("bt386", "qemu"):
            p.error("--vmms: bt386 and/or qemu")
    started = datetime.datetime.utcnow()
    t_start = time.monotonic()
    notes = []
    try:
        initrd, sha_native = build(args)
        bt386_disk = True
        if "bt386" in vmms:
            if not os.access(args.bt386, os.X_OK):
                raise Failure("no bt386 at %s (build it first: tools/build.sh)" % args.bt386)
            usage = subprocess.run([args.bt386, "--help"], capture_output=True, text=True)
            if not re.search(r"^\s*-hda\b", usage.stdout + usage.stderr, re.M):
                bt386_disk = False
                notes.append("The disk rows were not run under bt386: this bt386 has no -hda "
                             "option (the IDE disk is not wired into its front end yet).")
                log("bt386 has no -hda: the disk rows are skipped for bt386")
        results = {"bt386": [], "qemu": []}
        native, checksums, loads = [], set(), []
        for rep in range(args.reps):
            t, ct, c = native_cpu(sha_native)
            native.append((t, ct))
            checksums.add(("native", c))
            order = vmms if rep % 2 == 0 else list(reversed(vmms))
            for vmm in order:
                disk = None
                if vmm == "qemu" or bt386_disk:
                    disk = os.path.join(args.work, "disk-%s.img" % vmm)
                    run([os.path.join(ROOT, "tools", "mkdisk.sh"), "--out", disk, "--size",
                         str(DISK_MIB), "--force"])
                loads.append(os.getloadavg()[0])
                log("run %d/%d: %s (load %.1f)" % (rep + 1, args.reps, vmm, loads[-1]))
                r = session(vmm, args, initrd, disk, notes)
                checksums.add((vmm, r.pop("cpu_checksum", None)))
                results[vmm].append(r)
                log("  " + ", ".join("%s %s%s" % (k, fmt_s(v[0]), " (guest %s)" % fmt_s(v[1])
                                                  if v[1] is not None else "")
                                     for k, v in r.items()))
                if disk:
                    os.unlink(disk)
        sums = {c for _, c in checksums if c}
        if len(sums) > 1:
            notes.append("The sha256 checksums differ: %s." % sorted(checksums))
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    notes = list(dict.fromkeys(notes))  # a failure in every repetition, once
    table, doc, summary = render(args, results, native, notes, loads, started,
                                 time.monotonic() - t_start)
    print()
    print(table)
    for n in notes:
        print("note: " + n)
    if not args.no_write:
        with open(args.out, "w") as f:
            f.write(doc)
        log("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
