/* sse2.c - SSE2: packed and scalar double-precision arithmetic, compares (cmppd/cmpsd
 * predicates, comisd/ucomisd into EFLAGS), every conversion between doubles, singles and
 * integers under each rounding mode, the 128-bit integer instructions (add, subtract,
 * saturate, multiply, compare, pack/unpack, shifts by register and immediate, byte shifts,
 * shuffles), and the moves (movdqa/movdqu, movq/movd, movq2dq/movdq2q, movmskpd, pmovmskb,
 * maskmovdqu, the non-temporal stores), plus lfence/mfence. Each two-operand
 * instruction runs register-register (printed) and register-memory (compared with it). */
#include "lib/guest.h"

/* No clobber lists name XMM or MMX registers: without -msse gcc never allocates them. */

typedef union {
  double f[2];
  uint64_t q[2];
  uint32_t d[4];
} __attribute__((aligned(16))) xmm;

#define NAN_ __builtin_nan("")
#define INF __builtin_inf()

static const xmm inputs[][2] = {
    {{{1.0, -2.5}}, {{3.0, 0.5}}},
    {{{0.0, 1e308}}, {{-0.0, 1e308}}},
    {{{NAN_, INF}}, {{1.0, INF}}},
    {{{4.9e-324, 1e-300}}, {{2.0, 1e-20}}},
    {{{0.1, 1.0 / 3.0}}, {{0.2, 3.0}}},
    {{.q = {0x0123456789abcdefull, 0x7f7f80807fff8000ull}}, {.q = {0xfedcba9876543210ull, 0x0101ffff00017fffull}}},
    {{.q = {0x8000000080000000ull, 0xffffffffffffffffull}}, {.q = {0xffffffff00000001ull, 0x00ff00ff00ff00ffull}}},
};
#define NINPUTS (sizeof(inputs) / sizeof(inputs[0]))

static void print_xmm(const xmm *x) { printf(" %016llx:%016llx", (unsigned long long)x->q[1], (unsigned long long)x->q[0]); }

/* MXCSR's exception flags but DE: QEMU does not report denormal operands. */
static uint32_t mxcsr_flags(void) {
  uint32_t m;
  __asm__ volatile("stmxcsr %0" : "=m"(m));
  return m & 0x3d;
}

static void mxcsr_set(uint32_t m) { __asm__ volatile("ldmxcsr %0" : : "m"(m)); }

static void enable_sse(void) {
  uint32_t cr0, cr4;
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("mov %0, %%cr0" : : "r"((cr0 & ~0x4u) | 0x2u));
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x600));
}

/* ---- two-operand instructions ---- */

#define BIN(name, insn)                                                                      \
  static void name##_rr(const xmm *a, const xmm *b, xmm *r) {                                \
    __asm__ volatile("movdqa %[a], %%xmm1\n\tmovdqa %[b], %%xmm2\n\t" insn " %%xmm2, %%xmm1\n\t" \
                     "movdqa %%xmm1, %[r]"                                                   \
                     : [r] "=m"(*r) : [a] "m"(*a), [b] "m"(*b));                             \
  }                                                                                          \
  static void name##_rm(const xmm *a, const xmm *b, xmm *r) {                                \
    __asm__ volatile("movdqa %[a], %%xmm6\n\t" insn " %[b], %%xmm6\n\tmovdqu %%xmm6, %[r]"   \
                     : [r] "=m"(*r) : [a] "m"(*a), [b] "m"(*b));                             \
  }

#define FP_OPS(X)                                                                            \
  X(addpd, "addpd") X(subpd, "subpd") X(mulpd, "mulpd") X(divpd, "divpd") X(minpd, "minpd")  \
  X(maxpd, "maxpd") X(sqrtpd, "sqrtpd") X(andpd, "andpd") X(andnpd, "andnpd") X(orpd, "orpd") \
  X(xorpd, "xorpd") X(unpcklpd, "unpcklpd") X(unpckhpd, "unpckhpd") X(addsd, "addsd")        \
  X(subsd, "subsd") X(mulsd, "mulsd") X(divsd, "divsd") X(minsd, "minsd") X(maxsd, "maxsd")  \
  X(sqrtsd, "sqrtsd") X(cmpeqpd, "cmppd $0,") X(cmpltpd, "cmppd $1,") X(cmplepd, "cmppd $2,") \
  X(cmpunordpd, "cmppd $3,") X(cmpneqpd, "cmppd $4,") X(cmpnltpd, "cmppd $5,")               \
  X(cmpnlepd, "cmppd $6,") X(cmpordpd, "cmppd $7,") X(cmpltsd, "cmpsd $1,")                  \
  X(cmpunordsd, "cmpsd $3,") X(shufpd1, "shufpd $1,") X(shufpd2, "shufpd $2,")               \
  X(cvtpd2ps, "cvtpd2ps") X(cvtps2pd, "cvtps2pd") X(cvtsd2ss, "cvtsd2ss")                    \
  X(cvtss2sd, "cvtss2sd") X(cvtdq2ps, "cvtdq2ps") X(cvtps2dq, "cvtps2dq")                    \
  X(cvttps2dq, "cvttps2dq") X(cvtdq2pd, "cvtdq2pd") X(cvtpd2dq, "cvtpd2dq")                  \
  X(cvttpd2dq, "cvttpd2dq")

#define INT_OPS(X)                                                                           \
  X(paddb, "paddb") X(paddw, "paddw") X(paddd, "paddd") X(paddq, "paddq") X(paddsb, "paddsb") \
  X(paddsw, "paddsw") X(paddusb, "paddusb") X(paddusw, "paddusw") X(psubb, "psubb")          \
  X(psubw, "psubw") X(psubd, "psubd") X(psubq, "psubq") X(psubsb, "psubsb") X(psubsw, "psubsw") \
  X(psubusb, "psubusb") X(psubusw, "psubusw") X(pmullw, "pmullw") X(pmulhw, "pmulhw")        \
  X(pmulhuw, "pmulhuw") X(pmuludq, "pmuludq") X(pmaddwd, "pmaddwd") X(psadbw, "psadbw")      \
  X(pavgb, "pavgb") X(pavgw, "pavgw") X(pmaxsw, "pmaxsw") X(pmaxub, "pmaxub")                \
  X(pminsw, "pminsw") X(pminub, "pminub") X(pcmpeqb, "pcmpeqb") X(pcmpeqw, "pcmpeqw")        \
  X(pcmpeqd, "pcmpeqd") X(pcmpgtb, "pcmpgtb") X(pcmpgtw, "pcmpgtw") X(pcmpgtd, "pcmpgtd")    \
  X(packsswb, "packsswb") X(packssdw, "packssdw") X(packuswb, "packuswb")                    \
  X(punpcklbw, "punpcklbw") X(punpcklwd, "punpcklwd") X(punpckldq, "punpckldq")              \
  X(punpcklqdq, "punpcklqdq") X(punpckhbw, "punpckhbw") X(punpckhwd, "punpckhwd")            \
  X(punpckhdq, "punpckhdq") X(punpckhqdq, "punpckhqdq") X(pand, "pand") X(pandn, "pandn")    \
  X(por, "por") X(pxor, "pxor") X(psllw, "psllw") X(pslld, "pslld") X(psllq, "psllq")        \
  X(psrlw, "psrlw") X(psrld, "psrld") X(psrlq, "psrlq") X(psraw, "psraw") X(psrad, "psrad")  \
  X(pshufd, "pshufd $0x1b,") X(pshuflw, "pshuflw $0xd8,") X(pshufhw, "pshufhw $0x72,")

FP_OPS(BIN)
INT_OPS(BIN)

struct op {
  const char *name;
  void (*rr)(const xmm *, const xmm *, xmm *), (*rm)(const xmm *, const xmm *, xmm *);
};
#define ENTRY(name, insn) {insn, name##_rr, name##_rm},
static const struct op fp_ops[] = {FP_OPS(ENTRY)};
static const struct op int_ops[] = {INT_OPS(ENTRY)};

static int mismatches;

static void run(const struct op *o, size_t from, size_t to) {
  printf("%s:", o->name);
  for (size_t i = from; i < to; i++) {
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

/* ---- comparisons into EFLAGS, scalar conversions with rounding ---- */

static void ordered_compares(void) {
  for (size_t i = 0; i < 5; i++) {
    uint32_t f1, f2;
    __asm__ volatile("movapd %[a], %%xmm0\n\tpushl $0x8d5\n\tpopf\n\tcomisd %[b], %%xmm0\n\t"
                     "pushf\n\tpopl %[f1]\n\tmovsd %[b], %%xmm3\n\tucomisd %%xmm3, %%xmm0\n\t"
                     "pushf\n\tpopl %[f2]"
                     : [f1] "=r"(f1), [f2] "=r"(f2)
                     : [a] "m"(inputs[i][0]), [b] "m"(inputs[i][1])
                     : "cc");
    printf("comisd/ucomisd %d: %s %s mxcsr %x\n", (int)i, flags_str(f1, FL_ARITH),
           flags_str(f2, FL_ARITH), mxcsr_flags());
  }
}

static void scalar_conversions(void) {
  static const double ds[] = {2.5, -2.5, 3.5, -0.5, 2147483647.5, 3e9, -3e9, NAN_, 1e-3, 1e300};
  static const int32_t is[] = {0, -1, 2147483647, -2147483647 - 1};
  static const char *const modes[4] = {"nearest", "down", "up", "zero"};
  for (int m = 0; m < 4; m++) {
    printf("cvtsd2si/cvttsd2si/cvtsd2ss %s:", modes[m]);
    for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
      int32_t a, b;
      uint32_t s;
      mxcsr_set(0x1f80 | (uint32_t)m << 13);
      __asm__ volatile("cvtsd2si %[d], %[a]\n\tcvttsd2si %[d], %[b]\n\t"
                       "cvtsd2ss %[d], %%xmm4\n\tmovd %%xmm4, %[s]"
                       : [a] "=r"(a), [b] "=r"(b), [s] "=r"(s) : [d] "m"(ds[i]));
      printf(" %x,%x,%08x/%x", (uint32_t)a, (uint32_t)b, s, mxcsr_flags());
    }
    printf("\ncvtsi2sd %s:", modes[m]);
    for (size_t i = 0; i < sizeof(is) / sizeof(is[0]); i++) {
      uint64_t r;
      mxcsr_set(0x1f80 | (uint32_t)m << 13);
      __asm__ volatile("cvtsi2sd %[i], %%xmm5\n\tmovq %%xmm5, %[r]" : [r] "=m"(r) : [i] "m"(is[i]));
      printf(" %llx", (unsigned long long)r);
    }
    printf("\n");
  }
  mxcsr_set(0x1f80);
  uint64_t mm = 0xfffffffe00000003ull, p1, p2;
  xmm r;
  __asm__ volatile("movq %[mm], %%mm0\n\tcvtpi2pd %%mm0, %%xmm2\n\tmovapd %%xmm2, %[r]\n\t"
                   "cvtpd2pi %[f], %%mm1\n\tmovq %%mm1, %[p1]\n\tcvttpd2pi %[f], %%mm2\n\t"
                   "movq %%mm2, %[p2]\n\temms"
                   : [r] "=m"(r), [p1] "=m"(p1), [p2] "=m"(p2)
                   : [mm] "m"(mm), [f] "m"(inputs[0][0]));
  printf("cvtpi2pd"), print_xmm(&r);
  printf(" cvtpd2pi %llx cvttpd2pi %llx\n", (unsigned long long)p1, (unsigned long long)p2);
}

/* ---- shifts by immediates, byte shifts ---- */

#define SHIFT_IMM(insn, k)                                                                   \
  do {                                                                                       \
    xmm r;                                                                                   \
    __asm__ volatile("movdqa %[v], %%xmm3\n\t" insn " $" #k ", %%xmm3\n\tmovdqa %%xmm3, %[r]" \
                     : [r] "=m"(r) : [v] "m"(inputs[5][0]));                                 \
    print_xmm(&r);                                                                           \
  } while (0)
#define SHIFT_IMMS(insn)                                                                     \
  do {                                                                                       \
    printf(insn " imm:");                                                                    \
    SHIFT_IMM(insn, 0); SHIFT_IMM(insn, 1); SHIFT_IMM(insn, 7); SHIFT_IMM(insn, 15);         \
    SHIFT_IMM(insn, 16); SHIFT_IMM(insn, 31); SHIFT_IMM(insn, 63); SHIFT_IMM(insn, 255);     \
    printf("\n");                                                                            \
  } while (0)

static void immediate_shifts(void) {
  SHIFT_IMMS("psllw");
  SHIFT_IMMS("pslld");
  SHIFT_IMMS("psllq");
  SHIFT_IMMS("psrlw");
  SHIFT_IMMS("psrld");
  SHIFT_IMMS("psrlq");
  SHIFT_IMMS("psraw");
  SHIFT_IMMS("psrad");
  SHIFT_IMMS("pslldq");
  SHIFT_IMMS("psrldq");
}

/* ---- moves ---- */

static uint8_t buf[64] __attribute__((aligned(16)));

static void moves(void) {
  for (int i = 0; i < 64; i++)
    buf[i] = (uint8_t)i;
  xmm r[6];
  uint64_t q, q2;
  uint32_t d, mask1, mask2;
  __asm__ volatile("movdqu 3+%[buf], %%xmm0\n\tmovdqa %%xmm0, %[r0]\n\t"
                   "movq 5+%[buf], %%xmm1\n\tmovdqa %%xmm1, %[r1]\n\t"      /* zero-extends */
                   "movd 9+%[buf], %%xmm2\n\tmovdqa %%xmm2, %[r2]\n\t"
                   "movq %%xmm0, %[q]\n\tmovd %%xmm0, %[d]\n\t"
                   "movq %[q], %%mm0\n\tmovq2dq %%mm0, %%xmm3\n\tmovdqa %%xmm3, %[r3]\n\t"
                   "movdq2q %%xmm0, %%mm1\n\tmovq %%mm1, %[q2]\n\temms\n\t"
                   "movdqa %[neg], %%xmm4\n\tmovmskpd %%xmm4, %[m1]\n\tpmovmskb %%xmm4, %[m2]\n\t"
                   "movdqu %%xmm0, 33+%[buf]\n\t"
                   "movdqa %[neg], %%xmm5\n\tmovsd %%xmm0, %%xmm5\n\tmovdqa %%xmm5, %[r4]\n\t" /* merges */
                   "movdqa %[neg], %%xmm6\n\tmovq %%xmm0, %%xmm6\n\tmovdqa %%xmm6, %[r5]"       /* zeroes */
                   : [r0] "=m"(r[0]), [r1] "=m"(r[1]), [r2] "=m"(r[2]), [r3] "=m"(r[3]),
                     [r4] "=m"(r[4]), [r5] "=m"(r[5]),
                     [q] "=m"(q), [q2] "=m"(q2), [d] "=m"(d), [m1] "=r"(mask1), [m2] "=r"(mask2),
                     [buf] "+m"(buf)
                   : [neg] "m"(inputs[6][0]));
  for (int i = 0; i < 6; i++)
    printf("move %d:", i), print_xmm(&r[i]), printf("\n");
  printf("movq %llx movd %x movdq2q %llx movmskpd %x pmovmskb %x\n", (unsigned long long)q, d,
         (unsigned long long)q2, mask1, mask2);
  hexdump("unaligned store", buf, sizeof(buf));
  /* maskmovdqu stores the bytes whose mask byte has its top bit set, at DS:EDI */
  uint8_t out[16];
  memset(out, 0xee, sizeof(out));
  __asm__ volatile("movdqa %[d], %%xmm1\n\tmovdqa %[m], %%xmm2\n\tmaskmovdqu %%xmm2, %%xmm1"
                   : : [d] "m"(inputs[5][0]), [m] "m"(inputs[6][1]), "D"(out) : "memory");
  hexdump("maskmovdqu", out, sizeof(out));
  xmm nt;
  uint32_t nti;
  uint64_t ntq[2] __attribute__((aligned(16)));
  __asm__ volatile("movdqa %[v], %%xmm7\n\tmovntdq %%xmm7, %[nt]\n\tmovntpd %%xmm7, %[ntq]\n\t"
                   "movnti %[x], %[nti]\n\tsfence\n\tlfence\n\tmfence"
                   : [nt] "=m"(nt), [ntq] "=m"(ntq), [nti] "=m"(nti)
                   : [v] "m"(inputs[5][1]), [x] "r"(0x12345678));
  printf("movntdq"), print_xmm(&nt), printf(" movntpd %llx movnti %x\n", (unsigned long long)ntq[1], nti);
}

int main(void) {
  traps_init();
  enable_sse();
  for (size_t i = 0; i < sizeof(fp_ops) / sizeof(fp_ops[0]); i++)
    run(&fp_ops[i], 0, 5);
  for (size_t i = 0; i < sizeof(int_ops) / sizeof(int_ops[0]); i++)
    run(&int_ops[i], 0, NINPUTS);
  ordered_compares();
  scalar_conversions();
  immediate_shifts();
  moves();
  printf("%d mismatches between forms\n", mismatches);
  return 0;
}
