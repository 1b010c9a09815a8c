/* test_i8042.c - the keyboard controller, its keyboard and mouse, port 0x92 and port 0x80. */
#include <check.h>
#include <stdlib.h>

#include "devices/i8042.h"
#include "devices/port80.h"
#include "devices/crtc.h"

static struct ioports io;
static struct i8042 kbc;
static int edges[2], levels[2];
static int resets, a20_calls;
static bool a20_state;

static void record_irq(void *opaque, int pin, int lvl) {
  (void)opaque;
  int i = pin == 12;
  if (lvl && !levels[i])
    edges[i]++;
  levels[i] = lvl;
}

static const struct irq_line irq1 = {record_irq, NULL, 1};
static const struct irq_line irq12 = {record_irq, NULL, 12};

static void on_reset(void *opaque) {
  (void)opaque;
  resets++;
}

static void on_a20(void *opaque, bool on) {
  (void)opaque;
  a20_calls++;
  a20_state = on;
}

static void out(uint16_t port, uint8_t v) { ioports_write(&io, port, 1, v); }
static uint8_t in(uint16_t port) { return (uint8_t)ioports_read(&io, port, 1); }
static uint8_t status(void) { return in(0x64); }

/* What Linux's i8042_command() does for a command with one reply. */
static uint8_t command_reply(uint8_t cmd) {
  out(0x64, cmd);
  ck_assert_uint_eq(status() & 0x01, 0x01);
  return in(0x60);
}

static void command_data(uint8_t cmd, uint8_t data) {
  out(0x64, cmd);
  out(0x60, data);
}

/* Read the bytes waiting in the output buffer, noting which came from the aux port. */
static int drain(uint8_t *buf, bool *aux, int max) {
  int n = 0;
  while ((status() & 0x01) && n < max) {
    if (aux)
      aux[n] = status() & 0x20;
    buf[n++] = in(0x60);
  }
  return n;
}

static void setup(void) {
  ioports_init(&io, false, NULL);
  edges[0] = edges[1] = levels[0] = levels[1] = 0;
  resets = a20_calls = 0;
  a20_state = true;
  ck_assert_int_eq(i8042_init(&kbc, &io, &irq1, &irq12), 0);
  i8042_set_callbacks(&kbc, on_reset, on_a20, NULL);
}

static void teardown(void) { i8042_exit(&kbc); }

START_TEST(starts_empty_with_a_bios_command_byte) {
  ck_assert_uint_eq(status() & 0x21, 0);
  ck_assert_uint_eq(status() & 0x14, 0x14); /* system flag, not inhibited */
  ck_assert_uint_eq(command_reply(0x20), 0x65);
  ck_assert(i8042_a20(&kbc));
}
END_TEST

START_TEST(self_test_and_interface_tests) {
  ck_assert_uint_eq(command_reply(0xaa), 0x55);
  ck_assert_uint_eq(status() & 0x01, 0);
  ck_assert_uint_eq(command_reply(0xab), 0x00);
  ck_assert_uint_eq(command_reply(0xa9), 0x00);
  ck_assert_uint_eq(command_reply(0xa4), 0xf1);
}
END_TEST

START_TEST(command_byte_and_system_flag) {
  command_data(0x60, 0x47);
  ck_assert_uint_eq(command_reply(0x20), 0x47);
  ck_assert_uint_eq(status() & 0x04, 0x04);
  command_data(0x60, 0x43);
  ck_assert_uint_eq(status() & 0x04, 0x00);
  ck_assert_uint_eq(command_reply(0xaa), 0x55);
  ck_assert_uint_eq(status() & 0x04, 0x04);
  command_data(0x65, 0x9c); /* controller RAM byte 5 */
  ck_assert_uint_eq(command_reply(0x25), 0x9c);
}
END_TEST

START_TEST(status_tells_command_from_data_writes) {
  out(0x64, 0xad);
  ck_assert_uint_eq(status() & 0x08, 0x08);
  out(0x60, 0xf4);
  ck_assert_uint_eq(status() & 0x08, 0x00);
}
END_TEST

START_TEST(linux_probe_sequence) {
  /* i8042_controller_check(): flush; selftest; init reads CTR twice, then writes it. */
  uint8_t junk[16];
  drain(junk, NULL, 16);
  ck_assert_uint_ne(status(), 0xff);
  ck_assert_uint_eq(command_reply(0xaa), 0x55);
  uint8_t ctr = command_reply(0x20);
  ck_assert_uint_eq(command_reply(0x20), ctr);
  ctr = (uint8_t)((ctr | 0x10) & ~0x01);
  command_data(0x60, ctr);
  ck_assert_uint_eq(command_reply(0x20), ctr);
  /* i8042_check_aux(): the loopback test, then toggling the aux port. */
  out(0x64, 0xd3);
  out(0x60, 0x5a);
  ck_assert_uint_eq(status() & 0x21, 0x21);
  ck_assert_uint_eq(in(0x60), 0x5a);
  out(0x64, 0xa8);
  ck_assert_uint_eq(command_reply(0x20) & 0x20, 0x00);
  out(0x64, 0xa7);
  ck_assert_uint_eq(command_reply(0x20) & 0x20, 0x20);
  out(0x64, 0xa8);
  ck_assert_uint_eq(command_reply(0x20) & 0x20, 0x00);
}
END_TEST

START_TEST(aux_irq_is_delivered_for_loopback_data) {
  command_data(0x60, 0x47); /* aux enabled, both interrupts */
  out(0x64, 0xd3);
  out(0x60, 0xa5);
  ck_assert_int_eq(edges[1], 1);
  ck_assert_int_eq(levels[1], 1);
  ck_assert_int_eq(edges[0], 0);
  ck_assert_uint_eq(in(0x60), 0xa5);
  ck_assert_int_eq(levels[1], 0);
}
END_TEST

START_TEST(keyboard_reset_answers_ack_and_bat) {
  out(0x60, 0xff);
  ck_assert_int_eq(edges[0], 1);
  ck_assert_uint_eq(status() & 0x21, 0x01);
  ck_assert_uint_eq(in(0x60), 0xfa);
  ck_assert_int_eq(edges[0], 2); /* one edge per byte */
  ck_assert_uint_eq(in(0x60), 0xaa);
  ck_assert_int_eq(levels[0], 0);
  ck_assert_uint_eq(status() & 0x01, 0);
}
END_TEST

START_TEST(keyboard_identifies_as_mf2) {
  uint8_t b[8];
  out(0x60, 0xf2);
  ck_assert_int_eq(drain(b, NULL, 8), 3);
  ck_assert_uint_eq(b[0], 0xfa);
  ck_assert_uint_eq(b[1], 0xab);
  ck_assert_uint_eq(b[2], 0x41); /* translated */
  command_data(0x60, 0x05);
  out(0x60, 0xf2);
  ck_assert_int_eq(drain(b, NULL, 8), 3);
  ck_assert_uint_eq(b[2], 0x83);
}
END_TEST

START_TEST(keyboard_commands_with_parameters) {
  uint8_t b[8];
  command_data(0x60, 0x05); /* untranslated */
  out(0x60, 0xed);
  ck_assert_int_eq(drain(b, NULL, 8), 1);
  out(0x60, 0x07);
  ck_assert_int_eq(drain(b, NULL, 8), 1);
  ck_assert_uint_eq(b[0], 0xfa);
  out(0x60, 0xf0);
  out(0x60, 0x03);
  out(0x60, 0xf0);
  out(0x60, 0x00);
  ck_assert_int_eq(drain(b, NULL, 8), 5);
  ck_assert_uint_eq(b[3], 0xfa);
  ck_assert_uint_eq(b[4], 0x03);
  out(0x60, 0xee);
  ck_assert_int_eq(drain(b, NULL, 8), 1);
  ck_assert_uint_eq(b[0], 0xee);
  out(0x60, 0x99);
  ck_assert_int_eq(drain(b, NULL, 8), 1);
  ck_assert_uint_eq(b[0], 0xfe);
  out(0x60, 0xfe); /* resend */
  ck_assert_int_eq(drain(b, NULL, 8), 1);
  ck_assert_uint_eq(b[0], 0xfe);
}
END_TEST

START_TEST(disabled_keyboard_port_holds_its_bytes) {
  out(0x64, 0xad);
  i8042_kbd_input(&kbc, 0x1e);
  ck_assert_uint_eq(status() & 0x01, 0);
  ck_assert_uint_eq(command_reply(0xab), 0x00); /* the controller still answers */
  out(0x64, 0xae);
  ck_assert_uint_eq(status() & 0x21, 0x01);
  ck_assert_uint_eq(in(0x60), 0x1e);
  ck_assert_int_eq(edges[0], 2);
}
END_TEST

START_TEST(writing_to_the_keyboard_enables_its_port) {
  out(0x64, 0xad);
  out(0x60, 0xf4);
  ck_assert_uint_eq(in(0x60), 0xfa);
  ck_assert_uint_eq(command_reply(0x20) & 0x10, 0);
}
END_TEST

START_TEST(keyboard_input_follows_scanning) {
  i8042_kbd_input(&kbc, 0x1e);
  ck_assert_uint_eq(in(0x60), 0x1e);
  out(0x60, 0xf5);
  ck_assert_uint_eq(in(0x60), 0xfa);
  i8042_kbd_input(&kbc, 0x9e);
  ck_assert_uint_eq(status() & 0x01, 0);
  out(0x60, 0xf4);
  ck_assert_uint_eq(in(0x60), 0xfa);
  i8042_kbd_input(&kbc, 0x9e);
  ck_assert_uint_eq(in(0x60), 0x9e);
}
END_TEST

START_TEST(no_interrupt_without_the_command_byte_bit) {
  command_data(0x60, 0x44);
  out(0x60, 0xff);
  ck_assert_int_eq(edges[0], 0);
  ck_assert_uint_eq(status() & 0x01, 0x01);
  command_data(0x60, 0x45); /* enabling the interrupt with data waiting raises it */
  ck_assert_int_eq(edges[0], 1);
}
END_TEST

START_TEST(mouse_reset_and_identify) {
  uint8_t b[8];
  bool aux[8];
  command_data(0x60, 0x47);
  command_data(0xd4, 0xff);
  ck_assert_int_eq(drain(b, aux, 8), 3);
  ck_assert(aux[0] && aux[1] && aux[2]);
  ck_assert_uint_eq(b[0], 0xfa);
  ck_assert_uint_eq(b[1], 0xaa);
  ck_assert_uint_eq(b[2], 0x00);
  ck_assert_int_eq(edges[1], 3);
  ck_assert_int_eq(edges[0], 0);
  command_data(0xd4, 0xf2);
  ck_assert_int_eq(drain(b, aux, 8), 2);
  ck_assert_uint_eq(b[1], 0x00);
  command_data(0xd4, 0xf3);
  command_data(0xd4, 200);
  command_data(0xd4, 0xe9);
  ck_assert_int_eq(drain(b, aux, 8), 6);
  ck_assert_uint_eq(b[5], 200);
}
END_TEST

START_TEST(disabled_aux_port_holds_mouse_bytes) {
  uint8_t b[8];
  command_data(0xd4, 0xf2); /* the BIOS command byte has the aux port disabled */
  ck_assert_uint_eq(status() & 0x01, 0);
  out(0x64, 0xa8);
  ck_assert_int_eq(drain(b, NULL, 8), 2);
  ck_assert_uint_eq(b[0], 0xfa);
}
END_TEST

START_TEST(a20_through_the_output_port) {
  ck_assert_uint_eq(command_reply(0xd0) & 0x03, 0x03);
  command_data(0xd1, 0xdd);
  ck_assert(!i8042_a20(&kbc));
  ck_assert_int_eq(a20_calls, 1);
  ck_assert(!a20_state);
  ck_assert_uint_eq(command_reply(0xd0) & 0x03, 0x01);
  command_data(0xd1, 0xdf);
  ck_assert(a20_state);
  out(0x64, 0xdd);
  ck_assert(!a20_state);
  out(0x64, 0xdf);
  ck_assert(a20_state);
  ck_assert_int_eq(a20_calls, 4);
  ck_assert_int_eq(resets, 0);
}
END_TEST

START_TEST(fast_a20_through_port_92) {
  out(0x64, 0xdd);
  ck_assert(!a20_state);
  out(0x92, 0x02);
  ck_assert(a20_state);
  ck_assert_uint_eq(in(0x92), 0x02);
  out(0x92, 0x00);
  ck_assert(!a20_state);
  ck_assert_int_eq(resets, 0);
}
END_TEST

START_TEST(reset_lines) {
  out(0x64, 0xff);
  ck_assert_int_eq(resets, 0);
  out(0x64, 0xfe);
  ck_assert_int_eq(resets, 1);
  out(0x64, 0xf0);
  ck_assert_int_eq(resets, 2);
  command_data(0xd1, 0x02);
  ck_assert_int_eq(resets, 3);
  command_data(0xd1, 0x03);
  out(0x92, 0x03);
  ck_assert_int_eq(resets, 4);
  out(0x92, 0x03); /* only a 0 -> 1 transition resets */
  ck_assert_int_eq(resets, 4);
}
END_TEST

START_TEST(empty_buffer_rereads_the_last_byte) {
  ck_assert_uint_eq(command_reply(0xaa), 0x55);
  ck_assert_uint_eq(in(0x60), 0x55);
  ck_assert_uint_eq(status() & 0x01, 0);
}
END_TEST

START_TEST(port80_takes_post_codes) {
  struct port80 p;
  ck_assert_int_eq(port80_init(&p, &io), 0);
  out(0x80, 0x42);
  out(0x80, 0x55);
  ck_assert_uint_eq(p.last, 0x55);
  ck_assert_uint_eq(p.writes, 2);
  ck_assert_uint_eq(in(0x80), 0xff);
  port80_exit(&p);
}
END_TEST

/* The text display's CRT controller reads back what was written (the cursor registers, where
 * a kernel that writes the screen itself keeps its position), byte- or word-wide. */
START_TEST(crtc_registers_read_back) {
  struct crtc c;
  ck_assert_int_eq(crtc_init(&c, &io), 0);
  out(0x3d4, 0x0e);
  ck_assert_uint_eq(in(0x3d5), 0); /* the cursor starts at the top left */
  out(0x3d5, 0x07);
  out(0x3d4, 0x0f);
  out(0x3d5, 0xd0);
  out(0x3d4, 0x0e);
  ck_assert_uint_eq(in(0x3d4), 0x0e);
  ck_assert_uint_eq(in(0x3d5), 0x07);
  ioports_write(&io, 0x3d4, 2, 0x120f); /* index 0x0f, data 0x12 in one outw */
  ck_assert_uint_eq(in(0x3d5), 0x12);
  out(0x3d4, 0x30);
  ck_assert_uint_eq(in(0x3d5), 0xff); /* no register there */
}
END_TEST

int main(void) {
  Suite *s = suite_create("i8042");
  TCase *t = tcase_create("controller");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, starts_empty_with_a_bios_command_byte);
  tcase_add_test(t, self_test_and_interface_tests);
  tcase_add_test(t, command_byte_and_system_flag);
  tcase_add_test(t, status_tells_command_from_data_writes);
  tcase_add_test(t, linux_probe_sequence);
  tcase_add_test(t, aux_irq_is_delivered_for_loopback_data);
  tcase_add_test(t, keyboard_reset_answers_ack_and_bat);
  tcase_add_test(t, keyboard_identifies_as_mf2);
  tcase_add_test(t, keyboard_commands_with_parameters);
  tcase_add_test(t, disabled_keyboard_port_holds_its_bytes);
  tcase_add_test(t, writing_to_the_keyboard_enables_its_port);
  tcase_add_test(t, keyboard_input_follows_scanning);
  tcase_add_test(t, no_interrupt_without_the_command_byte_bit);
  tcase_add_test(t, mouse_reset_and_identify);
  tcase_add_test(t, disabled_aux_port_holds_mouse_bytes);
  tcase_add_test(t, a20_through_the_output_port);
  tcase_add_test(t, fast_a20_through_port_92);
  tcase_add_test(t, reset_lines);
  tcase_add_test(t, empty_buffer_rereads_the_last_byte);
  tcase_add_test(t, port80_takes_post_codes);
  tcase_add_test(t, crtc_registers_read_back);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
