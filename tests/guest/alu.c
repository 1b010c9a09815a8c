/* alu.c - integer ALU instructions with 8-, 16- and 32-bit operands and the flags after each:
 * add adc sub sbb and or xor cmp test, inc dec neg not.
 *
 * Part 1 prints every result of the register-register form (the upper bits of a register
 * must survive an 8- or 16-bit operation) with its flags, from all flags clear and all set.
 * Part 2 runs the other encodings of each operation (memory source, memory destination,
 * immediates of each size, the accumulator short forms, AH..BH on either side, the 0x82
 * alias, inc/dec's one-byte forms) and prints any case that disagrees with part 1, so an
 * encoding the translator rewrites wrongly shows by name. AF after a logical operation is
 * undefined and not compared. */
#include "lib/guest.h"

typedef uint32_t (*op_fn)(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout);

static const uint32_t values[] = {0,      1,          0x7f,       0x80,       0xff,
                                  0x7fff, 0x8000,     0xffff,     0x7fffffff, 0x80000000,
                                  0xffffffff, 0x12345678};
#define NVALUES (sizeof(values) / sizeof(values[0]))

#define ALL_FLAGS (FL_ARITH)
#define LOGIC_FLAGS (FL_ARITH & ~FL_AF)

/* Load EFLAGS from fin, run the instruction, store EFLAGS into fout. */
#define FLAGS_IN "push %[fi]\n\tpopf\n\t"
#define FLAGS_OUT "\n\tpushf\n\tpop %[fo]"

#define TRUNC_b(v) ((v)&0xffu)
#define TRUNC_w(v) ((v)&0xffffu)
#define TRUNC_l(v) (v)

/* ---- binary operations: op b, a ---- */

#define BIN_IMM(op, s, m, k, imm)                                                            \
  static uint32_t op##_##s##_ri##k(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {     \
    __asm__(FLAGS_IN #op #s " %[i], %" m "[a]" FLAGS_OUT                                     \
            : [a] "+q"(a), [fo] "=r"(*fo) : [i] "i"(TRUNC_##s(imm)), [fi] "r"(fin) : "cc");  \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_mi##k(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {     \
    __asm__(FLAGS_IN #op #s " %[i], %[ma]" FLAGS_OUT                                         \
            : [ma] "+m"(a), [fo] "=r"(*fo) : [i] "i"(TRUNC_##s(imm)), [fi] "r"(fin) : "cc"); \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_ai##k(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {     \
    __asm__(FLAGS_IN #op #s " %[i], %" m "[a]" FLAGS_OUT                                     \
            : [a] "+a"(a), [fo] "=r"(*fo) : [i] "i"(TRUNC_##s(imm)), [fi] "r"(fin) : "cc");  \
    return a;                                                                                \
  }

#define BIN(op, s, m)                                                                        \
  static uint32_t op##_##s##_rr(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {        \
    __asm__(FLAGS_IN #op #s " %" m "[b], %" m "[a]" FLAGS_OUT                                \
            : [a] "+q"(a), [fo] "=r"(*fo) : [b] "q"(b), [fi] "r"(fin) : "cc");               \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_rm(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {        \
    __asm__(FLAGS_IN #op #s " %[mb], %" m "[a]" FLAGS_OUT                                    \
            : [a] "+q"(a), [fo] "=r"(*fo) : [mb] "m"(b), [fi] "r"(fin) : "cc");              \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_mr(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {        \
    __asm__(FLAGS_IN #op #s " %" m "[b], %[ma]" FLAGS_OUT                                    \
            : [ma] "+m"(a), [fo] "=r"(*fo) : [b] "q"(b), [fi] "r"(fin) : "cc");              \
    return a;                                                                                \
  }                                                                                          \
  BIN_IMM(op, s, m, 1, 1)                                                                    \
  BIN_IMM(op, s, m, 2, 0x80)                                                                 \
  BIN_IMM(op, s, m, 3, 0xffffffffu)                                                          \
  BIN_IMM(op, s, m, 4, 0x12345678)

/* AH..BH: a and b in a high byte, the registers' other bytes must stay. */
#define BIN_HIGH(op, name, ra, rb, ca, cb, sa, sb)                                           \
  static uint32_t op##_b_##name(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {        \
    uint32_t x = 0x5a5a5a5a, y = 0xa5a5a5a5;                                                  \
    x = (x & ~(0xffu << sa)) | (a & 0xff) << sa;                                             \
    y = (y & ~(0xffu << sb)) | (b & 0xff) << sb;                                             \
    uint32_t x0 = x;                                                                         \
    __asm__(FLAGS_IN #op "b %%" rb ", %%" ra FLAGS_OUT                                       \
            : "+" ca(x), [fo] "=r"(*fo) : cb(y), [fi] "r"(fin) : "cc");                      \
    if ((x & ~(0xffu << sa)) != (x0 & ~(0xffu << sa)))                                       \
      return 0xdeadbeef; /* a neighbouring byte changed */                                  \
    return (a & ~0xffu) | ((x >> sa) & 0xff);                                                \
  }

#define BIN_ALL(op)                                                                          \
  BIN(op, b, "b")                                                                            \
  BIN(op, w, "w")                                                                            \
  BIN(op, l, "k")                                                                            \
  BIN_HIGH(op, ah_bh, "ah", "bh", "a", "b", 8, 8)                                            \
  BIN_HIGH(op, dh_cl, "dh", "cl", "d", "c", 8, 0)                                            \
  BIN_HIGH(op, bl_ch, "bl", "ch", "b", "c", 0, 8)

BIN_ALL(add)
BIN_ALL(adc)
BIN_ALL(sub)
BIN_ALL(sbb)
BIN_ALL(and)
BIN_ALL(or)
BIN_ALL(xor)
BIN_ALL(cmp)
BIN_ALL(test)

/* ---- unary operations ---- */

#define UN(op, s, m)                                                                         \
  static uint32_t op##_##s##_r(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {         \
    __asm__(FLAGS_IN #op #s " %" m "[a]" FLAGS_OUT                                           \
            : [a] "+q"(a), [fo] "=r"(*fo) : [fi] "r"(fin) : "cc");                           \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_m(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {         \
    __asm__(FLAGS_IN #op #s " %[ma]" FLAGS_OUT                                               \
            : [ma] "+m"(a), [fo] "=r"(*fo) : [fi] "r"(fin) : "cc");                          \
    return a;                                                                                \
  }

#define UN_AH(op)                                                                            \
  static uint32_t op##_b_ah(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {            \
    uint32_t x = 0x5a5a5a5a;                                                                 \
    x = (x & ~0xff00u) | (a & 0xff) << 8;                                                    \
    __asm__(FLAGS_IN #op "b %%ah" FLAGS_OUT : "+a"(x), [fo] "=r"(*fo) : [fi] "r"(fin) : "cc");\
    return (x & 0xffff00ffu) == 0x5a5a005a ? (a & ~0xffu) | ((x >> 8) & 0xff) : 0xdeadbeef;  \
  }

#define UN_ALL(op)                                                                           \
  UN(op, b, "b")                                                                             \
  UN(op, w, "w")                                                                             \
  UN(op, l, "k")                                                                             \
  UN_AH(op)

UN_ALL(inc)
UN_ALL(dec)
UN_ALL(neg)
UN_ALL(not)

/* inc/dec r32 and r16 have one-byte encodings (0x40-0x4f), REX prefixes in 64-bit mode. */
#define INCDEC_SHORT(op, s, m, reg, c)                                                       \
  static uint32_t op##_##s##_##reg(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {     \
    __asm__(FLAGS_IN #op #s " %" m "[a]" FLAGS_OUT                                           \
            : [a] "+" c(a), [fo] "=r"(*fo) : [fi] "r"(fin) : "cc");                          \
    return a;                                                                                \
  }
INCDEC_SHORT(inc, l, "k", eax, "a")
INCDEC_SHORT(inc, l, "k", edi, "D")
INCDEC_SHORT(dec, l, "k", ebx, "b")
INCDEC_SHORT(dec, l, "k", esi, "S")
INCDEC_SHORT(inc, w, "w", ecx, "c")
INCDEC_SHORT(dec, w, "w", edx, "d")

/* 0x82 is an alias of 0x80 (8-bit ALU with imm8) that 64-bit mode dropped. */
static uint32_t add_b_82(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {
  __asm__(FLAGS_IN ".byte 0x82, 0xc0, 0x80" FLAGS_OUT /* add al, 0x80 */
          : "+a"(a), [fo] "=r"(*fo) : [fi] "r"(fin) : "cc");
  return a;
}
static uint32_t sub_b_82m(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fo) {
  __asm__(FLAGS_IN ".byte 0x82, 0x2b, 0xff" FLAGS_OUT /* sub byte [ebx], 0xff */
          : [fo] "=r"(*fo) : "b"(&a), [fi] "r"(fin) : "cc", "memory");
  return a;
}

/* ---- part 1: the register forms in full ---- */

struct op {
  const char *name;
  op_fn rr[3]; /* 8, 16, 32 bits */
  uint32_t mask;
  int carry_in; /* the result depends on CF: print from all flags set too */
};

#define OP(op, mask, cin) {#op, {op##_b_rr, op##_w_rr, op##_l_rr}, mask, cin}
static const struct op binops[] = {
    OP(add, ALL_FLAGS, 0), OP(adc, ALL_FLAGS, 1), OP(sub, ALL_FLAGS, 0),
    OP(sbb, ALL_FLAGS, 1), OP(and, LOGIC_FLAGS, 0), OP(or, LOGIC_FLAGS, 0),
    OP(xor, LOGIC_FLAGS, 0), OP(cmp, ALL_FLAGS, 0), OP(test, LOGIC_FLAGS, 0),
};
#define UOP(op, mask, cin) {#op, {op##_b_r, op##_w_r, op##_l_r}, mask, cin}
static const struct op unops[] = {
    UOP(inc, ALL_FLAGS, 1), UOP(dec, ALL_FLAGS, 1), UOP(neg, ALL_FLAGS, 0),
    UOP(not, ALL_FLAGS, 1),
};

static const char width_char[3] = {'b', 'w', 'l'};

static void print_binop(const struct op *o) {
  for (int w = 0; w < 3; w++)
    for (uint32_t fin = 0; fin <= (o->carry_in ? 1u : 0u); fin++)
      for (size_t i = 0; i < NVALUES; i++) {
        printf("%s%c%s %08x:", o->name, width_char[w], fin ? " flags set" : "", values[i]);
        for (size_t j = 0; j < NVALUES; j++) {
          uint32_t f;
          uint32_t r = o->rr[w](values[i], values[j], fin ? ALL_FLAGS : 0, &f);
          printf(" %x/%s", r, flags_str(f, o->mask));
        }
        printf("\n");
      }
}

static void print_unop(const struct op *o) {
  for (int w = 0; w < 3; w++)
    for (uint32_t fin = 0; fin <= (o->carry_in ? 1u : 0u); fin++) {
      printf("%s%c%s:", o->name, width_char[w], fin ? " flags set" : "");
      for (size_t i = 0; i < NVALUES; i++) {
        uint32_t f;
        uint32_t r = o->rr[w](values[i], 0, fin ? ALL_FLAGS : 0, &f);
        printf(" %x/%s", r, flags_str(f, o->mask));
      }
      printf("\n");
    }
}

/* ---- part 2: every other encoding against the register form ---- */

struct form {
  const char *name;
  op_fn fn;
  const struct op *ref;
  int width;   /* index into ref->rr */
  int fixed_b; /* b is always imm (an immediate form, or a unary operation) */
  uint32_t imm;
};

static int mismatches;

static void check_form(const struct form *f) {
  int cases = 0;
  for (size_t i = 0; i < NVALUES; i++)
    for (size_t j = 0; j < NVALUES; j++)
      for (uint32_t fin = 0; fin <= 1; fin++) {
        uint32_t a = values[i], b = f->fixed_b ? f->imm : values[j];
        uint32_t fi = fin ? ALL_FLAGS : 0, f1, f2;
        uint32_t r1 = f->ref->rr[f->width](a, b, fi, &f1);
        uint32_t r2 = f->fn(a, b, fi, &f2);
        cases++;
        if (r1 != r2 || ((f1 ^ f2) & f->ref->mask)) {
          if (mismatches++ < 20)
            printf("MISMATCH %s a=%x b=%x flags-in=%x: %x/%s, register form %x/%s\n", f->name,
                   a, b, fi, r2, flags_str(f2, f->ref->mask), r1, flags_str(f1, f->ref->mask));
        }
        if (f->fixed_b)
          break;
      }
  (void)cases;
}

#define IMM_FORMS(op, s, w, mk)                                                              \
  {#op #s " reg, imm 1", op##_##s##_ri1, &binops[mk], w, 1, TRUNC_##s(1u)},                  \
  {#op #s " reg, imm 0x80", op##_##s##_ri2, &binops[mk], w, 1, TRUNC_##s(0x80u)},            \
  {#op #s " reg, imm -1", op##_##s##_ri3, &binops[mk], w, 1, TRUNC_##s(0xffffffffu)},        \
  {#op #s " reg, imm big", op##_##s##_ri4, &binops[mk], w, 1, TRUNC_##s(0x12345678u)},       \
  {#op #s " mem, imm 1", op##_##s##_mi1, &binops[mk], w, 1, TRUNC_##s(1u)},                  \
  {#op #s " mem, imm 0x80", op##_##s##_mi2, &binops[mk], w, 1, TRUNC_##s(0x80u)},            \
  {#op #s " mem, imm -1", op##_##s##_mi3, &binops[mk], w, 1, TRUNC_##s(0xffffffffu)},        \
  {#op #s " mem, imm big", op##_##s##_mi4, &binops[mk], w, 1, TRUNC_##s(0x12345678u)},       \
  {#op #s " acc, imm 1", op##_##s##_ai1, &binops[mk], w, 1, TRUNC_##s(1u)},                  \
  {#op #s " acc, imm 0x80", op##_##s##_ai2, &binops[mk], w, 1, TRUNC_##s(0x80u)},            \
  {#op #s " acc, imm -1", op##_##s##_ai3, &binops[mk], w, 1, TRUNC_##s(0xffffffffu)},        \
  {#op #s " acc, imm big", op##_##s##_ai4, &binops[mk], w, 1, TRUNC_##s(0x12345678u)}

#define WIDTH_FORMS(op, s, w, mk)                                                            \
  {#op #s " reg, mem", op##_##s##_rm, &binops[mk], w, 0, 0},                                 \
  {#op #s " mem, reg", op##_##s##_mr, &binops[mk], w, 0, 0}, IMM_FORMS(op, s, w, mk)

#define BIN_FORMS(op, mk)                                                                    \
  WIDTH_FORMS(op, b, 0, mk), WIDTH_FORMS(op, w, 1, mk), WIDTH_FORMS(op, l, 2, mk),           \
  {#op "b ah, bh", op##_b_ah_bh, &binops[mk], 0, 0, 0},                                      \
  {#op "b dh, cl", op##_b_dh_cl, &binops[mk], 0, 0, 0},                                      \
  {#op "b bl, ch", op##_b_bl_ch, &binops[mk], 0, 0, 0}

static const struct form bin_forms[] = {
    BIN_FORMS(add, 0), BIN_FORMS(adc, 1), BIN_FORMS(sub, 2),
    BIN_FORMS(sbb, 3), BIN_FORMS(and, 4), BIN_FORMS(or, 5),
    BIN_FORMS(xor, 6), BIN_FORMS(cmp, 7), BIN_FORMS(test, 8),
    {"addb al, 0x80 (0x82)", add_b_82, &binops[0], 0, 1, 0x80},
    {"subb [ebx], 0xff (0x82)", sub_b_82m, &binops[2], 0, 1, 0xff},
};

#define UN_FORMS(op, mk)                                                                     \
  {#op "b mem", op##_b_m, &unops[mk], 0, 1, 0}, {#op "w mem", op##_w_m, &unops[mk], 1, 1, 0}, \
  {#op "l mem", op##_l_m, &unops[mk], 2, 1, 0}, {#op "b ah", op##_b_ah, &unops[mk], 0, 1, 0}

static const struct form un_forms[] = {
    UN_FORMS(inc, 0), UN_FORMS(dec, 1), UN_FORMS(neg, 2), UN_FORMS(not, 3),
    {"incl eax (0x40)", inc_l_eax, &unops[0], 2, 1, 0},
    {"incl edi (0x47)", inc_l_edi, &unops[0], 2, 1, 0},
    {"decl ebx (0x4b)", dec_l_ebx, &unops[1], 2, 1, 0},
    {"decl esi (0x4e)", dec_l_esi, &unops[1], 2, 1, 0},
    {"incw cx (66 41)", inc_w_ecx, &unops[0], 1, 1, 0},
    {"decw dx (66 4a)", dec_w_edx, &unops[1], 1, 1, 0},
};

/* x op x with the same high byte on both sides */
#define SAME_HIGH(op, mask)                                                                  \
  do {                                                                                       \
    uint32_t c = 0x12348156, f;                                                              \
    __asm__(FLAGS_IN #op "b %%ch, %%ch" FLAGS_OUT : "+c"(c), [fo] "=r"(f) : [fi] "r"(0) : "cc"); \
    printf(#op "b ch, ch: %x/%s\n", c, flags_str(f, mask));                                  \
  } while (0)

static void same_register(void) {
  SAME_HIGH(add, ALL_FLAGS);
  SAME_HIGH(sub, ALL_FLAGS);
  SAME_HIGH(xor, LOGIC_FLAGS);
  SAME_HIGH(adc, ALL_FLAGS);
}

int main(void) {
  for (size_t i = 0; i < sizeof(binops) / sizeof(binops[0]); i++)
    print_binop(&binops[i]);
  for (size_t i = 0; i < sizeof(unops) / sizeof(unops[0]); i++)
    print_unop(&unops[i]);
  same_register();
  for (size_t i = 0; i < sizeof(bin_forms) / sizeof(bin_forms[0]); i++)
    check_form(&bin_forms[i]);
  for (size_t i = 0; i < sizeof(un_forms) / sizeof(un_forms[0]); i++)
    check_form(&un_forms[i]);
  printf("%u encodings checked against the register forms, %d mismatches\n",
         (unsigned)(sizeof(bin_forms) / sizeof(bin_forms[0]) + sizeof(un_forms) / sizeof(un_forms[0])),
         mismatches);
  return 0;
}
