/* watchpoints.c - data breakpoints (SDM vol. 3, 17.2.4-17.2.5): DR0-DR3 with R/Wn 01 (writes)
 * or 11 (reads and writes) and LENn 1, 2 or 4 bytes raise a #DB trap after the instruction
 * that touched the range (the saved EIP is the next instruction's), with DR6's Bn set. Writes
 * and reads by mov, an ALU instruction, an unaligned access that only overlaps the range, a
 * push onto a watched stack slot, a call's return address, a disabled breakpoint.
 *
 * Built with -DSDM_ONLY it tests, against watchpoints_sdm.expected, what QEMU 7.2 does
 * otherwise: two breakpoints met by one access set both Bn bits (QEMU reports the first), and
 * single-step with a data breakpoint is one #DB with BS and Bn (QEMU takes a second, empty
 * one). */
#include "lib/guest.h"

static volatile uint32_t var_a, var_b[2], var_c;

void watch_callee(void);
__asm__(".text\nwatch_callee:\n\tret\n");

int main(void) {
  watch_init();

  set_dr(0, (uint32_t)&var_a);
  set_dr(7, dr7_for(0, 1, 4)); /* DR0: writes to var_a */
  WATCHED("write var_a", "movl $5, %[v]", , [v] "=m"(var_a));
  uint32_t r;
  WATCHED("read var_a (write breakpoint)", "movl %[v], %[r]", , [r] "=r"(r) : [v] "m"(var_a));
  WATCHED("add to var_a", "addl $1, %[v]", , [v] "+m"(var_a));
  WATCHED("write the byte after var_a", "movb $1, 4+%[v]", , [v] "+m"(var_a) :: "memory");
  WATCHED("write a word over var_a's last byte", "movw $1, 3+%[v]", , [v] "+m"(var_a) :: "memory");

  set_dr(1, (uint32_t)&var_b[0]);
  set_dr(7, dr7_for(1, 3, 2)); /* DR1: reads and writes of var_b's first two bytes */
  WATCHED("read var_b[0]", "movl %[v], %[r]", , [r] "=r"(r) : [v] "m"(var_b[0]));
  WATCHED("read var_b[0]+2 (outside the 2 bytes)", "movw 2+%[v], %w[r]", , [r] "=r"(r)
          : [v] "m"(var_b[0]));
  WATCHED("read var_b[1]", "movl %[v], %[r]", , [r] "=r"(r) : [v] "m"(var_b[1]));

#ifndef SDM_ONLY /* (the second hit of each is in the code after it: addresses vary) */
  /* A stack slot: the next push writes just below ESP. */
  uint32_t esp;
  __asm__ volatile("movl %%esp, %0" : "=r"(esp));
  set_dr(2, esp - 4);
  set_dr(7, dr7_for(2, 1, 4));
  WATCHED("push onto the watched slot", "pushl $7\n\taddl $4, %%esp", , "=m"(r));
  WATCHED("call: its return address", "call watch_callee", , "=m"(r) :: "eax", "ecx", "edx");
#endif

#ifdef SDM_ONLY
  /* Two at once: DR0 and DR3 on var_c, one instruction. */
  set_dr(0, (uint32_t)&var_c);
  set_dr(3, (uint32_t)&var_c);
  set_dr(7, dr7_for(0, 1, 4) | dr7_for(3, 3, 1));
  WATCHED("write var_c (DR0 and DR3)", "movl $9, %[v]", , [v] "=m"(var_c));
  /* With single-step: one #DB with BS and B0. */
  set_dr(0, (uint32_t)&var_a);
  set_dr(7, dr7_for(0, 1, 4));
  WATCHED("write var_a with TF", "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\tmovl $3, %[v]\n\tnop",
          , [v] "=m"(var_a) :: "cc");
#else
  set_dr(3, (uint32_t)&var_c);
  set_dr(7, dr7_for(3, 3, 1));
  WATCHED("write var_c (DR3, one byte, reads and writes)", "movl $9, %[v]", , [v] "=m"(var_c));
  set_dr(7, (dr7_for(3, 3, 1) & ~0xc0u) | (3u << 28)); /* L3 off, R/W3 still 11 */
  WATCHED("write var_c, DR3 disabled", "movl $9, %[v]", , [v] "=m"(var_c));
#endif
  set_dr(7, 0);
  WATCHED("write var_a, all off", "movl $4, %[v]", , [v] "=m"(var_a));
  printf("var_a %u var_c %u\n", var_a, var_c);
  return 0;
}
