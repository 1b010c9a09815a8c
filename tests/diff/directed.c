/* directed.c - the shared part of the directed differential tests (see directed.h). */
#include "tests/diff/directed.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/diff/assemble.h"

static unsigned long snippets, runs;

static uint32_t next_random(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

void directed_state(struct diff_state *s, int variant) {
  diff_state_init(s);
  if (variant == 0)
    return;
  static const uint32_t pattern[8] = {0x80000001u, 0xffffffffu, 0x7fff8000u, 0x00ff00ffu,
                                      0,           0x12345678u, 0xfedcba98u, 0x00000100u};
  uint32_t x = 0x2545f491u;
  for (int i = 0; i < 8; i++)
    s->regs[i] = variant == 1 ? pattern[i] : next_random(&x);
  s->regs[R_ESP] = DIFF_STACK_TOP;
  s->eflags = 0x2 | (variant == 1 ? FL_ARITH : (next_random(&x) & FL_ARITH));
  for (size_t i = 0; i < DIFF_WIN_SIZE; i++)
    s->mem[i] = variant == 1 ? (uint8_t)(i * 37 + (i >> 8)) : (uint8_t)next_random(&x);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 16; j++)
      s->xmm[i][j] = variant == 1 ? (uint8_t)(i * 16 + j) : (uint8_t)next_random(&x);
}

static int assemble_va(uint8_t *code, size_t max, char *src, size_t srcmax, const char *fmt,
                       va_list ap) {
  vsnprintf(src, srcmax, fmt, ap);
  int n = diff_assemble(src, code, max);
  ck_assert_msg(n >= 0, "nasm failed on:\n%s", src);
  return n;
}

static void check_one(const uint8_t *code, int n, const struct diff_state *s, const char *src) {
  runs++;
  if (diff_check(code, (size_t)n, s, stderr))
    return;
  fprintf(stderr, "source:\n%s\n\n", src);
  ck_abort_msg("bt386 and Unicorn differ on: %.200s", src);
}

void check_asm(const char *fmt, ...) {
  static uint8_t code[DIFF_CODE_MAX];
  static char src[16384];
  static struct diff_state s;
  va_list ap;
  va_start(ap, fmt);
  int n = assemble_va(code, sizeof(code), src, sizeof(src), fmt, ap);
  va_end(ap);
  snippets++;
  for (int v = 0; v < DIRECTED_STATES; v++) {
    directed_state(&s, v);
    check_one(code, n, &s, src);
  }
}

void check_code(const uint8_t *code, size_t len, const struct diff_state *s, const char *what) {
  snippets++;
  check_one(code, (int)len, s, what);
}

void check_asm_from(const struct diff_state *s, const char *fmt, ...) {
  static uint8_t code[DIFF_CODE_MAX];
  static char src[16384];
  va_list ap;
  va_start(ap, fmt);
  int n = assemble_va(code, sizeof(code), src, sizeof(src), fmt, ap);
  va_end(ap);
  snippets++;
  check_one(code, n, s, src);
}

const struct diff_result *run_bt386_asm(const struct diff_state *s, const char *fmt, ...) {
  static uint8_t code[DIFF_CODE_MAX];
  static char src[16384];
  static struct diff_result r;
  va_list ap;
  va_start(ap, fmt);
  int n = assemble_va(code, sizeof(code), src, sizeof(src), fmt, ap);
  va_end(ap);
  snippets++;
  diff_run_bt386(code, (size_t)n, s, &r);
  return &r;
}

int directed_main(Suite *s) {
  if (diff_init() != 0) {
    fprintf(stderr, "diff: cannot set up bt386 and Unicorn\n");
    return 1;
  }
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  printf("%lu snippets, %lu differential runs\n", snippets, runs);
  return failed ? 1 : 0;
}
