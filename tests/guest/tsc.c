/* tsc.c - the time-stamp counter at CPL 0 (SDM vol. 2B, RDTSC; vol. 3B, 18.17): rdtsc counts
 * up from zero at reset, leaves every flag as it was, and follows a write of
 * IA32_TIME_STAMP_COUNTER (MSR 0x10). Times differ from run to run, so only relations are
 * printed. QEMU 7.2's TCG ignores TSC writes in rdtsc and reads the MSR back as what was last
 * written, so neither a large written value nor rdmsr is compared here.
 *
 * Where CPUID enumerates leaf 15H (TSC = crystal clock * EBX / EAX), the rate it states must
 * be the rate rdtsc counts at, measured here against the 8254's channel 2 as Linux's
 * pit_calibrate_tsc does (QEMU's CPU does not enumerate the leaf). And the MSRs a kernel
 * reads while identifying a family 6 CPU (platform ID, microcode revision, IA32_MISC_ENABLE
 * with fast strings on) answer without #GP. */
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

static void cpuid(uint32_t leaf, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* rdmsr, or false if it raised an exception. */
static int rdmsr_ok(uint32_t msr, uint64_t *v) {
  uint32_t lo = 0, hi = 0;
  int before = trap_count;
  __asm__ volatile("movl $1f, trap_resume\n\t"
                   "rdmsr\n"
                   "1:"
                   : "+a"(lo), "+d"(hi)
                   : "c"(msr)
                   : "memory");
  trap_resume = 0;
  *v = (uint64_t)hi << 32 | lo;
  return trap_count == before;
}

/* TSC cycles while the 8254's channel 2 counts `count` input clocks (mode 0, gate high). */
static uint64_t tsc_over_pit(uint16_t count) {
  outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
  outb(0x43, 0xb0);                       /* channel 2, low then high byte, mode 0 */
  outb(0x42, count & 0xff);
  outb(0x42, count >> 8);
  uint64_t t0 = rdtsc();
  while (!(inb(0x61) & 0x20)) /* OUT2 goes high at the terminal count */
    ;
  return rdtsc() - t0;
}

#define PIT_HZ 1193182u

static void tsc_rate_as_cpuid_says(void) {
  uint32_t r[4];
  cpuid(0, r);
  int agrees = 1;
  if (r[0] >= 0x15) {
    cpuid(0x15, r);
    if (r[0] && r[1] && r[2]) {
      uint64_t stated = (uint64_t)r[2] * r[1] / r[0], measured = 0;
      /* Within 0.5 %, in the best of 5 tries of 50 ms: a host that deschedules the VM between
       * the 8254's terminal count and rdtsc adds to one measurement. */
      agrees = 0;
      for (int i = 0; i < 5 && !agrees; i++) {
        measured = tsc_over_pit(PIT_HZ / 20) * 20;
        uint64_t diff = measured > stated ? measured - stated : stated - measured;
        agrees = diff * 200 < stated;
      }
      if (!agrees)
        printf("CPUID.15H says %llu Hz, rdtsc counts %llu Hz\n", (unsigned long long)stated,
               (unsigned long long)measured);
    }
  }
  printf("TSC rate as CPUID.15H states (where it does): %s\n", yes(agrees));
}

static void identification_msrs(void) {
  uint64_t v;
  uint32_t r[4];
  printf("rdmsr IA32_PLATFORM_ID: %s\n", yes(rdmsr_ok(0x17, &v)));
  __asm__ volatile("wrmsr" ::"c"(0x8b), "a"(0), "d"(0));
  cpuid(1, r);
  printf("rdmsr IA32_BIOS_SIGN_ID after cpuid 1: %s\n", yes(rdmsr_ok(0x8b, &v)));
  int ok = rdmsr_ok(0x1a0, &v);
  printf("rdmsr IA32_MISC_ENABLE: %s, fast strings %s\n", yes(ok), yes(ok && (v & 1)));
}

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
  traps_init();
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
  tsc_rate_as_cpuid_says();
  identification_msrs();
  printf("done\n");
  return 0;
}
