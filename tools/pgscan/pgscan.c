/* pgscan.c - the Popek-Goldberg scanner: which instructions of a 32-bit x86 kernel would a
 * trap-and-emulate monitor never see, and which would trap.
 *
 *   $ build/pgscan /boot/vmlinuz-6.1.0-50-686
 *   $ build/pgscan --sites --json build/tests/tools/pgscan_sample.elf
 *
 * input.c finds the ELF (unpacking a bzImage), elfcode.c its code and symbols, sweep.c
 * decodes and classifies (classes.c), report.c prints. docs/pgscan.md explains the classes
 * and records the counts for Debian's kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/pgscan/elfcode.h"
#include "tools/pgscan/input.h"
#include "tools/pgscan/report.h"
#include "tools/pgscan/sweep.h"

#define PGSCAN_VERSION "1.0"

static const char usage[] =
    "usage: pgscan [options] FILE\n"
    "\n"
    "List the instructions of a 32-bit x86 kernel that matter to trap-and-emulate\n"
    "virtualization (Popek and Goldberg, 1974): the sensitive but unprivileged ones that\n"
    "Robin and Irvine found in the Pentium (USENIX Security 2000), which run at CPL > 0\n"
    "without trapping, and the privileged ones, which trap. Prints a table of counts.\n"
    "\n"
    "FILE is a 32-bit x86 ELF file (its executable sections, or its PT_LOAD segments with\n"
    "PF_X if it has no section headers), a Linux bzImage (the vmlinux inside it, compressed\n"
    "with gzip, xz, lzma, zstd, lz4 or bzip2; lzo is recognised but not supported), or an\n"
    "ELF file compressed with one of those.\n"
    "\n"
    "The code is decoded by linear sweep with Zydis (32-bit mode); a byte Zydis cannot\n"
    "decode is skipped. Capstone decodes every instruction again: a site it decodes with\n"
    "another length or class, and an instruction only Capstone puts in a class, is listed;\n"
    "other length differences are counted by mnemonic.\n"
    "\n"
    "Options:\n"
    "  --sites          list every site: address, symbol (from .symtab) or section with\n"
    "                   offset, bytes, Capstone's disassembly, class\n"
    "  --json           JSON instead of the table (\"counts\" maps class ids to counts;\n"
    "                   with --sites a \"sites\" list, with --mnemonics a \"mnemonics\" map)\n"
    "  --mnemonics      also count every instruction by mnemonic\n"
    "  --quick          let Capstone check the sites only (faster; then sites that only\n"
    "                   Capstone sees are not looked for)\n"
    "  --extract FILE   write the ELF that is scanned to FILE (a bzImage's vmlinux)\n"
    "  -h, --help       this text\n"
    "  --version        pgscan's version\n"
    "\n"
    "Exit status: 0 when FILE was scanned (decoder disagreements are reported, not failed);\n"
    "1 when FILE cannot be read or is not supported (the reason is on standard error);\n"
    "2 for a command-line error. docs/pgscan.md explains the classes.\n";

struct options {
  const char *path, *extract;
  bool sites, json, mnemonics, quick;
};

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "pgscan: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'pgscan --help'.\n");
  return 2;
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct options *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(a, "--version") == 0) {
      printf("pgscan %s\n", PGSCAN_VERSION);
      return 0;
    } else if (strcmp(a, "--sites") == 0) {
      o->sites = true;
    } else if (strcmp(a, "--json") == 0) {
      o->json = true;
    } else if (strcmp(a, "--mnemonics") == 0) {
      o->mnemonics = true;
    } else if (strcmp(a, "--quick") == 0) {
      o->quick = true;
    } else if (strcmp(a, "--extract") == 0) {
      if (++i == argc)
        return bad_usage("%s needs a file name", a);
      o->extract = argv[i];
    } else if (a[0] == '-' && a[1]) {
      return bad_usage("unknown option %s", a);
    } else if (o->path) {
      return bad_usage("one FILE only (%s is a second)", a);
    } else {
      o->path = a;
    }
  }
  if (!o->path)
    return bad_usage("%s", "no FILE given");
  return -1;
}

static int extract(const struct pg_input *in, const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(in->elf, 1, in->elf_size, f) != in->elf_size) {
    perror(path);
    if (f)
      fclose(f);
    return -1;
  }
  if (fclose(f) != 0) {
    perror(path);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  struct options o = {0};
  int status = parse_args(argc, argv, &o);
  if (status >= 0)
    return status;
  char err[512];
  struct pg_input in;
  struct pg_elf e;
  struct pg_scan s;
  if (pg_input_load(o.path, &in, err, sizeof(err)) < 0) {
    fprintf(stderr, "pgscan: %s\n", err);
    return 1;
  }
  status = 1;
  if (o.extract && extract(&in, o.extract) < 0)
    goto free_input;
  if (pg_elf_open(in.elf, in.elf_size, &e, err, sizeof(err)) < 0) {
    fprintf(stderr, "pgscan: %s%s: %s\n", o.path, in.unpacked ? " (the unpacked ELF)" : "", err);
    goto free_input;
  }
  if (pg_sweep(&s, &e, !o.quick, err, sizeof(err)) < 0) {
    fprintf(stderr, "pgscan: %s: %s\n", o.path, err);
    goto close_elf;
  }
  struct pg_report r = {o.path, &in, &e, &s, o.sites, o.mnemonics, stdout};
  if ((o.json ? pg_report_json(&r) : pg_report_text(&r)) < 0)
    fprintf(stderr, "pgscan: cannot set up the decoders for the report\n");
  else if (fflush(stdout) != 0 || ferror(stdout))
    perror("pgscan: standard output");
  else
    status = 0;
  pg_sweep_free(&s);
close_elf:
  pg_elf_close(&e);
free_input:
  pg_input_free(&in);
  return status;
}
