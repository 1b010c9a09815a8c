/* test_diff_bits.c - bit tests and scans, exchanges and atomics against Unicorn: bt/bts/btr/btc
 * on registers and on memory bit strings (negative and far offsets), bsf/bsr (zero sources
 * too), cmpxchg/cmpxchg8b/xadd/xchg/bswap with and without lock. F3 0F BC/BD are BSF/BSR on
 * bt386's P6 but TZCNT/LZCNT in Unicorn, so they are checked against bsf/bsr on bt386 itself. */
#include "tests/diff/directed.h"

static const char *const bitops[] = {"bt", "bts", "btr", "btc"};
static const int offsets[] = {0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 100, -1, -8, -33, -100, 1000};
#define N_OFFSETS (int)(sizeof(offsets) / sizeof(offsets[0]))

START_TEST(bit_tests_on_registers_and_immediates) {
  const char *op = bitops[_i];
  for (int o = 0; o < N_OFFSETS; o++)
    check_asm("mov eax, 0x80000001\n mov ebx, 0x12345678\n mov ecx, %d\n %s eax, ecx\n"
              "setc dl\n %s bx, cx\n setc dh\n %s ebx, %d\n adc esi, 0\n %s ax, %d",
              offsets[o], op, op, op, offsets[o] & 0xff, op, offsets[o] & 0xff);
}
END_TEST

START_TEST(bit_strings_in_memory) {
  const char *op = bitops[_i];
  for (int o = 0; o < N_OFFSETS; o++)
    check_asm("mov esi, 0x4000\n mov dword [esi-16], 0xf0f0f0f0\n mov dword [esi+12], 0x0ff00ff0\n"
              "mov ecx, %d\n %s [esi], ecx\n setc al\n %s word [esi+4], cx\n setc ah\n"
              "%s dword [esi+8], %d\n setc bl",
              offsets[o], op, op, op, offsets[o] & 0xff);
}
END_TEST

START_TEST(bit_scans) {
  static const uint32_t values[] = {0, 1, 0x80000000u, 0x00010000, 0xffffffffu, 0x00f00f00, 0x8000};
  for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++)
    check_asm("mov ecx, 0x%x\n mov eax, 0x55555555\n mov edx, eax\n bsf eax, ecx\n setz bl\n"
              "bsr edx, ecx\n setz bh\n mov esi, 0x3000\n mov [esi], ecx\n bsf di, [esi+2]\n"
              "bsr bp, cx\n bsr ecx, [esi]",
              values[v]);
}
END_TEST

/* F3 0F BC/BD: BSF/BSR on bt386 (the result of the same scan without the prefix). */
START_TEST(rep_bsf_is_bsf) {
  static const uint32_t values[] = {0, 1, 0x80000000u, 0x00f00f00};
  for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
    struct diff_state s;
    directed_state(&s, 0);
    s.regs[R_ECX] = values[v];
    s.regs[R_EAX] = s.regs[R_EDX] = 0x55;
    const struct diff_result *r = run_bt386_asm(&s, "rep bsf eax, ecx\n rep bsr edx, ecx\n"
                                                   "mov ebx, 0x3000\n mov [ebx], ecx\n"
                                                   "rep bsf esi, [ebx]");
    ck_assert_int_eq(r->stop, DIFF_HALTED);
    uint32_t want_f = values[v] ? (uint32_t)__builtin_ctz(values[v]) : 0x55;
    uint32_t want_r = values[v] ? 31u - (uint32_t)__builtin_clz(values[v]) : 0x55;
    ck_assert_uint_eq(r->s.regs[R_EAX], want_f);
    ck_assert_uint_eq(r->s.regs[R_EDX], want_r);
    ck_assert_uint_eq(r->s.regs[R_ESI], values[v] ? want_f : 0);
    ck_assert_uint_eq(!!(r->s.eflags & FL_ZF), values[v] == 0);
  }
}
END_TEST

START_TEST(exchanges_and_atomics) {
  check_asm("mov esi, 0x3000\n mov dword [esi], 5\n mov eax, 5\n mov ecx, 9\n"
            "lock cmpxchg [esi], ecx\n setz bl\n cmpxchg [esi], ecx\n setz bh\n mov edx, [esi]");
  check_asm("mov esi, 0x3000\n mov dword [esi], 0x1234\n mov eax, 0x34\n mov cl, 0x99\n"
            "cmpxchg [esi], cl\n mov ax, 0x1299\n cmpxchg [esi], ax\n mov al, 0x12\n"
            "cmpxchg ah, cl\n cmpxchg edx, ecx");
  check_asm("mov esi, 0x3000\n mov dword [esi], 0x7fffffff\n mov eax, 1\n lock xadd [esi], eax\n"
            "mov ecx, 0xff\n xadd cl, ch\n xadd [esi+1], cx\n mov edx, 0x80000000\n"
            "xadd edx, edx\n lock xadd [esi+4], dh");
  check_asm("mov esi, 0x3000\n mov eax, 0x11223344\n xchg [esi], eax\n xchg eax, ebx\n"
            "lock xchg [esi+4], bx\n xchg ah, al\n xchg cl, [esi+1]\n bswap eax\n bswap ebx\n"
            "bswap esp\n bswap esp\n xchg esp, esp");
  /* cmpxchg8b: popfd first, so that Unicorn's flags are not lazily computed (quirk 20) */
  for (int match = 0; match < 2; match++)
    check_asm("mov esi, 0x3000\n mov dword [esi], 0x11111111\n mov dword [esi+4], 0x22222222\n"
              "mov eax, 0x11111111\n mov edx, %s\n mov ebx, 0x33333333\n mov ecx, 0x44444444\n"
              "push 0x8d5\n popfd\n lock cmpxchg8b [esi]\n setz bl",
              match ? "0x22222222" : "0x22222223");
}
END_TEST

static Suite *bits_suite(void) {
  Suite *s = suite_create("diff_bits");
  TCase *tc = tcase_create("bits");
  tcase_set_timeout(tc, 240);
  tcase_add_loop_test(tc, bit_tests_on_registers_and_immediates, 0, 4);
  tcase_add_loop_test(tc, bit_strings_in_memory, 0, 4);
  tcase_add_test(tc, bit_scans);
  tcase_add_test(tc, rep_bsf_is_bsf);
  tcase_add_test(tc, exchanges_and_atomics);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return directed_main(bits_suite()); }
