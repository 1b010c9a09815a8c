/* watch.c - the harness of the data-breakpoint test kernels (watchpoints, watch_operands):
 * a #DB hook that records each trap, DR0-DR3/DR7 writes, and WATCHED's report (guest.h). */
#include "lib/guest.h"

#define MAX_HITS 8
static int hits;
static uint32_t hit_eip[MAX_HITS], hit_dr6[MAX_HITS];

static void on_debug(struct trap_frame *f) {
  if (f->vector != 1 || hits == MAX_HITS) {
    printf("unexpected vector %u at %08x\n", f->vector, f->eip);
    guest_exit(1);
  }
  hit_dr6[hits] = dr6_take();
  hit_eip[hits] = f->eip;
  hits++;
  f->eflags &= ~0x100u; /* TF off once it has trapped */
}

void watch_init(void) {
  traps_init();
  trap_hook = on_debug;
}

void watch_report(const char *what, uint32_t after) {
  printf("%s: %d #DB:", what, hits);
  for (int i = 0; i < hits; i++) {
    int at = (int)(hit_eip[i] - after);
    printf(" dr6 %08x at %s%d;", hit_dr6[i], at < 0 ? "-" : "+", at < 0 ? -at : at);
  }
  printf("\n");
  hits = 0;
}

void set_dr(int n, uint32_t v) {
  switch (n) {
  case 0: __asm__ volatile("mov %0, %%dr0" ::"r"(v)); break;
  case 1: __asm__ volatile("mov %0, %%dr1" ::"r"(v)); break;
  case 2: __asm__ volatile("mov %0, %%dr2" ::"r"(v)); break;
  case 3: __asm__ volatile("mov %0, %%dr3" ::"r"(v)); break;
  default: __asm__ volatile("mov %0, %%dr7" ::"r"(v)); break;
  }
}

uint32_t dr7_for(int n, unsigned rw, unsigned len) {
  unsigned lenbits = len == 1 ? 0 : len == 2 ? 1 : 3;
  return (1u << (2 * n)) | ((rw | lenbits << 2) << (16 + 4 * n));
}
