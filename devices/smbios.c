/* smbios.c - the SMBIOS tables (see smbios.h), laid out as DSP0134 2.8 says: section 5.2.1
 * for the 31-byte entry point, 6.1 for a structure (formatted area, then its strings, each
 * NUL-terminated, the set ended by a second NUL), 7.1 and 7.2 for types 0 and 1. */
#include "devices/smbios.h"

#include <errno.h>
#include <string.h>

#include "devices/le.h"

#define ENTRY_LEN 0x1f
#define TYPE0_LEN 0x18
#define TYPE1_LEN 0x1b

/* Append the strings (NULL-terminated list) after a formatted area of len bytes at p, and
 * the NUL that ends the set (two NULs when there are none); returns the structure's whole
 * length. */
static size_t with_strings(uint8_t *p, size_t len, const char *const *strings) {
  size_t n = len;
  if (!*strings)
    p[n++] = 0;
  for (; *strings; strings++) {
    size_t l = strlen(*strings) + 1;
    memcpy(p + n, *strings, l);
    n += l;
  }
  p[n++] = 0;
  return n;
}

/* Type 0: who made the firmware and which version it is. */
static size_t bios_information(uint8_t *p, uint16_t handle) {
  static const char *const strings[] = {"bt386", "bt386 0.1", "12/03/2026", NULL};
  memset(p, 0, TYPE0_LEN);
  p[0] = 0;
  p[1] = TYPE0_LEN;
  put16(p + 2, handle);
  p[4] = 1;                 /* vendor: string 1 */
  p[5] = 2;                 /* version: string 2 */
  put16(p + 6, 0xe000);     /* segment where the BIOS area starts */
  p[8] = 3;                 /* release date: string 3 */
  p[9] = 1;                 /* ROM size: (1 + 1) * 64 KiB, 0xE0000-0xFFFFF */
  put64(p + 10, 1u << 3);   /* characteristics: not supported */
  p[18] = 0;                /* extension byte 1 */
  p[19] = 1u << 4;          /* extension byte 2: the table describes a virtual machine */
  p[20] = 0;                /* system BIOS release 0.1 */
  p[21] = 1;
  p[22] = p[23] = 0xff;     /* no embedded controller */
  return with_strings(p, TYPE0_LEN, strings);
}

/* Type 1: the machine. No serial number or UUID to give (zero: not present). */
static size_t system_information(uint8_t *p, uint16_t handle) {
  static const char *const strings[] = {"bt386", "bt386 PC", "i440FX + PIIX3", NULL};
  memset(p, 0, TYPE1_LEN);
  p[0] = 1;
  p[1] = TYPE1_LEN;
  put16(p + 2, handle);
  p[4] = 1; /* manufacturer */
  p[5] = 2; /* product name */
  p[6] = 3; /* version */
  p[7] = 0; /* serial number: none */
  p[24] = 6; /* wake-up type: power switch */
  return with_strings(p, TYPE1_LEN, strings);
}

/* Type 127: the end of the table. */
static size_t end_of_table(uint8_t *p, uint16_t handle) {
  static const char *const strings[] = {NULL};
  p[0] = 127;
  p[1] = 4;
  put16(p + 2, handle);
  return with_strings(p, 4, strings);
}

int smbios_build(uint8_t *buf, size_t size, uint32_t phys) {
  uint8_t table[SMBIOS_SIZE];
  size_t n = 0, largest = 0, len;
  uint16_t handle = 0;
  memset(table, 0, sizeof(table));
  len = bios_information(table + n, handle++);
  largest = len > largest ? len : largest;
  n += len;
  len = system_information(table + n, handle++);
  largest = len > largest ? len : largest;
  n += len;
  len = end_of_table(table + n, handle++);
  largest = len > largest ? len : largest;
  n += len;
  size_t table_at = (ENTRY_LEN + 15) & ~(size_t)15;
  if (!buf || table_at + n > size)
    return -ENOSPC;

  memset(buf, 0, table_at);
  memcpy(buf + table_at, table, n);
  uint8_t *e = buf;
  memcpy(e, "_SM_", 4);
  e[5] = ENTRY_LEN;
  e[6] = 2; /* SMBIOS 2.8 */
  e[7] = 8;
  put16(e + 8, (uint16_t)largest);
  e[10] = 0; /* entry point revision: 2.1 style, formatted area all zero */
  memcpy(e + 16, "_DMI_", 5);
  put16(e + 22, (uint16_t)n);
  put32(e + 24, phys + (uint32_t)table_at);
  put16(e + 28, handle);
  e[30] = 0x28; /* BCD revision 2.8 */
  put_checksum(e + 16, ENTRY_LEN - 16, 5); /* the intermediate checksum, then the whole */
  put_checksum(e, ENTRY_LEN, 4);
  return (int)(table_at + n);
}
