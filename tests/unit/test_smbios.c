/* test_smbios.c - the SMBIOS tables found and read back as Linux's dmi_scan.c does (and as
 * DSP0134 2.8 lays them out): the "_SM_" entry point on a 16-byte boundary in 0xF0000-0xFFFFF
 * with both checksums, then each structure by its formatted length and its string set, types
 * 0, 1 and 127 in order, the strings the formatted areas name. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "devices/mptable.h"
#include "devices/smbios.h"
#include "tests/unit/table_bytes.h"

#define PHYS 0xf0000u
#define AREA 0x10000u

static uint8_t mem[AREA];

/* dmi_present(): "_SM_", its length byte, checksum, and the "_DMI_" part's own checksum. */
static const uint8_t *find_entry(void) {
  for (size_t off = 0; off + 32 <= AREA; off += 16) {
    const uint8_t *p = mem + off;
    if (memcmp(p, "_SM_", 4) == 0 && p[5] >= 0x1f && sum(p, p[5]) == 0 &&
        memcmp(p + 16, "_DMI_", 5) == 0 && sum(p + 16, 15) == 0)
      return p;
  }
  return NULL;
}

/* String n (1-based) of the structure at s, as dmi_string_nosave() finds it. */
static const char *string_of(const uint8_t *s, int n) {
  const char *p = (const char *)s + s[1];
  while (--n > 0)
    p += strlen(p) + 1;
  return p;
}

START_TEST(entry_point_and_structures_parse) {
  memset(mem, 0xcc, sizeof(mem));
  ck_assert_int_gt(smbios_build(mem + (SMBIOS_ADDR - PHYS), SMBIOS_SIZE, SMBIOS_ADDR), 0);
  const uint8_t *e = find_entry();
  ck_assert_ptr_nonnull(e);
  ck_assert_uint_eq((uint32_t)(e - mem) + PHYS, SMBIOS_ADDR);
  ck_assert_uint_eq(e[6], 2);
  ck_assert_uint_eq(e[7], 8);
  ck_assert_uint_eq(e[30], 0x28);
  uint16_t len = get16(e + 22), count = get16(e + 28), largest = get16(e + 8);
  uint32_t at = get32(e + 24);
  ck_assert_uint_ge(at, SMBIOS_ADDR + 0x1f);
  ck_assert_uint_le(at - PHYS + len, SMBIOS_ADDR - PHYS + SMBIOS_SIZE);
  ck_assert_uint_eq(count, 3);

  /* dmi_table(): walk the structures by formatted length and double-NUL string sets. */
  const uint8_t *s = mem + (at - PHYS), *end = s + len;
  const uint8_t *types[3];
  for (int i = 0; i < count; i++) {
    ck_assert(s + 4 < end);
    types[i] = s;
    ck_assert_uint_eq(get16(s + 2), i); /* handles in order */
    const uint8_t *q = s + s[1];
    while (q + 1 < end && (q[0] || q[1]))
      q++;
    ck_assert(q + 1 < end);
    ck_assert_uint_le((size_t)(q + 2 - s), largest);
    s = q + 2;
  }
  ck_assert_ptr_eq(s, end); /* the table is exactly its stated length */

  ck_assert_uint_eq(types[0][0], 0);
  ck_assert_uint_eq(types[0][1], 0x18);
  ck_assert_str_eq(string_of(types[0], types[0][4]), "bt386"); /* vendor */
  ck_assert_str_eq(string_of(types[0], types[0][8]), "12/03/2026"); /* release date */
  ck_assert_uint_ne(types[0][19] & 1u << 4, 0); /* a virtual machine */
  ck_assert_uint_eq(types[1][0], 1);
  ck_assert_str_eq(string_of(types[1], types[1][4]), "bt386"); /* manufacturer */
  ck_assert_str_eq(string_of(types[1], types[1][5]), "bt386 PC"); /* product */
  ck_assert_uint_eq(types[1][7], 0); /* no serial number */
  ck_assert_uint_eq(types[2][0], 127);
  ck_assert_uint_eq(types[2][4] | types[2][5], 0); /* no strings: two NULs */
}
END_TEST

/* It fits after the MP tables, and a buffer too small is refused, untouched. */
START_TEST(place_and_size) {
  ck_assert_uint_ge(SMBIOS_ADDR, MPTABLE_ADDR + MPTABLE_SIZE);
  ck_assert_uint_eq(SMBIOS_ADDR % 16, 0);
  uint8_t small[32];
  memset(small, 0xcc, sizeof(small));
  ck_assert_int_eq(smbios_build(small, sizeof(small), SMBIOS_ADDR), -ENOSPC);
  for (size_t i = 0; i < sizeof(small); i++)
    ck_assert_uint_eq(small[i], 0xcc);
}
END_TEST

int main(void) {
  Suite *s = suite_create("smbios");
  TCase *t = tcase_create("tables");
  tcase_add_test(t, entry_point_and_structures_parse);
  tcase_add_test(t, place_and_size);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
