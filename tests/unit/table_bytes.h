/* table_bytes.h - reading back the firmware tables bt386 writes (ACPI, MP, SMBIOS): little-endian
 * fields and the byte sum that each table's checksum makes zero. For the unit tests. */
#ifndef BT386_TEST_TABLE_BYTES_H
#define BT386_TEST_TABLE_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static inline uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static inline uint8_t sum(const uint8_t *p, size_t len) {
  uint8_t s = 0;
  for (size_t i = 0; i < len; i++)
    s = (uint8_t)(s + p[i]);
  return s;
}

#endif
