/* test_diff_alu.c - integer ALU instructions against Unicorn: the eight two-operand ALU ops and
 * inc/dec/neg/not in 8-, 16- and 32-bit forms (AH..BH included), with every operand kind, and
 * the flag instructions. */
#include "tests/diff/directed.h"

static const char *const alu_ops[] = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
static const char *const regs8[] = {"al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"};
static const char *const regs16[] = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
static const char *const regs32[] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};

/* Edge values: they carry, overflow, wrap and set every flag one way or the other. */
static const uint32_t edges[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                                 0x7fffffff, 0x80000000u, 0xffffffffu, 0x0f0f0f0f};
#define N_EDGES (sizeof(edges) / sizeof(edges[0]))

START_TEST(two_operand_ops_on_byte_registers) {
  const char *op = alu_ops[_i];
  for (int d = 0; d < 8; d++)
    for (int s = 0; s < 8; s += 3)
      check_asm("mov eax, 0x80ff7f01\n mov ecx, 0x017f80ff\n mov edx, 0xff0180ff\n"
                "mov ebx, 0x7f7f8080\n %s %s, %s", op, regs8[d], regs8[s]);
}
END_TEST

START_TEST(two_operand_ops_on_edge_values) {
  const char *op = alu_ops[_i];
  for (size_t a = 0; a < N_EDGES; a++)
    for (size_t b = 0; b < N_EDGES; b++)
      check_asm("mov eax, 0x%x\n mov ebx, 0x%x\n %s eax, ebx\n mov esi, eax\n"
                "mov eax, 0x%x\n %s ax, bx\n mov edi, eax\n mov eax, 0x%x\n %s al, bl",
                edges[a], edges[b], op, edges[a], op, edges[a], op);
}
END_TEST

START_TEST(two_operand_ops_with_memory_and_immediates) {
  const char *op = alu_ops[_i];
  check_asm("mov ebx, 0x3000\n mov dword [ebx], 0x7fffffff\n %s dword [ebx], 1\n"
            "%s dword [ebx+4], eax\n %s ecx, [ebx+8]\n %s word [ebx+12], 0x8000\n"
            "%s byte [ebx+14], 0x80\n %s dh, [ebx+15]\n %s [ebx+16], ch\n"
            "%s eax, 0x12345678\n %s ax, 0x1234\n %s al, 0x12\n %s edx, -3\n %s si, -3",
            op, op, op, op, op, op, op, op, op, op, op, op);
  /* 0x82 is 0x80's alias, gone in 64-bit mode */
  check_asm("mov ebx, 0x3000\n db 0x82, 0xc1, 0x7f\n db 0x82, 0x03, 0x80\n db 0x82, 0xc4, 0x01");
}
END_TEST

START_TEST(unary_ops) {
  static const char *const ops[] = {"inc", "dec", "neg", "not"};
  for (int o = 0; o < 4; o++)
    for (size_t a = 0; a < N_EDGES; a++)
      check_asm("mov eax, 0x%x\n mov edx, eax\n mov ebx, 0x3000\n mov [ebx], eax\n"
                "%s eax\n %s dx\n %s dh\n %s dword [ebx]\n %s word [ebx+4]\n %s byte [ebx+5]\n"
                "%s esp\n %s bp\n %s ch",
                edges[a], ops[o], ops[o], ops[o], ops[o], ops[o], ops[o], ops[o], ops[o], ops[o]);
}
END_TEST

START_TEST(every_register_in_every_width) {
  for (int d = 0; d < 8; d++) {
    if (d == 4)
      continue; /* esp stays a stack pointer */
    check_asm("add %s, 0x11223344\n inc %s\n dec %s\n xor %s, 0x5a5a\n not %s\n neg %s\n"
              "add %s, 0x7f\n sub %s, 3",
              regs32[d], regs32[d], regs16[d], regs16[d], regs32[d], regs16[d], regs8[d],
              regs8[d]);
  }
}
END_TEST

START_TEST(flag_instructions) {
  check_asm("stc\n cmc\n mov eax, 0\n adc eax, 0\n clc\n cmc\n setc bl\n std\n cld");
  check_asm("mov ah, 0xd5\n sahf\n lahf\n mov bl, ah\n mov ah, 0\n sahf\n lahf");
  check_asm("stc\n salc\n mov ebx, eax\n clc\n salc");
  check_asm("std\n pushfd\n pop eax\n cld\n pushfd\n pop ebx");
  check_asm("mov eax, 0x8d5\n push eax\n popfd\n pushfd\n pop ebx\n push dword 0\n popfd\n"
            "pushfd\n pop ecx\n push word 0x7ed5\n popf\n pushf\n pop dx\n push dword 0x240000\n popfd\n"
            "pushfd\n pop esi");
}
END_TEST

START_TEST(test_and_moves) {
  for (size_t a = 0; a < N_EDGES; a++)
    check_asm("mov eax, 0x%x\n test eax, eax\n setz bl\n test ah, 0x80\n sets bh\n"
              "test ax, 0x8001\n setp cl\n movzx edx, ah\n movsx esi, ah\n movsx edi, ax\n"
              "movzx ebp, al\n xchg al, ah\n xchg ebx, ecx\n bswap edx\n cbw\n cwde\n cdq\n"
              "cwd",
              edges[a]);
  check_asm("mov ebx, 0x3000\n mov eax, 0x89abcdef\n mov [ebx], eax\n movzx ecx, byte [ebx+1]\n"
            "movsx edx, word [ebx+2]\n xchg [ebx+4], eax\n lea esi, [ebx+eax*2+7]\n"
            "lea di, [bx+si+3]\n mov [ebx+8], ah\n mov [ebx+9], bh\n mov ch, [ebx+3]");
}
END_TEST

START_TEST(setcc_and_cmovcc_on_every_condition) {
  static const char *const cc[] = {"o", "no", "b", "ae", "e", "ne", "be", "a",
                                   "s", "ns", "p", "np", "l", "ge", "le", "g"};
  for (int c = 0; c < 16; c++)
    for (size_t a = 0; a < N_EDGES; a += 2)
      check_asm("mov eax, 0x%x\n cmp eax, 0x7fffffff\n set%s bl\n set%s ah\n mov ecx, 0x55\n"
                "mov edx, 0xaa\n cmov%s ecx, edx\n cmov%s si, dx\n mov ebx, 0x3000\n"
                "mov dword [ebx], 0x12345678\n cmov%s edi, [ebx]\n set%s byte [ebx+4]",
                edges[a], cc[c], cc[c], cc[c], cc[c], cc[c], cc[c]);
}
END_TEST

static Suite *alu_suite(void) {
  Suite *s = suite_create("diff_alu");
  TCase *tc = tcase_create("alu");
  tcase_set_timeout(tc, 240);
  tcase_add_loop_test(tc, two_operand_ops_on_byte_registers, 0, 8);
  tcase_add_loop_test(tc, two_operand_ops_on_edge_values, 0, 8);
  tcase_add_loop_test(tc, two_operand_ops_with_memory_and_immediates, 0, 8);
  tcase_add_test(tc, unary_ops);
  tcase_add_test(tc, every_register_in_every_width);
  tcase_add_test(tc, flag_instructions);
  tcase_add_test(tc, test_and_moves);
  tcase_add_test(tc, setcc_and_cmovcc_on_every_condition);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return directed_main(alu_suite()); }
