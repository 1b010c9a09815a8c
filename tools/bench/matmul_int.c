/* matmul_int.c - 32-bit integer matrix multiply, 400 x 400, n times (i-k-j order): multiply-add
 * streams over rows, the inner loop vectorizable where the target has SIMD. */
#include "bench.h"

#ifndef BENCH_N
#define BENCH_N 96
#endif

#define DIM 400

const char bench_name[] = "matmul_int";
static uint32_t A[DIM][DIM], B[DIM][DIM], C[DIM][DIM];

uint32_t bench(uint32_t n) {
  uint32_t s = 0x2545f491u, h = 2166136261u;
  for (uint32_t i = 0; i < DIM; i++)
    for (uint32_t j = 0; j < DIM; j++) {
      A[i][j] = bench_rand(&s) & 0xffff;
      B[i][j] = bench_rand(&s) & 0xffff;
    }
  for (uint32_t r = 0; r < n; r++) {
    for (uint32_t i = 0; i < DIM; i++)
      for (uint32_t j = 0; j < DIM; j++)
        C[i][j] = 0;
    for (uint32_t i = 0; i < DIM; i++)
      for (uint32_t k = 0; k < DIM; k++) {
        uint32_t aik = A[i][k];
        for (uint32_t j = 0; j < DIM; j++)
          C[i][j] += aik * B[k][j];
      }
    for (uint32_t i = 0; i < DIM; i++) {
      for (uint32_t j = 0; j < DIM; j++)
        h = bench_mix(h, C[i][j]);
      A[i][r % DIM] ^= C[i][i] & 0xff;
    }
  }
  return h;
}
