/* test_pic.c - the 8259A pair and ELCR, driven through their I/O ports as a guest would. */
#include <check.h>
#include <stdlib.h>

#include "devices/pic.h"

static struct ioports io;
static struct pic pic;
static int intr_calls;
static bool intr_level;

static void on_intr(void *opaque, bool level) {
  (void)opaque;
  intr_calls++;
  intr_level = level;
}

static void out(uint16_t port, uint8_t v) { ioports_write(&io, port, 1, v); }
static uint8_t in(uint16_t port) { return (uint8_t)ioports_read(&io, port, 1); }
static void raise(int irq) { irq_set(pic_irq_line(&pic, irq), 1); }
static void lower(int irq) { irq_set(pic_irq_line(&pic, irq), 0); }
static void pulse(int irq) { irq_pulse(pic_irq_line(&pic, irq)); }

/* arch/x86/kernel/i8259.c init_8259A(): vectors 0x30 and 0x38, cascade on IR2, 8086 mode. */
static void linux_init(uint8_t master_icw4) {
  out(0x21, 0xff);
  out(0xa1, 0xff);
  out(0x20, 0x11);
  out(0x21, 0x30);
  out(0x21, 0x04);
  out(0x21, master_icw4);
  out(0xa0, 0x11);
  out(0xa1, 0x38);
  out(0xa1, 0x02);
  out(0xa1, 0x01);
  out(0x21, 0x00);
  out(0xa1, 0x00);
}

static uint8_t read_isr(uint16_t cmd) {
  out(cmd, 0x0b);
  uint8_t v = in(cmd);
  out(cmd, 0x0a);
  return v;
}

static uint8_t read_irr(uint16_t cmd) {
  out(cmd, 0x0a);
  return in(cmd);
}

static void setup(void) {
  ioports_init(&io, false, NULL);
  ck_assert_int_eq(pic_init(&pic, &io), 0);
  pic_set_intr_callback(&pic, on_intr, NULL);
  intr_calls = 0;
  intr_level = false;
}

static void teardown(void) { pic_exit(&pic); }

START_TEST(starts_masked_with_bios_vectors) {
  ck_assert_uint_eq(in(0x21), 0xff);
  ck_assert_uint_eq(in(0xa1), 0xff);
  pulse(4);
  ck_assert(!pic_intr(&pic));
  out(0x21, 0xef);
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x08 + 4);
}
END_TEST

START_TEST(imr_reads_back_as_linux_probes_it) {
  out(0xa1, 0xff);
  out(0x21, 0xfb);
  ck_assert_uint_eq(in(0x21), 0xfb);
  out(0x21, 0x5a);
  ck_assert_uint_eq(in(0x21), 0x5a);
}
END_TEST

START_TEST(linux_init_programs_vectors_and_cascade) {
  linux_init(0x01);
  pulse(0);
  ck_assert(pic_intr(&pic));
  ck_assert(intr_level);
  ck_assert_int_eq(pic_ack(&pic), 0x30);
  ck_assert(!pic_intr(&pic));
  ck_assert_uint_eq(read_isr(0x20), 0x01);
  out(0x20, 0x20);
  ck_assert_uint_eq(read_isr(0x20), 0x00);

  pulse(8 + 3);
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x38 + 3);
  ck_assert_uint_eq(read_isr(0x20), 0x04);
  ck_assert_uint_eq(read_isr(0xa0), 0x08);
  /* Linux's mask_and_ack_8259A for a slave IRQ: specific EOI on both chips. */
  out(0xa0, 0x60 + 3);
  out(0x20, 0x60 + 2);
  ck_assert_uint_eq(read_isr(0x20), 0x00);
  ck_assert_uint_eq(read_isr(0xa0), 0x00);
}
END_TEST

START_TEST(icw1_clears_masks_and_service_but_not_level_requests) {
  linux_init(0x01);
  out(0x4d1, 0x04); /* IRQ10 level-triggered, and masked for now */
  out(0xa1, 0x04);
  raise(10);
  pulse(5);
  ck_assert_int_eq(pic_ack(&pic), 0x35);
  pulse(6);
  out(0x21, 0x80);
  out(0x20, 0x11);
  out(0x21, 0x30);
  out(0x21, 0x04);
  out(0x21, 0x01);
  out(0xa0, 0x11);
  out(0xa1, 0x38);
  out(0xa1, 0x02);
  out(0xa1, 0x01);
  ck_assert_uint_eq(in(0x21), 0x00);
  ck_assert_uint_eq(in(0xa1), 0x00);
  ck_assert_uint_eq(read_isr(0x20), 0x00);
  ck_assert_uint_eq(read_irr(0x20) & 0x40, 0); /* the edge request is forgotten */
  ck_assert_uint_eq(read_irr(0xa0), 0x04);     /* the level request is not */
  ck_assert_int_eq(pic_ack(&pic), 0x3a);
}
END_TEST

START_TEST(lower_irq_numbers_win_and_in_service_blocks_lower_ones) {
  linux_init(0x01);
  pulse(5);
  pulse(3);
  pulse(6);
  ck_assert_int_eq(pic_ack(&pic), 0x33);
  /* IRQ5 and IRQ6 rank below IRQ3, which is in service. */
  ck_assert(!pic_intr(&pic));
  pulse(1);
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x31);
  ck_assert_uint_eq(read_isr(0x20), 0x0a);
  out(0x20, 0x20); /* non-specific EOI ends IRQ1, the highest in service */
  ck_assert_uint_eq(read_isr(0x20), 0x08);
  ck_assert(!pic_intr(&pic));
  out(0x20, 0x20);
  ck_assert_int_eq(pic_ack(&pic), 0x35);
  out(0x20, 0x20);
  ck_assert_int_eq(pic_ack(&pic), 0x36);
}
END_TEST

START_TEST(specific_eoi_clears_only_its_level) {
  linux_init(0x01);
  pulse(6);
  ck_assert_int_eq(pic_ack(&pic), 0x36);
  pulse(2); /* the cascade input is not a device line */
  pulse(1);
  ck_assert_int_eq(pic_ack(&pic), 0x31);
  out(0x20, 0x66);
  ck_assert_uint_eq(read_isr(0x20), 0x02);
  out(0x20, 0x61);
  ck_assert_uint_eq(read_isr(0x20), 0x00);
}
END_TEST

START_TEST(edge_requests_latch_once_per_rising_edge) {
  linux_init(0x01);
  raise(4);
  lower(4); /* the falling edge does not withdraw a latched request */
  ck_assert(pic_intr(&pic));
  ck_assert_uint_eq(read_irr(0x20), 0x10);
  ck_assert_int_eq(pic_ack(&pic), 0x34);
  ck_assert_uint_eq(read_irr(0x20), 0x00);
  out(0x20, 0x20);
  raise(4);
  ck_assert_int_eq(pic_ack(&pic), 0x34);
  out(0x20, 0x20);
  raise(4); /* still high: no new edge */
  ck_assert(!pic_intr(&pic));
  lower(4);
  raise(4);
  ck_assert(pic_intr(&pic));
}
END_TEST

START_TEST(level_requests_follow_the_line) {
  linux_init(0x01);
  out(0x4d1, 0x04); /* IRQ10 level-triggered */
  ck_assert_uint_eq(in(0x4d1), 0x04);
  raise(10);
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x3a);
  out(0xa0, 0x20);
  out(0x20, 0x20);
  /* The line is still high: it requests again. */
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x3a);
  lower(10);
  out(0xa0, 0x20);
  out(0x20, 0x20);
  ck_assert(!pic_intr(&pic));
  ck_assert_uint_eq(read_irr(0xa0), 0x00);
}
END_TEST

START_TEST(elcr_bits_of_system_irqs_stay_edge) {
  out(0x4d0, 0xff);
  out(0x4d1, 0xff);
  ck_assert_uint_eq(in(0x4d0), 0xf8);
  ck_assert_uint_eq(in(0x4d1), 0xde);
}
END_TEST

START_TEST(switching_to_level_mode_samples_the_line) {
  linux_init(0x01);
  raise(9);
  ck_assert_int_eq(pic_ack(&pic), 0x39);
  out(0xa0, 0x20);
  out(0x20, 0x20);
  ck_assert_uint_eq(read_irr(0xa0), 0x00);
  out(0x4d1, 0x02);
  ck_assert_uint_eq(read_irr(0xa0), 0x02);
}
END_TEST

START_TEST(masked_edges_are_kept_until_unmasked) {
  linux_init(0x01);
  out(0x21, 0x08);
  pulse(3);
  ck_assert(!pic_intr(&pic));
  ck_assert_uint_eq(read_irr(0x20), 0x08);
  out(0x21, 0x00);
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x33);
}
END_TEST

START_TEST(vanished_level_request_gives_spurious_irq7) {
  linux_init(0x01);
  out(0x4d0, 0x20);
  raise(5);
  ck_assert(pic_intr(&pic));
  lower(5);
  ck_assert(!pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x37);
  ck_assert_uint_eq(read_isr(0x20), 0x00);
}
END_TEST

START_TEST(vanished_slave_request_gives_spurious_irq15) {
  linux_init(0x01);
  pulse(11);
  ck_assert(pic_intr(&pic));
  out(0xa1, 0x08); /* masked before INTA: the slave has nothing left */
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x3f);
  ck_assert_uint_eq(read_isr(0xa0), 0x00);
  ck_assert_uint_eq(read_isr(0x20), 0x04); /* the master did acknowledge IR2 */
}
END_TEST

START_TEST(slave_priorities_resolve_behind_the_cascade) {
  linux_init(0x01);
  pulse(14);
  pulse(9);
  pulse(4);
  ck_assert_int_eq(pic_ack(&pic), 0x38 + 1); /* IR2 outranks IR4; IRQ9 outranks IRQ14 */
  out(0xa0, 0x20);
  out(0x20, 0x20);
  ck_assert_int_eq(pic_ack(&pic), 0x38 + 6);
  out(0xa0, 0x20);
  out(0x20, 0x20);
  ck_assert_int_eq(pic_ack(&pic), 0x34);
}
END_TEST

START_TEST(auto_eoi_leaves_isr_clear) {
  linux_init(0x03);
  pulse(1);
  pulse(6);
  ck_assert_int_eq(pic_ack(&pic), 0x31);
  ck_assert_uint_eq(read_isr(0x20), 0x00);
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x36);
}
END_TEST

START_TEST(rotate_on_eoi_makes_the_served_level_lowest) {
  linux_init(0x01);
  pulse(0);
  ck_assert_int_eq(pic_ack(&pic), 0x30);
  out(0x20, 0xa0); /* rotate on non-specific EOI */
  pulse(0);
  pulse(4);
  ck_assert_int_eq(pic_ack(&pic), 0x34);
  out(0x20, 0xe4); /* rotate on specific EOI 4: IR5 now has the highest priority */
  pulse(5);
  ck_assert_int_eq(pic_ack(&pic), 0x35);
  out(0x20, 0x20);
  ck_assert_int_eq(pic_ack(&pic), 0x30);
}
END_TEST

START_TEST(set_priority_command_rotates) {
  linux_init(0x01);
  out(0x20, 0xc4); /* IR4 lowest, IR5 highest */
  pulse(3);
  pulse(6);
  ck_assert_int_eq(pic_ack(&pic), 0x36);
  /* IR3 ranks below IR6 in service now. */
  ck_assert(!pic_intr(&pic));
  out(0x20, 0x20);
  ck_assert_int_eq(pic_ack(&pic), 0x33);
}
END_TEST

START_TEST(rotate_in_auto_eoi_mode) {
  linux_init(0x03);
  out(0x20, 0x80);
  pulse(3);
  ck_assert_int_eq(pic_ack(&pic), 0x33);
  pulse(1);
  pulse(5);
  ck_assert_int_eq(pic_ack(&pic), 0x35); /* IR3 became the lowest: IR4 ranks first */
  out(0x20, 0x00);
  pulse(3);
  ck_assert_int_eq(pic_ack(&pic), 0x31); /* IR5 became the lowest: IR6, IR7, IR0, IR1 */
}
END_TEST

START_TEST(special_mask_mode_lets_lower_levels_through) {
  linux_init(0x01);
  pulse(1);
  ck_assert_int_eq(pic_ack(&pic), 0x31);
  pulse(4);
  ck_assert(!pic_intr(&pic));
  out(0x21, 0x02);
  ck_assert(!pic_intr(&pic)); /* masking alone does not lift the in-service level */
  out(0x20, 0x68);           /* set special mask mode */
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x34);
  out(0x20, 0x64);
  out(0x20, 0x48); /* reset special mask mode: IR1, masked, blocks again */
  pulse(5);
  ck_assert(!pic_intr(&pic));
}
END_TEST

START_TEST(special_fully_nested_mode_nests_slave_requests) {
  linux_init(0x11);
  pulse(9);
  ck_assert_int_eq(pic_ack(&pic), 0x39);
  pulse(8);
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x38);
  ck_assert_uint_eq(read_isr(0xa0), 0x03);
  pulse(3); /* IR3 still ranks below IR2 in service */
  ck_assert(!pic_intr(&pic));
}
END_TEST

START_TEST(without_sfnm_the_cascade_in_service_blocks_the_slave) {
  linux_init(0x01);
  pulse(9);
  ck_assert_int_eq(pic_ack(&pic), 0x39);
  pulse(8);
  ck_assert(!pic_intr(&pic));
  out(0x20, 0x62);
  ck_assert(pic_intr(&pic));
}
END_TEST

START_TEST(poll_mode_reads_and_acknowledges) {
  linux_init(0x01);
  out(0x20, 0x0c);
  ck_assert_uint_eq(in(0x20), 0x00);
  pulse(6);
  out(0x20, 0x0c);
  ck_assert_uint_eq(in(0x20), 0x86);
  ck_assert_uint_eq(read_isr(0x20), 0x40);
  ck_assert(!pic_intr(&pic));
  out(0x20, 0x20);
  pulse(13);
  out(0xa0, 0x0c);
  ck_assert_uint_eq(in(0xa1), 0x85); /* the poll word comes from either port */
  ck_assert_uint_eq(read_isr(0xa0), 0x20);
}
END_TEST

START_TEST(intr_callback_reports_changes) {
  linux_init(0x01);
  intr_calls = 0;
  pulse(3);
  ck_assert_int_eq(intr_calls, 1);
  ck_assert(intr_level);
  pulse(5);
  ck_assert_int_eq(intr_calls, 1);
  pic_ack(&pic);
  ck_assert_int_eq(intr_calls, 2);
  ck_assert(!intr_level);
  out(0x20, 0x20);
  ck_assert_int_eq(intr_calls, 3);
  ck_assert(intr_level);
}
END_TEST

START_TEST(single_mode_skips_icw3) {
  out(0x20, 0x13); /* single, ICW4 needed */
  out(0x21, 0x40);
  out(0x21, 0x01); /* ICW4, not ICW3 */
  out(0x21, 0xfd); /* OCW1 */
  ck_assert_uint_eq(in(0x21), 0xfd);
  pulse(1);
  ck_assert_int_eq(pic_ack(&pic), 0x41);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pic");
  TCase *t = tcase_create("8259a");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, starts_masked_with_bios_vectors);
  tcase_add_test(t, imr_reads_back_as_linux_probes_it);
  tcase_add_test(t, linux_init_programs_vectors_and_cascade);
  tcase_add_test(t, icw1_clears_masks_and_service_but_not_level_requests);
  tcase_add_test(t, lower_irq_numbers_win_and_in_service_blocks_lower_ones);
  tcase_add_test(t, specific_eoi_clears_only_its_level);
  tcase_add_test(t, edge_requests_latch_once_per_rising_edge);
  tcase_add_test(t, level_requests_follow_the_line);
  tcase_add_test(t, elcr_bits_of_system_irqs_stay_edge);
  tcase_add_test(t, switching_to_level_mode_samples_the_line);
  tcase_add_test(t, masked_edges_are_kept_until_unmasked);
  tcase_add_test(t, vanished_level_request_gives_spurious_irq7);
  tcase_add_test(t, vanished_slave_request_gives_spurious_irq15);
  tcase_add_test(t, slave_priorities_resolve_behind_the_cascade);
  tcase_add_test(t, auto_eoi_leaves_isr_clear);
  tcase_add_test(t, rotate_on_eoi_makes_the_served_level_lowest);
  tcase_add_test(t, set_priority_command_rotates);
  tcase_add_test(t, rotate_in_auto_eoi_mode);
  tcase_add_test(t, special_mask_mode_lets_lower_levels_through);
  tcase_add_test(t, special_fully_nested_mode_nests_slave_requests);
  tcase_add_test(t, without_sfnm_the_cascade_in_service_blocks_the_slave);
  tcase_add_test(t, poll_mode_reads_and_acknowledges);
  tcase_add_test(t, intr_callback_reports_changes);
  tcase_add_test(t, single_mode_skips_icw3);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
