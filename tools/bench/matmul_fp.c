/* matmul_fp.c - double-precision matrix multiply, 300 x 300, n times (i-j-k order, a dot
 * product per element): x87 in the 32-bit guest, SSE2 natively. */
#include "bench.h"

#ifndef BENCH_N
#define BENCH_N 150
#endif

#define DIM 300

const char bench_name[] = "matmul_fp";
static double A[DIM][DIM], B[DIM][DIM], C[DIM][DIM];

uint32_t bench(uint32_t n) {
  uint32_t s = 0x7f4a7c15u, h = 2166136261u;
  for (uint32_t i = 0; i < DIM; i++)
    for (uint32_t j = 0; j < DIM; j++) {
      A[i][j] = (double)(int32_t)(bench_rand(&s) % 2001u - 1000) / 1024.0;
      B[i][j] = (double)(int32_t)(bench_rand(&s) % 2001u - 1000) / 3.0;
    }
  for (uint32_t r = 0; r < n; r++) {
    for (uint32_t i = 0; i < DIM; i++)
      for (uint32_t j = 0; j < DIM; j++) {
        double sum = 0;
        for (uint32_t k = 0; k < DIM; k++)
          sum += A[i][k] * B[k][j];
        C[i][j] = sum;
      }
    for (uint32_t i = 0; i < DIM; i++) {
      for (uint32_t j = 0; j < DIM; j += 7)
        h = bench_mix_double(h, C[i][j]);
      A[i][r % DIM] = C[i][(i + r) % DIM] * (1.0 / 65536.0);
    }
  }
  return h;
}
