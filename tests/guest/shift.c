/* shift.c - shifts and rotates (shl shr sar rol ror rcl rcr, shld shrd) with 8-, 16- and
 * 32-bit operands and every count from 0 to 33 in CL, from all flags clear and all set (a
 * count that masks to 0 changes no flag; rcl/rcr take CF in). Flags the SDM leaves undefined
 * are not compared: OF unless the count is 1, AF, CF of shl/shr past the operand size, and
 * everything of a 16-bit shld/shrd past 16. The immediate, by-one and memory forms are then
 * checked against the CL register form, printing any case that differs. */
#include "lib/guest.h"

typedef uint32_t (*shift_fn)(uint32_t a, uint32_t b, uint32_t count, uint32_t fin,
                             uint32_t *fo);

#define FLAGS_IN "push %[fi]\n\tpopf\n\t"
#define FLAGS_OUT "\n\tpushf\n\tpop %[fo]"

static const uint32_t values[] = {0x876543a9, 0x12348756, 0xffffffff, 1};
#define NVALUES (sizeof(values) / sizeof(values[0]))
#define OTHER 0x9abcdef0 /* shld/shrd's source */

#define SH_CL(op, s, m)                                                                      \
  static uint32_t op##_##s##_cl(uint32_t a, uint32_t b, uint32_t n, uint32_t fin,            \
                                uint32_t *fo) {                                              \
    __asm__(FLAGS_IN #op #s " %%cl, %" m "[a]" FLAGS_OUT                                     \
            : [a] "+q"(a), [fo] "=r"(*fo) : "c"(n), [fi] "r"(fin) : "cc");                   \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_mcl(uint32_t a, uint32_t b, uint32_t n, uint32_t fin,           \
                                 uint32_t *fo) {                                             \
    __asm__(FLAGS_IN #op #s " %%cl, %[ma]" FLAGS_OUT                                         \
            : [ma] "+m"(a), [fo] "=r"(*fo) : "c"(n), [fi] "r"(fin) : "cc");                  \
    return a;                                                                                \
  }

#define SH_IMM(op, s, m, k)                                                                  \
  static uint32_t op##_##s##_i##k(uint32_t a, uint32_t b, uint32_t n, uint32_t fin,          \
                                  uint32_t *fo) {                                            \
    __asm__(FLAGS_IN #op #s " $" #k ", %" m "[a]" FLAGS_OUT                                  \
            : [a] "+q"(a), [fo] "=r"(*fo) : [fi] "r"(fin) : "cc");                           \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_mi##k(uint32_t a, uint32_t b, uint32_t n, uint32_t fin,         \
                                   uint32_t *fo) {                                           \
    __asm__(FLAGS_IN #op #s " $" #k ", %[ma]" FLAGS_OUT                                      \
            : [ma] "+m"(a), [fo] "=r"(*fo) : [fi] "r"(fin) : "cc");                          \
    return a;                                                                                \
  }

/* the counts the immediate forms are tried with */
#define EACH_IMM(X, ...)                                                                     \
  X(__VA_ARGS__, 0) X(__VA_ARGS__, 1) X(__VA_ARGS__, 2) X(__VA_ARGS__, 7) X(__VA_ARGS__, 8)   \
  X(__VA_ARGS__, 9) X(__VA_ARGS__, 15) X(__VA_ARGS__, 16) X(__VA_ARGS__, 17)                  \
  X(__VA_ARGS__, 31) X(__VA_ARGS__, 32) X(__VA_ARGS__, 33)

#define SH_WIDTH(op, s, m) SH_CL(op, s, m) EACH_IMM(SH_IMM, op, s, m)
#define SH_ALL(op) SH_WIDTH(op, b, "b") SH_WIDTH(op, w, "w") SH_WIDTH(op, l, "k")

SH_ALL(shl)
SH_ALL(shr)
SH_ALL(sar)
SH_ALL(rol)
SH_ALL(ror)
SH_ALL(rcl)
SH_ALL(rcr)

/* shld/shrd dst, src, count: no 8-bit form */
#define SHD(op, s, m)                                                                        \
  static uint32_t op##_##s##_cl(uint32_t a, uint32_t b, uint32_t n, uint32_t fin,            \
                                uint32_t *fo) {                                              \
    __asm__(FLAGS_IN #op #s " %%cl, %" m "[b], %" m "[a]" FLAGS_OUT                          \
            : [a] "+r"(a), [fo] "=r"(*fo) : [b] "r"(b), "c"(n), [fi] "r"(fin) : "cc");      \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_mcl(uint32_t a, uint32_t b, uint32_t n, uint32_t fin,           \
                                 uint32_t *fo) {                                             \
    __asm__(FLAGS_IN #op #s " %%cl, %" m "[b], %[ma]" FLAGS_OUT                              \
            : [ma] "+m"(a), [fo] "=r"(*fo) : [b] "r"(b), "c"(n), [fi] "r"(fin) : "cc");      \
    return a;                                                                                \
  }                                                                                          \
  EACH_IMM(SHD_IMM, op, s, m)

#define SHD_IMM(op, s, m, k)                                                                 \
  static uint32_t op##_##s##_i##k(uint32_t a, uint32_t b, uint32_t n, uint32_t fin,          \
                                  uint32_t *fo) {                                            \
    __asm__(FLAGS_IN #op #s " $" #k ", %" m "[b], %" m "[a]" FLAGS_OUT                       \
            : [a] "+r"(a), [fo] "=r"(*fo) : [b] "r"(b), [fi] "r"(fin) : "cc");               \
    return a;                                                                                \
  }                                                                                          \
  static uint32_t op##_##s##_mi##k(uint32_t a, uint32_t b, uint32_t n, uint32_t fin,         \
                                   uint32_t *fo) {                                           \
    __asm__(FLAGS_IN #op #s " $" #k ", %" m "[b], %[ma]" FLAGS_OUT                           \
            : [ma] "+m"(a), [fo] "=r"(*fo) : [b] "r"(b), [fi] "r"(fin) : "cc");              \
    return a;                                                                                \
  }

SHD(shld, w, "w")
SHD(shld, l, "k")
SHD(shrd, w, "w")
SHD(shrd, l, "k")

enum kind { SHIFT, ROTATE, ROTATE_CARRY, DOUBLE };

struct op {
  const char *name;
  enum kind kind;
  int left_shift; /* shl/shr: CF undefined past the operand size */
  shift_fn cl[3]; /* 8, 16, 32 bits (shld/shrd: no 8) */
};

#define OP(op, kind, ls) {#op, kind, ls, {op##_b_cl, op##_w_cl, op##_l_cl}}
static const struct op ops[] = {
    OP(shl, SHIFT, 1), OP(shr, SHIFT, 1), OP(sar, SHIFT, 0), OP(rol, ROTATE, 0),
    OP(ror, ROTATE, 0), OP(rcl, ROTATE_CARRY, 0), OP(rcr, ROTATE_CARRY, 0),
    {"shld", DOUBLE, 0, {0, shld_w_cl, shld_l_cl}},
    {"shrd", DOUBLE, 0, {0, shrd_w_cl, shrd_l_cl}},
};

static const int bits[3] = {8, 16, 32};
static const char width_char[3] = {'b', 'w', 'l'};

/* The flags the SDM defines after `op` by `count` at width w. */
static uint32_t defined_flags(const struct op *o, int w, uint32_t count) {
  uint32_t n = count & 31, size = (uint32_t)bits[w];
  if (n == 0)
    return FL_ARITH; /* nothing changes */
  uint32_t of = n == 1 ? FL_OF : 0;
  switch (o->kind) {
  case SHIFT:
    return FL_SF | FL_ZF | FL_PF | of | (o->left_shift && n >= size ? 0 : FL_CF);
  case ROTATE:
    return (FL_ARITH & ~(FL_OF | FL_CF)) | FL_CF | of;
  case ROTATE_CARRY:
    return (FL_ARITH & ~FL_OF) | of;
  case DOUBLE:
  default:
    if (n > size)
      return 0;
    return FL_SF | FL_ZF | FL_PF | FL_CF | of;
  }
}

/* The result is undefined too for a 16-bit shld/shrd past 16. */
static uint32_t defined_result(const struct op *o, int w, uint32_t count) {
  return o->kind == DOUBLE && (count & 31) > (uint32_t)bits[w] ? 0 : 0xffffffffu;
}

static void print_op(const struct op *o) {
  for (int w = 0; w < 3; w++) {
    if (!o->cl[w])
      continue;
    for (size_t i = 0; i < NVALUES; i++)
      for (uint32_t n = 0; n <= 33; n++) {
        printf("%s%c %08x cl=%u:", o->name, width_char[w], values[i], n);
        for (uint32_t fin = 0; fin <= FL_ARITH; fin += FL_ARITH) {
          uint32_t f, r = o->cl[w](values[i], OTHER, n, fin, &f);
          uint32_t rm = defined_result(o, w, n);
          if (rm)
            printf(" %x/%s", r, flags_str(f, defined_flags(o, w, n)));
          else
            printf(" undefined");
        }
        printf("\n");
      }
  }
}

/* ---- other encodings against the CL register form ---- */

struct form {
  const char *name;
  shift_fn fn;
  const struct op *ref;
  int w;
  int count; /* -1: from CL */
};

static int mismatches, forms_checked;

static void check_form(const struct form *f) {
  forms_checked++;
  for (size_t i = 0; i < NVALUES; i++)
    for (uint32_t n = 0; n <= 33; n++) {
      uint32_t count = f->count < 0 ? n : (uint32_t)f->count;
      for (uint32_t fin = 0; fin <= FL_ARITH; fin += FL_ARITH) {
        uint32_t f1, f2;
        uint32_t r1 = f->ref->cl[f->w](values[i], OTHER, count, fin, &f1);
        uint32_t r2 = f->fn(values[i], OTHER, count, fin, &f2);
        uint32_t fm = defined_flags(f->ref, f->w, count), rm = defined_result(f->ref, f->w, count);
        if (((r1 ^ r2) & rm) || ((f1 ^ f2) & fm)) {
          if (mismatches++ < 20)
            printf("MISMATCH %s a=%x count=%u flags-in=%x: %x/%s, CL register form %x/%s\n",
                   f->name, values[i], count, fin, r2, flags_str(f2, fm), r1, flags_str(f1, fm));
        }
      }
      if (f->count >= 0)
        break;
    }
}

#define FORM_IMM(op, s, w, mk, k)                                                            \
  {#op #s " reg, " #k, op##_##s##_i##k, &ops[mk], w, k},                                     \
  {#op #s " mem, " #k, op##_##s##_mi##k, &ops[mk], w, k},
#define FORMS_W(op, s, w, mk)                                                                \
  {#op #s " mem, cl", op##_##s##_mcl, &ops[mk], w, -1}, EACH_IMM(FORM_IMM, op, s, w, mk)
#define FORMS(op, mk) FORMS_W(op, b, 0, mk) FORMS_W(op, w, 1, mk) FORMS_W(op, l, 2, mk)

static const struct form forms[] = {
    FORMS(shl, 0) FORMS(shr, 1) FORMS(sar, 2) FORMS(rol, 3) FORMS(ror, 4) FORMS(rcl, 5)
    FORMS(rcr, 6)
    FORMS_W(shld, w, 1, 7) FORMS_W(shld, l, 2, 7) FORMS_W(shrd, w, 1, 8) FORMS_W(shrd, l, 2, 8)
};

int main(void) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    print_op(&ops[i]);
  for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
    check_form(&forms[i]);
  printf("%d encodings checked against the CL register forms, %d mismatches\n", forms_checked,
         mismatches);
  return 0;
}
