/* breakpoints.c - instruction breakpoints (SDM vol. 3, 17.2 and 17.3.1.1): DR0-DR3 with Ln
 * or Gn set in DR7 and R/Wn = 00 raise #DB before the instruction at that linear address runs
 * (a fault: the saved EIP is the instruction's), with DR6's Bn set. The handler returns with
 * RF set, so the instruction then runs once without breaking; RF is clear again after it, so
 * the next time it breaks again. A breakpoint at the start of a block and one in the middle,
 * two at once, a disabled one (L0 clear), and one moved to another instruction. */
#include "lib/guest.h"

static int hits;
static uint32_t hit_eip[16], hit_dr6[16];

extern char bp_func[], bp_middle[], bp_other[];

__asm__(".text\n"
        "bp_func:\n\t"
        "movl $1, %eax\n"
        "bp_middle:\n\t"
        "addl $2, %eax\n"
        "bp_other:\n\t"
        "addl $4, %eax\n\t"
        "ret\n");

static uint32_t call_func(void) {
  uint32_t v;
  __asm__ volatile("call bp_func" : "=a"(v) : : "memory", "cc");
  return v;
}

static void on_debug(struct trap_frame *f) {
  if (f->vector != 1 || hits == 16) {
    printf("unexpected vector %u at %08x\n", f->vector, f->eip);
    guest_exit(1);
  }
  uint32_t dr6 = dr6_take();
  hit_eip[hits] = f->eip;
  hit_dr6[hits] = dr6;
  hits++;
  f->eflags |= 0x10000; /* RF: run the instruction this time */
}

static const char *where(uint32_t eip) {
  return eip == (uint32_t)bp_func     ? "bp_func"
         : eip == (uint32_t)bp_middle ? "bp_middle"
         : eip == (uint32_t)bp_other  ? "bp_other"
                                      : "elsewhere";
}

static void report(const char *what, uint32_t result) {
  printf("%s: result %u, %d #DB:", what, result, hits);
  for (int i = 0; i < hits; i++)
    printf(" at %s dr6 %08x;", where(hit_eip[i]), hit_dr6[i]);
  printf("\n");
  hits = 0;
}

static void set_dr7(uint32_t v) { __asm__ volatile("mov %0, %%dr7" ::"r"(v)); }

int main(void) {
  traps_init();
  trap_hook = on_debug;
  printf("no breakpoints: result %u\n", call_func());

  __asm__ volatile("mov %0, %%dr0" ::"r"(bp_func));
  set_dr7(0x1); /* L0, R/W0 = 00 (execution), LEN0 = 00 */
  report("DR0 at the first instruction", call_func());
  report("again", call_func());

  __asm__ volatile("mov %0, %%dr0" ::"r"(bp_middle));
  report("DR0 moved to the middle", call_func());

  __asm__ volatile("mov %0, %%dr1" ::"r"(bp_other));
  set_dr7(0x1 | 0x8); /* L0 and G1 */
  report("DR0 and DR1", call_func());

  set_dr7(0x8); /* G1 only */
  report("DR1 only", call_func());

  set_dr7(0x1 | (1u << 16)); /* DR0 as a write breakpoint: not an instruction one */
  report("DR0 as a data breakpoint", call_func());

  set_dr7(0);
  report("all off", call_func());
  uint32_t dr7;
  __asm__ volatile("mov %%dr7, %0" : "=r"(dr7));
  printf("dr7 %08x\n", dr7);
  return 0;
}
