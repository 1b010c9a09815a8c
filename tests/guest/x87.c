/* x87.c - the x87 FPU: loads and stores in every format, the arithmetic instructions in their
 * register, popping, memory and integer-memory forms, fchs fabs fsqrt frndint fscale fxtract
 * fprem fprem1, comparisons (fcom* setting C0/C2/C3, fcomi/fucomi setting EFLAGS, ftst,
 * fxam), fcmov, fist/fistp under the four rounding modes, the status word (fnstsw to AX and to
 * memory) and fnstenv's control, status and tag words. Results print as 80-bit bit patterns;
 * the status word's exception flags show the IEEE exceptions (all masked). Transcendental
 * instructions are left out: their last-bit accuracy is the implementation's. */
#include "lib/guest.h"

typedef struct {
  uint64_t mant;
  uint16_t se;
} __attribute__((packed)) ext80;

static const double values[] = {0.0, -0.0, 1.0, -1.5, 3.0, 0.1, 1e300, 1e-300,
                                4.9406564584124654e-324, 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0,
                                9223372036854775808.0, -7.0, 12345.678};
#define NVALUES (sizeof(values) / sizeof(values[0]))

/* Status word bits compared: the IEEE exception flags (not DE or SF), and C0-C3 where the
 * instruction defines them (comparisons, fxam, fprem); the SDM leaves the rest undefined.
 * After arithmetic C1 says which way an inexact result was rounded, but QEMU does not model
 * that, so it is compared only where it carries data (fprem's quotient bit, fxam's sign).
 * Each status word is read right after its instruction: the fstp that follows changes C1. */
#define SW_EXC 0x003d
#define SW_C1 0x0200
#define SW_CC 0x4500
#define SW_ARITH SW_EXC
#define SW_ALL (SW_EXC | SW_C1 | SW_CC)

static void print80(const ext80 *v) { printf(" %04x:%016llx", v->se, (unsigned long long)v->mant); }

/* ---- binary operations ---- */

/* st0 = a, st1 = b; op; the result popped to *r */
#define BIN_REG(name, insn)                                                                  \
  static uint16_t name(double a, double b, ext80 *r) {                                      \
    uint16_t sw;                                                                             \
    __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n\t" insn "\n\tfnstsw %[sw]\n\t"     \
                     "fstpt %[r]\n\tffree %%st(0)"                                             \
                     : [r] "=m"(*r), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b));               \
    return sw & SW_ARITH;                                                                    \
  }
BIN_REG(fadd_rr, "fadd %%st(1), %%st")
BIN_REG(fsub_rr, "fsub %%st(1), %%st")
BIN_REG(fsubr_rr, "fsubr %%st(1), %%st")
BIN_REG(fmul_rr, "fmul %%st(1), %%st")
BIN_REG(fdiv_rr, "fdiv %%st(1), %%st")
BIN_REG(fdivr_rr, "fdivr %%st(1), %%st")

/* the same computed other ways: st(1) op= st0 with pop, memory operand */
#define BIN_POP(name, insn)                                                                  \
  static uint16_t name(double a, double b, ext80 *r) {                                      \
    uint16_t sw;                                                                             \
    __asm__ volatile("fninit\n\tfldl %[a]\n\tfldl %[b]\n\t" insn "\n\tfnstsw %[sw]\n\t"     \
                     "fstpt %[r]"                                                            \
                     : [r] "=m"(*r), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b));               \
    return sw & SW_ARITH;                                                                    \
  }
#define BIN_MEM(name, insn)                                                                  \
  static uint16_t name(double a, double b, ext80 *r) {                                      \
    uint16_t sw;                                                                             \
    __asm__ volatile("fninit\n\tfldl %[a]\n\t" insn " %[b]\n\tfnstsw %[sw]\n\tfstpt %[r]"   \
                     : [r] "=m"(*r), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b));               \
    return sw & SW_ARITH;                                                                    \
  }
/* faddp st(1), st: st1 = st1 + st0. With a in st1 and b in st0 that is a + b; the reversed
 * ones swap as AT&T's fsubp/fdivp names do (gas's historical operand order). */
BIN_POP(fadd_p, "faddp")
BIN_POP(fmul_p, "fmulp")
BIN_POP(fsub_p, ".byte 0xde, 0xe9") /* fsubp st(1), st: st1 = st1 - st0 */
BIN_POP(fdiv_p, ".byte 0xde, 0xf9") /* fdivp st(1), st: st1 = st1 / st0 */
BIN_POP(fsubr_p, ".byte 0xde, 0xe1") /* fsubrp st(1), st: st1 = st0 - st1 */
BIN_POP(fdivr_p, ".byte 0xde, 0xf1")
BIN_MEM(fadd_m, "faddl")
BIN_MEM(fsub_m, "fsubl")
BIN_MEM(fsubr_m, "fsubrl")
BIN_MEM(fmul_m, "fmull")
BIN_MEM(fdiv_m, "fdivl")
BIN_MEM(fdivr_m, "fdivrl")

typedef uint16_t (*bin_fn)(double a, double b, ext80 *r);

static const struct {
  const char *name;
  bin_fn reg, other[2];
} binops[] = {
    {"fadd", fadd_rr, {fadd_p, fadd_m}},   {"fsub", fsub_rr, {fsub_p, fsub_m}},
    {"fsubr", fsubr_rr, {fsubr_p, fsubr_m}}, {"fmul", fmul_rr, {fmul_p, fmul_m}},
    {"fdiv", fdiv_rr, {fdiv_p, fdiv_m}},   {"fdivr", fdivr_rr, {fdivr_p, fdivr_m}},
};

static int mismatches;

static void binary_ops(void) {
  static const char *const form_names[2] = {"popping", "memory"};
  for (size_t k = 0; k < sizeof(binops) / sizeof(binops[0]); k++)
    for (size_t i = 0; i < NVALUES; i++) {
      printf("%s a=%d:", binops[k].name, (int)i);
      for (size_t j = 0; j < NVALUES; j++) {
        ext80 r, r2;
        uint16_t sw = binops[k].reg(values[i], values[j], &r);
        print80(&r);
        printf("/%x", sw);
        for (int f = 0; f < 2; f++) {
          memset(&r2, 0, sizeof(r2));
          uint16_t sw2 = binops[k].other[f](values[i], values[j], &r2);
          if ((memcmp(&r, &r2, sizeof(r)) || sw != sw2) && mismatches++ < 20)
            printf("\nMISMATCH %s %s form a=%d b=%d:", binops[k].name, form_names[f], (int)i,
                   (int)j), print80(&r2), printf("/%x\n", sw2);
        }
      }
      printf("\n");
    }
}

/* ---- unary operations ---- */

#define UN(name, insn)                                                                       \
  static uint16_t name(double a, ext80 *r) {                                                \
    uint16_t sw;                                                                             \
    __asm__ volatile("fninit\n\tfldl %[a]\n\t" insn "\n\tfnstsw %[sw]\n\tfstpt %[r]"          \
                     : [r] "=m"(*r), [sw] "=m"(sw) : [a] "m"(a));                           \
    return sw & SW_ARITH;                                                                    \
  }
UN(u_fchs, "fchs")
UN(u_fabs, "fabs")
UN(u_fsqrt, "fsqrt")
UN(u_frndint, "frndint")

static uint16_t cw_set(uint16_t cw) {
  __asm__ volatile("fldcw %0" : : "m"(cw));
  return cw;
}

static void unary_ops(void) {
  static const struct {
    const char *name;
    uint16_t (*fn)(double, ext80 *);
  } ops[] = {{"fchs", u_fchs}, {"fabs", u_fabs}, {"fsqrt", u_fsqrt}, {"frndint", u_frndint}};
  for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
    printf("%s:", ops[k].name);
    for (size_t i = 0; i < NVALUES; i++) {
      ext80 r;
      uint16_t sw = ops[k].fn(values[i], &r);
      print80(&r), printf("/%x", sw);
    }
    printf("\n");
  }
  /* frndint and fistp under each rounding mode */
  static const double rnd[] = {2.5, -2.5, 3.5, -0.5, 0.4999, 1e10, 32767.5, -32768.5,
                               2147483647.5, 1e20, 0.0 / 0.0};
  static const char *const modes[4] = {"nearest", "down", "up", "chop"};
  for (int m = 0; m < 4; m++) {
    printf("round %s:", modes[m]);
    for (size_t i = 0; i < sizeof(rnd) / sizeof(rnd[0]); i++) {
      ext80 r;
      int16_t i16;
      int32_t i32;
      int64_t i64;
      uint16_t sw1, sw2;
      uint16_t cw = (uint16_t)(0x037f | m << 10);
      __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldl %[a]\n\tfrndint\n\tfnstsw %[sw]\n\t"
                       "fstpt %[r]"
                       : [r] "=m"(r), [sw] "=m"(sw1) : [a] "m"(rnd[i]), [cw] "m"(cw));
      __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldl %[a]\n\tfists %[i16]\n\tfistl %[i32]\n\t"
                       "fistpll %[i64]\n\tfnstsw %[sw]"
                       : [i16] "=m"(i16), [i32] "=m"(i32), [i64] "=m"(i64), [sw] "=m"(sw2)
                       : [a] "m"(rnd[i]), [cw] "m"(cw));
      sw1 &= SW_ARITH;
      sw2 &= SW_ARITH;
      print80(&r);
      printf("/%x %x %x %llx/%x", sw1, (uint16_t)i16, (uint32_t)i32, (unsigned long long)i64, sw2);
    }
    printf("\n");
  }
  cw_set(0x037f);
}

/* ---- two-result and two-operand specials ---- */

static void specials(void) {
  static const double pairs[][2] = {{7.0, 2.0}, {-7.5, 2.0}, {1e10, 3.0}, {5.0, -2.0},
                                    {1.0, 0.0}, {0.3, 1e-5}, {-0.0, 5.0}, {1e300, 1e-300}};
  for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
    ext80 r1, r2, r3, r4, r5;
    uint16_t sw1, sw2, sw3, sw4;
    double a = pairs[i][0], b = pairs[i][1];
    __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n\tfscale\n\tfnstsw %[sw]\n\tfstpt %[r]"
                     : [r] "=m"(r1), [sw] "=m"(sw1) : [a] "m"(a), [b] "m"(b));
    __asm__ volatile("fninit\n\tfldl %[a]\n\tfxtract\n\tfnstsw %[sw]\n\tfstpt %[m]\n\t"
                     "fstpt %[e]"
                     : [m] "=m"(r2), [e] "=m"(r3), [sw] "=m"(sw2) : [a] "m"(a));
    sw1 &= SW_ARITH;
    sw2 &= SW_ARITH;
    __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n"
                     "movl $100, %%ecx\n" /* partial remainders: C2 set, go on */
                     "1: fprem\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\tloopnz 1b\n\t"
                     "fstpt %[r]"
                     : [r] "=m"(r4), "=a"(sw3) : [a] "m"(a), [b] "m"(b) : "ecx");
    sw3 &= SW_ALL; /* C0, C3, C1: the quotient's low bits */
    __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n"
                     "movl $100, %%ecx\n" /* partial remainders: C2 set, go on */
                     "1: fprem1\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\tloopnz 1b\n\t"
                     "fstpt %[r]"
                     : [r] "=m"(r5), "=a"(sw4) : [a] "m"(a), [b] "m"(b) : "ecx");
    sw4 &= SW_EXC | 0x400; /* QEMU leaves fprem1's quotient bits clear: not compared */
    printf("pair %d: fscale", (int)i), print80(&r1), printf("/%x fxtract", sw1);
    print80(&r2), print80(&r3), printf("/%x fprem", sw2);
    print80(&r4), printf("/%x fprem1", sw3), print80(&r5), printf("/%x\n", sw4);
  }
}

/* ---- comparisons ---- */

static void comparisons(void) {
  for (size_t i = 0; i < NVALUES; i += 2) {
    printf("compare %d:", (int)i);
    for (size_t j = 0; j < NVALUES; j += 2) {
      uint16_t sw1, sw2, ax;
      uint32_t fl1, fl2;
      __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n\tfcom %%st(1)\n\tfnstsw %%ax"
                       : "=a"(ax) : [a] "m"(values[i]), [b] "m"(values[j]));
      sw1 = ax & SW_ALL;
      __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n\tfucompp\n\tfnstsw %%ax"
                       : "=a"(ax) : [a] "m"(values[i]), [b] "m"(values[j]));
      sw2 = ax & SW_ALL;
      /* fcomi clears OF, SF and AF; start with them clear (QEMU keeps them) */
      __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n\tpushl $0\n\tpopf\n\t"
                       "fcomi %%st(1)\n\tpushf\n\tpop %0"
                       : "=r"(fl1) : [a] "m"(values[i]), [b] "m"(values[j]) : "cc");
      __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n\tpushl $0\n\tpopf\n\t"
                       "fucomip %%st(1)\n\tpushf\n\tpop %0"
                       : "=r"(fl2) : [a] "m"(values[i]), [b] "m"(values[j]) : "cc");
      printf(" %x,%x,%s,%s", sw1, sw2, flags_str(fl1, FL_ARITH), flags_str(fl2, FL_ARITH));
    }
    printf("\n");
  }
  printf("ftst/fxam:");
  for (size_t i = 0; i < NVALUES; i++) {
    uint16_t t, x;
    __asm__ volatile("fninit\n\tfldl %[a]\n\tftst\n\tfnstsw %%ax" : "=a"(t) : [a] "m"(values[i]));
    __asm__ volatile("fninit\n\tfldl %[a]\n\tfxam\n\tfnstsw %%ax" : "=a"(x) : [a] "m"(values[i]));
    printf(" %x/%x", t & SW_ALL, x & 0x4700);
  }
  uint16_t empty;
  __asm__ volatile("fninit\n\tfxam\n\tfnstsw %%ax" : "=a"(empty));
  printf(" empty %x\n", empty & 0x4700);
  /* fcmov after fcomi */
  for (size_t i = 0; i < 3; i++) {
    double r[4];
    __asm__ volatile("fninit\n\t"
                     "fldl %[b]\n\t"
                     "fldl %[a]\n\t"
                     "fcomi %%st(1)\n\t"
                     "fld %%st(0)\n\tfcmovb %%st(2), %%st\n\tfstpl %[r0]\n\t"
                     "fld %%st(0)\n\tfcmove %%st(2), %%st\n\tfstpl %[r1]\n\t"
                     "fld %%st(0)\n\tfcmovnbe %%st(2), %%st\n\tfstpl %[r2]\n\t"
                     "fld %%st(0)\n\tfcmovu %%st(2), %%st\n\tfstpl %[r3]"
                     : [r0] "=m"(r[0]), [r1] "=m"(r[1]), [r2] "=m"(r[2]), [r3] "=m"(r[3])
                     : [a] "m"(values[2]), [b] "m"(values[2 + i])
                     : "cc");
    uint64_t b[4];
    memcpy(b, r, sizeof(b));
    printf("fcmov b/e/nbe/u 1 vs value %d: %llx %llx %llx %llx\n", (int)(2 + i),
           (unsigned long long)b[0], (unsigned long long)b[1], (unsigned long long)b[2],
           (unsigned long long)b[3]);
  }
}

/* ---- loads, stores, integer forms, environment ---- */

static void loads_stores(void) {
  ext80 c[7];
  __asm__ volatile("fninit\n\tfld1\n\tfstpt %0\n\tfldz\n\tfstpt %1\n\tfldpi\n\tfstpt %2\n\t"
                   "fldl2e\n\tfstpt %3\n\tfldl2t\n\tfstpt %4\n\tfldlg2\n\tfstpt %5\n\t"
                   "fldln2\n\tfstpt %6"
                   : "=m"(c[0]), "=m"(c[1]), "=m"(c[2]), "=m"(c[3]), "=m"(c[4]), "=m"(c[5]),
                     "=m"(c[6]));
  printf("constants:");
  for (int i = 0; i < 7; i++)
    print80(&c[i]);
  printf("\n");
  for (size_t i = 0; i < NVALUES; i++) {
    float f;
    double d;
    ext80 e, e2;
    uint16_t sw;
    __asm__ volatile("fninit\n\tfldl %[a]\n\tfsts %[f]\n\tfnstsw %[sw]\n\tfstl %[d]\n\t"
                     "fstpt %[e]\n\tfldt %[e]\n\tfstpt %[e2]"
                     : [f] "=m"(f), [d] "=m"(d), [e] "=m"(e), [e2] "=m"(e2), [sw] "=m"(sw)
                     : [a] "m"(values[i]));
    uint32_t fb;
    uint64_t db;
    memcpy(&fb, &f, 4);
    memcpy(&db, &d, 8);
    printf("value %d: float %08x/%x double %016llx", (int)i, fb, sw & SW_ARITH,
           (unsigned long long)db);
    print80(&e), print80(&e2), printf("\n");
  }
  static const int16_t i16[] = {0, -1, 32767, -32768};
  static const int32_t i32[] = {1, -2147483647 - 1, 2147483647, 100000};
  static const int64_t i64[] = {-1, 0x7fffffffffffffffll, -0x7fffffffffffffffll - 1,
                                123456789012345ll};
  printf("fild:");
  for (int i = 0; i < 4; i++) {
    ext80 a, b, d;
    __asm__ volatile("fninit\n\tfilds %[x]\n\tfstpt %[a]\n\tfildl %[y]\n\tfstpt %[b]\n\t"
                     "fildll %[z]\n\tfstpt %[d]"
                     : [a] "=m"(a), [b] "=m"(b), [d] "=m"(d)
                     : [x] "m"(i16[i]), [y] "m"(i32[i]), [z] "m"(i64[i]));
    print80(&a), print80(&b), print80(&d);
  }
  printf("\n");
  ext80 r;
  int16_t m16 = 3;
  int32_t m32 = -10;
  uint16_t sw;
  __asm__ volatile("fninit\n\tfld1\n\tfiadds %[a]\n\tfimull %[b]\n\tfisubrs %[a]\n\t"
                   "fidivl %[b]\n\tfnstsw %[sw]\n\tfstpt %[r]"
                   : [r] "=m"(r), [sw] "=m"(sw) : [a] "m"(m16), [b] "m"(m32));
  printf("integer-memory arithmetic:"), print80(&r), printf("/%x\n", sw & SW_ARITH);
}

static void environment(void) {
  struct {
    uint32_t cw, sw, tw, rest[4];
  } env;
  uint16_t sw_ax, sw_m, cw;
  __asm__ volatile("fninit\n\tfnstcw %0" : "=m"(cw));
  printf("after fninit: cw %x", cw);
  __asm__ volatile("fnstenv %0" : "=m"(env));
  printf(" env cw %x sw %x tw %x\n", env.cw & 0xffff, env.sw & 0xffff, env.tw & 0xffff);
  cw = 0x0c7f; /* chop, 64-bit precision */
  __asm__ volatile("fldcw %[cw]\n\tfld1\n\tfldz\n\tfdivr %%st(1), %%st\n\t" /* 1/0 */
                   "fldpi\n\tfnstsw %%ax\n\tfnstsw %[m]\n\tfnstenv %[env]"
                   : "=a"(sw_ax), [m] "=m"(sw_m), [env] "=m"(env)
                   : [cw] "m"(cw));
  printf("after 3 pushes and 1/0: sw %x = %x, env cw %x sw %x tw %x\n", sw_ax, sw_m,
         env.cw & 0xffff, env.sw & 0xffff, env.tw & 0xffff);
  __asm__ volatile("fldenv %0" : : "m"(env));
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  printf("fldenv restores cw %x\n", cw);
  __asm__ volatile("fninit");
}

int main(void) {
  binary_ops();
  unary_ops();
  specials();
  comparisons();
  loads_stores();
  environment();
  printf("%d mismatches between forms\n", mismatches);
  return 0;
}
