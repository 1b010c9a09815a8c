/* test_diff_muldiv.c - multiplication, division (with #DE) and the BCD adjustments against
 * Unicorn. BCD instructions are callouts in bt386 (64-bit mode lacks them), so they are run
 * over every AL value with every CF/AF combination, as machine code built here. */
#include <string.h>

#include "tests/diff/directed.h"

static const uint32_t edges[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                                 0x7fffffff, 0x80000000u, 0xfffffffeu, 0xffffffffu, 0x12345678};
#define N_EDGES (int)(sizeof(edges) / sizeof(edges[0]))

START_TEST(multiplications) {
  for (int a = 0; a < N_EDGES; a++)
    for (int b = 0; b < N_EDGES; b++) {
      check_asm("mov eax, 0x%x\n mov ebx, 0x%x\n mul ebx\n mov esi, eax\n mov edi, edx\n"
                "mov eax, 0x%x\n imul ebx", edges[a], edges[b], edges[a]);
      check_asm("mov eax, 0x%x\n mov ebx, 0x%x\n mul bx\n mov esi, eax\n mov eax, 0x%x\n imul bx",
                edges[a], edges[b], edges[a]);
      check_asm("mov eax, 0x%x\n mov ebx, 0x%x\n mul bh\n mov esi, eax\n mov eax, 0x%x\n imul bl",
                edges[a], edges[b], edges[a]);
      check_asm("mov eax, 0x%x\n mov ebx, 0x%x\n imul eax, ebx\n mov ecx, 0x%x\n imul cx, bx\n"
                "imul edx, ebx, 0x%x\n imul si, bx, -7", edges[a], edges[b], edges[a], edges[a]);
    }
  check_asm("mov esi, 0x3000\n mov dword [esi], 0x89abcdef\n mov eax, 0x7fffffff\n"
            "mul dword [esi]\n imul word [esi+2]\n imul ecx, [esi], 0x1234\n imul dx, [esi+1]\n"
            "mul byte [esi+3]");
}
END_TEST

START_TEST(divisions) {
  static const char *const ops[] = {"div", "idiv"};
  const char *op = ops[_i];
  for (int a = 0; a < N_EDGES; a++)
    for (int b = 0; b < N_EDGES; b++) {
      /* the high half small enough that most of these do not overflow */
      check_asm("mov edx, 0x%x\n mov eax, 0x%x\n mov ebx, 0x%x\n %s ebx", edges[a] & 0xff,
                edges[b], edges[a], op);
      check_asm("mov edx, 0x%x\n mov eax, 0x%x\n mov ebx, 0x%x\n %s bx", edges[a] & 0xff,
                edges[b], edges[a], op);
      check_asm("mov eax, 0x%x\n mov ebx, 0x%x\n %s bl\n mov ebx, 0x%x\n %s bh",
                edges[b] & 0x1fff, edges[a], op, edges[b], op);
    }
  check_asm("mov esi, 0x3000\n mov dword [esi], 0x1234\n mov edx, 0x12\n mov eax, 0x56789abc\n"
            "%s dword [esi]\n %s word [esi]\n %s byte [esi+1]", op, op, op);
}
END_TEST

START_TEST(divide_errors) {
  check_asm("mov eax, 5\n xor ecx, ecx\n div ecx");
  check_asm("mov eax, 5\n xor ecx, ecx\n idiv cx");
  check_asm("mov eax, 5\n xor ecx, ecx\n div cl");
  check_asm("mov edx, 1\n mov eax, 0\n mov ecx, 1\n div ecx");           /* quotient too big */
  check_asm("mov edx, 0xffffffff\n mov eax, 0x80000000\n mov ecx, -1\n idiv ecx");
  check_asm("mov eax, 0xffff8000\n cwd\n mov cx, -1\n idiv cx");
  check_asm("mov ax, 0xff80\n mov cl, -1\n idiv cl");
  check_asm("mov ax, 0x0100\n mov cl, 1\n div cl");
  check_asm("mov esi, 0x3000\n mov dword [esi], 0\n mov eax, 7\n div dword [esi+0]");
  /* the zero test looks at the operand's width only, keeps the flags and restores ECX */
  check_asm("mov ecx, 0x100\n mov eax, 9\n stc\n div cl");
  check_asm("mov ecx, 0x10000\n mov eax, 9\n mov edx, 0\n div cx");
  check_asm("mov ecx, 0x2300\n mov eax, 0x99\n div ch\n mov ebx, ecx");
  check_asm("mov eax, 0x0100\n div ah");
  check_asm("mov eax, 0x0000\n mov edx, 0\n cmp eax, 1\n div eax");
  check_asm("mov ebx, 0\n mov ecx, 0x55\n std\n idiv ebx");
  check_asm("mov esp, 0xb000\n mov eax, 0x10000\n xor edx, edx\n div esp\n mov ebx, ecx");
  check_asm("mov eax, 0x1234\n aam 0");
  check_asm("push eax\n mov ebx, 1\n xor ecx, ecx\n add ebx, 2\n div ecx\n mov ebx, 9");
}
END_TEST

/* mov eax, imm32; push imm32; popfd; <op> */
static void check_bcd(const uint8_t *op, size_t oplen, uint32_t eax, uint32_t flags,
                      const char *what) {
  uint8_t code[16] = {0xb8};
  memcpy(code + 1, &eax, 4);
  code[5] = 0x68;
  memcpy(code + 6, &flags, 4);
  code[10] = 0x9d;
  memcpy(code + 11, op, oplen);
  struct diff_state s;
  diff_state_init(&s);
  check_code(code, 11 + oplen, &s, what);
}

START_TEST(bcd_adjustments_over_every_al) {
  static const struct { uint8_t op; const char *name; } ops[] = {
      {0x27, "daa"}, {0x2f, "das"}, {0x37, "aaa"}, {0x3f, "aas"}};
  for (int o = 0; o < 4; o++)
    for (uint32_t al = 0; al < 256; al++)
      for (uint32_t f = 0; f < 4; f++) {
        uint32_t flags = 0x2 | ((f & 1) ? FL_CF : 0) | ((f & 2) ? FL_AF : 0);
        check_bcd(&ops[o].op, 1, 0x12345600 | al, flags, ops[o].name);
        check_bcd(&ops[o].op, 1, 0x1234ff00 | al, flags, ops[o].name); /* AH wraps */
      }
}
END_TEST

START_TEST(aam_and_aad_over_bases) {
  static const uint8_t bases[] = {10, 1, 2, 7, 16, 0x80, 0xff};
  for (size_t b = 0; b < sizeof(bases); b++)
    for (uint32_t ax = 0; ax < 0x10000; ax += 0x0101 * 3 + 1) {
      uint8_t aam[2] = {0xd4, bases[b]}, aad[2] = {0xd5, bases[b]};
      check_bcd(aam, 2, 0xabcd0000 | ax, 0x2 | FL_CF, "aam");
      check_bcd(aad, 2, 0xabcd0000 | ax, 0x2 | FL_CF, "aad");
    }
}
END_TEST

static Suite *muldiv_suite(void) {
  Suite *s = suite_create("diff_muldiv");
  TCase *tc = tcase_create("muldiv");
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, multiplications);
  tcase_add_loop_test(tc, divisions, 0, 2);
  tcase_add_test(tc, divide_errors);
  tcase_add_test(tc, bcd_adjustments_over_every_al);
  tcase_add_test(tc, aam_and_aad_over_bases);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return directed_main(muldiv_suite()); }
