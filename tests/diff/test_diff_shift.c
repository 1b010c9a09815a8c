/* test_diff_shift.c - shifts and rotates against Unicorn: shl/shr/sar/rol/ror/rcl/rcr in 8-,
 * 16- and 32-bit forms with every count from 0 to past 31 (by CL and by immediate, on
 * registers and memory), and shld/shrd. The harness masks what the SDM leaves undefined (OF
 * past count 1, CF of SHL/SHR past the operand size, SHLD/SHRD past the operand size). */
#include "tests/diff/directed.h"

static const char *const shifts[] = {"shl", "shr", "sar", "rol", "ror", "rcl", "rcr"};
static const int counts[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 15, 16, 17,
                             18, 23, 24, 25, 30, 31, 32, 33, 34, 40, 63, 64, 65, 127, 255};
#define N_COUNTS (int)(sizeof(counts) / sizeof(counts[0]))

START_TEST(shifts_and_rotates_by_cl) {
  const char *op = shifts[_i];
  for (int c = 0; c < N_COUNTS; c++) {
    check_asm("mov eax, 0x80000001\n mov ebx, 0x7fff8001\n mov edx, 0xc3a55a3c\n mov cl, %d\n"
              "%s eax, cl\n %s ebx, cl\n %s edx, cl", counts[c], op, op, op);
    check_asm("mov eax, 0x80000001\n mov ebx, 0x7fff8001\n mov edx, 0xc3a55a3c\n mov cl, %d\n"
              "%s ax, cl\n %s bx, cl\n %s dx, cl", counts[c], op, op, op);
    check_asm("mov eax, 0x80000081\n mov ebx, 0x7fff8001\n mov edx, 0xc3a55a3c\n mov cl, %d\n"
              "%s al, cl\n %s ah, cl\n %s bh, cl\n %s dl, cl", counts[c], op, op, op, op);
  }
}
END_TEST

START_TEST(shifts_and_rotates_by_immediate) {
  const char *op = shifts[_i];
  for (int c = 0; c < N_COUNTS; c++) {
    int n = counts[c];
    check_asm("mov eax, 0x80000001\n mov edx, 0xc3a55a3c\n %s eax, %d\n %s edx, %d", op, n, op, n);
    check_asm("mov eax, 0x80008001\n mov edx, 0xc3a55a3c\n %s ax, %d\n %s dx, %d", op, n, op, n);
    check_asm("mov eax, 0x80008081\n mov edx, 0xc3a55a3c\n %s al, %d\n %s dh, %d", op, n, op, n);
  }
}
END_TEST

START_TEST(shifts_and_rotates_of_memory) {
  const char *op = shifts[_i];
  for (int c = 0; c < N_COUNTS; c += 2)
    check_asm("mov ebx, 0x3000\n mov dword [ebx], 0x80000001\n mov dword [ebx+4], 0x8001c3a5\n"
              "mov cl, %d\n %s dword [ebx], cl\n %s word [ebx+4], %d\n %s byte [ebx+6], cl\n"
              "%s byte [ebx+7], 1",
              counts[c], op, op, counts[c], op, op);
}
END_TEST

/* C1 /4 ib with a count of 1: the same as D1 /4, but a distinct encoding. */
START_TEST(count_one_in_its_immediate_form) {
  check_asm("mov eax, 0x40000000\n db 0xc1, 0xe0, 0x01\n mov ebx, eax\n db 0xc1, 0xe0, 0x01");
  check_asm("mov eax, 0x80000001\n db 0xc1, 0xd0, 0x01\n db 0xc1, 0xd8, 0x01\n db 0xc0, 0xc8, 1");
}
END_TEST

START_TEST(double_precision_shifts) {
  static const char *const ops[] = {"shld", "shrd"};
  const char *op = ops[_i];
  for (int c = 0; c < N_COUNTS; c++) {
    int n = counts[c];
    check_asm("mov eax, 0x80000001\n mov ebx, 0x7fff8001\n mov edx, 0xc3a55a3c\n mov cl, %d\n"
              "%s eax, edx, cl\n %s ebx, eax, %d",
              n, op, op, n);
    if ((n & 31) <= 16)
      check_asm("mov eax, 0x80000001\n mov ebx, 0x7fff8001\n mov edx, 0xc3a55a3c\n mov cl, %d\n"
                "mov esi, 0x3000\n mov [esi], ebx\n %s ax, dx, cl\n %s bx, ax, %d\n"
                "%s [esi+2], dx, cl",
                n, op, op, n, op);
    check_asm("mov esi, 0x3000\n mov dword [esi], 0x12345678\n mov edx, 0x89abcdef\n"
              "mov cl, %d\n %s [esi], edx, cl", n, op);
  }
}
END_TEST

static Suite *shift_suite(void) {
  Suite *s = suite_create("diff_shift");
  TCase *tc = tcase_create("shift");
  tcase_set_timeout(tc, 240);
  tcase_add_loop_test(tc, shifts_and_rotates_by_cl, 0, 7);
  tcase_add_loop_test(tc, shifts_and_rotates_by_immediate, 0, 7);
  tcase_add_loop_test(tc, shifts_and_rotates_of_memory, 0, 7);
  tcase_add_test(tc, count_one_in_its_immediate_form);
  tcase_add_loop_test(tc, double_precision_shifts, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return directed_main(shift_suite()); }
