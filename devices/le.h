/* le.h - little-endian stores into guest memory images (firmware tables, boot structures),
 * whatever the host's byte order and alignment, and the byte checksum firmware tables carry. */
#ifndef BT386_LE_H
#define BT386_LE_H

#include <stddef.h>
#include <stdint.h>

static inline void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)v);
  put16(p + 2, (uint16_t)(v >> 16));
}

static inline void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

/* Set p[at] so that the len bytes at p sum to zero (ACPI, MP and SMBIOS tables). */
static inline void put_checksum(uint8_t *p, size_t len, size_t at) {
  uint8_t sum = 0;
  p[at] = 0;
  for (size_t i = 0; i < len; i++)
    sum = (uint8_t)(sum + p[i]);
  p[at] = (uint8_t)-sum;
}

#endif
