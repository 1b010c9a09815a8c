/* cond.c - everything that tests a condition: setcc, cmovcc and jcc (short and near forms)
 * for all 16 conditions over all 32 combinations of CF PF ZF SF OF, and the counting branches
 * loop loope loopne jecxz (with ECX and, through the address-size prefix, with CX), which
 * must leave the flags alone. A condition prints as the 32-bit mask of the flag
 * combinations for which it holds. */
#include "lib/guest.h"

#define FLAGS_IN "push %[fi]\n\tpopf\n\t"
#define FLAGS_OUT "\n\tpushf\n\tpop %[fo]"

/* Flag combination k (bits: CF PF ZF SF OF) as EFLAGS. */
static uint32_t combo(int k) {
  return (k & 1 ? FL_CF : 0) | (k & 2 ? FL_PF : 0) | (k & 4 ? FL_ZF : 0) |
         (k & 8 ? FL_SF : 0) | (k & 16 ? FL_OF : 0);
}

#define CONDS(X)                                                                             \
  X(o) X(no) X(b) X(ae) X(e) X(ne) X(be) X(a) X(s) X(ns) X(p) X(np) X(l) X(ge) X(le) X(g)

/* setcc to a register, to AH, to memory */
#define SET(cc)                                                                              \
  static uint32_t set_##cc(uint32_t f) {                                                     \
    uint32_t r = 0xaaaaaaaa, h = 0x5555, m = 0x77;                                           \
    __asm__(FLAGS_IN "set" #cc " %b[r]\n\tset" #cc " %%ah\n\tset" #cc " %[m]"                  \
            : [r] "+q"(r), "+a"(h), [m] "+m"(m) : [fi] "r"(f) : "cc");                       \
    return (r & 0xff) | (h & 0xff00) << 0 | (m & 0xff) << 16 | (r & 0xff00) << 16;          \
  }
CONDS(SET)

/* cmovcc from a register and from memory, 32 and 16 bits */
#define CMOV(cc)                                                                             \
  static uint32_t cmov_##cc(uint32_t f) {                                                    \
    uint32_t a = 0x11111111, b = 0x22222222, src = 0x33333333, m = 0x44444444;               \
    __asm__(FLAGS_IN "cmov" #cc "l %[s], %[a]\n\tcmov" #cc "w %[m], %w[b]"                     \
            : [a] "+r"(a), [b] "+r"(b) : [s] "r"(src), [m] "m"(m), [fi] "r"(f) : "cc");      \
    return (a & 0xff) | ((b >> 16) & 0xff) << 8 | (b & 0xff) << 16;                          \
  }
CONDS(CMOV)

/* jcc rel8 and jcc rel32 (mov, not or, between them: the flags must stay) */
#define JCC(cc)                                                                              \
  static uint32_t jcc_##cc(uint32_t f) {                                                     \
    uint32_t a = 0, b = 0;                                                                   \
    __asm__(FLAGS_IN "j" #cc " 1f\n\t"                                                       \
            "movl $1, %[a]\n"                                                                \
            "1: %{disp32%} j" #cc " 2f\n\t"                                                  \
            "movl $2, %[b]\n"                                                                \
            "2:"                                                                             \
            : [a] "+r"(a), [b] "+r"(b) : [fi] "r"(f) : "cc");                                 \
    return a | b;                                                                            \
  }
CONDS(JCC)

struct cond {
  const char *name;
  uint32_t (*set)(uint32_t f), (*cmov)(uint32_t f), (*jcc)(uint32_t f);
};
#define ENTRY(cc) {#cc, set_##cc, cmov_##cc, jcc_##cc},
static const struct cond conds[] = {CONDS(ENTRY)};

static void conditions(const struct cond *c) {
  uint32_t set_mask = 0, cmov_mask = 0, jcc_mask = 0, odd = 0;
  for (int k = 0; k < 32; k++) {
    uint32_t f = combo(k);
    uint32_t s = c->set(f), m = c->cmov(f), j = c->jcc(f);
    int taken = s & 1;
    set_mask |= (uint32_t)taken << k;
    /* every form must agree with setcc to a register, and keep what it must not touch */
    uint32_t want_set = (taken ? 0x01 : 0) | (taken ? 0x0100 : 0) | (taken ? 0x010000 : 0) | 0xaa000000;
    uint32_t want_cmov = taken ? 0x442233 : 0x222211;
    if (s != want_set)
      odd |= 1;
    if (m != want_cmov)
      odd |= 2;
    cmov_mask |= (uint32_t)(m == 0x442233) << k;
    jcc_mask |= (uint32_t)(j == 0) << k;
    if (j != 0 && j != 3)
      odd |= 4;
  }
  printf("%s: set %08x cmov %08x jcc %08x%s%s%s\n", c->name, set_mask, cmov_mask, jcc_mask,
         odd & 1 ? " (setcc forms disagree)" : "", odd & 2 ? " (cmovcc forms disagree)" : "",
         odd & 4 ? " (short and near jcc disagree)" : "");
}

/* ---- loop, loope, loopne, jecxz ---- */

/* Run `insn` (which branches to 1f) with ECX = c and the flags f: returns whether it
 * branched, the ECX after it and the flags after it. */
#define COUNTING(name, insn)                                                                 \
  static int name(uint32_t *c, uint32_t f, uint32_t *fo) {                                   \
    int taken = 1;                                                                           \
    __asm__(FLAGS_IN insn " 1f\n\t"                                                          \
            "movl $0, %[t]\n"                                                                \
            "1:" FLAGS_OUT                                                                   \
            : "+c"(*c), [t] "+r"(taken), [fo] "=r"(*fo) : [fi] "r"(f) : "cc");                \
    return taken;                                                                            \
  }

COUNTING(do_loop, "loop")
COUNTING(do_loope, "loope")
COUNTING(do_loopne, "loopne")
COUNTING(do_jecxz, "jecxz")
COUNTING(do_loop16, "addr16 loop")
COUNTING(do_loope16, "addr16 loope")
COUNTING(do_loopne16, "addr16 loopne")
COUNTING(do_jcxz, "jcxz")

static const struct {
  const char *name;
  int (*fn)(uint32_t *c, uint32_t f, uint32_t *fo);
} counting[] = {
    {"loop", do_loop},          {"loope", do_loope},         {"loopne", do_loopne},
    {"jecxz", do_jecxz},        {"addr16 loop", do_loop16},  {"addr16 loope", do_loope16},
    {"addr16 loopne", do_loopne16}, {"jcxz", do_jcxz},
};

static const uint32_t counts[] = {0, 1, 2, 0x10000, 0x10001, 0xffffffff};

static void counting_branches(void) {
  for (size_t k = 0; k < sizeof(counting) / sizeof(counting[0]); k++) {
    printf("%s:", counting[k].name);
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
      for (uint32_t f = 0; f <= FL_ARITH; f += FL_ARITH) {
        uint32_t c = counts[i], fo;
        int taken = counting[k].fn(&c, f, &fo);
        printf(" %x%s:%s,%x%s", counts[i], f ? "Z" : "", taken ? "taken" : "not", c,
               (fo & FL_ARITH) == f ? "" : "(flags changed)");
      }
    printf("\n");
  }
}

/* A loop that counts down to zero and sums, as compiled code would. */
static void loop_sum(void) {
  uint32_t sum = 0, n = 1000;
  __asm__("1: addl %%ecx, %[s]\n\tloop 1b" : [s] "+r"(sum), "+c"(n) : : "cc");
  printf("loop sum 1..1000 = %u, ecx %u\n", sum, n);
}

int main(void) {
  for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++)
    conditions(&conds[i]);
  counting_branches();
  loop_sum();
  return 0;
}
