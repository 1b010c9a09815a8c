/* guest_main.c - the Multiboot shim: run one workload under bt386 or QEMU and report its
 * checksum and the TSC cycles it took on the debug console (port 0xE9).
 *
 * Output, one line: "bench NAME n N checksum XXXXXXXX tsc CYCLES". */
#include "lib/guest.h"
#include "bench.h"

#ifndef BENCH_N
#error "build with -DBENCH_N=size (run.py does)"
#endif

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}

/* What an OS does before user code may use the FPU and SSE: CR0.MP on, CR0.EM off,
 * CR4.OSFXSR and CR4.OSXMMEXCPT on. Then the x87 rounds to double precision (control word
 * 0x27f, as on FreeBSD) so that x87 arithmetic gives the bits x86-64's SSE2 gives. */
static void fpu_init(void) {
  uint32_t cr0, cr4;
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  cr0 = (cr0 & ~4u) | 2u;
  __asm__ volatile("mov %0, %%cr0" ::"r"(cr0));
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  cr4 |= 0x600u;
  __asm__ volatile("mov %0, %%cr4" ::"r"(cr4));
  uint16_t cw = 0x27f;
  __asm__ volatile("fninit; fldcw %0" ::"m"(cw));
}

int main(void) {
  fpu_init();
  uint64_t t0 = rdtsc();
  uint32_t sum = bench(BENCH_N);
  uint64_t t1 = rdtsc();
  printf("bench %s n %u checksum %08x tsc %llu\n", bench_name, (unsigned)BENCH_N, sum,
         (unsigned long long)(t1 - t0));
  return 0;
}
