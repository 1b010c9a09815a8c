/* test_diff_x87.c - x87 stores that convert to a smaller format, against Unicorn where it is
 * right and against the SDM where it is not: fst/fstp m32/m64 of a signalling NaN store it
 * quieted (masked #IA, SDM vol. 2A FST, vol. 1 4.8.3.5), which Unicorn does not
 * (UNICORN-QUIRKS.md 25), so that case is checked on bt386 alone. Also the MXCSR loads
 * (ldmxcsr, fxrstor) and their #GP for reserved bits (SDM vol. 2A, LDMXCSR, FXRSTOR), and
 * the 32-bit fxsave image (nothing past byte 287) and fxrstor against Unicorn. */
#include <string.h>

#include "tests/diff/directed.h"

/* An extended-precision value in physical register `r` (ST0 when TOP = r). */
static void set_st0(struct diff_state *s, uint64_t significand, uint16_t sign_exponent) {
  int top = (s->fpu.fsw >> 11) & 7;
  s->fpu.valid |= (uint8_t)(1u << top);
  memcpy(s->fpu.reg[top], &significand, 8);
  memcpy(s->fpu.reg[top] + 8, &sign_exponent, 2);
}

START_TEST(ordinary_and_quiet_nan_stores) {
  static const struct { uint64_t sig; uint16_t se; } values[] = {
      {0x8000000000000000ull, 0x3fff},  /* 1.0 */
      {0xc90fdaa22168c235ull, 0xc000},  /* -pi: rounded */
      {0xc000000000000001ull, 0x7fff},  /* a quiet NaN */
      {0x8000000000000000ull, 0xffff},  /* -infinity */
      {0x8000000000000000ull, 0x0001},  /* underflows to zero */
  };
  for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
    struct diff_state s;
    directed_state(&s, 0);
    set_st0(&s, values[v].sig, values[v].se);
    check_asm_from(&s, "mov esi, 0x3000\n fst dword [esi]\n fst qword [esi+8]\n"
                       "fld st0\n fstp dword [esi+16]\n fld st0\n fstp qword [esi+24]");
  }
}
END_TEST

/* Found by fuzz (seed 106): Unicorn stores an SNaN unchanged; hardware quiets it. */
START_TEST(signalling_nan_stores_are_quieted) {
  struct diff_state s;
  directed_state(&s, 0);
  set_st0(&s, 0xac88335a6f3045ccull, 0xffff); /* -SNaN: quiet bit (62) clear */
  const struct diff_result *r =
      run_bt386_asm(&s, "mov esi, 0x3000\n fst dword [esi]\n fst qword [esi+8]\n"
                        "fld st0\n fstp qword [esi+16]\n fstp tword [esi+32]");
  ck_assert_int_eq(r->stop, DIFF_HALTED);
  const uint8_t *m = r->s.mem + (0x3000 - DIFF_WIN_BASE);
  uint32_t f;
  uint64_t d, d2, sig;
  uint16_t se;
  memcpy(&f, m, 4);
  memcpy(&d, m + 8, 8);
  memcpy(&d2, m + 16, 8);
  memcpy(&sig, m + 32, 8);
  memcpy(&se, m + 40, 2);
  /* the sign, all-ones exponent, the quiet bit and the top fraction bits of the significand */
  ck_assert_uint_eq(f, 0xffc00000u | (uint32_t)((0xac88335a6f3045ccull << 1) >> 41));
  ck_assert_uint_eq(d, 0xfff8000000000000ull | ((0xac88335a6f3045ccull << 1) >> 12));
  ck_assert_uint_eq(d2, d);
  /* an 80-bit store does not convert: the SNaN is stored as it is */
  ck_assert_uint_eq(sig, 0xac88335a6f3045ccull);
  ck_assert_uint_eq(se, 0xffff);
  ck_assert_uint_eq(r->s.fpu.fsw & 1, 1); /* IE */
}
END_TEST

/* A P6 raises #GP(0) for MXCSR bits 16-31 in ldmxcsr and fxrstor; an AMD host would take bit
 * 17 (MM). Unicorn (and QEMU 7.2) take them all, so this runs on bt386 alone. */
START_TEST(mxcsr_reserved_bits_raise_gp) {
  static const int bits[] = {16, 17, 20, 31};
  for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
    uint32_t v = 0x1f80u | 1u << bits[i];
    struct diff_state s;
    directed_state(&s, 0);
    const struct diff_result *r =
        run_bt386_asm(&s, "mov esi, 0x3000\n mov dword [esi], 0x%x\n ldmxcsr [esi]", v);
    ck_assert_int_eq(r->stop, DIFF_EXCEPTION);
    ck_assert_int_eq(r->vector, EXC_GP);
    ck_assert_uint_eq(r->s.mxcsr, s.mxcsr);
    r = run_bt386_asm(&s, "mov ecx, 0x3000\n fxsave [ecx]\n mov dword [ecx+24], 0x%x\n"
                          "fxrstor [ecx]", v);
    ck_assert_int_eq(r->stop, DIFF_EXCEPTION);
    ck_assert_int_eq(r->vector, EXC_GP);
    ck_assert_uint_eq(r->s.regs[R_ECX], 0x3000); /* the sequence borrows ECX */
  }
  /* DAZ (bit 6) is there, and the loads go on as before */
  check_asm("mov esi, 0x3000\n mov dword [esi], 0x1fc0\n ldmxcsr [esi]\n stmxcsr [esi+4]\n"
            "mov ecx, esi\n mov eax, [ecx]\n");
  struct diff_state s;
  directed_state(&s, 0);
  const struct diff_result *r = run_bt386_asm(
      &s, "mov ecx, 0x3000\n fxsave [ecx]\n mov dword [ecx+24], 0x3fc0\n fxrstor [ecx]");
  ck_assert_int_eq(r->stop, DIFF_HALTED);
  ck_assert_uint_eq(r->s.mxcsr, 0x3fc0);
  ck_assert_uint_eq(r->s.regs[R_ECX], 0x3000);
}
END_TEST

/* fxsave against Unicorn, whose fxsave writes the 32-bit image too: the area is cleared first
 * (Unicorn writes 10 bytes of each 16-byte register slot, the host all 16), its bytes 288-511
 * are a pattern a 32-bit fxsave leaves alone, FSW's exception flags are cleared (quirk 1) and
 * FOP, which Unicorn does not write, is cleared after. Then fxrstor of a changed image (FCW,
 * MXCSR, XMM0 and XMM7, something in XMM8's slot) and fxsave of what it loaded. */
START_TEST(fxsave_image_and_fxrstor) {
  check_asm("mov edi, 0x3000\n xor eax, eax\n mov ecx, 72\n rep stosd\n"
            "mov eax, 0xa5a5a5a5\n mov ecx, 56\n rep stosd\n"
            "fninit\n fld1\n fldz\n fild dword [0x3200]\n fnclex\n"
            "mov ebx, 0x3000\n fxsave [ebx]\n mov word [ebx+6], 0");
  check_asm("mov edi, 0x3000\n xor eax, eax\n mov ecx, 128\n rep stosd\n"
            "fninit\n fld1\n fldz\n fnclex\n mov ebx, 0x3000\n fxsave [ebx]\n"
            "mov dword [ebx+160], 0x11223344\n mov dword [ebx+284], 0x55667788\n"
            "mov word [ebx], 0x0e7f\n mov dword [ebx+24], 0x3f80\n"
            "mov dword [ebx+288], 0xffffffff\n fxrstor [ebx]\n"
            "mov edi, 0x3400\n mov ecx, 128\n rep stosd\n fxsave [0x3400]\n"
            "mov word [0x3406], 0");
}
END_TEST

static Suite *x87_suite(void) {
  Suite *s = suite_create("diff_x87");
  TCase *tc = tcase_create("x87");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, ordinary_and_quiet_nan_stores);
  tcase_add_test(tc, signalling_nan_stores_are_quieted);
  tcase_add_test(tc, mxcsr_reserved_bits_raise_gp);
  tcase_add_test(tc, fxsave_image_and_fxrstor);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return directed_main(x87_suite()); }
