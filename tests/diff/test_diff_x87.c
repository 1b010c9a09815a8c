/* test_diff_x87.c - x87 stores that convert to a smaller format, against Unicorn where it is
 * right and against the SDM where it is not: fst/fstp m32/m64 of a signalling NaN store it
 * quieted (masked #IA, SDM vol. 2A FST, vol. 1 4.8.3.5), which Unicorn does not
 * (UNICORN-QUIRKS.md 25), so that case is checked on bt386 alone. Also the MXCSR loads
 * (ldmxcsr, fxrstor) and their #GP for reserved bits (SDM vol. 2A, LDMXCSR, FXRSTOR), and
 * the 32-bit fxsave image (nothing past byte 287) and fxrstor against Unicorn. fnstenv and
 * fnsave (32- and 16-bit forms) against Unicorn for what both define alike, and on bt386 alone
 * for FIP, FCS, FDP and FDS, stored as 0 (docs/translator.md). */
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

/* The environment's fields that differ between engines: the reserved high words of FCW, FSW
 * and FTW (0xffff from the host, 0 from Unicorn), and FIP, FOP|FCS, FDP, FDS (Unicorn's FIP and
 * FOP are its own; bt386 stores 0 but FOP) are cleared before the compare. `a` is the register
 * holding the area's address. */
#define CLEAR_ENV32(a)                                                                       \
  "mov word [" a "+2], 0\n mov word [" a "+6], 0\n mov word [" a "+10], 0\n"                   \
  "mov dword [" a "+12], 0\n mov dword [" a "+16], 0\n mov dword [" a "+20], 0\n"              \
  "mov dword [" a "+24], 0\n"
#define CLEAR_ENV16(a) "mov dword [" a "+6], 0\n mov dword [" a "+10], 0\n"

/* fnstenv/fstenv and fnsave/fsave, both operand sizes, against Unicorn: the control, status
 * and tag words, the registers in the save area, nothing written past the area (the window
 * is patterned first), and the state they leave (all exceptions masked; fninit after fnsave). */
START_TEST(fpu_environment_against_unicorn) {
  check_asm("mov edi, 0x3000\n mov eax, 0xa5a5a5a5\n mov ecx, 160\n rep stosd\n"
            "fninit\n fld1\n fldpi\n fldz\n fild dword [0x3400]\n fnclex\n"
            "mov word [0x3404], 0x0e72\n fldcw [0x3404]\n"
            "mov esi, 0x3000\n fnstenv [esi]\n" CLEAR_ENV32("esi")
            "fldcw [0x3404]\n o16 fnstenv [esi+32]\n" CLEAR_ENV16("esi+32")
            "fldcw [0x3404]\n fstenv [esi+48]\n" CLEAR_ENV32("esi+48")
            "fldcw [0x3404]\n mov ebx, 0x3100\n fnsave [ebx]\n" CLEAR_ENV32("ebx")
            "fld1\n fldl2t\n fldcw [0x3404]\n o16 fsave [ebx+112]\n" CLEAR_ENV16("ebx+112")
            "fldpi\n fldcw [0x3404]\n o16 fnsave [ebx+208]\n" CLEAR_ENV16("ebx+208"));
}
END_TEST

/* What bt386 stores for FIP, FCS, FDP and FDS: 0 in every form (the host's would be host
 * addresses and selectors), after an x87 instruction with a memory operand; the reserved high
 * words and FOP are the host's and are not looked at. Also through 16-bit addressing (the
 * address computed into r8) and FS (a base register added), and the exception masks fnstenv
 * sets after storing the environment. */
START_TEST(fpu_environment_pointers_are_zero) {
  struct diff_state s;
  directed_state(&s, 1);
  s.fs_base = 0x100;
  const struct diff_result *r = run_bt386_asm(
      &s, "fninit\n fld1\n fadd qword [0x3800]\n mov esi, 0x3000\n fnstenv [esi]\n"
          "fld dword [0x3800]\n o16 fnstenv [esi+32]\n"
          "fmul dword [0x3800]\n mov ebx, 0x3100\n fnsave [ebx]\n"
          "fld1\n fadd dword [0x3800]\n o16 fnsave [ebx+112]\n"
          "fld1\n fadd dword [0x3800]\n mov esi, 0x3300\n a16 fnstenv [si+4]\n"
          "fld1\n fadd dword [0x3800]\n fnsave [fs:0x3300+64-0x100]\n"
          "mov word [0x3400], 0x0e72\n fldcw [0x3400]\n fnstenv [0x3404]\n fnstcw [0x3400]\n");
  ck_assert_int_eq(r->stop, DIFF_HALTED);
  const uint8_t *m = r->s.mem;
  static const struct { uint32_t at; bool form16; uint16_t fcw; } areas[] = {
      {0x3000, false, 0x37f}, {0x3020, true, 0x37f}, {0x3100, false, 0x37f},
      {0x3170, true, 0x37f}, {0x3304, false, 0x37f}, {0x3340, false, 0x37f},
  };
  for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
    const uint8_t *a = m + (areas[i].at - DIFF_WIN_BASE);
    uint16_t fcw, fip_lo, fcs, fdp_lo, fds;
    uint32_t fip, fdp;
    memcpy(&fcw, a, 2);
    if (areas[i].form16) {
      memcpy(&fip_lo, a + 6, 2);
      memcpy(&fcs, a + 8, 2);
      memcpy(&fdp_lo, a + 10, 2);
      memcpy(&fds, a + 12, 2);
      fip = fip_lo;
      fdp = fdp_lo;
    } else {
      memcpy(&fip, a + 12, 4);
      memcpy(&fcs, a + 16, 2);
      memcpy(&fdp, a + 20, 4);
      memcpy(&fds, a + 24, 2);
      ck_assert_uint_eq(a[19] >> 3, 0); /* bits 27-31 of the FOP|FCS dword */
    }
    ck_assert_msg(fip == 0 && fcs == 0 && fdp == 0 && fds == 0,
                  "area %zu at 0x%x: fip %x fcs %x fdp %x fds %x", i, areas[i].at, fip, fcs, fdp,
                  fds);
    ck_assert_uint_eq(fcw, areas[i].fcw);
  }
  /* fnstenv masks all exceptions after it stores FCW (SDM vol. 2A, FSTENV); QEMU 7.2 does not */
  uint16_t cw_stored, cw_after;
  memcpy(&cw_stored, m + (0x3404 - DIFF_WIN_BASE), 2);
  memcpy(&cw_after, m + (0x3400 - DIFF_WIN_BASE), 2);
  ck_assert_uint_eq(cw_stored, 0x0e72);
  ck_assert_uint_eq(cw_after, 0x0e7f);
  /* the bytes just past each area are the pattern of state 1, not written */
  ck_assert_mem_eq(m + (0x3000 + 28 - DIFF_WIN_BASE), s.mem + (0x3000 + 28 - DIFF_WIN_BASE), 4);
  ck_assert_mem_eq(m + (0x3020 + 14 - DIFF_WIN_BASE), s.mem + (0x3020 + 14 - DIFF_WIN_BASE), 4);
  ck_assert_mem_eq(m + (0x3100 + 108 - DIFF_WIN_BASE), s.mem + (0x3100 + 108 - DIFF_WIN_BASE), 4);
  ck_assert_mem_eq(m + (0x3170 + 94 - DIFF_WIN_BASE), s.mem + (0x3170 + 94 - DIFF_WIN_BASE), 2);
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
  tcase_add_test(tc, fpu_environment_against_unicorn);
  tcase_add_test(tc, fpu_environment_pointers_are_zero);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return directed_main(x87_suite()); }
