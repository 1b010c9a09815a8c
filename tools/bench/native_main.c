/* native_main.c - the x86-64 Linux shim: run one workload natively and report its checksum,
 * the TSC cycles and the nanoseconds it took (the pair gives run.py the TSC frequency).
 *
 * Output, one line: "bench NAME n N checksum XXXXXXXX tsc CYCLES ns NANOSECONDS". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

#include "bench.h"

#ifndef BENCH_N
#error "build with -DBENCH_N=size (run.py does)"
#endif

static unsigned long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

int main(void) {
  unsigned long long ns0 = now_ns();
  unsigned long long t0 = __rdtsc();
  uint32_t sum = bench(BENCH_N);
  unsigned long long t1 = __rdtsc();
  unsigned long long ns1 = now_ns();
  printf("bench %s n %u checksum %08x tsc %llu ns %llu\n", bench_name, (unsigned)BENCH_N, sum,
         t1 - t0, ns1 - ns0);
  return 0;
}
