/* test_pit.c - the 8254 and port 0x61 on a clock the test moves tick by tick. */
#include <check.h>
#include <stdlib.h>

#include "devices/pit.h"

#define T0 5000u /* the tick at which each test programs the counters */

static struct ioports io;
static struct timer_list timers;
static struct pit pit;
static uint64_t fake_ns;
static int edges, level;

static uint64_t fake_clock(void) { return fake_ns; }

static void record_irq(void *opaque, int pin, int lvl) {
  (void)opaque, (void)pin;
  if (lvl && !level)
    edges++;
  level = lvl;
}

static const struct irq_line irq0 = {record_irq, NULL, 0};

/* Move the clock to the middle of input clock tick t and run the timers that fall due. */
static void at(uint64_t t) {
  fake_ns = (uint64_t)(((unsigned __int128)(2 * t + 1) * 1000000000u) / (2 * 1193182u));
  timers_run(&timers, fake_ns);
}

static void out(uint16_t port, uint8_t v) { ioports_write(&io, port, 1, v); }
static uint8_t in(uint16_t port) { return (uint8_t)ioports_read(&io, port, 1); }

static void program(int ch, uint8_t control, uint16_t count) {
  out(0x43, control);
  out((uint16_t)(0x40 + ch), count & 0xff);
  out((uint16_t)(0x40 + ch), count >> 8);
}

static unsigned read16(int ch) {
  unsigned lo = in((uint16_t)(0x40 + ch));
  return lo | (unsigned)in((uint16_t)(0x40 + ch)) << 8;
}

static unsigned latched16(int ch) {
  out(0x43, (uint8_t)(ch << 6));
  return read16(ch);
}

static int out2(void) { return (in(0x61) >> 5) & 1; }

static void setup(void) {
  ioports_init(&io, false, NULL);
  timers.head = NULL;
  level = 0;
  fake_ns = 0;
  ck_assert_int_eq(pit_init(&pit, &io, &irq0, &timers), 0);
  at(T0);
  pit_set_clock(&pit, fake_clock);
  edges = 0;
}

static void teardown(void) {
  pit_exit(&pit);
  ck_assert_ptr_null(timers.head);
}

START_TEST(starts_in_mode_3_at_18_hz) {
  ck_assert_int_eq(level, 1);
  at(T0 + 32767);
  ck_assert_int_eq(level, 1);
  at(T0 + 32768);
  ck_assert_int_eq(level, 0);
  at(T0 + 65535);
  ck_assert_int_eq(edges, 0);
  at(T0 + 65536);
  ck_assert_int_eq(edges, 1);
  ck_assert_int_eq(level, 1);
}
END_TEST

START_TEST(mode_2_raises_irq0_once_per_period) {
  program(0, 0x34, 1000); /* what Linux's PIT clockevent writes in periodic mode */
  edges = 0;
  for (unsigned k = 1; k <= 5; k++) {
    at(T0 + k * 1000 - 1);
    ck_assert_int_eq(edges, (int)k - 1);
    at(T0 + k * 1000);
    ck_assert_int_eq(edges, (int)k);
  }
}
END_TEST

START_TEST(late_timers_merge_missed_periods) {
  program(0, 0x34, 1000);
  edges = 0;
  at(T0 + 10500);
  ck_assert_int_eq(edges, 1);
  at(T0 + 10999);
  ck_assert_int_eq(edges, 1);
  at(T0 + 11000);
  ck_assert_int_eq(edges, 2);
}
END_TEST

START_TEST(mode_2_counts_down_and_reloads) {
  program(0, 0x34, 1000);
  at(T0 + 250);
  ck_assert_uint_eq(latched16(0), 750);
  at(T0 + 999);
  ck_assert_uint_eq(read16(0), 1);
  at(T0 + 1000);
  ck_assert_uint_eq(read16(0), 1000);
  at(T0 + 1001);
  ck_assert_uint_eq(read16(0), 999);
}
END_TEST

START_TEST(mode_2_takes_a_new_count_at_the_end_of_the_cycle) {
  program(0, 0x34, 1000);
  edges = 0;
  at(T0 + 300);
  out(0x40, 500 & 0xff);
  out(0x40, 500 >> 8);
  ck_assert_uint_eq(latched16(0), 700);
  at(T0 + 999);
  ck_assert_int_eq(edges, 0);
  at(T0 + 1000);
  ck_assert_int_eq(edges, 1);
  at(T0 + 1100);
  ck_assert_uint_eq(latched16(0), 400);
  at(T0 + 1499);
  ck_assert_int_eq(edges, 1);
  at(T0 + 1500);
  ck_assert_int_eq(edges, 2);
}
END_TEST

START_TEST(mode_3_square_wave_on_channel_2) {
  out(0x61, 0x01);
  program(2, 0xb6, 100);
  ck_assert_int_eq(out2(), 1);
  at(T0 + 49);
  ck_assert_int_eq(out2(), 1);
  at(T0 + 50);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 99);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 100);
  ck_assert_int_eq(out2(), 1);
  at(T0 + 150);
  ck_assert_int_eq(out2(), 0);
}
END_TEST

START_TEST(mode_3_counts_by_two) {
  out(0x61, 0x01);
  program(2, 0xb6, 100);
  at(T0 + 10);
  ck_assert_uint_eq(latched16(2), 80);
  at(T0 + 60);
  ck_assert_uint_eq(latched16(2), 80);
}
END_TEST

START_TEST(mode_3_odd_count_is_high_one_tick_longer) {
  out(0x61, 0x01);
  program(2, 0xb6, 101);
  at(T0 + 50);
  ck_assert_int_eq(out2(), 1);
  at(T0 + 51);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 100);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 101);
  ck_assert_int_eq(out2(), 1);
}
END_TEST

START_TEST(mode_3_irq0_follows_both_halves) {
  program(0, 0x36, 200);
  edges = 0;
  at(T0 + 99);
  ck_assert_int_eq(level, 1);
  at(T0 + 100);
  ck_assert_int_eq(level, 0);
  at(T0 + 200);
  ck_assert_int_eq(level, 1);
  ck_assert_int_eq(edges, 1);
  at(T0 + 400);
  ck_assert_int_eq(edges, 2);
}
END_TEST

START_TEST(linux_calibration_waits_for_out2) {
  /* pit_calibrate_tsc(): gate on, speaker off, channel 2 mode 0, 10 ms. */
  const unsigned latch = 1193182 / 100;
  out(0x61, (uint8_t)((in(0x61) & ~0x02) | 0x01));
  out(0x43, 0xb0);
  out(0x42, latch & 0xff);
  out(0x42, latch >> 8);
  ck_assert_int_eq(out2(), 0);
  at(T0 + latch - 1);
  ck_assert_int_eq(out2(), 0);
  at(T0 + latch);
  ck_assert_int_eq(out2(), 1);
  at(T0 + latch + 70000);
  ck_assert_int_eq(out2(), 1); /* mode 0 stays high after the terminal count */
}
END_TEST

START_TEST(quick_calibration_sees_the_msb_fall_every_256_ticks) {
  /* quick_pit_calibrate(): mode 0 from 0xffff, LSB then MSB read without latching. */
  out(0x61, 0x01);
  program(2, 0xb0, 0xffff);
  for (unsigned i = 0; i < 40; i++) {
    at(T0 + 256 * i + 17);
    unsigned lsb = in(0x42), msb = in(0x42);
    ck_assert_uint_eq(msb, 0xff - i);
    ck_assert_uint_eq(lsb, (0xffff - (256 * i + 17)) & 0xff);
  }
}
END_TEST

START_TEST(mode_0_interrupts_once_at_terminal_count) {
  program(0, 0x30, 3000);
  ck_assert_int_eq(level, 0);
  edges = 0;
  at(T0 + 2999);
  ck_assert_int_eq(edges, 0);
  at(T0 + 3000);
  ck_assert_int_eq(edges, 1);
  at(T0 + 3001);
  ck_assert_uint_eq(read16(0), 0xffff); /* the count wraps and goes on */
  at(T0 + 3000 + 200000);
  ck_assert_int_eq(edges, 1);
}
END_TEST

START_TEST(mode_0_gate_low_holds_the_count) {
  out(0x61, 0x01);
  program(2, 0xb0, 1000);
  at(T0 + 100);
  out(0x61, 0x00);
  at(T0 + 5000);
  ck_assert_uint_eq(latched16(2), 900);
  ck_assert_int_eq(out2(), 0);
  out(0x61, 0x01);
  at(T0 + 5000 + 899);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 5000 + 900);
  ck_assert_int_eq(out2(), 1);
}
END_TEST

START_TEST(mode_0_first_byte_stops_the_count) {
  out(0x61, 0x01);
  program(2, 0xb0, 1000);
  at(T0 + 100);
  out(0x42, 0x10);
  at(T0 + 2000);
  ck_assert_int_eq(out2(), 0);
  out(0x42, 0x00); /* count 0x0010 */
  at(T0 + 2000 + 15);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 2000 + 16);
  ck_assert_int_eq(out2(), 1);
}
END_TEST

START_TEST(mode_4_strobes_once_after_the_count) {
  program(0, 0x38, 500); /* Linux's PIT clockevent in one-shot mode */
  edges = 0;
  at(T0 + 500);
  ck_assert_int_eq(edges, 0);
  at(T0 + 501);
  ck_assert_int_eq(edges, 1);
  at(T0 + 600);
  out(0x40, 200 & 0xff);
  out(0x40, 200 >> 8);
  at(T0 + 800);
  ck_assert_int_eq(edges, 1);
  at(T0 + 801);
  ck_assert_int_eq(edges, 2);
  at(T0 + 100000);
  ck_assert_int_eq(edges, 2);
}
END_TEST

START_TEST(mode_1_is_a_retriggerable_one_shot) {
  program(2, 0xb2, 50);
  ck_assert_int_eq(out2(), 1);
  at(T0 + 10);
  out(0x61, 0x01); /* trigger */
  ck_assert_int_eq(out2(), 0);
  at(T0 + 59);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 60);
  ck_assert_int_eq(out2(), 1);
  out(0x61, 0x00);
  at(T0 + 100);
  out(0x61, 0x01);
  at(T0 + 130);
  out(0x61, 0x00);
  out(0x61, 0x01); /* retrigger while counting: starts again */
  at(T0 + 179);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 180);
  ck_assert_int_eq(out2(), 1);
}
END_TEST

START_TEST(mode_5_strobes_after_a_trigger) {
  program(2, 0xba, 30);
  at(T0 + 100);
  ck_assert_int_eq(out2(), 1);
  out(0x61, 0x01);
  at(T0 + 129);
  ck_assert_int_eq(out2(), 1);
  at(T0 + 130);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 131);
  ck_assert_int_eq(out2(), 1);
}
END_TEST

START_TEST(read_back_latches_status_then_count) {
  out(0x61, 0x01);
  out(0x43, 0xb6);
  out(0x43, 0xe8); /* read-back: status of channel 2 */
  ck_assert_uint_eq(in(0x42), 0xf6); /* OUT high, null count, LSB/MSB, mode 3, binary */
  out(0x42, 1000 & 0xff);
  out(0x42, 1000 >> 8);
  at(T0 + 10);
  out(0x43, 0xc8); /* status and count */
  at(T0 + 20);
  ck_assert_uint_eq(in(0x42), 0xb6);
  ck_assert_uint_eq(read16(2), 980);
}
END_TEST

START_TEST(read_back_covers_several_channels) {
  program(0, 0x34, 1000);
  out(0x61, 0x01);
  program(2, 0xb4, 2000);
  at(T0 + 100);
  out(0x43, 0xda); /* count of channels 0 and 2 */
  at(T0 + 400);
  ck_assert_uint_eq(read16(0), 900);
  ck_assert_uint_eq(read16(2), 1900);
  ck_assert_uint_eq(read16(2), 1600); /* the latch is gone once read */
}
END_TEST

START_TEST(counter_latch_holds_until_read) {
  program(0, 0x34, 1000);
  at(T0 + 100);
  out(0x43, 0x00);
  at(T0 + 300);
  out(0x43, 0x00); /* ignored: the first latch is still unread */
  ck_assert_uint_eq(read16(0), 900);
  ck_assert_uint_eq(latched16(0), 700);
}
END_TEST

START_TEST(lsb_only_and_msb_only_access) {
  out(0x43, 0x50); /* channel 1, LSB only, mode 0 */
  out(0x41, 0x80);
  at(T0 + 28);
  ck_assert_uint_eq(in(0x41), 100);
  ck_assert_uint_eq(in(0x41), 100);
  out(0x43, 0x60); /* channel 1, MSB only, mode 0 */
  out(0x41, 0x02);
  at(T0 + 28 + 256);
  ck_assert_uint_eq(in(0x41), 0x01);
}
END_TEST

START_TEST(bcd_counting) {
  program(0, 0x35, 0x1000); /* mode 2, BCD: 1000 */
  edges = 0;
  at(T0 + 1);
  ck_assert_uint_eq(read16(0), 0x0999);
  at(T0 + 999);
  ck_assert_uint_eq(read16(0), 0x0001);
  at(T0 + 1000);
  ck_assert_int_eq(edges, 1);
  ck_assert_uint_eq(read16(0), 0x1000);
}
END_TEST

START_TEST(bcd_count_zero_is_ten_thousand) {
  out(0x61, 0x01);
  program(2, 0xb1, 0x0000); /* mode 0, BCD */
  at(T0 + 1);
  ck_assert_uint_eq(read16(2), 0x9999);
  at(T0 + 9999);
  ck_assert_int_eq(out2(), 0);
  at(T0 + 10000);
  ck_assert_int_eq(out2(), 1);
}
END_TEST

START_TEST(port_61_reads_back_and_toggles_refresh) {
  out(0x61, 0x0f);
  ck_assert_uint_eq(in(0x61) & 0x0f, 0x0f);
  out(0x61, 0x02);
  ck_assert_uint_eq(in(0x61) & 0x0f, 0x02);
  ck_assert_uint_eq(in(0x61) & 0xc0, 0);
  fake_ns = 1000000;
  int first = (in(0x61) >> 4) & 1;
  int toggles = 0;
  for (uint64_t ns = 1000000; ns < 1000000 + 15085 * 1000; ns += 1000) {
    fake_ns = ns;
    int bit = (in(0x61) >> 4) & 1;
    toggles += bit != first;
    first = bit;
  }
  ck_assert_int_eq(toggles, 1000); /* every 15.085 us */
}
END_TEST

START_TEST(gate_low_stops_mode_2_with_out_high) {
  out(0x61, 0x01);
  program(2, 0xb4, 100);
  at(T0 + 99);
  ck_assert_int_eq(out2(), 0);
  out(0x61, 0x00);
  ck_assert_int_eq(out2(), 1);
  at(T0 + 500);
  out(0x61, 0x01); /* a rising gate reloads */
  at(T0 + 510);
  ck_assert_uint_eq(latched16(2), 90);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pit");
  TCase *t = tcase_create("8254");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, starts_in_mode_3_at_18_hz);
  tcase_add_test(t, mode_2_raises_irq0_once_per_period);
  tcase_add_test(t, late_timers_merge_missed_periods);
  tcase_add_test(t, mode_2_counts_down_and_reloads);
  tcase_add_test(t, mode_2_takes_a_new_count_at_the_end_of_the_cycle);
  tcase_add_test(t, mode_3_square_wave_on_channel_2);
  tcase_add_test(t, mode_3_counts_by_two);
  tcase_add_test(t, mode_3_odd_count_is_high_one_tick_longer);
  tcase_add_test(t, mode_3_irq0_follows_both_halves);
  tcase_add_test(t, linux_calibration_waits_for_out2);
  tcase_add_test(t, quick_calibration_sees_the_msb_fall_every_256_ticks);
  tcase_add_test(t, mode_0_interrupts_once_at_terminal_count);
  tcase_add_test(t, mode_0_gate_low_holds_the_count);
  tcase_add_test(t, mode_0_first_byte_stops_the_count);
  tcase_add_test(t, mode_4_strobes_once_after_the_count);
  tcase_add_test(t, mode_1_is_a_retriggerable_one_shot);
  tcase_add_test(t, mode_5_strobes_after_a_trigger);
  tcase_add_test(t, read_back_latches_status_then_count);
  tcase_add_test(t, read_back_covers_several_channels);
  tcase_add_test(t, counter_latch_holds_until_read);
  tcase_add_test(t, lsb_only_and_msb_only_access);
  tcase_add_test(t, bcd_counting);
  tcase_add_test(t, bcd_count_zero_is_ten_thousand);
  tcase_add_test(t, port_61_reads_back_and_toggles_refresh);
  tcase_add_test(t, gate_low_stops_mode_2_with_out_high);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
