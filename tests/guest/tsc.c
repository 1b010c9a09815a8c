/* tsc.c - the time-stamp counter at CPL 0 (SDM vol. 2B, RDTSC; vol. 3B, 18.17): rdtsc counts
 * up from zero at reset, leaves every flag as it was, and follows a write of
 * IA32_TIME_STAMP_COUNTER (MSR 0x10). Times differ from run to run, so only relations are
 * printed. QEMU 7.2's TCG ignores TSC writes in rdtsc and reads the MSR back as what was last
 * written, so neither a large written value nor rdmsr is compared here. */
#include "lib/guest.h"

#define MSR_TSC 0x10

static uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}

static void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static const char *yes(int cond) { return cond ? "yes" : "no"; }

/* Flags set by an add, then rdtsc, then pushf: rdtsc must change none of them. */
static void flags_kept(uint32_t a, uint32_t b) {
  uint32_t before, after, lo, hi;
  __asm__ volatile("add %[b], %[a]\n\t"
                   "pushf\n\t"
                   "pop %[before]\n\t"
                   "rdtsc\n\t"
                   "pushf\n\t"
                   "pop %[after]"
                   : [a] "+r"(a), [before] "=&r"(before), [after] "=&r"(after), "=a"(lo),
                     "=d"(hi)
                   : [b] "r"(b)
                   : "cc");
  printf("add %08x: flags %s, after rdtsc %s\n", b, flags_str(before, FL_ARITH),
         flags_str(after, FL_ARITH));
}

int main(void) {
  uint64_t t0 = rdtsc(), t1 = rdtsc();
  for (volatile int i = 0; i < 1000; i++)
    ;
  uint64_t t2 = rdtsc();
  printf("rdtsc counts up: %s %s\n", yes(t1 >= t0), yes(t2 > t1));
  /* Zero at reset: 2^40 cycles are minutes at any clock this runs at. */
  printf("rdtsc since reset below 2^40: %s\n", yes(t0 < (1ull << 40)));
  flags_kept(0x80000000u, 0x80000000u); /* CF, ZF, OF, PF */
  flags_kept(0x7fffffffu, 1);           /* SF, OF, AF, PF */
  flags_kept(1, 2);                     /* none but PF */

  wrmsr(MSR_TSC, 5);
  uint64_t r = rdtsc();
  printf("after writing 5 to MSR 0x10: below 2^32 %s\n", yes(r >= 5 && r < (1ull << 32)));
  printf("done\n");
  return 0;
}
