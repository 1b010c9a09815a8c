/* singlestep.c - EFLAGS.TF (SDM vol. 3, 17.3.1.4): once TF is set, a #DB trap follows every
 * instruction, with DR6.BS set and the saved EIP at the next instruction (a branch's target).
 * The popf that sets TF is not trapped, the one that clears it is. An instruction that raises
 * an exception is not trapped (its handler runs; TF comes back with its IRET and the next
 * instruction is). Also DR6 and DR7 as a P6 has them at reset and after writes. */
#include "lib/guest.h"

#define MAX_STEPS 64
static uint32_t step_eip[MAX_STEPS];
static uint32_t step_dr6[MAX_STEPS];
static int steps;

extern char ss_start[], ss_nop[], ss_jmp[], ss_target[], ss_call[], ss_sub[], ss_ret_to[],
    ss_ud2[], ss_after_ud2[], ss_clear[], ss_end[];

static void on_trap(struct trap_frame *f) {
  if (f->vector == 6) { /* the ud2: skip it; TF stays set in the frame */
    f->eip += 2;
    return;
  }
  if (f->vector != 1 || steps == MAX_STEPS) {
    printf("unexpected vector %u at %08x\n", f->vector, f->eip);
    guest_exit(1);
  }
  uint32_t dr6 = dr6_take();
  step_eip[steps] = f->eip;
  step_dr6[steps] = dr6;
  steps++;
}

static const char *name_of(uint32_t eip) {
  static const struct {
    const char *name;
    char *at;
  } labels[] = {{"nop", ss_nop},     {"jmp", ss_jmp},         {"target", ss_target},
                {"call", ss_call},   {"sub", ss_sub},         {"ret_to", ss_ret_to},
                {"ud2", ss_ud2},     {"after_ud2", ss_after_ud2}, {"clear", ss_clear},
                {"end", ss_end}};
  for (unsigned i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
    if (eip == (uint32_t)labels[i].at)
      return labels[i].name;
  return NULL;
}

int main(void) {
  traps_init();
  uint32_t dr6, dr7;
  __asm__ volatile("mov %%dr6, %0; mov %%dr7, %1" : "=r"(dr6), "=r"(dr7));
  printf("at reset: dr6 %08x dr7 %08x\n", dr6, dr7);
  __asm__ volatile("mov %2, %%dr6; mov %2, %%dr7; mov %%dr6, %0; mov %%dr7, %1"
                   : "=r"(dr6), "=r"(dr7)
                   : "r"(0));
  printf("after writing 0: dr6 %08x dr7 %08x\n", dr6, dr7);

  trap_hook = on_trap;
  __asm__ volatile("ss_start: pushf\n\t"
                   "orl $0x100, (%%esp)\n\t"
                   "popf\n"                       /* sets TF: not trapped itself */
                   "ss_nop: nop\n\t"
                   "movl $3, %%ecx\n"
                   "1: loop 1b\n"                 /* three traps, at 1b, 1b, then ss_jmp */
                   "ss_jmp: jmp ss_target\n\t"
                   "ud2\n"                        /* jumped over */
                   "ss_target: nop\n"
                   "ss_call: call ss_sub\n"
                   "ss_ret_to: nop\n"
                   "ss_ud2: ud2\n"                /* #UD, no #DB: the handler skips it */
                   "ss_after_ud2: addl $1, %%eax\n\t"
                   "jmp 2f\n"
                   "ss_sub: ret\n"
                   "2: pushf\n\t"
                   "andl $~0x100, (%%esp)\n"
                   "ss_clear: popf\n"             /* clears TF: trapped */
                   "ss_end: nop"
                   ::: "eax", "ecx", "memory", "cc");
  trap_hook = 0;
  printf("%d single-step traps\n", steps);
  for (int i = 0; i < steps; i++) {
    const char *name = name_of(step_eip[i]);
    if (name)
      printf("  #DB at %s", name);
    else
      printf("  #DB at start+%x", step_eip[i] - (uint32_t)ss_start);
    printf(", dr6 %08x\n", step_dr6[i]);
  }
  return 0;
}
