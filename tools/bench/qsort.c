/* qsort.c - a recursive quicksort (median of three, insertion sort below 16 elements) of
 * 1 Mi random 32-bit keys, n times: data-dependent branches, calls and returns. */
#include "bench.h"

#ifndef BENCH_N
#define BENCH_N 14
#endif

#define COUNT (1u << 20)

const char bench_name[] = "qsort";
static uint32_t a[COUNT];

static void insertion(uint32_t *v, int32_t n) {
  for (int32_t i = 1; i < n; i++) {
    uint32_t x = v[i];
    int32_t j = i - 1;
    while (j >= 0 && v[j] > x) {
      v[j + 1] = v[j];
      j--;
    }
    v[j + 1] = x;
  }
}

static inline void swap(uint32_t *v, int32_t i, int32_t j) {
  uint32_t t = v[i];
  v[i] = v[j];
  v[j] = t;
}

static void quicksort(uint32_t *v, int32_t n) {
  while (n > 16) {
    int32_t m = n / 2;
    if (v[m] < v[0])
      swap(v, m, 0);
    if (v[n - 1] < v[0])
      swap(v, n - 1, 0);
    if (v[n - 1] < v[m])
      swap(v, n - 1, m);
    uint32_t pivot = v[m];
    int32_t i = -1, j = n;
    for (;;) {
      do
        i++;
      while (v[i] < pivot);
      do
        j--;
      while (v[j] > pivot);
      if (i >= j)
        break;
      swap(v, i, j);
    }
    /* Recurse into the smaller part, loop on the larger. */
    if (j + 1 < n - j - 1) {
      quicksort(v, j + 1);
      v += j + 1;
      n -= j + 1;
    } else {
      quicksort(v + j + 1, n - j - 1);
      n = j + 1;
    }
  }
  insertion(v, n);
}

uint32_t bench(uint32_t n) {
  uint32_t s = 0xdeadbeefu, h = 2166136261u;
  for (uint32_t r = 0; r < n; r++) {
    uint32_t mask = r & 1 ? 0xffffffffu : 0xfffffu; /* odd rounds: many duplicates */
    for (uint32_t i = 0; i < COUNT; i++)
      a[i] = bench_rand(&s) & mask;
    quicksort(a, COUNT);
    uint32_t unsorted = 0;
    for (uint32_t i = 1; i < COUNT; i++)
      unsorted += a[i - 1] > a[i];
    h = bench_mix(h, unsorted);
    for (uint32_t i = 0; i < COUNT; i += 997)
      h = bench_mix(h, a[i]);
  }
  return h;
}
