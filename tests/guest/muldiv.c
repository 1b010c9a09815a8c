/* muldiv.c - multiplication and division: mul, imul (one, two and three operands), div and
 * idiv with 8-, 16- and 32-bit operands, register and memory sources. Prints products with
 * CF/OF (the other flags are undefined), quotients and remainders, and for each division
 * that overflows or divides by zero the #DE the IDT handler saw: its vector, that the saved
 * EIP is the divide instruction, and that the registers are unchanged. */
#include "lib/guest.h"

static const uint32_t values[] = {0,      1,      2,          3,          7,          0x7f,
                                  0x80,   0xff,   0x7fff,     0x8000,     0xffff,     0x12345678,
                                  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
#define NVALUES (sizeof(values) / sizeof(values[0]))
#define MUL_FLAGS (FL_CF | FL_OF)

struct wide {
  uint32_t lo, hi, flags;
};

/* ---- multiplication ---- */

#define MUL1(name, insn, reg_a, c_src)                                                       \
  static struct wide name(uint32_t a, uint32_t b) {                                          \
    struct wide r;                                                                           \
    uint32_t d = 0x5a5a5a5a;                                                                 \
    __asm__(insn "\n\tpushf\n\tpop %[f]"                                                     \
            : "+a"(a), "+d"(d), [f] "=r"(r.flags) : [b] c_src(b) : "cc");                    \
    r.lo = a, r.hi = d;                                                                      \
    return r;                                                                                \
  }

MUL1(mul8, "mulb %b[b]", a, "q")
MUL1(mul16, "mulw %w[b]", a, "r")
MUL1(mul32, "mull %[b]", a, "r")
MUL1(imul8, "imulb %b[b]", a, "q")
MUL1(imul16, "imulw %w[b]", a, "r")
MUL1(imul32, "imull %[b]", a, "r")
MUL1(mul32m, "mull %[b]", a, "m")
MUL1(imul16m, "imulw %[b]", a, "m")
MUL1(mul8_ah, "mulb %%ah", a, "r") /* AL * AH: a holds both */

#define IMUL2(name, insn, c_src)                                                             \
  static struct wide name(uint32_t a, uint32_t b) {                                          \
    struct wide r;                                                                           \
    __asm__(insn "\n\tpushf\n\tpop %[f]" : [a] "+r"(a), [f] "=r"(r.flags) : [b] c_src(b) : "cc"); \
    r.lo = a, r.hi = 0;                                                                      \
    return r;                                                                                \
  }

IMUL2(imul16_rr, "imulw %w[b], %w[a]", "r")
IMUL2(imul32_rr, "imull %[b], %[a]", "r")
IMUL2(imul32_rm, "imull %[b], %[a]", "m")
IMUL2(imul32_ri8, "imull $-3, %[b], %[a]", "r")
IMUL2(imul32_ri32, "imull $0x12345, %[b], %[a]", "r")
IMUL2(imul16_ri8, "imulw $100, %w[b], %w[a]", "r")
IMUL2(imul16_mi16, "imulw $-1000, %[b], %w[a]", "m")
IMUL2(imul32_mi8, "imull $7, %[b], %[a]", "m")

struct mul_op {
  const char *name;
  struct wide (*fn)(uint32_t a, uint32_t b);
};

static const struct mul_op mul_ops[] = {
    {"mulb", mul8},           {"mulw", mul16},          {"mull", mul32},
    {"imulb", imul8},         {"imulw", imul16},        {"imull", imul32},
    {"mull mem", mul32m},     {"imulw mem", imul16m},   {"mulb ah", mul8_ah},
    {"imulw r, r", imul16_rr}, {"imull r, r", imul32_rr}, {"imull r, mem", imul32_rm},
    {"imull r, r, -3", imul32_ri8}, {"imull r, r, 0x12345", imul32_ri32},
    {"imulw r, r, 100", imul16_ri8}, {"imulw r, mem, -1000", imul16_mi16},
    {"imull r, mem, 7", imul32_mi8},
};

static void multiplications(void) {
  for (size_t k = 0; k < sizeof(mul_ops) / sizeof(mul_ops[0]); k++)
    for (size_t i = 0; i < NVALUES; i++) {
      printf("%s %x:", mul_ops[k].name, values[i]);
      for (size_t j = 0; j < NVALUES; j++) {
        struct wide r = mul_ops[k].fn(values[i], values[j]);
        printf(" %x:%x/%s", r.hi, r.lo, flags_str(r.flags, MUL_FLAGS));
      }
      printf("\n");
    }
}

/* ---- division ---- */

static const uint32_t dividends[][2] = {
    /* hi, lo */
    {0, 0},          {0, 1},          {0, 100},        {0, 0x7fff},
    {0, 0xffff},     {0, 0x12345678}, {0, 0xffffffff}, {1, 0},
    {0xffffffff, 0xffffff9c},         {0xffffffff, 0x80000000},
    {0x7fffffff, 0xffffffff},         {0x12, 0x34567890},
    {0xffffffff, 0xffff8000},         {0, 0xff80},     {0xffffffff, 0xffffff80},
};
static const uint32_t divisors[] = {0, 1, 2, 3, 7, 0x7f, 0x80, 0xff, 0xffff, 0xffffff9c,
                                    0x10000, 0x12345678, 0x80000000, 0xffffffff};

#define DIV(name, insn, c_src)                                                               \
  static int name(uint32_t *hi, uint32_t *lo, uint32_t b) {                                  \
    struct site s;                                                                           \
    uint32_t a = *lo, d = *hi, a0 = a, d0 = d;                                               \
    trap_count = 0;                                                                          \
    FAULTING(s, insn, , "+a"(a), "+d"(d) : [b] c_src(b) : "cc");                             \
    *lo = a, *hi = d;                                                                        \
    if (trap_count == 0)                                                                     \
      return 0;                                                                              \
    trap_count = 0;                                                                          \
    if (last_trap.vector != 0 || last_trap.eip != s.start || a != a0 || d != d0)             \
      return -1;                                                                             \
    return 1;                                                                                \
  }

DIV(div8, "divb %b[b]", "q")
DIV(div16, "divw %w[b]", "r")
DIV(div32, "divl %[b]", "r")
DIV(idiv8, "idivb %b[b]", "q")
DIV(idiv16, "idivw %w[b]", "r")
DIV(idiv32, "idivl %[b]", "r")
DIV(div32m, "divl %[b]", "m")
DIV(idiv16m, "idivw %[b]", "m")
DIV(idiv8_ah, "idivb %%ah", "r") /* AX / AH: b is unused */

struct div_op {
  const char *name;
  int (*fn)(uint32_t *hi, uint32_t *lo, uint32_t b);
};

static const struct div_op div_ops[] = {
    {"divb", div8},         {"divw", div16},          {"divl", div32},
    {"idivb", idiv8},       {"idivw", idiv16},        {"idivl", idiv32},
    {"divl mem", div32m},   {"idivw mem", idiv16m},   {"idivb ah", idiv8_ah},
};

static void divisions(void) {
  for (size_t k = 0; k < sizeof(div_ops) / sizeof(div_ops[0]); k++)
    for (size_t i = 0; i < sizeof(dividends) / sizeof(dividends[0]); i++) {
      printf("%s %x:%x:", div_ops[k].name, dividends[i][0], dividends[i][1]);
      for (size_t j = 0; j < sizeof(divisors) / sizeof(divisors[0]); j++) {
        uint32_t hi = dividends[i][0], lo = dividends[i][1];
        int de = div_ops[k].fn(&hi, &lo, divisors[j]);
        if (de > 0)
          printf(" #DE");
        else if (de < 0)
          printf(" #DE(wrong: vector %u eip %x)", last_trap.vector, last_trap.eip);
        else
          printf(" %x:%x", hi, lo);
      }
      printf("\n");
    }
}

int main(void) {
  traps_init();
  multiplications();
  divisions();
  return 0;
}
