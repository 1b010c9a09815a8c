/* crc32.c - table-driven CRC-32 (IEEE 802.3, reflected) over a 1 MiB buffer, n times:
 * a dependent chain of byte loads, table lookups, shifts and xors. */
#include "bench.h"

#ifndef BENCH_N
#define BENCH_N 400
#endif

#define SIZE (1u << 20)

const char bench_name[] = "crc32";
static uint8_t buf[SIZE];
static uint32_t table[256];

static void make_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
}

static uint32_t crc32(uint32_t crc, const uint8_t *p, uint32_t len) {
  crc = ~crc;
  for (uint32_t i = 0; i < len; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t bench(uint32_t n) {
  make_table();
  uint32_t s = 0x12345678u;
  for (uint32_t i = 0; i < SIZE; i++)
    buf[i] = (uint8_t)bench_rand(&s);
  uint32_t h = crc32(0, (const uint8_t *)"123456789", 9); /* 0xcbf43926 */
  for (uint32_t r = 0; r < n; r++) {
    uint32_t c = crc32(r, buf, SIZE);
    buf[c & (SIZE - 1)] ^= (uint8_t)c;
    h = bench_mix(h, c);
  }
  return h;
}
