/* memstr.c - memory and string work: copies and fills with `rep movsb`/`rep stosb` (what
 * memcpy and memset come down to on modern x86), and byte-at-a-time C loops for strlen,
 * strchr and compares, over a 1 MiB buffer, n thousand rounds. */
#include "bench.h"

#ifndef BENCH_N
#define BENCH_N 4500
#endif

#define SIZE (1u << 20)

const char bench_name[] = "memstr";
static uint8_t src[SIZE], dst[SIZE];

static inline void copy(uint8_t *d, const uint8_t *s, uintptr_t len) {
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(len) : : "memory");
}

static inline void fill(uint8_t *d, uint8_t v, uintptr_t len) {
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(len) : "a"(v) : "memory");
}

static uint32_t str_len(const uint8_t *s) {
  const uint8_t *p = s;
  while (*p)
    p++;
  return (uint32_t)(p - s);
}

static const uint8_t *str_chr(const uint8_t *s, uint8_t c) {
  for (; *s; s++)
    if (*s == c)
      return s;
  return 0;
}

static int32_t str_cmp(const uint8_t *a, const uint8_t *b) {
  while (*a && *a == *b)
    a++, b++;
  return (int32_t)*a - (int32_t)*b;
}

uint32_t bench(uint32_t n) {
  uint32_t s = 0x1234567u, h = 2166136261u;
  /* Text-like source: runs of letters with a NUL every 16-271 bytes. */
  for (uint32_t i = 0; i < SIZE; i++) {
    uint32_t r = bench_rand(&s);
    src[i] = (r & 0xff) < 3 ? 0 : (uint8_t)('a' + (r >> 8) % 26);
  }
  src[SIZE - 1] = 0;
  fill(dst, 0, SIZE);
  dst[SIZE - 1] = 0;
  for (uint32_t round = 0; round < n * 1000; round++) {
    uint32_t r = bench_rand(&s);
    uint32_t len = 1 + r % 8192u;
    uint32_t from = bench_rand(&s) % (SIZE - len), to = bench_rand(&s) % (SIZE - 1 - len);
    copy(dst + to, src + from, len);
    if ((round & 15) == 0)
      fill(dst + (r >> 7) % (SIZE / 2), (uint8_t)round, 1 + (r >> 3) % 65536u);
    dst[SIZE - 1] = 0;
    const uint8_t *p = dst + to;
    uint32_t l = str_len(p);
    const uint8_t *q = str_chr(p, (uint8_t)('a' + r % 26));
    int32_t c = str_cmp(p, src + from);
    h = bench_mix(h, l);
    h = bench_mix(h, q ? (uint32_t)(q - p) : 0xffffffffu);
    h = bench_mix(h, (uint32_t)c);
  }
  for (uint32_t i = 0; i < SIZE; i += 4)
    h = bench_mix(h, (uint32_t)dst[i] | (uint32_t)dst[i + 1] << 8 | (uint32_t)dst[i + 2] << 16 |
                         (uint32_t)dst[i + 3] << 24);
  return h;
}
