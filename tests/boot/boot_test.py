#!/usr/bin/env python3
"""boot_test.py - the Linux boot test: Debian's i386 kernel under bt386, to a shell, with a disk.

    tests/boot/boot_test.py --guest DIR [--bt386 PATH | --vmm qemu] [--work DIR] [--mkdisk PATH]

The guest is tools/mkguest.sh's (DIR holds vmlinuz, initramfs.cpio.gz and guest.txt). The test
makes a fresh ext2 image with tools/mkdisk.sh, boots the kernel with `-hda IMAGE`, waits for
the shell on the serial console and types, checking what the guest prints:

    uname -a               the kernel's release and the Debian package version of guest.txt
    cat /proc/cpuinfo      the CPU bt386 presents (GenuineIntel family 6, its brand string,
                           SSE2 and the other CPUID leaf-1 flags)
    cat /proc/interrupts   the timer and the serial port (ttyS0, IRQ 4) interrupt and have
                           counted, the PIIX IDE channel (ata_piix, IRQ 14) is registered
    mount                  proc, sysfs and devtmpfs as /init mounted them
    /userprog 4 SEED       tests/boot/userprog.c, a static i386 glibc program added to the
                           initramfs: TLS, mmap'd malloc, fork with copy-on-write, 4 MiB
                           through a pipe, exec; its CRC-32 is checked against zlib's here
    mount /dev/sda /mnt    the IDE disk (ata_piix, sd_mod, ext4 from the initramfs); reads
                           mkdisk's /hello.txt, writes a line with this run's token and a
                           ~100 KB file, sync, umount
    poweroff -f            the kernel powers off (ACPI S5) and bt386 exits with status 0

then checks from the host, with e2fsprogs, that the file system is clean (e2fsck -fn) and the
files hold what was written (debugfs -R 'cat FILE'). Any failure prints the whole console
transcript and bt386's standard error. --vmm qemu runs the same test under qemu-system-i386
(the reference; the bt386-only CPU checks are left out). Standard library only.
"""
import argparse
import gzip
import os
import random
import re
import select
import shutil
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PROMPT = re.compile(rb"bt386-guest:[^\n#]*# ")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HELLO = "hello from the bt386 test disk"  # tools/mkdisk.sh's /hello.txt
# The CPU bt386 presents (cpu/cpu.c: CPUID leaves 0, 1 and the brand string).
BT386_CPU = {"vendor_id": "GenuineIntel", "cpu family": "6", "model": "13",
             "model name": "bt386 virtual i686 CPU"}
BT386_FLAGS = {"fpu", "pse", "tsc", "msr", "cx8", "sep", "pge", "cmov", "mmx", "fxsr", "sse",
               "sse2"}


class Failure(Exception):
    pass


class Console:
    """The guest's serial console: the VMM's standard input and output."""

    def __init__(self, argv, stderr_path):
        self.argv = argv
        self.stderr = open(stderr_path, "w+b")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.start = time.monotonic()
        self.log = b""   # everything the guest printed
        self.mark = 0    # where the output of the current command starts in log

    def elapsed(self):
        return time.monotonic() - self.start

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return True
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return False
        self.log += chunk
        return True

    def expect(self, pattern, timeout, what):
        """Wait until `pattern` (bytes regex) matches the output since the mark."""
        deadline = time.monotonic() + timeout
        while True:
            m = pattern.search(self.log, self.mark)
            if m:
                return m
            if b"Kernel panic" in self.log[self.mark:]:
                raise Failure("the kernel panicked while waiting for %s" % what)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("no %s within %.0f s" % (what, timeout))
            if not self._read(min(left, 0.5)):
                self.proc.wait()
                raise Failure("the VMM ended (exit status %s) while waiting for %s"
                              % (self.proc.returncode, what))

    def send(self, line):
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise Failure("the VMM ended before %r could be typed" % line)

    def run(self, command, timeout=60):
        """Type a command, wait for its exit status and the next prompt; returns its output."""
        self.mark = len(self.log)
        self.send('%s; echo "@@status=$?@@"' % command)
        m = self.expect(re.compile(rb"@@status=(\d+)@@"), timeout, "the end of %r" % command)
        out = self.log[self.mark:m.start()].decode(errors="replace")
        self.mark = m.end()
        self.expect(PROMPT, timeout, "the prompt after %r" % command)
        self.mark = len(self.log)
        out = ANSI.sub("", out).replace("\r", "")
        # The first line is the terminal's echo of what was typed.
        out = out.split("\n", 1)[1] if "\n" in out else ""
        status = int(m.group(1))
        if status != 0:
            raise Failure("%r ended with status %d; it printed:\n%s" % (command, status, out))
        return out

    def wait(self, timeout):
        """Wait for the VMM to end; its exit status, or None if it is still running."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.log += self.proc.stdout.read()  # the kernel's last messages
        return status

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def transcript(self):
        return ANSI.sub("", self.log.decode(errors="replace")).replace("\r", "")

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")


def check(cond, message):
    if not cond:
        raise Failure(message)


def guest_info(guest):
    """The kernel release and the package's version, from mkguest.sh's guest.txt."""
    path = os.path.join(guest, "guest.txt")
    try:
        text = open(path).read()
    except OSError:
        raise Failure("no %s: run tools/mkguest.sh first" % path)
    m = re.search(r"^kernel: (\S+) \(linux-image-\S+?_([^_]+)_i386\.deb\)", text, re.M)
    check(m, "%s names no kernel package: %r" % (path, text))
    return m.group(1), m.group(2).replace("%3a", ":")


def e2tool(name):
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/sbin", "/usr/sbin"]:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    raise Failure("%s not found (apt-get install e2fsprogs)" % name)


def debugfs_cat(image, path):
    r = subprocess.run([e2tool("debugfs"), "-R", "cat " + path, image], capture_output=True)
    check(r.returncode == 0, "debugfs -R 'cat %s' %s failed: %s"
          % (path, image, r.stderr.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def userprog_initrd(args):
    """mkguest.sh's initramfs with /userprog (tests/boot/userprog.c, gcc -m32 -static) added."""
    base = os.path.join(args.guest, "initramfs.cpio.gz")
    check(os.path.isfile(base), "no %s: run tools/mkguest.sh first" % base)
    exe = os.path.join(args.work, "userprog")
    r = subprocess.run(["gcc", "-m32", "-static", "-O2", "-Wall", "-Wextra", "-o", exe,
                        os.path.join(HERE, "userprog.c")], capture_output=True, text=True)
    check(r.returncode == 0, "gcc -m32 -static could not build tests/boot/userprog.c "
          "(apt-get install gcc-multilib):\n" + r.stderr)
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from platbench import cpio_newc
    data = open(base, "rb").read()
    initrd = os.path.join(args.work, "initramfs-userprog.cpio.gz")
    with open(initrd, "wb") as f:
        f.write(data)
        f.write(b"\0" * (-len(data) % 4))
        # The kernel unpacks concatenated archives in turn: this one adds /userprog.
        f.write(gzip.compress(cpio_newc([("userprog", 0o100755, open(exe, "rb").read())]),
                              6, mtime=0))
    return initrd


def xorshift_crc32(mib, seed):
    """userprog.c's buffer, MIB MiB of xorshift32(SEED) words, and zlib's CRC-32 of it."""
    words, x = [], seed
    for _ in range((mib << 20) // 4):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        words.append(x)
    import array
    a = array.array("I", words)
    if sys.byteorder != "little":
        a.byteswap()
    return zlib.crc32(a.tobytes())


def vmm_argv(args, image):
    kernel = os.path.join(args.guest, "vmlinuz")
    check(os.path.isfile(kernel), "no %s: run tools/mkguest.sh first" % kernel)
    initrd = userprog_initrd(args)
    append = "console=ttyS0 panic=-1"
    if args.vmm == "qemu":
        return ["qemu-system-i386", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
                "-kernel", kernel, "-initrd", initrd, "-append", append,
                "-drive", "file=%s,format=raw,if=ide,index=0,media=disk" % image]
    check(os.access(args.bt386, os.X_OK), "no bt386 at %s (build it first)" % args.bt386)
    usage = subprocess.run([args.bt386, "--help"], capture_output=True, text=True)
    check(re.search(r"^\s*-hda\b", usage.stdout + usage.stderr, re.M),
          "bt386 has no -hda option (bt386 --help does not list it): the IDE disk is not "
          "wired into the front end, so the boot test cannot give the guest its disk")
    return [args.bt386, "-m", "256M", "-nographic", "-no-reboot", "-kernel", kernel,
            "-initrd", initrd, "-append", append, "-hda", image]


def boot_test(args, con, image, token, seq_count):
    kver, pkgver = guest_info(args.guest)
    qemu = args.vmm == "qemu"

    con.expect(PROMPT, args.shell_timeout, "shell prompt")
    shell_time = con.elapsed()
    print("boot: shell prompt after %.1f s" % shell_time, flush=True)
    con.mark = len(con.log)

    # uname: the kernel of the package mkguest.sh fetched.
    out = con.run("uname -a")
    m = re.search(r"^Linux bt386-guest (\S+) #\d+ SMP PREEMPT_DYNAMIC Debian (\S+) \(.*\) "
                  r"i686 GNU/Linux$", out, re.M)
    check(m, "uname -a printed no 'Linux bt386-guest ... i686 GNU/Linux' line:\n" + out)
    check(m.group(1) == kver, "the kernel release is %s, guest.txt says %s" % (m.group(1), kver))
    check(m.group(2) == pkgver, "the kernel was built as Debian %s, the package is %s"
          % (m.group(2), pkgver))
    print("boot: uname: " + m.group(0), flush=True)

    # cpuinfo: the CPU bt386 presents.
    out = con.run("cat /proc/cpuinfo")
    fields = {}
    for line in out.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields.setdefault(k.strip(), v.strip())
    check(fields.get("processor") == "0", "/proc/cpuinfo has no processor 0:\n" + out)
    flags = set(fields.get("flags", "").split())
    if qemu:
        want_flags = {"fpu", "tsc", "cx8", "cmov", "mmx", "fxsr", "sse", "sse2"}
    else:
        want_flags = BT386_FLAGS
        for k, v in BT386_CPU.items():
            check(fields.get(k) == v, "/proc/cpuinfo: %s is %r, bt386 presents %r:\n%s"
                  % (k, fields.get(k), v, out))
    missing = want_flags - flags
    check(not missing, "/proc/cpuinfo lacks the flags %s:\n%s" % (" ".join(sorted(missing)), out))
    check(out.count("processor\t:") == 1, "/proc/cpuinfo lists more than one CPU:\n" + out)
    print("boot: cpuinfo: %s, family %s model %s, flags %s" % (
        fields.get("model name"), fields.get("cpu family"), fields.get("model"),
        fields.get("flags")), flush=True)

    # interrupts: the timer and the serial port have interrupted; the IDE channel is there.
    out = con.run("cat /proc/interrupts")
    irqs = {}
    for line in out.splitlines():
        m = re.match(r"^\s*(\d+):\s+(\d+)\s+(.*\S)\s*$", line)
        if m:
            irqs[int(m.group(1))] = (int(m.group(2)), m.group(3))
    timer = [n for n, (c, what) in irqs.items() if what.endswith(" timer")]
    check(timer == [0], "/proc/interrupts has no IRQ 0 timer line:\n" + out)
    check(irqs[0][0] > 0, "the timer (IRQ 0) has not interrupted:\n" + out)
    check(4 in irqs and irqs[4][1].endswith("ttyS0"), "/proc/interrupts has no IRQ 4 ttyS0 "
          "line (the 16550A's interrupt):\n" + out)
    check(irqs[4][0] > 0, "the serial port (IRQ 4) has not interrupted:\n" + out)
    check(14 in irqs and irqs[14][1].endswith("ata_piix"),
          "/proc/interrupts has no IRQ 14 ata_piix line (the primary IDE channel):\n" + out)
    print("boot: interrupts: timer %d, ttyS0 %d, ata_piix %d (%s)" % (
        irqs[0][0], irqs[4][0], irqs[14][0], irqs[0][1]), flush=True)

    # mount: what /init mounted.
    out = con.run("mount")
    for fs, where in (("proc", "/proc"), ("sysfs", "/sys"), ("devtmpfs", "/dev")):
        check(re.search(r"^%s on %s type %s \(rw" % (fs, where, fs), out, re.M),
              "mount does not show %s on %s:\n%s" % (fs, where, out))
    print("boot: mount: proc, sysfs, devtmpfs", flush=True)

    # A static glibc program: TLS, mmap, copy-on-write, a pipe between processes, exec.
    seed = random.getrandbits(31) | 1
    out = con.run("/userprog 4 %d" % seed, timeout=120)
    want = xorshift_crc32(4, seed)
    check(re.search(r"^userprog: crc32=%08x pipe=%08x cow=ok exec=ok tls=ok$" % (want, want),
                    out, re.M),
          "/userprog 4 %d did not print crc32=pipe=%08x (zlib's) and ok for cow, exec and tls:"
          "\n%s" % (seed, want, out))
    print("boot: userprog: static glibc program, crc32 %08x through fork, pipe and exec"
          % want, flush=True)

    # The disk: read what mkdisk.sh put there, write files, sync, umount.
    out = con.run("ls -l /dev/sda && mount -t ext2 /dev/sda /mnt && cat /mnt/hello.txt")
    check(HELLO in out, "/mnt/hello.txt does not hold %r:\n%s" % (HELLO, out))
    con.run('echo "bt386 boot test %s" > /mnt/boot-test.txt' % token)
    con.run("seq 1 %d > /mnt/seq.txt" % seq_count)
    out = con.run("sync && cat /mnt/boot-test.txt && wc -c /mnt/seq.txt")
    check("bt386 boot test " + token in out, "the guest cannot read back its file:\n" + out)
    con.run("umount /mnt")
    print("boot: disk: /dev/sda mounted, hello.txt read, 2 files written, synced, unmounted",
          flush=True)

    # Power off: the kernel's power-off message and the VMM's exit status.
    con.mark = len(con.log)
    con.send("poweroff -f")
    con.expect(re.compile(rb"reboot: (Power down|System halted)"), 60, "the power-off message")
    status = con.wait(30)
    check(status is not None, "the VMM is still running 30 s after the guest powered off")
    check(b"reboot: Power down" in con.log, "the kernel halted instead of powering off "
          "(reboot: System halted): it found no power-off method (ACPI S5)")
    check(status == 0, "the VMM exited with status %d after the guest powered off, not 0"
          % status)
    print("boot: powered off, exit status 0 after %.1f s" % con.elapsed(), flush=True)

    # The image, from the host.
    r = subprocess.run([e2tool("e2fsck"), "-fn", image], capture_output=True, text=True)
    check(r.returncode == 0, "e2fsck -fn finds the file system damaged (status %d):\n%s%s"
          % (r.returncode, r.stdout, r.stderr))
    got = debugfs_cat(image, "/boot-test.txt")
    check(got == "bt386 boot test %s\n" % token,
          "/boot-test.txt in the image holds %r, the guest wrote %r"
          % (got, "bt386 boot test %s\n" % token))
    want = "".join("%d\n" % i for i in range(1, seq_count + 1))
    got = debugfs_cat(image, "/seq.txt")
    check(got == want, "/seq.txt in the image differs from what the guest wrote "
          "(%d bytes, %d expected; first difference at byte %d)" % (
              len(got), len(want),
              next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                   min(len(got), len(want)))))
    print("boot: image: e2fsck clean, /boot-test.txt and /seq.txt (%d bytes) as written"
          % len(want), flush=True)
    return shell_time


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vmm", choices=["bt386", "qemu"], default="bt386")
    p.add_argument("--bt386", default=os.path.join(ROOT, "build", "bt386"))
    p.add_argument("--guest", default=os.path.join(ROOT, "build", "guest"))
    p.add_argument("--work", default=None, help="where the disk image goes (default: a "
                   "temporary folder, removed afterwards)")
    p.add_argument("--mkdisk", default=os.path.join(ROOT, "tools", "mkdisk.sh"))
    p.add_argument("--shell-timeout", type=float, default=300)
    args = p.parse_args()

    tmp = None
    if args.work is None:
        import tempfile
        tmp = args.work = tempfile.mkdtemp(prefix="bt386-boot-")
    os.makedirs(args.work, exist_ok=True)
    image = os.path.join(args.work, "boot-disk-%s.img" % args.vmm)
    stderr_path = os.path.join(args.work, "boot-%s.stderr" % args.vmm)
    token = "%08x" % random.getrandbits(32)
    con = None
    start = time.monotonic()
    try:
        r = subprocess.run([args.mkdisk, "--out", image, "--size", "16", "--force"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure("tools/mkdisk.sh failed:\n" + r.stdout + r.stderr)
        argv = vmm_argv(args, image)
        print("boot: " + " ".join(argv), flush=True)
        con = Console(argv, stderr_path)
        shell = boot_test(args, con, image, token, 20000)
    except Failure as e:
        if con is not None:
            con.kill()
            print("---- the guest's console ----")
            print(con.transcript())
            print("---- end of the console; the VMM's standard error ----")
            print(con.errors())
            print("---- end ----")
        print("boot: FAIL: %s" % e, flush=True)
        return 1
    finally:
        if con is not None:
            con.kill()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print("boot: PASS under %s: shell after %.1f s, %.1f s in all"
          % (args.vmm, shell, time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
