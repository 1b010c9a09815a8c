/* bt386.c - the command-line front end. QEMU's option spellings for what QEMU users type
 * already; bt386's own options are --long-names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "devices/machine.h"

#define BT386_VERSION "0.1"

static const char usage[] =
    "usage: bt386 -kernel FILE [-initrd FILE] [-append STRING] [options]\n"
    "\n"
    "Run a 32-bit x86 guest by dynamic binary translation.\n"
    "\n"
    "Machine (QEMU's spellings):\n"
    "  -kernel FILE        kernel to boot: a Linux bzImage (32-bit boot protocol\n"
    "                      2.02+) or a Multiboot v1 kernel (ELF, or any file whose\n"
    "                      header gives load addresses), told apart by content\n"
    "  -initrd FILE        initial RAM disk for a Linux kernel; for a Multiboot\n"
    "                      kernel, its modules: \"FILE [ARGS],FILE [ARGS]...\"\n"
    "  -append STRING      kernel command line\n"
    "  -m SIZE             guest RAM: a number of MiB, or with a K, M or G suffix\n"
    "                      (default 128M; 1M to 3G)\n"
    "  -serial DEV         COM1's backend: stdio (the default; the terminal in raw\n"
    "                      mode, Ctrl-A x quits, Ctrl-A h lists the keys), file:PATH,\n"
    "                      null, none (no COM1)\n"
    "  -hda FILE           IDE disk on a raw image: primary master (-hdb primary\n"
    "                      slave, -hdc secondary master, -hdd secondary slave)\n"
    "  -drive file=FILE[,format=raw][,if=ide][,index=N|bus=B,unit=U][,media=disk]\n"
    "         [,cache=writeback|none|unsafe|writethrough|directsync]\n"
    "                      IDE disk, QEMU's syntax (',,' for a comma in FILE); a\n"
    "                      missing or unusable image stops bt386 before the guest runs\n"
    "  -no-acpi            no ACPI tables or power management block (no ACPI\n"
    "                      power-off: the guest then halts instead)\n"
    "  -nographic          accepted for QEMU compatibility (there is no display)\n"
    "  -display none, -monitor none, -smp 1\n"
    "                      accepted for QEMU compatibility (no display, no monitor,\n"
    "                      one CPU: other values are refused)\n"
    "  -nodefaults         no COM1 unless -serial asks for one, and no text display\n"
    "                      (CRT controller), as in QEMU\n"
    "  -vga none           no text display's CRT controller (ports 0x3D4-0x3D5, which\n"
    "                      kernels that write the screen at 0xB8000 read the cursor\n"
    "                      from; nothing is shown either way)\n"
    "  -no-reboot          end bt386 when the guest reboots instead of restarting it\n"
    "  -debugcon stdio     port 0xE9 output to standard output (the default; also\n"
    "                      file:PATH)\n"
    "  -device isa-debug-exit[,iobase=P][,iosize=N]\n"
    "                      where a guest write of V ends bt386 with status (V<<1)|1\n"
    "                      (always present; default iobase=0xf4, iosize=4)\n"
    "  -d CATEGORY[,...]   log: unimp (unassigned I/O ports, once per port),\n"
    "                      in_asm (guest code of each new block), out_asm (its host code)\n"
    "  -D FILE             write logs to FILE instead of standard error\n"
    "\n"
    "Virtualization:\n"
    "  --virt=bt           the guest kernel's sensitive instructions are rewritten to\n"
    "                      act on the virtual CPU, as on real hardware (the default)\n"
    "  --virt=trap-and-emulate\n"
    "                      a demonstration of why classic trap-and-emulate cannot\n"
    "                      virtualize x86: the guest kernel runs as if deprivileged to\n"
    "                      ring 1, only instructions that fault there are emulated, and\n"
    "                      popf, pushf, sgdt, mov r,cs... show the monitor's state\n"
    "                      (docs/pgdemo.md)\n"
    "\n"
    "Translator:\n"
    "  --stats             print translation-cache statistics when the guest stops\n"
    "  --stats-json FILE   write them, with per-phase figures and cache-size samples,\n"
    "                      to FILE as JSON (docs/translator.md lists the fields)\n"
    "  --stats-phase MARK  where the \"boot\" phase ends and \"steady\" begins: ring3\n"
    "                      (the first ring-3 block; the default), insns=N (N guest\n"
    "                      instructions entered), time=S (S host seconds) or none\n"
    "  --stats-no-inline   with --stats/--stats-json: no counters in translated code\n"
    "                      (run time as without statistics; the figures that need\n"
    "                      them, such as block entries and jcache hits, are null)\n"
    "  --tc-size MIB       translation cache size in MiB, or KiB with a K suffix\n"
    "                      (default 64, at least 128K; flushed when full)\n"
    "  --block-insns N     guest instructions per block at most (default 128)\n"
    "  --no-chain          do not chain direct branches between blocks\n"
    "  --no-jcache         do not look indirect branch targets up in translated code\n"
    "  -perfmap            write /tmp/perf-PID.map naming each block's host code by its\n"
    "                      guest address, for perf report (QEMU's option;\n"
    "                      tools/guestprof.py turns it into guest functions)\n"
    "\n"
    "Platform:\n"
    "  --no-apic           no local APIC, IOAPIC or MP table: the 8259A pair only\n"
    "\n"
    "  -h, --help          this text\n"
    "  --version           bt386's version\n"
    "\n"
    "Exit status: what the guest wrote to isa-debug-exit ((V<<1)|1); 0 when the guest\n"
    "powers off (ACPI S5) or halts for good, or reboots under -no-reboot; 1 when\n"
    "bt386 stops the guest (an error, named on standard error, such as a disk image\n"
    "that cannot be used); 2 for a command-line error; 3 when the guest triple-faults.\n";

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "bt386: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'bt386 --help'.\n");
  return 2;
}

/* QEMU's -m: "128", "128M", "1G", "size=128M". */
static int parse_memory(const char *s, uint64_t *bytes) {
  if (strncmp(s, "size=", 5) == 0)
    s += 5;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v <= 0)
    return -1;
  double mult = 1 << 20;
  if (*end) {
    switch (*end) {
    case 'k': case 'K': mult = 1 << 10; break;
    case 'm': case 'M': mult = 1 << 20; break;
    case 'g': case 'G': mult = 1 << 30; break;
    default: return -1;
    }
    if (end[1] && strcasecmp(end + 1, "B") != 0 && strcasecmp(end + 1, "iB") != 0)
      return -1;
  }
  *bytes = (uint64_t)(v * mult);
  *bytes &= ~(uint64_t)4095;
  return 0;
}

static int parse_debug_exit(const char *s, struct machine_config *cfg) {
  if (strncmp(s, "isa-debug-exit", 14) != 0)
    return -1;
  for (const char *p = strchr(s, ','); p; p = strchr(p + 1, ',')) {
    if (strncmp(p + 1, "iobase=", 7) == 0)
      cfg->debug_exit_port = (uint16_t)strtoul(p + 8, NULL, 0);
    else if (strncmp(p + 1, "iosize=", 7) == 0)
      cfg->debug_exit_size = (int)strtoul(p + 8, NULL, 0);
    else
      return -1;
  }
  return cfg->debug_exit_size >= 1 && cfg->debug_exit_size <= 4 ? 0 : -1;
}

/* -d a,b,c */
static int parse_log_categories(const char *list, struct machine_config *cfg) {
  char buf[128];
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *save, *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
    if (!strcmp(c, "unimp"))
      cfg->log_unimp = true;
    else if (!strcmp(c, "in_asm"))
      cfg->log_in_asm = true;
    else if (!strcmp(c, "out_asm"))
      cfg->log_out_asm = true;
    else
      return -1;
  }
  return 0;
}

struct options {
  const char *kernel;
  const char *initrd;
  const char *append;
  const char *log_file;
  const char *debugcon;
  bool deprivileged; /* --virt=trap-and-emulate */
  const char *stats_json;
  bool stats;
  bool stats_no_inline;
  bool perf_map;
  bool nodefaults, serial_given;
};

/* --stats-phase ring3 | insns=N | time=S | none */
static int parse_phase_mark(const char *s, struct tc_config *tc) {
  char *end;
  if (!strcmp(s, "ring3")) {
    tc->phase_mark = TC_PHASE_RING3;
    return 0;
  }
  if (!strcmp(s, "none")) {
    tc->phase_mark = TC_PHASE_NONE;
    return 0;
  }
  bool insns = !strncmp(s, "insns=", 6), time = !strncmp(s, "time=", 5);
  if (!insns && !time)
    return -1;
  errno = 0;
  double v = strtod(s + (insns ? 6 : 5), &end);
  if (errno || *end || !(v >= 0))
    return -1;
  tc->phase_mark = insns ? TC_PHASE_INSNS : TC_PHASE_SECONDS;
  tc->phase_at = v;
  return 0;
}

/* -hda..-hdd FILE, or -drive OPTIONS. */
static int add_drive(struct machine_config *cfg, const char *opt, const char *v) {
  if (cfg->n_drives == IDE_MAX_DRIVES)
    return bad_usage("%s: at most 4 IDE disks", opt);
  struct ide_drive_spec *spec = &cfg->drives[cfg->n_drives];
  memset(spec, 0, sizeof(*spec));
  if (!strcmp(opt, "-drive")) {
    char why[300];
    if (ide_drive_parse(v, spec, why, sizeof(why)) < 0)
      return bad_usage("%s", why);
  } else {
    if (strlen(v) >= sizeof(spec->file))
      return bad_usage("%s: file name too long", opt);
    snprintf(spec->file, sizeof(spec->file), "%s", v);
    spec->index = opt[3] - 'a';
  }
  for (int i = 0; i < cfg->n_drives; i++)
    if (spec->index >= 0 && cfg->drives[i].index == spec->index)
      return bad_usage("%s: two disks at the same IDE position", opt);
  cfg->n_drives++;
  return 0;
}

/* The options that take a value (the ones parse_args looks at after its !v check). */
static bool takes_value(const char *a) {
  static const char *const with_value[] = {
      "-hda", "-hdb", "-hdc", "-hdd", "-drive", "-kernel", "-initrd", "-append", "-m", "-d",
      "-D", "-display", "-monitor", "-vga", "-smp", "-serial", "-debugcon", "-device", "--stats-json",
      "--stats-phase", "--tc-size", "--block-insns"};
  for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
    if (!strcmp(a, with_value[i]))
      return true;
  return false;
}

static int parse_args(int argc, char **argv, struct options *o, struct machine_config *cfg) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-help")) {
      fputs(usage, stdout);
      exit(0);
    } else if (!strcmp(a, "--version")) {
      printf("bt386 %s\n", BT386_VERSION);
      exit(0);
    } else if (!strcmp(a, "--stats")) {
      o->stats = true;
      takes = false;
    } else if (!strcmp(a, "--stats-no-inline")) {
      o->stats_no_inline = true;
      takes = false;
    } else if (!strcmp(a, "--no-chain")) {
      cfg->tc.chain = false;
      takes = false;
    } else if (!strcmp(a, "--no-jcache")) {
      cfg->tc.jcache = false;
      takes = false;
    } else if (!strncmp(a, "--virt", 6) && (a[6] == '=' || a[6] == 0)) {
      const char *mode = a[6] == '=' ? a + 7 : v;
      if (!mode)
        return bad_usage("%s needs a value: bt or trap-and-emulate", a);
      if (!strcmp(mode, "bt"))
        o->deprivileged = false;
      else if (!strcmp(mode, "trap-and-emulate"))
        o->deprivileged = true;
      else
        return bad_usage("--virt %s: use bt or trap-and-emulate", mode);
      takes = a[6] == 0;
    } else if (!strcmp(a, "-perfmap")) {
      o->perf_map = true;
      takes = false;
    } else if (!strcmp(a, "-no-reboot")) {
      cfg->no_reboot = true;
      takes = false;
    } else if (!strcmp(a, "-no-acpi")) {
      cfg->no_acpi = true;
      takes = false;
    } else if (!strcmp(a, "--no-apic")) {
      cfg->no_apic = true;
      takes = false;
    } else if (!strcmp(a, "-nographic")) {
      takes = false; /* bt386 has no display: the serial console is always on stdio */
    } else if (!strcmp(a, "-nodefaults")) {
      o->nodefaults = true;
      takes = false;
    } else if (!v) {
      return bad_usage(a[0] != '-'            ? "unexpected argument %s"
                       : takes_value(a)       ? "option %s needs a value"
                                              : "unknown option %s",
                       a);
    } else if (!strcmp(a, "-hda") || !strcmp(a, "-hdb") || !strcmp(a, "-hdc") ||
               !strcmp(a, "-hdd") || !strcmp(a, "-drive")) {
      int err = add_drive(cfg, a, v);
      if (err)
        return err;
    } else if (!strcmp(a, "-kernel")) {
      o->kernel = v;
    } else if (!strcmp(a, "-initrd")) {
      o->initrd = v;
    } else if (!strcmp(a, "-append")) {
      o->append = v;
    } else if (!strcmp(a, "-m")) {
      if (parse_memory(v, &cfg->ram_bytes) < 0)
        return bad_usage("-m %s: not a memory size (examples: 128, 256M, 1G)", v);
    } else if (!strcmp(a, "-d")) {
      if (parse_log_categories(v, cfg) < 0)
        return bad_usage("-d %s: unknown log category (known: unimp, in_asm, out_asm)", v);
    } else if (!strcmp(a, "-D")) {
      o->log_file = v;
    } else if (!strcmp(a, "-display") || !strcmp(a, "-monitor")) {
      if (strcmp(v, "none"))
        return bad_usage(a[1] == 'd' ? "-display %s: bt386 has no display (only -display none)"
                                     : "-monitor %s: bt386 has no monitor (only -monitor none)",
                         v);
    } else if (!strcmp(a, "-vga")) {
      if (strcmp(v, "none"))
        return bad_usage("-vga %s: bt386 has no display adapter to choose (only -vga none, which "
                         "also removes the text display's CRT controller)", v);
      cfg->no_vga = true;
    } else if (!strcmp(a, "-smp")) {
      if (strcmp(v, "1") && strcmp(v, "cpus=1"))
        return bad_usage("-smp %s: bt386 runs one virtual CPU (use -smp 1, or leave it out)", v);
    } else if (!strcmp(a, "-serial")) {
      o->serial_given = true;
      char why[200];
      if (chardev_parse(v, &cfg->serial, why, sizeof(why)) < 0)
        return bad_usage("%s", why);
    } else if (!strcmp(a, "-debugcon")) {
      o->debugcon = v;
    } else if (!strcmp(a, "-device")) {
      if (parse_debug_exit(v, cfg) < 0)
        return bad_usage("-device %s: bt386 has isa-debug-exit[,iobase=P][,iosize=1..4] only", v);
    } else if (!strcmp(a, "--stats-json")) {
      o->stats_json = v;
    } else if (!strcmp(a, "--stats-phase")) {
      if (parse_phase_mark(v, &cfg->tc) < 0)
        return bad_usage("--stats-phase %s: use ring3, insns=N, time=SECONDS or none", v);
    } else if (!strcmp(a, "--tc-size")) {
      char *end;
      long n = strtol(v, &end, 0);
      int shift = 20;
      if (*end == 'k' || *end == 'K')
        shift = 10, end++;
      else if (*end == 'm' || *end == 'M')
        end++;
      size_t bytes = n > 0 ? (size_t)n << shift : 0;
      if (*end || n < 1 || bytes < TC_MIN_CODE_BYTES || bytes > ((size_t)4096 << 20))
        return bad_usage("--tc-size %s: give a size in MiB (or with a K suffix, KiB) between "
                         "128K and 4096", v);
      cfg->tc.code_bytes = bytes;
    } else if (!strcmp(a, "--block-insns")) {
      long n = strtol(v, NULL, 0);
      if (n < 1 || n > 512)
        return bad_usage("--block-insns %s: give a number between 1 and 512", v);
      cfg->tc.max_block_insns = (int)n;
    } else {
      return bad_usage("unknown option %s", a);
    }
    if (takes)
      i++;
  }
  if (!o->kernel)
    return bad_usage("%s", "no guest given: use -kernel FILE");
  if (o->nodefaults && !o->serial_given) {
    char why[200];
    chardev_parse("none", &cfg->serial, why, sizeof(why));
  }
  if (o->nodefaults)
    cfg->no_vga = true;
  return 0;
}

static FILE *open_debugcon(const char *spec) {
  if (!spec || !strcmp(spec, "stdio"))
    return stdout;
  if (!strncmp(spec, "file:", 5)) {
    FILE *f = fopen(spec + 5, "w");
    if (!f)
      fprintf(stderr, "bt386: cannot write %s: %s\n", spec + 5, strerror(errno));
    return f;
  }
  fprintf(stderr, "bt386: -debugcon %s: use stdio or file:PATH\n", spec);
  return NULL;
}

/* -kernel by content: an ELF file, or another with a Multiboot header (which then gives its
 * load addresses), is a Multiboot kernel; anything else goes to the Linux loader, which boots
 * a bzImage and explains what is wrong with any other file. */
static int load_kernel(struct machine *m, const struct options *o) {
  const char *cmdline = o->append ? o->append : "";
  int format = kernel_format(o->kernel);
  if (format < 0)
    return format;
  if (format == KERNEL_BZIMAGE || (format != KERNEL_ELF && !multiboot_file(o->kernel)))
    return linux_load(m, o->kernel, o->initrd, cmdline);
  return multiboot_load(m, o->kernel, cmdline, o->initrd);
}

int main(int argc, char **argv) {
  struct options o = {0};
  struct machine_config cfg;
  machine_config_default(&cfg);
  int err = parse_args(argc, argv, &o, &cfg);
  if (err)
    return err;
  if ((o.stats || o.stats_json) && !o.stats_no_inline)
    cfg.tc.count_indirect = true;
  if (cfg.tc.phase_mark == TC_PHASE_INSNS && !cfg.tc.count_indirect)
    return bad_usage("%s", "--stats-phase insns=N counts guest instructions in translated code: "
                           "it needs --stats or --stats-json without --stats-no-inline");
  if (o.log_file) {
    cfg.log = fopen(o.log_file, "w");
    if (!cfg.log) {
      fprintf(stderr, "bt386: cannot write log file %s: %s\n", o.log_file, strerror(errno));
      return 1;
    }
  }
  cfg.debugcon = open_debugcon(o.debugcon);
  if (!cfg.debugcon)
    return 2;
  if (o.perf_map) {
    char path[64];
    snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
    cfg.perf_map = fopen(path, "w");
    if (!cfg.perf_map) {
      fprintf(stderr, "bt386: -perfmap: cannot write %s: %s\n", path, strerror(errno));
      return 1;
    }
  }

  static struct machine m;
  int status;
  /* A guest reboot builds the machine again from the same command line. */
  do {
    if (machine_init(&m, &cfg) < 0)
      return 1;
    m.cpu.deprivileged = o.deprivileged;
    if (load_kernel(&m, &o) < 0) {
      machine_exit(&m);
      return 1;
    }
    status = machine_run(&m);
    if (o.stats)
      tc_print_stats(m.tc, stderr);
    if (o.stats_json) {
      int e = tc_write_stats_json(m.tc, o.stats_json);
      if (e < 0)
        fprintf(stderr, "bt386: cannot write %s: %s\n", o.stats_json, strerror(-e));
    }
    machine_exit(&m);
  } while (status == MACHINE_REBOOT);
  if (cfg.debugcon != stdout)
    fclose(cfg.debugcon);
  if (cfg.log != stderr)
    fclose(cfg.log);
  if (cfg.perf_map)
    fclose(cfg.perf_map);
  return status;
}
