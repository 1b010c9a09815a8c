/* mmx.c - MMX and the integer instructions SSE and SSE2 added on MMX registers: packed add and
 * subtract (wrapping and saturating), multiplies, compares, packs and unpacks, logic, shifts
 * by register counts past the element size and by immediates, pavg pmin pmax psadbw pshufw
 * pextrw pinsrw pmovmskb paddq pmuludq, movd/movq between MMX, general registers and memory,
 * maskmovq, movntq, emms. Each two-operand instruction runs register-register over a set of
 * operand pairs (printed) and register-memory (compared with it). */
#include "lib/guest.h"

/* No clobber lists name MMX registers: without -mmmx gcc never allocates them. */

static const uint64_t pairs[][2] = {
    {0x0123456789abcdefull, 0xfedcba9876543210ull}, {0x7f7f80807fff8000ull, 0x0101ffff00017fffull},
    {0x8000000080000000ull, 0xffffffff00000001ull}, {0xffffffffffffffffull, 0},
    {0x00ff00ff00ff00ffull, 0x0102030405060708ull}, {0x7fffffff7fff7f7full, 0x7fffffff7fff7f7full},
};
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))
static const uint64_t counts[] = {0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 0x100000001ull};
#define NCOUNTS (sizeof(counts) / sizeof(counts[0]))

typedef uint64_t (*mmx_fn)(uint64_t a, uint64_t b);

#define MMX(op)                                                                              \
  static uint64_t op##_rr(uint64_t a, uint64_t b) {                                          \
    uint64_t r;                                                                              \
    __asm__ volatile("movq %[a], %%mm0\n\tmovq %[b], %%mm1\n\t" #op " %%mm1, %%mm0\n\t"      \
                     "movq %%mm0, %[r]"                                                      \
                     : [r] "=m"(r) : [a] "m"(a), [b] "m"(b));                 \
    return r;                                                                                \
  }                                                                                          \
  static uint64_t op##_rm(uint64_t a, uint64_t b) {                                          \
    uint64_t r;                                                                              \
    __asm__ volatile("movq %[a], %%mm3\n\t" #op " %[b], %%mm3\n\tmovq %%mm3, %[r]"           \
                     : [r] "=m"(r) : [a] "m"(a), [b] "m"(b));                        \
    return r;                                                                                \
  }

#define OPS(X)                                                                               \
  X(paddb) X(paddw) X(paddd) X(paddq) X(paddsb) X(paddsw) X(paddusb) X(paddusw) X(psubb)     \
  X(psubw) X(psubd) X(psubq) X(psubsb) X(psubsw) X(psubusb) X(psubusw) X(pmullw) X(pmulhw)   \
  X(pmulhuw) X(pmaddwd) X(pmuludq) X(pcmpeqb) X(pcmpeqw) X(pcmpeqd) X(pcmpgtb) X(pcmpgtw)    \
  X(pcmpgtd) X(packsswb) X(packssdw) X(packuswb) X(punpcklbw) X(punpcklwd) X(punpckldq)      \
  X(punpckhbw) X(punpckhwd) X(punpckhdq) X(pand) X(pandn) X(por) X(pxor) X(pavgb) X(pavgw)   \
  X(pmaxsw) X(pmaxub) X(pminsw) X(pminub) X(psadbw)
#define SHIFTS(X) X(psllw) X(pslld) X(psllq) X(psrlw) X(psrld) X(psrlq) X(psraw) X(psrad)

OPS(MMX)
SHIFTS(MMX)

struct op {
  const char *name;
  mmx_fn rr, rm;
};
#define ENTRY(op) {#op, op##_rr, op##_rm},
static const struct op ops[] = {OPS(ENTRY)};
static const struct op shifts[] = {SHIFTS(ENTRY)};

static int mismatches;

static void run(const struct op *o, const uint64_t (*in)[2], size_t n, int count_operand) {
  printf("%s:", o->name);
  for (size_t i = 0; i < n; i++) {
    uint64_t a = count_operand ? 0x8421fedc7b3d5a96ull : in[i][0];
    uint64_t b = count_operand ? counts[i] : in[i][1];
    uint64_t r = o->rr(a, b), r2 = o->rm(a, b);
    printf(" %llx", (unsigned long long)r);
    if (r != r2 && mismatches++ < 20)
      printf(" (MISMATCH: memory form %llx)", (unsigned long long)r2);
  }
  printf("\n");
}

/* shifts by immediates, which are copied with their imm8 */
#define SHIFT_IMM(op, k)                                                                     \
  do {                                                                                       \
    uint64_t v = 0x8421fedc7b3d5a96ull, r;                                                   \
    __asm__ volatile("movq %[v], %%mm2\n\t" #op " $" #k ", %%mm2\n\tmovq %%mm2, %[r]"        \
                     : [r] "=m"(r) : [v] "m"(v));                                    \
    printf(" %llx", (unsigned long long)r);                                                  \
  } while (0)
#define SHIFT_IMMS(op)                                                                       \
  do {                                                                                       \
    printf(#op " imm:");                                                                     \
    SHIFT_IMM(op, 0); SHIFT_IMM(op, 1); SHIFT_IMM(op, 15); SHIFT_IMM(op, 16);                \
    SHIFT_IMM(op, 31); SHIFT_IMM(op, 32); SHIFT_IMM(op, 63); SHIFT_IMM(op, 255);             \
    printf("\n");                                                                            \
  } while (0)

static void immediate_shifts(void) {
  SHIFT_IMMS(psllw);
  SHIFT_IMMS(pslld);
  SHIFT_IMMS(psllq);
  SHIFT_IMMS(psrlw);
  SHIFT_IMMS(psrld);
  SHIFT_IMMS(psrlq);
  SHIFT_IMMS(psraw);
  SHIFT_IMMS(psrad);
}

static void moves_and_shuffles(void) {
  uint64_t v = 0x1122334455667788ull, r1, r2, r3, r4;
  uint32_t d = 0xdeadbeef, e, m;
  __asm__ volatile("movd %[d], %%mm0\n\t"     /* zero-extends */
                   "movq %%mm0, %[r1]\n\t"
                   "movq %[v], %%mm1\n\t"
                   "movd %%mm1, %[e]\n\t"
                   "pshufw $0x1b, %%mm1, %%mm2\n\t"
                   "movq %%mm2, %[r2]\n\t"
                   "pshufw $0xd8, %[v], %%mm3\n\t"
                   "movq %%mm3, %[r3]\n\t"
                   "movl $0xabcd, %%eax\n\t"
                   "pinsrw $2, %%eax, %%mm1\n\t"
                   "pextrw $1, %%mm1, %%eax\n\t"
                   "movl %%eax, %[m]\n\t"
                   "movq %%mm1, %%mm4\n\t"
                   "movq %%mm4, %[r4]"
                   : [r1] "=m"(r1), [r2] "=m"(r2), [r3] "=m"(r3), [r4] "=m"(r4), [e] "=m"(e),
                     [m] "=m"(m)
                   : [d] "r"(d), [v] "m"(v)
                   : "eax", "memory");
  printf("movd %llx, movd back %x, pshufw %llx %llx, pinsrw/pextrw %x %llx\n",
         (unsigned long long)r1, e, (unsigned long long)r2, (unsigned long long)r3, m,
         (unsigned long long)r4);
  uint64_t mask = 0x8000800080808000ull, data = 0x0102030405060708ull;
  uint32_t bits;
  __asm__ volatile("movq %[m], %%mm0\n\tpmovmskb %%mm0, %[b]" : [b] "=r"(bits) : [m] "m"(mask));
  uint8_t out[8];
  memset(out, 0xee, sizeof(out));
  __asm__ volatile("movq %[d], %%mm1\n\tmovq %[m], %%mm2\n\tmaskmovq %%mm2, %%mm1"
                   : : [d] "m"(data), [m] "m"(mask), "D"(out) : "memory");
  uint64_t nt;
  __asm__ volatile("movq %[d], %%mm3\n\tmovntq %%mm3, %[nt]\n\tsfence" : [nt] "=m"(nt) : [d] "m"(data));
  printf("pmovmskb %x, maskmovq", bits);
  for (int i = 0; i < 8; i++)
    printf(" %02x", out[i]);
  printf(", movntq %llx\n", (unsigned long long)nt);
}

/* emms empties the x87 tag word; MMX use fills it */
static void tags(void) {
  struct {
    uint32_t cw, sw, tw, rest[4];
  } env;
  __asm__ volatile("fninit\n\tmovq %%mm0, %%mm1\n\tfnstenv %0" : "=m"(env) :);
  printf("tag word after mmx: %x", env.tw & 0xffff);
  __asm__ volatile("emms\n\tfnstenv %0" : "=m"(env));
  printf(", after emms: %x\n", env.tw & 0xffff);
}

int main(void) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    run(&ops[i], pairs, NPAIRS, 0);
  for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++)
    run(&shifts[i], 0, NCOUNTS, 1);
  immediate_shifts();
  moves_and_shuffles();
  tags();
  __asm__ volatile("emms");
  printf("%d mismatches between forms\n", mismatches);
  return 0;
}
