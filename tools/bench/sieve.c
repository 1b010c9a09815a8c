/* sieve.c - the sieve of Eratosthenes over 8 Mi bytes, n times: byte stores with strides,
 * a byte scan, tight loops. */
#include "bench.h"

#ifndef BENCH_N
#define BENCH_N 22
#endif

#define LIMIT (1u << 23)

const char bench_name[] = "sieve";
static uint8_t composite[LIMIT];

uint32_t bench(uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t r = 0; r < n; r++) {
    uint32_t limit = LIMIT - (r * 977u) % 4096u;
    for (uint32_t i = 0; i < limit; i++)
      composite[i] = 0;
    uint32_t count = 0, sum = 0;
    for (uint32_t i = 2; i < limit; i++) {
      if (composite[i])
        continue;
      count++;
      sum += i;
      if (i < 4096u) /* i * i < limit */
        for (uint32_t j = i * i; j < limit; j += i)
          composite[j] = 1;
    }
    h = bench_mix(bench_mix(h, count), sum);
  }
  return h;
}
