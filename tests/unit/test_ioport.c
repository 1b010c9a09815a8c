/* test_ioport.c - the port-I/O registry: dispatch, splitting, unassigned ports. */
#include <check.h>
#include <stdlib.h>

#include "devices/ioport.h"

static struct ioports io;
static uint32_t last_offset, last_value;
static int last_size, reads;

static uint32_t rd(void *opaque, uint16_t offset, int size) {
  (void)opaque;
  reads++;
  last_offset = offset;
  last_size = size;
  return 0x10 + offset;
}

static void wr(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)opaque;
  last_offset = offset;
  last_size = size;
  last_value = value;
}

static void setup(void) {
  ioports_init(&io, false, NULL);
  reads = 0;
}

START_TEST(dispatches_to_the_owner_with_an_offset) {
  ck_assert_int_eq(ioports_register(&io, 0x60, 4, 0, "dev", rd, wr, NULL), 0);
  ck_assert_uint_eq(ioports_read(&io, 0x62, 2), 0x12);
  ck_assert_int_eq(last_size, 2);
  ioports_write(&io, 0x61, 1, 0xab);
  ck_assert_uint_eq(last_offset, 1);
  ck_assert_uint_eq(last_value, 0xab);
}
END_TEST

START_TEST(byte_only_devices_see_wide_accesses_split) {
  ck_assert_int_eq(ioports_register(&io, 0x70, 2, IO_BYTES_ONLY, "dev", rd, wr, NULL), 0);
  ck_assert_uint_eq(ioports_read(&io, 0x70, 2), 0x1110);
  ck_assert_int_eq(reads, 2);
  ck_assert_int_eq(last_size, 1);
}
END_TEST

START_TEST(unassigned_ports_read_all_ones) {
  ck_assert_uint_eq(ioports_read(&io, 0x300, 1), 0xff);
  ck_assert_uint_eq(ioports_read(&io, 0x300, 2), 0xffff);
  ck_assert_uint_eq(ioports_read(&io, 0x300, 4), 0xffffffffu);
}
END_TEST

START_TEST(overlapping_registration_is_refused) {
  ck_assert_int_eq(ioports_register(&io, 0x60, 4, 0, "a", rd, wr, NULL), 0);
  ck_assert_int_ne(ioports_register(&io, 0x63, 2, 0, "b", rd, wr, NULL), 0);
  ck_assert_uint_eq(ioports_read(&io, 0x64, 1), 0xff);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ioport");
  TCase *t = tcase_create("registry");
  tcase_add_checked_fixture(t, setup, NULL);
  tcase_add_test(t, dispatches_to_the_owner_with_an_offset);
  tcase_add_test(t, byte_only_devices_see_wide_accesses_split);
  tcase_add_test(t, unassigned_ports_read_all_ones);
  tcase_add_test(t, overlapping_registration_is_refused);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
