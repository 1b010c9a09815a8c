/* test_diff_flow.c - string instructions, the stack and control transfers against Unicorn:
 * movs/stos/lods/scas/cmps in every width with and without rep/repe/repne, DF=1, ECX=0,
 * 16-bit addressing and a segment-overridden source; push/pop (16-bit forms, esp itself,
 * memory operands addressed through esp), pusha/popa, pushf/popf, enter/leave with nesting,
 * call/ret (near, indirect, ret imm16); jcc on every condition, loop/loope/loopne/jecxz. */
#include "tests/diff/directed.h"

static const char *const widths[] = {"b", "w", "d"};

START_TEST(string_instructions) {
  static const char *const ops[] = {"movs", "stos", "lods", "scas", "cmps"};
  static const char *const reps[] = {"", "rep ", "repe ", "repne "};
  const char *op = ops[_i];
  for (int w = 0; w < 3; w++)
    for (int r = 0; r < 4; r++)
      for (int df = 0; df < 2; df++)
        for (int count = 0; count < 8; count += 3) {
          if (r > 1 && _i < 3)
            continue; /* repe/repne only make sense for scas/cmps */
          check_asm("%s\n mov esi, 0x3000\n mov edi, 0x3008\n mov ecx, %d\n"
                    "mov dword [0x3010], 0x41424344\n mov eax, 0x41424344\n %s%s%s\n pushfd\n"
                    "%s\n",
                    df ? "std" : "cld", count, reps[r], op, widths[w], df ? "cld" : "std");
        }
}
END_TEST

START_TEST(string_instructions_with_odd_addressing) {
  struct diff_state s;
  directed_state(&s, 1);
  s.fs_base = 0x1000;
  check_asm_from(&s, "mov esi, 0x3000\n mov edi, 0x5000\n mov ecx, 5\n rep fs movsd\n"
                     "mov esi, 0x3000\n fs lodsw\n mov ecx, 3\n repe fs cmpsb");
  check_asm_from(&s, "mov esi, 0xffff3000\n mov edi, 0xabcd5000\n mov ecx, 0x12340004\n"
                     "a16 rep movsw\n a16 stosd\n mov ecx, 0x10003\n a16 repne scasb\n a16 lodsb\n"
                     "mov esi, 0x3000\n mov edi, 0x3000\n mov ecx, 4\n std\n a16 rep cmpsb\n cld");
}
END_TEST

START_TEST(push_and_pop) {
  check_asm("push eax\n push 0x12345678\n push -5\n push word 0x1234\n push bx\n pop cx\n pop dx\n"
            "pop esi\n pop edi\n pop ebp");
  check_asm("push esp\n pop eax\n mov ebx, esp\n push dword [esp]\n push dword [esp+4]\n"
            "pop dword [esp+4]\n pop dword [esp]\n pop ecx\n pop esp");
  check_asm("mov ebx, 0x3000\n mov dword [ebx], 0x11223344\n push dword [ebx]\n push word [ebx+2]\n"
            "pop word [ebx+8]\n pop dword [ebx+12]\n push esp\n pop dword [esp-4]\n push 7\n"
            "pop dword [esp]");
  check_asm("pushad\n mov eax, 1\n mov ebp, 2\n mov esp, 0xb100\n popad\n pushaw\n popaw\n"
            "mov eax, esp\n pusha\n popa");
  check_asm("push 0x8d5\n popfd\n pushfd\n pushf\n pop ax\n pop ebx\n push word 0x0d5\n popf\n"
            "pushfd\n pop ecx");
}
END_TEST

START_TEST(enter_and_leave) {
  for (int level = 0; level < 6; level++) {
    check_asm("mov ebp, 0xb040\n mov dword [ebp-4], 0x11\n mov dword [ebp-8], 0x22\n"
              "enter 0x20, %d\n mov eax, ebp\n mov ebx, esp\n leave", level);
    check_asm("mov ebp, 0xb040\n mov dword [ebp-4], 0x11\n mov dword [ebp-8], 0x22\n"
              "o16 enter 0x20, %d\n mov eax, ebp\n mov ebx, esp\n o16 leave", level);
  }
  check_asm("mov ebp, 0xb020\n enter 0xffff, 0\n mov eax, esp\n leave\n enter 0, 31\n leave");
}
END_TEST

START_TEST(calls_and_returns) {
  check_asm("call f\n jmp done\n f: mov eax, [esp]\n ret\n done: nop");
  check_asm("push 3\n call f\n jmp done\n f: add eax, [esp+4]\n ret 4\n done: mov ebx, esp");
  check_asm("mov ecx, f\n call ecx\n mov edx, f\n mov [0x3000], edx\n call [0x3000]\n"
            "mov ebx, 0x3000\n call dword [ebx]\n jmp done\n f: inc esi\n ret\n done: nop");
  check_asm("mov ecx, 3\n mov eax, t\n jmp eax\n nop\n t: mov [0x3004], eax\n mov ebx, 0x3000\n"
            "dec ecx\n jz out\n jmp [ebx+4]\n out: nop");
  /* no o16 call/ret: with a 16-bit operand size EIP is truncated to 16 bits, and the
   * harness's code lies at 1 MiB */
}
END_TEST

START_TEST(conditional_jumps) {
  static const char *const cc[] = {"o", "no", "b", "ae", "e", "ne", "be", "a",
                                   "s", "ns", "p", "np", "l", "ge", "le", "g"};
  for (int c = 0; c < 16; c++)
    check_asm("mov ecx, 0\n j%s t1\n inc ecx\n t1: cmp eax, 0\n j%s near t2\n add ecx, 2\n"
              "t2: mov edx, 0x7fffffff\n add edx, 1\n j%s t3\n add ecx, 4\n t3: nop",
              cc[c], cc[c], cc[c]);
}
END_TEST

START_TEST(loops) {
  check_asm("mov ecx, 5\n xor eax, eax\n l: add eax, ecx\n loop l");
  check_asm("mov ecx, 0\n xor eax, eax\n l: inc eax\n cmp eax, 0x20\n je out\n loop l\n out: nop");
  check_asm("mov ecx, 8\n mov esi, 0x3000\n mov dword [esi], 0\n mov dword [esi+4], 1\n"
            "xor ebx, ebx\n l: cmp dword [esi+ebx*4], 0\n inc ebx\n loope l\n mov edx, ebx\n"
            "mov ecx, 8\n xor ebx, ebx\n l2: cmp ebx, 3\n inc ebx\n loopne l2");
  check_asm("mov ecx, 0\n jecxz z\n mov eax, 1\n z: mov ecx, 2\n jecxz z2\n mov ebx, 1\n z2: nop");
  check_asm("mov ecx, 0x10003\n xor eax, eax\n l: inc eax\n a16 loop l\n mov ecx, 0x10000\n"
            "a16 jcxz z\n mov ebx, 1\n z: nop");
}
END_TEST

static Suite *flow_suite(void) {
  Suite *s = suite_create("diff_flow");
  TCase *tc = tcase_create("flow");
  tcase_set_timeout(tc, 240);
  tcase_add_loop_test(tc, string_instructions, 0, 5);
  tcase_add_test(tc, string_instructions_with_odd_addressing);
  tcase_add_test(tc, push_and_pop);
  tcase_add_test(tc, enter_and_leave);
  tcase_add_test(tc, calls_and_returns);
  tcase_add_test(tc, conditional_jumps);
  tcase_add_test(tc, loops);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return directed_main(flow_suite()); }
