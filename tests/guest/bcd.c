/* bcd.c - the decimal-arithmetic instructions 64-bit mode dropped (bt386 emulates them):
 * daa das aaa aas over every AL with each combination of CF and AF in, aam and aad with
 * bases 10, 16 and 7 over every AL. Prints AX and the flags the SDM defines for each (daa/das:
 * all but OF; aaa/aas: AF and CF; aam/aad: SF, ZF and PF). */
#include "lib/guest.h"

#define FLAGS_IN "push %[fi]\n\tpopf\n\t"
#define FLAGS_OUT "\n\tpushf\n\tpop %[fo]"

#define BCD(name, insn)                                                                      \
  static uint32_t name(uint32_t ax, uint32_t fin, uint32_t *fo) {                            \
    __asm__(FLAGS_IN insn FLAGS_OUT : "+a"(ax), [fo] "=r"(*fo) : [fi] "r"(fin) : "cc");      \
    return ax;                                                                               \
  }

BCD(daa, "daa")
BCD(das, "das")
BCD(aaa, "aaa")
BCD(aas, "aas")
BCD(aam10, "aam")
BCD(aam16, ".byte 0xd4, 16")
BCD(aam7, ".byte 0xd4, 7")
BCD(aad10, "aad")
BCD(aad16, ".byte 0xd5, 16")
BCD(aad7, ".byte 0xd5, 7")

struct bcd_op {
  const char *name;
  uint32_t (*fn)(uint32_t ax, uint32_t fin, uint32_t *fo);
  uint32_t mask;
  int flags_in; /* CF and AF are inputs */
};

static const struct bcd_op ops[] = {
    {"daa", daa, FL_ARITH & ~FL_OF, 1},
    {"das", das, FL_ARITH & ~FL_OF, 1},
    {"aaa", aaa, FL_AF | FL_CF, 1},
    {"aas", aas, FL_AF | FL_CF, 1},
    {"aam 10", aam10, FL_SF | FL_ZF | FL_PF, 0},
    {"aam 16", aam16, FL_SF | FL_ZF | FL_PF, 0},
    {"aam 7", aam7, FL_SF | FL_ZF | FL_PF, 0},
    {"aad 10", aad10, FL_SF | FL_ZF | FL_PF, 0},
    {"aad 16", aad16, FL_SF | FL_ZF | FL_PF, 0},
    {"aad 7", aad7, FL_SF | FL_ZF | FL_PF, 0},
};

static const uint32_t flag_inputs[4] = {0, FL_CF, FL_AF, FL_CF | FL_AF};

static void run(const struct bcd_op *o) {
  for (int k = 0; k < (o->flags_in ? 4 : 1); k++) {
    /* the other flags in are set or clear opposite to CF, to show they do not leak */
    uint32_t fin = flag_inputs[k] | (k & 1 ? 0 : FL_OF | FL_SF | FL_ZF | FL_PF);
    for (uint32_t hi = 0; hi < 16; hi++) {
      printf("%s%s%s %x0..%xf:", o->name, fin & FL_CF ? " CF" : "", fin & FL_AF ? " AF" : "",
             hi, hi);
      for (uint32_t lo = 0; lo < 16; lo++) {
        uint32_t al = hi << 4 | lo;
        uint32_t ah = (al * 37 + 5) & 0xff;
        uint32_t f, ax = o->fn(0xabcd0000 | ah << 8 | al, fin, &f);
        printf(" %x/%s", ax, flags_str(f, o->mask));
      }
      printf("\n");
    }
  }
}

int main(void) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    run(&ops[i]);
  return 0;
}
