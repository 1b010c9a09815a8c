/* assemble.c - run nasm on a snippet in a private temporary directory (see assemble.h). */
#define _GNU_SOURCE
#include "tests/diff/assemble.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/diff/harness.h"

#ifndef DIFF_NASM
#define DIFF_NASM "nasm"
#endif

static char dir[64];

static void remove_dir(void) {
  char path[128];
  snprintf(path, sizeof(path), "%s/in.asm", dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/out.bin", dir);
  unlink(path);
  rmdir(dir);
}

static int make_dir(void) {
  if (dir[0])
    return 0;
  snprintf(dir, sizeof(dir), "/tmp/bt386-diff-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("diff: mkdtemp");
    dir[0] = 0;
    return -1;
  }
  atexit(remove_dir);
  return 0;
}

int diff_assemble(const char *src, uint8_t *out, size_t max) {
  if (make_dir() != 0)
    return -1;
  char in_path[128], out_path[128], cmd[512];
  snprintf(in_path, sizeof(in_path), "%s/in.asm", dir);
  snprintf(out_path, sizeof(out_path), "%s/out.bin", dir);
  FILE *f = fopen(in_path, "w");
  if (!f)
    return -1;
  fprintf(f, "bits 32\norg 0x%x\n%s\n", DIFF_CODE_BASE, src);
  fclose(f);
  unlink(out_path);
  snprintf(cmd, sizeof(cmd), "%s -f bin -o %s %s", DIFF_NASM, out_path, in_path);
  if (system(cmd) != 0) {
    fprintf(stderr, "diff: nasm failed on:\n%s\n", src);
    return -1;
  }
  f = fopen(out_path, "rb");
  if (!f)
    return -1;
  size_t n = fread(out, 1, max, f);
  fclose(f);
  return (int)n;
}
