/* bitops.c - bit and exchange instructions: bt bts btr btc on registers and on memory bit
 * strings (register offsets past the operand, negative ones, immediates masked by the
 * operand size), bsf bsr, bswap, cmpxchg cmpxchg8b xadd xchg (with and without lock),
 * movzx movsx cbw cwde cwd cdq, lahf sahf, clc stc cmc. Prints results and the flags the SDM
 * defines (bt*: CF, ZF unchanged; bsf/bsr: ZF, and no destination for a zero source). */
#include "lib/guest.h"

#define FLAGS_IN "push %[fi]\n\tpopf\n\t"
#define FLAGS_OUT "\n\tpushf\n\tpop %[fo]"

static const uint32_t values[] = {0, 1, 0x80, 0x8000, 0x80000000, 0x12345678, 0xfffffffe,
                                  0xffffffff, 0x00f00000};
#define NVALUES (sizeof(values) / sizeof(values[0]))
#define BT_FLAGS (FL_CF | FL_ZF)

/* ---- bt, bts, btr, btc ---- */

#define BT_REG(op, s, m)                                                                     \
  static uint32_t op##s##_rr(uint32_t a, int32_t n, uint32_t fin, uint32_t *fo) {            \
    __asm__(FLAGS_IN #op #s " %" m "[n], %" m "[a]" FLAGS_OUT                                \
            : [a] "+r"(a), [fo] "=r"(*fo) : [n] "r"(n), [fi] "r"(fin) : "cc");               \
    return a;                                                                                \
  }

#define BT_MEM(op, s, m)                                                                     \
  static void op##s##_mr(void *p, int32_t n, uint32_t fin, uint32_t *fo) {                   \
    __asm__(FLAGS_IN #op #s " %" m "[n], (%[p])" FLAGS_OUT                                   \
            : [fo] "=r"(*fo) : [p] "r"(p), [n] "r"(n), [fi] "r"(fin) : "cc", "memory");      \
  }

#define BT_IMM(op, s, k)                                                                     \
  static void op##s##_mi##k(void *p, uint32_t fin, uint32_t *fo) {                           \
    __asm__(FLAGS_IN #op #s " $" #k ", (%[p])" FLAGS_OUT                                     \
            : [fo] "=r"(*fo) : [p] "r"(p), [fi] "r"(fin) : "cc", "memory");                  \
  }

#define BT_OP(op)                                                                            \
  BT_REG(op, w, "w") BT_REG(op, l, "k") BT_MEM(op, w, "w") BT_MEM(op, l, "k")                \
  BT_IMM(op, w, 5) BT_IMM(op, w, 21) BT_IMM(op, l, 5) BT_IMM(op, l, 45) BT_IMM(op, l, 255)

BT_OP(bt)
BT_OP(bts)
BT_OP(btr)
BT_OP(btc)

struct bt_op {
  const char *name;
  uint32_t (*rr[2])(uint32_t a, int32_t n, uint32_t fin, uint32_t *fo);
  void (*mr[2])(void *p, int32_t n, uint32_t fin, uint32_t *fo);
  void (*mi[5])(void *p, uint32_t fin, uint32_t *fo);
};

#define BT_ENTRY(op)                                                                         \
  {#op, {op##w_rr, op##l_rr}, {op##w_mr, op##l_mr},                                           \
   {op##w_mi5, op##w_mi21, op##l_mi5, op##l_mi45, op##l_mi255}}

static const struct bt_op bt_ops[] = {BT_ENTRY(bt), BT_ENTRY(bts), BT_ENTRY(btr), BT_ENTRY(btc)};
static const int32_t offsets[] = {0, 5, 15, 16, 31, 32, 33, 100, -1, -16, -17, -33, -100, 255};
#define NOFFSETS (sizeof(offsets) / sizeof(offsets[0]))
static const char *const imm_names[5] = {"w $5", "w $21", "l $5", "l $45", "l $255"};

static uint8_t bits[64];

static void fill_bits(void) {
  for (int i = 0; i < 64; i++)
    bits[i] = (uint8_t)(i * 0x3b + 0x91);
}

static void bit_tests(const struct bt_op *o) {
  for (int w = 0; w < 2; w++) {
    printf("%s%c reg:", o->name, w ? 'l' : 'w');
    for (size_t i = 0; i < NOFFSETS; i++) {
      uint32_t f, r = o->rr[w](0x12345678, offsets[i], FL_ZF, &f);
      printf(" %d:%x/%s", offsets[i], r, flags_str(f, BT_FLAGS));
    }
    printf("\n%s%c mem:", o->name, w ? 'l' : 'w');
    for (size_t i = 0; i < NOFFSETS; i++) {
      uint32_t f;
      fill_bits();
      o->mr[w](bits + 32, offsets[i], 0, &f);
      printf(" %d:%s/%08x", offsets[i], flags_str(f, BT_FLAGS), crc32_update(0, bits, 64));
    }
    printf("\n");
  }
  printf("%s mem imm:", o->name);
  for (int k = 0; k < 5; k++) {
    uint32_t f;
    fill_bits();
    o->mi[k](bits + 32, FL_ZF, &f);
    printf(" %s:%s/%08x", imm_names[k], flags_str(f, BT_FLAGS), crc32_update(0, bits, 64));
  }
  printf("\n");
}

/* ---- bsf, bsr, bswap ---- */

#define SCAN(name, insn, c)                                                                  \
  static uint32_t name(uint32_t a, uint32_t *fo) {                                           \
    uint32_t d = 0xdddddddd;                                                                 \
    __asm__(FLAGS_IN insn FLAGS_OUT : [d] "+r"(d), [fo] "=r"(*fo) : [a] c(a), [fi] "r"(0) : "cc"); \
    return d;                                                                                \
  }

SCAN(bsfl_r, "bsfl %[a], %[d]", "r")
SCAN(bsrl_r, "bsrl %[a], %[d]", "r")
SCAN(bsfl_m, "bsfl %[a], %[d]", "m")
SCAN(bsrl_m, "bsrl %[a], %[d]", "m")
SCAN(bsfw_r, "bsfw %w[a], %w[d]", "r")
SCAN(bsrw_m, "bsrw %[a], %w[d]", "m")
SCAN(rep_bsf, ".byte 0xf3; bsfl %[a], %[d]", "r") /* tzcnt to a BMI CPU, bsf to a P6 */

static void scans(void) {
  static const struct {
    const char *name;
    uint32_t (*fn)(uint32_t a, uint32_t *fo);
    uint32_t width_mask;
  } ops[] = {{"bsfl", bsfl_r, ~0u},     {"bsrl", bsrl_r, ~0u},      {"bsfl mem", bsfl_m, ~0u},
             {"bsrl mem", bsrl_m, ~0u}, {"bsfw", bsfw_r, 0xffff},   {"bsrw mem", bsrw_m, 0xffff},
             {"rep bsf", rep_bsf, ~0u}};
  for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
    printf("%s:", ops[k].name);
    for (size_t i = 0; i < NVALUES; i++) {
      uint32_t f, r = ops[k].fn(values[i], &f);
      if (values[i] & ops[k].width_mask)
        printf(" %x/%s", r, flags_str(f, FL_ZF));
      else
        printf(" -/%s", flags_str(f, FL_ZF));
    }
    printf("\n");
  }
  printf("bswap:");
  for (size_t i = 0; i < NVALUES; i++) {
    uint32_t a = values[i], b = values[i] ^ 0x0f0f0f0f;
    __asm__("bswap %0; bswap %1" : "+a"(a), "+D"(b));
    printf(" %x %x", a, b);
  }
  printf("\n");
}

/* ---- cmpxchg, cmpxchg8b, xadd, xchg ---- */

static void compare_exchanges(void) {
  for (uint32_t expect = 5; expect <= 6; expect++) {
    uint32_t mem = 5, acc = expect, f;
    __asm__(FLAGS_IN "lock cmpxchgl %[n], %[m]" FLAGS_OUT
            : [m] "+m"(mem), "+a"(acc), [fo] "=r"(f) : [n] "r"(77), [fi] "r"(0) : "cc");
    printf("cmpxchgl mem=5 eax=%u: mem %u eax %u %s\n", expect, mem, acc, flags_str(f, FL_ARITH));
    uint32_t reg = 0x12340005;
    acc = 0xabcd0000 | expect;
    __asm__(FLAGS_IN "cmpxchgw %w[n], %w[r]" FLAGS_OUT
            : [r] "+r"(reg), "+a"(acc), [fo] "=r"(f) : [n] "r"(0x5678), [fi] "r"(0) : "cc");
    printf("cmpxchgw reg=5 ax=%u: reg %x eax %x %s\n", expect, reg, acc, flags_str(f, FL_ARITH));
    uint32_t c = 0x11223305;
    acc = 0x99887700 | expect;
    __asm__(FLAGS_IN "cmpxchgb %%ah, %%cl" FLAGS_OUT
            : "+c"(c), "+a"(acc), [fo] "=r"(f) : [fi] "r"(0) : "cc");
    printf("cmpxchgb cl=5 al=%u (ah source): ecx %x eax %x %s\n", expect, c, acc,
           flags_str(f, FL_ARITH));
  }
  for (int hit = 0; hit <= 1; hit++) {
    uint64_t mem = 0x1122334455667788ull;
    uint32_t a = 0x55667788, d = hit ? 0x11223344 : 0x11223345, f;
    __asm__(FLAGS_IN "lock cmpxchg8b %[m]" FLAGS_OUT
            : [m] "+m"(mem), "+a"(a), "+d"(d), [fo] "=r"(f)
            : "b"(0xaabbccdd), "c"(0xeeff0011), [fi] "r"(FL_CF | FL_SF)
            : "cc");
    printf("cmpxchg8b %s: mem %llx edx:eax %x:%x %s\n", hit ? "equal" : "different",
           (unsigned long long)mem, d, a, flags_str(f, FL_ARITH));
  }
}

static void exchange_adds(void) {
  for (size_t i = 0; i < NVALUES; i++) {
    uint32_t mem = values[i], r = 0x7fffffff, f;
    __asm__(FLAGS_IN "lock xaddl %[r], %[m]" FLAGS_OUT
            : [m] "+m"(mem), [r] "+r"(r), [fo] "=r"(f) : [fi] "r"(0) : "cc");
    printf("xaddl %x: mem %x reg %x %s", values[i], mem, r, flags_str(f, FL_ARITH));
    uint32_t a = values[i], b = 0x12345678;
    __asm__(FLAGS_IN "xaddw %w[b], %w[a]" FLAGS_OUT
            : [a] "+r"(a), [b] "+r"(b), [fo] "=r"(f) : [fi] "r"(0) : "cc");
    printf(" | xaddw: %x %x %s", a, b, flags_str(f, FL_ARITH));
    a = values[i], b = 0x9abcdef0;
    __asm__(FLAGS_IN "xaddb %%bh, %%al" FLAGS_OUT
            : "+a"(a), "+b"(b), [fo] "=r"(f) : [fi] "r"(0) : "cc");
    printf(" | xaddb bh, al: %x %x %s\n", a, b, flags_str(f, FL_ARITH));
  }
  uint32_t m = 1, r = 2, a = 0x1234, b = 0x5678abcd;
  __asm__("xchgl %[r], %[m]" : [m] "+m"(m), [r] "+r"(r));
  __asm__("xchgb %%ah, %%bh; xchgw %%ax, %%bx" : "+a"(a), "+b"(b));
  printf("xchg: mem %u reg %u, eax %x ebx %x\n", m, r, a, b);
}

/* ---- widening, flags moves ---- */

static void conversions(void) {
  for (size_t i = 0; i < NVALUES; i++) {
    uint32_t v = values[i] | 0x80, zb, zw, sb, sw, a, d;
    __asm__("movzbl %b1, %0" : "=r"(zb) : "q"(v));
    __asm__("movzwl %w1, %0" : "=r"(zw) : "r"(v));
    __asm__("movsbl %b1, %0" : "=r"(sb) : "q"(v));
    __asm__("movswl %w1, %0" : "=r"(sw) : "r"(v));
    printf("%08x: movzb %x movzw %x movsb %x movsw %x", v, zb, zw, sb, sw);
    a = v;
    __asm__("cbtw" : "+a"(a));
    printf(" cbw %x", a);
    a = v;
    __asm__("cwtl" : "+a"(a));
    printf(" cwde %x", a);
    a = v, d = 0x55555555;
    __asm__("cwtd" : "+a"(a), "+d"(d));
    printf(" cwd %x:%x", d, a);
    a = values[i], d = 0x55555555;
    __asm__("cltd" : "+a"(a), "+d"(d));
    printf(" cdq(%x) %x:%x", values[i], d, a);
    __asm__("movsbw %b1, %w0" : "=r"(a) : "q"(v), "0"(0xaaaaaaaa));
    __asm__("movzbw %%ah, %w0" : "=r"(d) : "a"(v << 8), "0"(0xbbbbbbbb));
    printf(" movsbw %x movzbw ah %x\n", a, d);
  }
}

static void flag_moves(void) {
  for (uint32_t fin = 0; fin <= FL_ARITH; fin += FL_ARITH) {
    uint32_t a = 0x1234ff00, f;
    __asm__(FLAGS_IN "lahf" FLAGS_OUT : "+a"(a), [fo] "=r"(f) : [fi] "r"(fin) : "cc");
    printf("lahf from %s: eax %x\n", flags_str(fin, FL_ARITH), a);
    a = fin ? 0xffff00ff : 0x0000d500;
    __asm__(FLAGS_IN "sahf" FLAGS_OUT : "+a"(a), [fo] "=r"(f) : [fi] "r"(fin ^ FL_ARITH) : "cc");
    printf("sahf ah=%x: %s\n", (a >> 8) & 0xff, flags_str(f, FL_ARITH));
    __asm__(FLAGS_IN "cmc" FLAGS_OUT : [fo] "=r"(f) : [fi] "r"(fin) : "cc");
    printf("cmc: %s", flags_str(f, FL_ARITH));
    __asm__(FLAGS_IN "stc" FLAGS_OUT : [fo] "=r"(f) : [fi] "r"(fin) : "cc");
    printf(" stc: %s", flags_str(f, FL_ARITH));
    __asm__(FLAGS_IN "clc" FLAGS_OUT : [fo] "=r"(f) : [fi] "r"(fin) : "cc");
    printf(" clc: %s", flags_str(f, FL_ARITH));
    a = 0x12345678;
    __asm__(FLAGS_IN ".byte 0xd6" FLAGS_OUT : "+a"(a), [fo] "=r"(f) : [fi] "r"(fin) : "cc");
    printf(" salc: %x %s\n", a, flags_str(f, FL_ARITH));
  }
}

int main(void) {
  for (size_t i = 0; i < sizeof(bt_ops) / sizeof(bt_ops[0]); i++)
    bit_tests(&bt_ops[i]);
  scans();
  compare_exchanges();
  exchange_adds();
  conversions();
  flag_moves();
  return 0;
}
