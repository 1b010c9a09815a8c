/* test_rtc.c - the MC146818 RTC/CMOS on a clock the test moves. */
#include <check.h>
#include <stdlib.h>
#include <time.h>

#include "devices/rtc.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define THU_2024_02_29_134556 1709214356 /* 2024-02-29 13:45:56 UTC, a Thursday */
#define SUN_2023_12_31_235959 1704067199
#define THU_2024_02_29_003000 1709166600

enum { A = 0x0a, B = 0x0b, C = 0x0c, D = 0x0d };

static struct ioports io;
static struct timer_list timers;
static struct rtc rtc;
static uint64_t fake_ns, start_ns;
static int edges, level;

static uint64_t fake_clock(void) { return fake_ns; }

static void record_irq(void *opaque, int pin, int lvl) {
  (void)opaque, (void)pin;
  if (lvl && !level)
    edges++;
  level = lvl;
}

static const struct irq_line irq8 = {record_irq, NULL, 8};

/* Move the clock to start + ns and run the timers that fall due. */
static void at(uint64_t ns) {
  fake_ns = start_ns + ns;
  timers_run(&timers, fake_ns);
}

static uint8_t rd(uint8_t i) {
  ioports_write(&io, 0x70, 1, i);
  return (uint8_t)ioports_read(&io, 0x71, 1);
}

static void wr(uint8_t i, uint8_t v) {
  ioports_write(&io, 0x70, 1, i);
  ioports_write(&io, 0x71, 1, v);
}

static void setup(void) {
  ioports_init(&io, false, NULL);
  timers.head = NULL;
  edges = level = 0;
  ck_assert_int_eq(rtc_init(&rtc, &io, &irq8, 128u << 20, 0, &timers), 0);
  start_ns = fake_ns = 7 * SEC + 123456789;
  rtc_set_clock(&rtc, fake_clock);
  rtc_set_time(&rtc, THU_2024_02_29_134556);
}

static void teardown(void) {
  rtc_exit(&rtc);
  ck_assert_ptr_null(timers.head);
}

START_TEST(reads_bcd_24_hour_time_by_default) {
  ck_assert_uint_eq(rd(0x00), 0x56);
  ck_assert_uint_eq(rd(0x02), 0x45);
  ck_assert_uint_eq(rd(0x04), 0x13);
  ck_assert_uint_eq(rd(0x06), 5);
  ck_assert_uint_eq(rd(0x07), 0x29);
  ck_assert_uint_eq(rd(0x08), 0x02);
  ck_assert_uint_eq(rd(0x09), 0x24);
  ck_assert_uint_eq(rd(0x32), 0x20);
  ck_assert_uint_eq(rd(A), 0x26);
  ck_assert_uint_eq(rd(B), 0x02);
}
END_TEST

START_TEST(binary_mode) {
  wr(B, 0x06);
  ck_assert_uint_eq(rd(0x00), 56);
  ck_assert_uint_eq(rd(0x02), 45);
  ck_assert_uint_eq(rd(0x04), 13);
  ck_assert_uint_eq(rd(0x07), 29);
  ck_assert_uint_eq(rd(0x09), 24);
  ck_assert_uint_eq(rd(0x32), 20);
}
END_TEST

START_TEST(twelve_hour_mode) {
  wr(B, 0x00);
  ck_assert_uint_eq(rd(0x04), 0x81); /* 1 PM */
  wr(B, 0x04);
  ck_assert_uint_eq(rd(0x04), 0x81);
  rtc_set_time(&rtc, THU_2024_02_29_003000);
  ck_assert_uint_eq(rd(0x04), 12); /* 12 AM, binary */
  wr(B, 0x00);
  ck_assert_uint_eq(rd(0x04), 0x12);
  rtc_set_time(&rtc, THU_2024_02_29_003000 + 12 * 3600);
  ck_assert_uint_eq(rd(0x04), 0x92); /* 12 PM */
}
END_TEST

START_TEST(time_follows_the_clock) {
  at(4 * SEC + 999 * MS);
  ck_assert_uint_eq(rd(0x00), 0x00);
  ck_assert_uint_eq(rd(0x02), 0x46);
  at(5 * SEC);
  ck_assert_uint_eq(rd(0x00), 0x01);
  at(3600 * SEC * 11);
  ck_assert_uint_eq(rd(0x04), 0x00);
  ck_assert_uint_eq(rd(0x07), 0x01); /* 2024 is a leap year: Feb 29 -> Mar 1 */
  ck_assert_uint_eq(rd(0x08), 0x03);
  ck_assert_uint_eq(rd(0x06), 6);
}
END_TEST

START_TEST(year_rolls_over) {
  rtc_set_time(&rtc, SUN_2023_12_31_235959);
  ck_assert_uint_eq(rd(0x06), 1);
  ck_assert_uint_eq(rd(0x09), 0x23);
  at(SEC);
  ck_assert_uint_eq(rd(0x00), 0x00);
  ck_assert_uint_eq(rd(0x02), 0x00);
  ck_assert_uint_eq(rd(0x04), 0x00);
  ck_assert_uint_eq(rd(0x07), 0x01);
  ck_assert_uint_eq(rd(0x08), 0x01);
  ck_assert_uint_eq(rd(0x09), 0x24);
  ck_assert_uint_eq(rd(0x06), 2);
}
END_TEST

START_TEST(update_in_progress_before_each_second) {
  at(500 * MS);
  ck_assert_uint_eq(rd(A) & 0x80, 0);
  at(SEC - 2228000 - 1);
  ck_assert_uint_eq(rd(A) & 0x80, 0);
  at(SEC - 2228000);
  ck_assert_uint_eq(rd(A) & 0x80, 0x80);
  ck_assert_uint_eq(rd(0x00), 0x56);
  at(SEC - 1);
  ck_assert_uint_eq(rd(A) & 0x80, 0x80);
  at(SEC);
  ck_assert_uint_eq(rd(A) & 0x80, 0);
  ck_assert_uint_eq(rd(0x00), 0x57);
  wr(B, 0x82);
  at(2 * SEC - 1 * MS);
  ck_assert_uint_eq(rd(A) & 0x80, 0); /* no updates while SET */
}
END_TEST

START_TEST(set_freezes_and_loads_the_time) {
  wr(B, 0x82);
  at(3 * SEC);
  ck_assert_uint_eq(rd(0x00), 0x56);
  wr(0x09, 0x99);
  wr(0x08, 0x12);
  wr(0x07, 0x31);
  wr(0x04, 0x23);
  wr(0x02, 0x59);
  wr(0x00, 0x58);
  wr(0x06, 0x05);
  ck_assert_uint_eq(rd(0x00), 0x58);
  wr(B, 0x02);
  ck_assert_uint_eq(rd(0x00), 0x58);
  at(5 * SEC);
  ck_assert_uint_eq(rd(0x00), 0x00);
  ck_assert_uint_eq(rd(0x04), 0x00);
  ck_assert_uint_eq(rd(0x07), 0x01);
  ck_assert_uint_eq(rd(0x08), 0x01);
  ck_assert_uint_eq(rd(0x09), 0x00);
  ck_assert_uint_eq(rd(0x32), 0x21);
  ck_assert_uint_eq(rd(0x06), 6); /* 2100-01-01 is a Friday */
}
END_TEST

START_TEST(set_clears_uie) {
  wr(B, 0x92);
  ck_assert_uint_eq(rd(B), 0x82);
}
END_TEST

START_TEST(writing_a_field_while_running_takes_effect) {
  at(300 * MS);
  wr(0x00, 0x10);
  ck_assert_uint_eq(rd(0x00), 0x10);
  ck_assert_uint_eq(rd(0x02), 0x45);
  at(999 * MS);
  ck_assert_uint_eq(rd(0x00), 0x10); /* the divider phase is kept */
  at(SEC);
  ck_assert_uint_eq(rd(0x00), 0x11);
}
END_TEST

START_TEST(guest_day_of_week_is_kept) {
  wr(B, 0x82);
  wr(0x06, 0x01);
  wr(B, 0x02);
  ck_assert_uint_eq(rd(0x06), 1);
  at(86400 * SEC);
  ck_assert_uint_eq(rd(0x06), 2);
}
END_TEST

START_TEST(twelve_hour_writes) {
  wr(B, 0x80); /* SET, BCD, 12 hour */
  wr(0x04, 0x92);
  wr(B, 0x00);
  wr(B, 0x06);
  ck_assert_uint_eq(rd(0x04), 12);
  wr(B, 0x00);
  wr(B, 0x80);
  wr(0x04, 0x12); /* 12 AM */
  wr(B, 0x00);
  wr(B, 0x06);
  ck_assert_uint_eq(rd(0x04), 0);
}
END_TEST

static int count_periodic(uint64_t span, uint64_t step) {
  int n = 0;
  for (uint64_t t = step; t <= span; t += step) {
    at(t);
    if (level) {
      ck_assert_uint_eq(rd(C) & 0xc0, 0xc0);
      n++;
    }
  }
  return n;
}

START_TEST(periodic_interrupt_at_1024_hz) {
  wr(B, 0x42);
  ck_assert_int_eq(count_periodic(SEC, 50000), 1024);
  ck_assert_int_eq(edges, 1024);
}
END_TEST

START_TEST(periodic_interrupt_follows_the_rate) {
  wr(A, 0x2f);
  wr(B, 0x42);
  ck_assert_int_eq(count_periodic(SEC, 1 * MS), 2);
  wr(A, 0x23);
  start_ns = fake_ns;
  ck_assert_int_eq(count_periodic(SEC, 50000), 8192);
  wr(A, 0x20);
  start_ns = fake_ns;
  ck_assert_int_eq(count_periodic(SEC, 1 * MS), 0);
}
END_TEST

START_TEST(periodic_flag_without_interrupt) {
  at(2 * MS);
  ck_assert_uint_eq(rd(C), 0x40);
  ck_assert_uint_eq(rd(C), 0x00);
  ck_assert_int_eq(edges, 0);
  at(3 * MS);
  wr(B, 0x42); /* enabling PIE with PF pending raises IRQF at once */
  ck_assert_int_eq(edges, 1);
  ck_assert_uint_eq(rd(C), 0xc0);
  ck_assert_int_eq(level, 0);
}
END_TEST

START_TEST(update_ended_interrupt) {
  wr(A, 0x20);
  wr(B, 0x12);
  at(999 * MS);
  ck_assert_int_eq(edges, 0);
  at(SEC);
  ck_assert_int_eq(edges, 1);
  ck_assert_uint_eq(rd(C), 0x90);
  at(2 * SEC);
  ck_assert_int_eq(edges, 2);
  ck_assert_uint_eq(rd(C), 0x90);
}
END_TEST

START_TEST(alarm_interrupt) {
  wr(A, 0x20);
  wr(0x01, 0x10);
  wr(0x03, 0x46);
  wr(0x05, 0x13);
  wr(B, 0x22);
  at(13 * SEC + 900 * MS);
  ck_assert_int_eq(edges, 0);
  ck_assert_uint_eq(rd(C) & 0x20, 0);
  at(14 * SEC);
  ck_assert_int_eq(edges, 1);
  ck_assert_uint_eq(rd(C), 0xb0);
  at(60 * SEC);
  ck_assert_int_eq(edges, 1);
}
END_TEST

START_TEST(alarm_dont_care_fields) {
  wr(A, 0x20);
  wr(0x01, 0xc0);
  wr(0x03, 0x47);
  wr(0x05, 0xff);
  wr(B, 0x22);
  at(63 * SEC + 500 * MS);
  ck_assert_int_eq(edges, 0);
  at(64 * SEC);
  ck_assert_int_eq(edges, 1);
  rd(C);
  at(65 * SEC);
  ck_assert_int_eq(edges, 2);
  rd(C);
  at(64 * SEC + 3600 * SEC);
  ck_assert_int_eq(edges, 3);
}
END_TEST

START_TEST(alarm_flag_without_interrupt) {
  wr(A, 0x20);
  wr(0x01, 0x00);
  wr(0x03, 0x46);
  wr(0x05, 0x13);
  at(3 * SEC);
  ck_assert_uint_eq(rd(C), 0x10);
  at(5 * SEC);
  ck_assert_uint_eq(rd(C), 0x30);
  ck_assert_int_eq(edges, 0);
}
END_TEST

START_TEST(divider_reset_stops_the_clock) {
  wr(A, 0x70);
  at(5 * SEC);
  ck_assert_uint_eq(rd(0x00), 0x56);
  ck_assert_uint_eq(rd(A) & 0x80, 0);
  wr(A, 0x26);
  at(5 * SEC + 499 * MS);
  ck_assert_uint_eq(rd(0x00), 0x56);
  at(5 * SEC + 500 * MS);
  ck_assert_uint_eq(rd(0x00), 0x57);
}
END_TEST

START_TEST(status_registers) {
  ck_assert_uint_eq(rd(D), 0x80);
  wr(D, 0x00);
  ck_assert_uint_eq(rd(D), 0x80);
  at(500 * MS);
  wr(A, 0xa6);
  ck_assert_uint_eq(rd(A), 0x26);
  wr(C, 0xff);
  ck_assert_uint_eq(rd(C) & 0x30, 0);
}
END_TEST

START_TEST(cmos_ram_and_nmi_mask) {
  wr(0x40, 0x5a);
  wr(0x7f, 0xa5);
  ck_assert_uint_eq(rd(0x40), 0x5a);
  ck_assert_uint_eq(rd(0x7f), 0xa5);
  ck_assert(!rtc_nmi_disabled(&rtc));
  ioports_write(&io, 0x70, 1, 0xc0);
  ck_assert(rtc_nmi_disabled(&rtc));
  ck_assert_uint_eq(ioports_read(&io, 0x71, 1), 0x5a);
  ck_assert_uint_eq(ioports_read(&io, 0x70, 1), 0xff);
  ioports_write(&io, 0x70, 1, 0x40);
  ck_assert(!rtc_nmi_disabled(&rtc));
}
END_TEST

START_TEST(memory_size_bytes_128m) {
  ck_assert_uint_eq(rd(0x15), 0x80);
  ck_assert_uint_eq(rd(0x16), 0x02);
  ck_assert_uint_eq(rd(0x17), 0xff);
  ck_assert_uint_eq(rd(0x18), 0xff);
  ck_assert_uint_eq(rd(0x30), 0xff);
  ck_assert_uint_eq(rd(0x31), 0xff);
  ck_assert_uint_eq(rd(0x34), 0x00);
  ck_assert_uint_eq(rd(0x35), 0x07);
  ck_assert_uint_eq(rd(0x5b) | rd(0x5c) | rd(0x5d), 0);
}
END_TEST

START_TEST(memory_size_bytes_small_and_high) {
  struct ioports io2;
  struct rtc r2;
  ioports_init(&io2, false, NULL);
  ck_assert_int_eq(rtc_init(&r2, &io2, NULL, 8u << 20, 1ull << 30, &timers), 0);
  uint8_t b[128];
  for (int i = 0; i < 128; i++) {
    ioports_write(&io2, 0x70, 1, (uint32_t)i);
    b[i] = (uint8_t)ioports_read(&io2, 0x71, 1);
  }
  ck_assert_uint_eq(b[0x17] | b[0x18] << 8, 7 * 1024);
  ck_assert_uint_eq(b[0x30] | b[0x31] << 8, 7 * 1024);
  ck_assert_uint_eq(b[0x34] | b[0x35] << 8, 0);
  ck_assert_uint_eq(b[0x5b] | b[0x5c] << 8 | b[0x5d] << 16, 16384);
  rtc_exit(&r2);
}
END_TEST

START_TEST(starts_at_the_host_time) {
  struct ioports io2;
  struct rtc r2;
  ioports_init(&io2, false, NULL);
  time_t before = time(NULL);
  ck_assert_int_eq(rtc_init(&r2, &io2, NULL, 1u << 20, 0, &timers), 0);
  ioports_write(&io2, 0x70, 1, 0x0b);
  ioports_write(&io2, 0x71, 1, 0x06);
  struct tm tm;
  gmtime_r(&before, &tm);
  ioports_write(&io2, 0x70, 1, 0x09);
  ck_assert_uint_eq(ioports_read(&io2, 0x71, 1), (unsigned)tm.tm_year % 100);
  ioports_write(&io2, 0x70, 1, 0x08);
  ck_assert_uint_eq(ioports_read(&io2, 0x71, 1), (unsigned)tm.tm_mon + 1);
  rtc_exit(&r2);
}
END_TEST

int main(void) {
  Suite *s = suite_create("rtc");
  TCase *t = tcase_create("mc146818");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, reads_bcd_24_hour_time_by_default);
  tcase_add_test(t, binary_mode);
  tcase_add_test(t, twelve_hour_mode);
  tcase_add_test(t, time_follows_the_clock);
  tcase_add_test(t, year_rolls_over);
  tcase_add_test(t, update_in_progress_before_each_second);
  tcase_add_test(t, set_freezes_and_loads_the_time);
  tcase_add_test(t, set_clears_uie);
  tcase_add_test(t, writing_a_field_while_running_takes_effect);
  tcase_add_test(t, guest_day_of_week_is_kept);
  tcase_add_test(t, twelve_hour_writes);
  tcase_add_test(t, periodic_interrupt_at_1024_hz);
  tcase_add_test(t, periodic_interrupt_follows_the_rate);
  tcase_add_test(t, periodic_flag_without_interrupt);
  tcase_add_test(t, update_ended_interrupt);
  tcase_add_test(t, alarm_interrupt);
  tcase_add_test(t, alarm_dont_care_fields);
  tcase_add_test(t, alarm_flag_without_interrupt);
  tcase_add_test(t, divider_reset_stops_the_clock);
  tcase_add_test(t, status_registers);
  tcase_add_test(t, cmos_ram_and_nmi_mask);
  tcase_add_test(t, memory_size_bytes_128m);
  tcase_add_test(t, memory_size_bytes_small_and_high);
  tcase_add_test(t, starts_at_the_host_time);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
