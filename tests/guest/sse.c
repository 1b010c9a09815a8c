/* sse.c - SSE: #UD while CR4.OSFXSR is clear, then packed and scalar single-precision
 * arithmetic, min/max, logic, unpacks, shufps, cmpps/cmpss with every predicate, comiss and
 * ucomiss (EFLAGS), conversions to and from integers under each MXCSR rounding mode, the
 * moves (aligned, unaligned, scalar, low/high halves, movmskps), MXCSR exception flags, FTZ
 * and DAZ, and fxsave/fxrstor. Results print as bit patterns;
 * rcpps and rsqrtps are left out (their precision is the implementation's). */
#include "lib/guest.h"

/* No clobber lists name XMM registers: without -msse gcc never allocates them. */

typedef union {
  float f[4];
  uint32_t d[4];
} __attribute__((aligned(16))) xmm;

#define NAN_ __builtin_nanf("")
#define NAN1 __builtin_nanf("1")
#define INF __builtin_inff()

static const xmm inputs[][2] = {
    {{{1.0f, -2.5f, 0.0f, 3e38f}}, {{3.0f, 0.5f, -0.0f, 3e38f}}},
    {{{NAN_, 1.0f, INF, -INF}}, {{1.0f, NAN1, INF, 1.0f}}},
    {{{3.6e-43f, 1e-38f, 7.0f, -7.0f}}, {{2.0f, 1e-5f, 0.0f, 0.0f}}},
    {{{-0.0f, 0.0f, 5.0f, 1e30f}}, {{0.0f, -0.0f, -5.0f, 1e-30f}}},
    {{{0.1f, 1.0f / 3.0f, 16777217.0f, -1.5f}}, {{0.2f, 3.0f, 1.0f, 2.0f}}},
};
#define NINPUTS (sizeof(inputs) / sizeof(inputs[0]))

static void print_xmm(const xmm *x) { printf(" %08x:%08x:%08x:%08x", x->d[3], x->d[2], x->d[1], x->d[0]); }

/* MXCSR's exception flags but DE: QEMU does not report denormal operands. */
static uint32_t mxcsr_flags(void) {
  uint32_t m;
  __asm__ volatile("stmxcsr %0" : "=m"(m));
  return m & 0x3d;
}

static void mxcsr_set(uint32_t m) { __asm__ volatile("ldmxcsr %0" : : "m"(m)); }

/* ---- turning SSE on ---- */

static void enable_sse(void) {
  struct site s;
  FAULTING(s, "xorps %%xmm0, %%xmm0");
  print_trap("xorps with CR4.OSFXSR clear", s.start);
  uint32_t m = 0x1f80;
  FAULTING(s, "ldmxcsr %[m]", : [m] "m"(m));
  print_trap("ldmxcsr with CR4.OSFXSR clear", s.start);
  uint32_t cr0, cr4;
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  cr0 = (cr0 & ~0x4u) | 0x2u; /* EM off, MP on */
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  cr4 |= 0x600; /* OSFXSR, OSXMMEXCPT */
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
  FAULTING(s, "xorps %%xmm0, %%xmm0");
  print_trap("xorps with CR4.OSFXSR set", s.start);
}

/* ---- two-operand instructions ---- */

#define SSE(op)                                                                              \
  static void op##_rr(const xmm *a, const xmm *b, xmm *r) {                                  \
    __asm__ volatile("movaps %[a], %%xmm1\n\tmovaps %[b], %%xmm2\n\t" #op " %%xmm2, %%xmm1\n\t" \
                     "movaps %%xmm1, %[r]"                                                   \
                     : [r] "=m"(*r) : [a] "m"(*a), [b] "m"(*b));                             \
  }                                                                                          \
  static void op##_rm(const xmm *a, const xmm *b, xmm *r) {                                  \
    __asm__ volatile("movaps %[a], %%xmm5\n\t" #op " %[b], %%xmm5\n\tmovups %%xmm5, %[r]"    \
                     : [r] "=m"(*r) : [a] "m"(*a), [b] "m"(*b));                             \
  }

#define OPS(X)                                                                               \
  X(addps) X(subps) X(mulps) X(divps) X(minps) X(maxps) X(sqrtps) X(andps) X(andnps) X(orps) \
  X(xorps) X(unpcklps) X(unpckhps) X(addss) X(subss) X(mulss) X(divss) X(minss) X(maxss)     \
  X(sqrtss)

OPS(SSE)

#define SSE_IMM(name, insn)                                                                  \
  static void name##_rr(const xmm *a, const xmm *b, xmm *r) {                                \
    __asm__ volatile("movaps %[a], %%xmm1\n\tmovaps %[b], %%xmm2\n\t" insn " %%xmm2, %%xmm1\n\t" \
                     "movaps %%xmm1, %[r]"                                                   \
                     : [r] "=m"(*r) : [a] "m"(*a), [b] "m"(*b));                             \
  }                                                                                          \
  static void name##_rm(const xmm *a, const xmm *b, xmm *r) {                                \
    __asm__ volatile("movaps %[a], %%xmm6\n\t" insn " %[b], %%xmm6\n\tmovaps %%xmm6, %[r]"   \
                     : [r] "=m"(*r) : [a] "m"(*a), [b] "m"(*b));                             \
  }
#define IMMS(X)                                                                              \
  X(cmpeqps, "cmpps $0,") X(cmpltps, "cmpps $1,") X(cmpleps, "cmpps $2,")                    \
  X(cmpunordps, "cmpps $3,") X(cmpneqps, "cmpps $4,") X(cmpnltps, "cmpps $5,")               \
  X(cmpnleps, "cmpps $6,") X(cmpordps, "cmpps $7,") X(cmpltss, "cmpss $1,")                  \
  X(cmpunordss, "cmpss $3,") X(shufps1b, "shufps $0x1b,") X(shufpse4, "shufps $0xe4,")      \
  X(shufps72, "shufps $0x72,")
#define SSE_IMM_X(name, insn) SSE_IMM(name, insn)
IMMS(SSE_IMM_X)

struct op {
  const char *name;
  void (*rr)(const xmm *, const xmm *, xmm *), (*rm)(const xmm *, const xmm *, xmm *);
};
#define ENTRY(op) {#op, op##_rr, op##_rm},
#define ENTRY_IMM(name, insn) {insn, name##_rr, name##_rm},
static const struct op ops[] = {OPS(ENTRY) IMMS(ENTRY_IMM)};

static int mismatches;

static void run(const struct op *o) {
  printf("%s:", o->name);
  for (size_t i = 0; i < NINPUTS; i++) {
    xmm r, r2;
    mxcsr_set(0x1f80);
    o->rr(&inputs[i][0], &inputs[i][1], &r);
    uint32_t f = mxcsr_flags();
    mxcsr_set(0x1f80);
    o->rm(&inputs[i][0], &inputs[i][1], &r2);
    uint32_t f2 = mxcsr_flags();
    print_xmm(&r);
    printf("/%x", f);
    if ((memcmp(&r, &r2, sizeof(r)) || f != f2) && mismatches++ < 20)
      printf(" (MISMATCH: memory form"), print_xmm(&r2), printf("/%x)", f2);
  }
  printf("\n");
}

/* ---- comparisons into EFLAGS ---- */

static void ordered_compares(void) {
  for (size_t i = 0; i < NINPUTS; i++) {
    uint32_t f1, f2;
    __asm__ volatile("movaps %[a], %%xmm0\n\tpushl $0x8d5\n\tpopf\n\tcomiss %[b], %%xmm0\n\t"
                     "pushf\n\tpopl %[f1]\n\tmovss %[b], %%xmm3\n\tucomiss %%xmm3, %%xmm0\n\t"
                     "pushf\n\tpopl %[f2]"
                     : [f1] "=r"(f1), [f2] "=r"(f2)
                     : [a] "m"(inputs[i][0]), [b] "m"(inputs[i][1])
                     : "cc");
    printf("comiss/ucomiss %d: %s %s mxcsr %x\n", (int)i, flags_str(f1, FL_ARITH),
           flags_str(f2, FL_ARITH), mxcsr_flags());
  }
}

/* ---- conversions ---- */

static void conversions(void) {
  static const int32_t ints[] = {0, 1, -1, 16777217, 2147483647, -2147483647 - 1};
  static const float floats[] = {2.5f, -2.5f, 3.5f, -0.5f, 2147483520.0f, 3e9f, -3e9f, NAN_,
                                 1e-3f};
  static const char *const modes[4] = {"nearest", "down", "up", "zero"};
  for (int m = 0; m < 4; m++) {
    printf("cvtsi2ss %s:", modes[m]);
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
      uint32_t r;
      mxcsr_set(0x1f80 | (uint32_t)m << 13);
      __asm__ volatile("cvtsi2ss %[i], %%xmm1\n\tmovss %%xmm1, %[r]" : [r] "=m"(r) : [i] "m"(ints[i]));
      printf(" %08x/%x", r, mxcsr_flags());
    }
    printf("\ncvtss2si/cvttss2si %s:", modes[m]);
    for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
      int32_t a, b;
      mxcsr_set(0x1f80 | (uint32_t)m << 13);
      __asm__ volatile("cvtss2si %[f], %[a]\n\tcvttss2si %[f], %[b]"
                       : [a] "=r"(a), [b] "=r"(b) : [f] "m"(floats[i]));
      printf(" %x,%x/%x", (uint32_t)a, (uint32_t)b, mxcsr_flags());
    }
    printf("\n");
  }
  mxcsr_set(0x1f80);
  uint64_t mm = 0xfffffffe00000003ull, back1, back2;
  xmm r;
  __asm__ volatile("movaps %[in], %%xmm2\n\tmovq %[mm], %%mm0\n\tcvtpi2ps %%mm0, %%xmm2\n\t"
                   "movaps %%xmm2, %[r]\n\tcvtps2pi %[f], %%mm1\n\tmovq %%mm1, %[b1]\n\t"
                   "cvttps2pi %[f], %%mm2\n\tmovq %%mm2, %[b2]\n\temms"
                   : [r] "=m"(r), [b1] "=m"(back1), [b2] "=m"(back2)
                   : [in] "m"(inputs[0][1]), [mm] "m"(mm), [f] "m"(inputs[0][0]));
  printf("cvtpi2ps"), print_xmm(&r);
  printf(" cvtps2pi %llx cvttps2pi %llx\n", (unsigned long long)back1, (unsigned long long)back2);
}

/* ---- moves ---- */

static void moves(void) {
  static const xmm a = {.d = {0x11111111, 0x22222222, 0x33333333, 0x44444444}};
  static const xmm b = {.d = {0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd}};
  uint8_t buf[40];
  xmm r[8];
  uint32_t mask;
  for (int i = 0; i < 40; i++)
    buf[i] = (uint8_t)i;
  __asm__ volatile("movups %[u], %%xmm0\n\tmovaps %%xmm0, %[r0]\n\t"   /* unaligned load */
                   "movaps %[a], %%xmm1\n\tmovss %[b], %%xmm1\n\tmovaps %%xmm1, %[r1]\n\t" /* load: zeroes */
                   "movaps %[a], %%xmm2\n\tmovaps %[b], %%xmm3\n\tmovss %%xmm3, %%xmm2\n\t"
                   "movaps %%xmm2, %[r2]\n\t"                          /* reg: merges */
                   "movaps %[a], %%xmm4\n\tmovlps %[b], %%xmm4\n\tmovhps %[b], %%xmm4\n\t"
                   "movaps %%xmm4, %[r3]\n\t"
                   "movaps %[a], %%xmm5\n\tmovaps %[b], %%xmm6\n\tmovlhps %%xmm6, %%xmm5\n\t"
                   "movaps %%xmm5, %[r4]\n\tmovhlps %%xmm6, %%xmm5\n\tmovaps %%xmm5, %[r5]\n\t"
                   "movups %%xmm3, %[u2]\n\t"                          /* unaligned store */
                   "movhps %%xmm3, %[r6]\n\tmovlps %%xmm1, %[r7]\n\t"
                   "movaps %[b], %%xmm7\n\tmovmskps %%xmm7, %[mask]"
                   : [r0] "=m"(r[0]), [r1] "=m"(r[1]), [r2] "=m"(r[2]), [r3] "=m"(r[3]),
                     [r4] "=m"(r[4]), [r5] "=m"(r[5]), [r6] "=m"(r[6].d[0]), [r7] "=m"(r[7].d[0]),
                     [u2] "=m"(*(xmm *)(buf + 21)), [mask] "=r"(mask)
                   : [u] "m"(*(const xmm *)(buf + 3)), [a] "m"(a), [b] "m"(b)
                   : "memory");
  for (int i = 0; i < 6; i++)
    printf("move %d:", i), print_xmm(&r[i]), printf("\n");
  printf("movhps/movlps stores: %x %x %x %x, movmskps %x\n", r[6].d[0], r[6].d[1], r[7].d[0],
         r[7].d[1], mask);
  hexdump("unaligned store", buf, sizeof(buf));
}

/* ---- MXCSR: flush to zero, denormals are zero, reserved bits ---- */

static void mxcsr_modes(void) {
  static const xmm tiny = {{1e-38f, 3.6e-43f, 1e-20f, 1.0f}};
  static const xmm scale = {{1e-5f, 2.0f, 1e-20f, 1.0f}};
  static const uint32_t modes[4] = {0x1f80, 0x9f80, 0x1fc0, 0x9fc0};
  static const char *const names[4] = {"default", "FTZ", "DAZ", "FTZ+DAZ"};
  for (int m = 0; m < 4; m++) {
    xmm r;
    mxcsr_set(modes[m]);
    __asm__ volatile("movaps %[a], %%xmm0\n\tmulps %[b], %%xmm0\n\tmovaps %%xmm0, %[r]"
                     : [r] "=m"(r) : [a] "m"(tiny), [b] "m"(scale));
    uint32_t f = mxcsr_flags();
    printf("mulps tiny %s:", names[m]), print_xmm(&r), printf(" mxcsr flags %x\n", f);
  }
  mxcsr_set(0x1f80);
  /* (ldmxcsr with a reserved bit set raises #GP on hardware, but not under QEMU 7.2) */
}

/* ---- fxsave / fxrstor ---- */

static uint8_t area[512] __attribute__((aligned(16)));

static void save_restore(void) {
  static const xmm vals = {.d = {0x01020304, 0x05060708, 0x090a0b0c, 0x0d0e0f10}};
  memset(area, 0x5a, sizeof(area));
  uint16_t cw = 0x027f;
  mxcsr_set(0x3f80);
  __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfld1\n\tfldpi\n\t"
                   "movaps %[v], %%xmm0\n\tmovaps %%xmm0, %%xmm7\n\tpslld $1, %%xmm7\n\t"
                   "fxsave %[area]"
                   : [area] "=m"(area)
                   : [cw] "m"(cw), [v] "m"(vals));
  uint16_t fcw, fsw;
  memcpy(&fcw, area, 2);
  memcpy(&fsw, area + 2, 2);
  uint32_t mx;
  memcpy(&mx, area + 24, 4);
  printf("fxsave: fcw %x fsw %x ftw %x mxcsr %x\n", fcw, fsw, area[4], mx);
  hexdump("  st0", area + 32, 10);
  hexdump("  st1", area + 48, 10);
  hexdump("  xmm0", area + 160, 16);
  hexdump("  xmm7", area + 160 + 7 * 16, 16);
  /* (what fxsave writes past XMM7 is fxsave.c's subject) */
  /* change everything, then fxrstor */
  mxcsr_set(0x1f80);
  __asm__ volatile("fninit\n\txorps %%xmm0, %%xmm0\n\txorps %%xmm7, %%xmm7\n\tfxrstor %[area]"
                   : : [area] "m"(area));
  xmm r0, r7;
  uint32_t m2;
  __asm__ volatile("fnstcw %[cw]\n\tstmxcsr %[m]\n\tmovaps %%xmm0, %[r0]\n\tmovaps %%xmm7, %[r7]"
                   : [cw] "=m"(fcw), [m] "=m"(m2), [r0] "=m"(r0), [r7] "=m"(r7));
  printf("fxrstor: fcw %x mxcsr %x xmm0", fcw, m2), print_xmm(&r0), printf(" xmm7"),
      print_xmm(&r7), printf("\n");
  __asm__ volatile("fninit");
  mxcsr_set(0x1f80);
}

int main(void) {
  traps_init();
  enable_sse();
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    run(&ops[i]);
  ordered_compares();
  conversions();
  moves();
  mxcsr_modes();
  save_restore();
  __asm__ volatile("prefetchnta %0\n\tprefetcht0 %0\n\tprefetcht2 %0\n\tsfence" : : "m"(area));
  printf("%d mismatches between forms\n", mismatches);
  return 0;
}
