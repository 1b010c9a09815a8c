/* bench.h - the contract between a benchmark workload and its platform shims.
 *
 * Each workload (sieve.c, crc32.c, ...) is one freestanding C file that defines
 *
 *   const char bench_name[];          its name in the results table
 *   uint32_t bench(uint32_t n);       the workload at size n; returns a checksum
 *   BENCH_N                           its default size (about 1 s natively), -DBENCH_N=... to
 *                                     change it
 *
 * and uses nothing from any C library: the same file is built as a 32-bit Multiboot kernel with
 * guest_main.c (gcc -m32, tests/guest/lib) and as an x86-64 Linux program with native_main.c.
 * So: fixed-width integer types only (long and size_t differ), no memcpy/memset calls, no libm
 * (__builtin_sqrt with -fno-math-errno is one instruction on both). Floating point gives the
 * same bits on both as long as the guest's x87 rounds to double (guest_main.c sets it so). */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>

extern const char bench_name[];
uint32_t bench(uint32_t n);

/* A small, fast pseudo-random generator shared by the workloads (xorshift32). */
static inline uint32_t bench_rand(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* Fold a value into a checksum (FNV-1a on 32-bit words). */
static inline uint32_t bench_mix(uint32_t h, uint32_t v) { return (h ^ v) * 16777619u; }

static inline uint32_t bench_mix_double(uint32_t h, double d) {
  union {
    double d;
    uint32_t w[2];
  } u = {d};
  return bench_mix(bench_mix(h, u.w[0]), u.w[1]);
}

#endif
