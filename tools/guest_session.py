#!/usr/bin/env python3
"""guest_session.py - drive the default guest's serial console: wait for the shell, type
commands, collect what the guest printed.

    tools/guest_session.py [--vmm bt386|qemu] [--bt386 PATH] [--guest DIR] [--disk IMG]
                           [--timeout S] [--append ARGS] [CMD ...]

Prints a transcript and, on the last line, the seconds from start to the shell prompt. Exit
status 0 if the shell came up and every command finished (its prompt came back) in time.
Used by the boot test and the benchmarks; standard library only.
"""
import argparse
import os
import select
import subprocess
import sys
import time

PROMPT = b"bt386-guest:"


class Session:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.buf = b""
        self.start = time.monotonic()

    def read_until(self, marker, timeout):
        """Read the console until `marker` appears after the current position."""
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                return False
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return False
                self.buf += chunk
        return True

    def take(self):
        out, self.buf = self.buf, b""
        return out

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def run(self, command, timeout):
        """Type a command and wait for the next prompt; returns (ok, output)."""
        self.take()
        self.send(command)
        ok = self.read_until(PROMPT, timeout)
        return ok, self.take()

    def close(self, timeout=20):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode


def vmm_command(args):
    kernel = os.path.join(args.guest, "vmlinuz")
    initrd = os.path.join(args.guest, "initramfs.cpio.gz")
    append = "console=ttyS0 " + args.append
    if args.vmm == "qemu":
        cmd = ["qemu-system-i386", "-accel", "tcg", "-m", args.memory, "-nographic",
               "-no-reboot", "-kernel", kernel, "-initrd", initrd, "-append", append]
        if args.disk:
            cmd += ["-drive", "file=%s,format=raw,if=ide" % args.disk]
        return cmd
    cmd = [args.bt386, "-m", args.memory, "-nographic", "-no-reboot", "-kernel", kernel,
           "-initrd", initrd, "-append", append]
    if args.disk:
        cmd += ["-drive", "file=%s,format=raw" % args.disk]
    return cmd


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(here)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vmm", choices=["bt386", "qemu"], default="bt386")
    p.add_argument("--bt386", default=os.path.join(top, "build", "bt386"))
    p.add_argument("--guest", default=os.path.join(top, "build", "guest"))
    p.add_argument("--disk", default=None)
    p.add_argument("--memory", default="256M")
    p.add_argument("--append", default="")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("commands", nargs="*")
    args = p.parse_args()

    s = Session(vmm_command(args))
    if not s.read_until(PROMPT, args.timeout):
        sys.stdout.write(s.take().decode(errors="replace"))
        err = s.proc.stderr.read1(65536) if s.proc.poll() is not None else b""
        print("\n[no shell prompt within %.0f s]" % args.timeout)
        sys.stdout.write(err.decode(errors="replace"))
        s.close(1)
        return 1
    to_shell = time.monotonic() - s.start
    s.read_until(b"# ", 5)
    s.take()
    status = 0
    for command in args.commands:
        ok, out = s.run(command, args.timeout)
        sys.stdout.write(out.decode(errors="replace"))
        if not ok:
            try:  # the console closes as the VM ends: let it finish
                s.proc.wait(2)
            except subprocess.TimeoutExpired:
                pass
        if not ok and s.proc.poll() is not None:
            print("\n[the VM ended during %r, exit status %d]" % (command, s.proc.returncode))
            if s.proc.returncode != 0:
                status = 1
            break
        if not ok:
            print("\n[%r did not finish within %.0f s]" % (command, args.timeout))
            status = 1
            break
    s.close()
    print("\nshell after %.2f s" % to_shell)
    return status


if __name__ == "__main__":
    sys.exit(main())
