/* mandel.c - the Mandelbrot set on a 512 x 512 grid, up to 1000 iterations a point, n
 * frames zooming in: scalar double SSE2 in both builds (run.py builds this guest with
 * -msse2 -mfpmath=sse), long dependent multiply-add chains and a compare per iteration. */
#include "bench.h"

#ifndef BENCH_N
#define BENCH_N 4
#endif

#define W 512
#define H 512
#define MAX_ITER 1000

const char bench_name[] = "mandel";

uint32_t bench(uint32_t n) {
  uint32_t h = 2166136261u;
  double cx = -0.743643887037151, cy = 0.131825904205330, span = 3.0;
  for (uint32_t f = 0; f < n; f++) {
    uint32_t total = 0;
    for (int py = 0; py < H; py++) {
      uint32_t row = 0;
      double y0 = cy + span * ((double)py / H - 0.5);
      for (int px = 0; px < W; px++) {
        double x0 = cx + span * ((double)px / W - 0.5);
        double x = 0, y = 0, x2 = 0, y2 = 0;
        int it = 0;
        while (x2 + y2 <= 4.0 && it < MAX_ITER) {
          y = 2 * x * y + y0;
          x = x2 - y2 + x0;
          x2 = x * x;
          y2 = y * y;
          it++;
        }
        row = row * 31 + (uint32_t)it;
        total += (uint32_t)it;
      }
      h = bench_mix(h, row);
    }
    h = bench_mix(h, total);
    span *= 0.5;
  }
  return h;
}
