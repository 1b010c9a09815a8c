/* debug_edges.c - debug-exception corner cases (SDM vol. 3, 17.3.1 and 6.8.3): pushf in the
 * instruction a #DB handler returned to with RF set does not show RF; breakpoints armed and
 * disarmed from the same mov dr7 site take effect at once each time; and a single step over
 * mov ss takes no #DB between it and the next instruction (one trap after both). */
#include "lib/guest.h"
static int hits;
static uint32_t hit_eip[16];
extern char p_push[], p_func[], p_after_ss[];
__asm__(".text\n"
        "p_push:\n\t"
        "pushfl\n\t"
        "popl %eax\n\t"
        "ret\n"
        "p_func:\n\t"
        "movl $1, %eax\n\t"
        "ret\n");
static int steps;
static uint32_t step_eip[16];
static void on_debug(struct trap_frame *f) {
  if (f->vector != 1) { printf("vec %u\n", f->vector); guest_exit(1); }
  uint32_t dr6 = dr6_take();
  if (dr6 & 0x4000) {
    if (steps < 16) step_eip[steps] = f->eip;
    steps++;
    return;
  }
  if (hits < 16) hit_eip[hits] = f->eip;
  hits++;
  f->eflags |= 0x10000;
}
__attribute__((noinline)) static void set_dr7(uint32_t v) { __asm__ volatile("mov %0, %%dr7" ::"r"(v)); }
__attribute__((noinline)) static void set_dr0(uint32_t v) { __asm__ volatile("mov %0, %%dr0" ::"r"(v)); }
static uint32_t call(char *f) { uint32_t v; __asm__ volatile("call *%1" : "=a"(v) : "r"(f) : "memory", "cc"); return v; }
int main(void) {
  traps_init();
  trap_hook = on_debug;
  /* pushf under RF */
  set_dr0((uint32_t)p_push);
  set_dr7(1);
  uint32_t fl = call(p_push);
  printf("pushf after bp: hits %d eflags bit16 %u\n", hits, (fl >> 16) & 1);
  hits = 0;
  set_dr7(0);
  /* second time through the same mov dr7 site: stale translations? */
  set_dr0((uint32_t)p_func);
  int per[6];
  for (int i = 0; i < 6; i++) {
    int before = hits;
    set_dr7(i & 1);
    call(p_func);
    per[i] = hits - before;
  }
  printf("re-arming from the same site, #DB per round (expect 0 1 0 1 0 1):");
  for (int i = 0; i < 6; i++) printf(" %d", per[i]);
  printf("\n");
  set_dr7(0);
  hits = 0;
  /* single-step across mov ss */
  uint32_t ss;
  __asm__ volatile("mov %%ss, %0" : "=r"(ss));
  __asm__ volatile("pushfl\n\t"
                   "orl $0x100, (%%esp)\n\t"
                   "popfl\n\t"
                   "mov %0, %%ss\n\t"
                   "p_after_ss: nop\n\t"
                   "nop\n\t"
                   "pushfl\n\t"
                   "andl $~0x100, (%%esp)\n\t"
                   "popfl\n\t" ::"r"(ss) : "memory", "cc");
  printf("steps %d:", steps);
  for (int i = 0; i < steps && i < 16; i++) printf(" %s", step_eip[i] == (uint32_t)p_after_ss ? "after_ss" : "x");
  printf("\n");
  return 0;
}
