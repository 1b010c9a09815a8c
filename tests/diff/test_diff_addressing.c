/* test_diff_addressing.c - every addressing form against Unicorn: absolute [disp32] (high
 * addresses that 64-bit mode would sign-extend included), [reg], [reg+disp8/32], SIB with every
 * scale, [esp+..], [ebp+..], index-only SIB, 32-bit wrap-around, 16-bit addressing (0x67) with
 * its eight base/index forms and 64 KiB wrap, moffs forms, and FS/GS overrides with their
 * bases (Unicorn gets them from a GDT the harness builds). */
#include "tests/diff/directed.h"

static const char *const regs32[] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};

START_TEST(base_register_forms) {
  for (int b = 0; b < 8; b++) {
    const char *r = regs32[b], *d = b == 0 ? "ecx" : "eax";
    check_asm("mov %s, 0x3000\n mov dword [%s], 0x11223344\n mov %s, [%s]\n"
              "mov dword [%s+0x10], %s\n add [%s-0x7f], %s\n mov %s, [%s+0x1234]\n"
              "mov byte [%s+0x4321], 0x5a",
              r, r, d, r, r, d, r, d, d, r, r);
  }
}
END_TEST

START_TEST(sib_forms_with_every_scale) {
  static const int scales[] = {1, 2, 4, 8};
  for (int b = 0; b < 8; b++)
    for (int i = 0; i < 8; i++) {
      if (i == 4 || i == b)
        continue; /* no esp index; base == index is below */
      const char *d = b != 7 && i != 7 ? "edi" : b != 6 && i != 6 ? "esi" : "edx";
      for (int s = 0; s < 4; s++)
        check_asm("mov %s, 0x100\n mov %s, 0x3000\n mov dword [%s+%s*%d+0x40], 0x5a5a1234\n"
                  "add byte [%s+%s*%d], 7\n lea %s, [%s+%s*%d+0x7fffffff]\n mov %s, [%s+%s*%d+0x40]",
                  regs32[i], regs32[b], regs32[b], regs32[i], scales[s], regs32[b], regs32[i],
                  scales[s], d, regs32[b], regs32[i], scales[s], d, regs32[b], regs32[i], scales[s]);
    }
  for (int b = 0; b < 8; b++)
    if (b != 4)
      check_asm("mov %s, 0x1000\n mov dword [%s+%s*2+0x10], 0x77\n add byte [%s+%s*4], 1\n"
                "mov %s, [%s+%s*8-0x6000]",
                regs32[b], regs32[b], regs32[b], regs32[b], regs32[b], regs32[b], regs32[b],
                regs32[b]);
}
END_TEST

START_TEST(index_only_and_absolute_forms) {
  check_asm("mov ecx, 0x400\n mov dword [ecx*4+0x2000], 0xdeadbeef\n mov eax, [ecx*8-0x1000]\n"
            "mov dword [0x4000], 0x12345678\n mov ebx, [0x4000]\n add dword [0x4004], 5\n"
            "mov al, [0x4001]\n mov [0x4010], ax");
  /* disp32 above 2 GiB: 64-bit mode would sign-extend it; with wrap-around into the window */
  check_asm("mov eax, 0x80003000\n mov dword [eax+0x80001000], 1\n mov ebx, 0x80000000\n"
            "mov ecx, [ebx+0x80003000]\n mov edx, 0xfffff000\n mov [edx+0x4000], ecx\n"
            "mov esi, [edx*2+0x5000]");
}
END_TEST

START_TEST(moffs_forms) {
  check_asm("mov eax, 0x11223344\n mov [0x3000], eax\n mov [0x3004], ax\n mov [0x3006], al\n"
            "mov eax, 0\n mov eax, [0x3002]\n mov ax, [0x3000]\n mov al, [0x3005]");
  check_asm("mov eax, 0x55667788\n fs mov [0x10], eax\n gs mov ax, [0x14]\n fs mov al, [0x18]");
}
END_TEST

START_TEST(stack_and_frame_forms) {
  check_asm("push 0x11111111\n push 0x22222222\n mov eax, [esp]\n mov ebx, [esp+4]\n"
            "add dword [esp], 3\n mov ebp, esp\n mov ecx, [ebp+4]\n mov dword [ebp-8], 9\n"
            "mov edx, [ebp-8]\n lea esi, [esp+ebp*2]\n mov edi, [esp+0x7f]");
}
END_TEST

START_TEST(sixteen_bit_addressing) {
  static const char *const forms[] = {"bx+si", "bx+di", "bp+si", "bp+di", "si", "di", "bp", "bx"};
  static const char *const disps[] = {"", "+0x7f", "-0x80", "+0x1234", "+0xfff0"};
  for (int f = 0; f < 8; f++)
    for (int d = 0; d < 5; d++)
      check_asm("mov ebx, 0xabcd3000\n mov ebp, 0x12340100\n mov esi, 0x56780010\n"
                "mov edi, 0x9abc0020\n mov word [0x3130], 0x1234\n a16 mov dword [%s%s], 0x5a5a1234\n"
                "a16 mov eax, [%s%s]\n a16 add byte [%s%s], 7\n a16 lea cx, [%s%s]\n"
                "a16 lea edx, [%s%s]",
                forms[f], disps[d], forms[f], disps[d], forms[f], disps[d], forms[f], disps[d],
                forms[f], disps[d]);
  /* [disp16] alone, and sums that wrap at 64 KiB */
  check_asm("a16 mov dword [0x3000], 0x77\n a16 mov eax, [0x3000]\n mov ebx, 0xf000\n"
            "mov esi, 0x4000\n a16 mov ecx, [bx+si]\n a16 mov dword [bx+si+0x10], 0x99\n"
            "mov ah, 0x12\n a16 mov [bx+si+0x20], ah\n a16 mov dh, [bx+si+0x10]");
}
END_TEST

START_TEST(fs_and_gs_overrides) {
  static const uint32_t bases[] = {0x1000, 0x3000, 0xfffff000u, 0x40};
  for (int i = 0; i < 4; i++) {
    struct diff_state s;
    directed_state(&s, 1);
    s.fs_base = bases[i];
    s.gs_base = bases[(i + 1) % 4];
    check_asm_from(&s,
                   "mov ebx, 0x3000\n mov ecx, 0x10\n fs mov eax, [ebx]\n gs mov edx, [ebx+4]\n"
                   "fs mov dword [ebx+ecx*4], 0x1234\n gs add [ecx+0x3000], eax\n"
                   "fs mov ah, [ebx+ecx]\n gs mov [ebx+ecx*2+8], bh\n fs movzx esi, byte [0x3008]\n"
                   "gs mov edi, [esp-0x8000]\n mov esi, 0x3040\n a16 fs mov ax, [bx+si]\n"
                   "fs push dword [ebx]\n gs pop dword [ebx+0x20]\n mov edi, 0x5000\n fs lodsd\n"
                   "fs movsb\n a16 gs mov [bp+di], esi");
  }
}
END_TEST

/* Regression: redundant prefixes pushed the re-encoded instruction past 15 bytes (#GP). */
START_TEST(prefix_padded_instructions) {
  struct diff_state s;
  directed_state(&s, 0);
  s.gs_base = 0x1000;
  check_asm_from(&s, "mov ebp, 0x9f024a90\n db 0xf3, 0xf3, 0x65, 0x81, 0x9d\n dd 0x60fdfadd\n"
                     "dd 0xe7c88961");
  check_asm_from(&s, "mov ebx, 0x3000\n db 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x65, 0x81, 0x83\n"
                     "dd 0x100\n dw 0x1234");
  check_asm_from(&s, "mov ebx, 0x3000\n db 0x3e, 0x2e, 0x26, 0x36, 0xf2, 0xf3, 0x65, 0x01, 0x83\n"
                     "dd 0x100");
}
END_TEST

static Suite *addressing_suite(void) {
  Suite *s = suite_create("diff_addressing");
  TCase *tc = tcase_create("addressing");
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, base_register_forms);
  tcase_add_test(tc, sib_forms_with_every_scale);
  tcase_add_test(tc, index_only_and_absolute_forms);
  tcase_add_test(tc, moffs_forms);
  tcase_add_test(tc, stack_and_frame_forms);
  tcase_add_test(tc, sixteen_bit_addressing);
  tcase_add_test(tc, fs_and_gs_overrides);
  tcase_add_test(tc, prefix_padded_instructions);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return directed_main(addressing_suite()); }
