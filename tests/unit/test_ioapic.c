/* test_ioapic.c - the 82093AA through IOREGSEL/IOWIN: registers, edge and level triggering,
 * polarity, remote IRR and the EOI broadcast, alone and with the local APIC; and the ISA IRQ
 * lines that feed both the 8259A and the IOAPIC. */
#include <check.h>
#include <stdlib.h>

#include "devices/ioapic.h"
#include "devices/isairq.h"
#include "devices/lapic.h"
#include "devices/pic.h"

static struct mmio mmio;
static struct ioapic ioa;
static struct apic_msg msgs[32];
static int n_msgs;
static bool accept;

static bool record(void *opaque, const struct apic_msg *m) {
  (void)opaque;
  if (n_msgs < 32)
    msgs[n_msgs] = *m;
  n_msgs++;
  return accept;
}

static void sel(uint8_t reg) { ck_assert(mmio_write(&mmio, IOAPIC_DEFAULT_BASE, 4, reg)); }

static uint32_t rd(uint8_t reg) {
  uint64_t v;
  sel(reg);
  ck_assert(mmio_read(&mmio, IOAPIC_DEFAULT_BASE + 0x10, 4, &v));
  return (uint32_t)v;
}

static void wr(uint8_t reg, uint32_t v) {
  sel(reg);
  ck_assert(mmio_write(&mmio, IOAPIC_DEFAULT_BASE + 0x10, 4, v));
}

static void entry(int pin, uint32_t low, uint32_t high) {
  wr((uint8_t)(0x11 + 2 * pin), high);
  wr((uint8_t)(0x10 + 2 * pin), low);
}

static uint32_t entry_low(int pin) { return rd((uint8_t)(0x10 + 2 * pin)); }

static void set(int pin, int level) { irq_set(ioapic_irq_line(&ioa, pin), level); }

static void setup(void) {
  mmio_init(&mmio);
  n_msgs = 0;
  accept = true;
  ck_assert_int_eq(ioapic_init(&ioa, &mmio, IOAPIC_DEFAULT_BASE, 1, record, NULL), 0);
}

static void teardown(void) { ioapic_exit(&ioa); }

START_TEST(identification_registers) {
  ck_assert_uint_eq(rd(IOAPIC_REG_VER), 0x00170011);
  ck_assert_uint_eq(rd(IOAPIC_REG_ID), 0x01000000);
  ck_assert_uint_eq(rd(IOAPIC_REG_ARB), 0x01000000);
  wr(IOAPIC_REG_ID, 0xff000000);
  ck_assert_uint_eq(rd(IOAPIC_REG_ID), 0x0f000000); /* a 4-bit ID */
  ck_assert_uint_eq(rd(IOAPIC_REG_ARB), 0x0f000000);
  wr(IOAPIC_REG_VER, 0);
  ck_assert_uint_eq(rd(IOAPIC_REG_VER), 0x00170011);
  /* IOREGSEL reads back; a byte write selects too. */
  uint64_t v;
  ck_assert(mmio_write(&mmio, IOAPIC_DEFAULT_BASE, 1, 0x12));
  ck_assert(mmio_read(&mmio, IOAPIC_DEFAULT_BASE, 4, &v));
  ck_assert_uint_eq(v, 0x12);
  ck_assert_uint_eq(rd(0x40), 0); /* past the table */
}
END_TEST

START_TEST(entries_start_masked_and_keep_read_only_bits) {
  for (int pin = 0; pin < IOAPIC_PINS; pin++) {
    ck_assert_uint_eq(entry_low(pin), IOAPIC_MASKED);
    ck_assert_uint_eq(rd((uint8_t)(0x11 + 2 * pin)), 0);
  }
  entry(3, 0xffffffff, 0xffffffff);
  ck_assert_uint_eq(entry_low(3), 0x1afff); /* no delivery status, no remote IRR */
  ck_assert_uint_eq(rd(0x17), 0xff000000);
  ck_assert_int_eq(n_msgs, 0);
}
END_TEST

START_TEST(edge_sends_one_message_per_assertion) {
  entry(4, 0x34, 0x00000000);
  set(4, 1);
  ck_assert_int_eq(n_msgs, 1);
  ck_assert_uint_eq(msgs[0].vector, 0x34);
  ck_assert_uint_eq(msgs[0].delivery, APIC_DM_FIXED);
  ck_assert(!msgs[0].level);
  ck_assert(!msgs[0].logical);
  ck_assert_uint_eq(msgs[0].dest, 0);
  set(4, 1);
  ck_assert_int_eq(n_msgs, 1);
  set(4, 0);
  irq_pulse(ioapic_irq_line(&ioa, 4));
  ck_assert_int_eq(n_msgs, 2);
  ck_assert_uint_eq(entry_low(4) & IOAPIC_REMOTE_IRR, 0);
}
END_TEST

START_TEST(masked_edges_are_lost) {
  entry(5, IOAPIC_MASKED | 0x35, 0);
  irq_pulse(ioapic_irq_line(&ioa, 5));
  ck_assert_int_eq(n_msgs, 0);
  entry(5, 0x35, 0);
  ck_assert_int_eq(n_msgs, 0); /* not held while masked */
  irq_pulse(ioapic_irq_line(&ioa, 5));
  ck_assert_int_eq(n_msgs, 1);
}
END_TEST

START_TEST(message_fields_follow_the_entry) {
  entry(6, IOAPIC_DEST_LOGICAL | APIC_DM_LOWEST << 8 | 0x66, 0xab000000);
  set(6, 1);
  ck_assert_int_eq(n_msgs, 1);
  ck_assert_uint_eq(msgs[0].vector, 0x66);
  ck_assert_uint_eq(msgs[0].delivery, APIC_DM_LOWEST);
  ck_assert(msgs[0].logical);
  ck_assert_uint_eq(msgs[0].dest, 0xab);
  entry(7, APIC_DM_EXTINT << 8, 0);
  set(7, 1);
  ck_assert_uint_eq(msgs[1].delivery, APIC_DM_EXTINT);
}
END_TEST

START_TEST(level_holds_remote_irr_until_eoi) {
  ioapic_set_wire_active_low(&ioa, 9, true); /* the SCI, as the MADT describes it */
  entry(9, IOAPIC_LEVEL | IOAPIC_ACTIVE_LOW | 0x39, 0);
  ck_assert_int_eq(n_msgs, 0); /* the device idles deasserted */
  set(9, 1);
  ck_assert_int_eq(n_msgs, 1);
  ck_assert(msgs[0].level);
  ck_assert_uint_eq(entry_low(9) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
  set(9, 0);
  set(9, 1);
  ck_assert_int_eq(n_msgs, 1); /* remote IRR holds it */
  ioapic_eoi(&ioa, 0x38);
  ck_assert_int_eq(n_msgs, 1);
  ioapic_eoi(&ioa, 0x39); /* still asserted: sent again */
  ck_assert_int_eq(n_msgs, 2);
  ck_assert_uint_eq(entry_low(9) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
  set(9, 0);
  ioapic_eoi(&ioa, 0x39);
  ck_assert_int_eq(n_msgs, 2);
  ck_assert_uint_eq(entry_low(9) & IOAPIC_REMOTE_IRR, 0);
  /* Writing the entry does not touch remote IRR. */
  set(9, 1);
  ck_assert_uint_eq(entry_low(9) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
  entry(9, IOAPIC_LEVEL | IOAPIC_ACTIVE_LOW | 0x39, 0);
  ck_assert_uint_eq(entry_low(9) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
  ck_assert_int_eq(n_msgs, 3);
}
END_TEST

START_TEST(polarity_that_disagrees_with_the_wire_inverts) {
  /* An active-high ISA line programmed active-low: asserted while the device is idle. */
  entry(10, IOAPIC_LEVEL | IOAPIC_ACTIVE_LOW | 0x3a, 0);
  ck_assert_int_eq(n_msgs, 1);
  ioapic_eoi(&ioa, 0x3a);
  ck_assert_int_eq(n_msgs, 2);
  set(10, 1); /* the device asserts: the IOAPIC sees it go away */
  ioapic_eoi(&ioa, 0x3a);
  ck_assert_int_eq(n_msgs, 2);
  /* The same for an edge entry: the device's falling edge is the one that counts. */
  entry(11, IOAPIC_ACTIVE_LOW | 0x3b, 0);
  set(11, 1);
  ck_assert_int_eq(n_msgs, 2);
  set(11, 0);
  ck_assert_int_eq(n_msgs, 3);
}
END_TEST

START_TEST(unmasking_an_asserted_level_input_sends) {
  entry(12, IOAPIC_MASKED | IOAPIC_LEVEL | 0x3c, 0);
  set(12, 1);
  ck_assert_int_eq(n_msgs, 0);
  entry(12, IOAPIC_LEVEL | 0x3c, 0);
  ck_assert_int_eq(n_msgs, 1);
}
END_TEST

START_TEST(refused_message_leaves_remote_irr_clear) {
  accept = false;
  entry(13, IOAPIC_LEVEL | 0x3d, 0);
  set(13, 1);
  ck_assert_int_eq(n_msgs, 1);
  ck_assert_uint_eq(entry_low(13) & IOAPIC_REMOTE_IRR, 0);
  accept = true;
  entry(13, IOAPIC_LEVEL | 0x3d, 0); /* rewriting it retries */
  ck_assert_int_eq(n_msgs, 2);
  ck_assert_uint_eq(entry_low(13) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
}
END_TEST

START_TEST(switching_to_edge_clears_remote_irr) {
  /* Linux's __eoi_ioapic_pin() on IOAPICs without an EOI register. */
  entry(14, IOAPIC_LEVEL | 0x3e, 0);
  set(14, 1);
  ck_assert_uint_eq(entry_low(14) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
  entry(14, IOAPIC_MASKED | 0x3e, 0);
  ck_assert_uint_eq(entry_low(14) & IOAPIC_REMOTE_IRR, 0);
  set(14, 0);
  entry(14, IOAPIC_MASKED | IOAPIC_LEVEL | 0x3e, 0);
  entry(14, IOAPIC_LEVEL | 0x3e, 0);
  ck_assert_uint_eq(entry_low(14) & IOAPIC_REMOTE_IRR, 0);
  ck_assert_int_eq(n_msgs, 1);
}
END_TEST

/* ---- with the local APIC ---- */

static struct lapic apic;
static struct timer_list timers;

static void with_lapic(void) {
  mmio_init(&mmio);
  timers.head = NULL;
  ck_assert_int_eq(lapic_init(&apic, &mmio, &timers), 0);
  ck_assert_int_eq(ioapic_init(&ioa, &mmio, IOAPIC_DEFAULT_BASE, 1, lapic_bus_deliver, &apic), 0);
  lapic_set_eoi_callback(&apic, ioapic_bus_eoi, &ioa);
}

static void apic_wr(uint32_t reg, uint32_t v) {
  ck_assert(mmio_write(&mmio, LAPIC_DEFAULT_BASE + reg, 4, v));
}

START_TEST(level_interrupt_through_the_local_apic) {
  with_lapic();
  ioapic_set_wire_active_low(&ioa, 9, true);
  apic_wr(LAPIC_LDR, 0x01000000); /* Linux's flat logical mode: CPU 0 is bit 0 */
  entry(9, IOAPIC_LEVEL | IOAPIC_ACTIVE_LOW | IOAPIC_DEST_LOGICAL | 0x69, 0x01000000);
  ck_assert(!lapic_intr_pending(&apic));

  set(9, 1);
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_uint_eq(entry_low(9) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
  ck_assert_int_eq(lapic_ack(&apic), 0x69);
  ck_assert(!lapic_intr_pending(&apic));
  apic_wr(LAPIC_EOI, 0); /* the cause is still there: the IOAPIC sends again */
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_uint_eq(entry_low(9) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
  ck_assert_int_eq(lapic_ack(&apic), 0x69);
  set(9, 0); /* the handler clears the cause */
  apic_wr(LAPIC_EOI, 0);
  ck_assert_uint_eq(entry_low(9) & IOAPIC_REMOTE_IRR, 0);
  ck_assert(!lapic_intr_pending(&apic));

  /* An edge-triggered input to APIC ID 0: its EOI is not broadcast. */
  entry(4, 0x34, 0);
  irq_pulse(ioapic_irq_line(&ioa, 4));
  ck_assert_int_eq(lapic_ack(&apic), 0x34);
  set(9, 1);
  apic_wr(LAPIC_EOI, 0);
  ck_assert_int_eq(lapic_ack(&apic), 0x69);
  lapic_exit(&apic);
}
END_TEST

START_TEST(software_disabled_apic_refuses_and_the_ioapic_retries) {
  with_lapic();
  apic_wr(LAPIC_SVR, 0xff);
  entry(15, IOAPIC_LEVEL | 0x7f, 0);
  set(15, 1);
  ck_assert_uint_eq(entry_low(15) & IOAPIC_REMOTE_IRR, 0);
  apic_wr(LAPIC_SVR, 0x1ff);
  ck_assert(!lapic_intr_pending(&apic));
  entry(15, IOAPIC_LEVEL | 0x7f, 0); /* Linux unmasking: the entry is written again */
  ck_assert_uint_eq(entry_low(15) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
  ck_assert_int_eq(lapic_ack(&apic), 0x7f);
  lapic_exit(&apic);
}
END_TEST

/* ---- ISA IRQ lines to both controllers ---- */

START_TEST(isa_irqs_reach_the_pic_and_the_ioapic) {
  ck_assert_int_eq(isa_irq_to_gsi(0), 2);
  ck_assert_int_eq(isa_irq_to_gsi(1), 1);
  ck_assert_int_eq(isa_irq_to_gsi(2), -1);
  ck_assert_int_eq(isa_irq_to_gsi(15), 15);
  ck_assert_int_eq(isa_irq_to_gsi(16), -1);

  struct ioports io;
  struct pic pic;
  struct isa_irqs isa;
  ioports_init(&io, false, NULL);
  ck_assert_int_eq(pic_init(&pic, &io), 0);
  isa_irqs_init(&isa, &pic, &ioa);
  ioports_write(&io, 0x21, 1, 0x00); /* unmask the master */
  for (int pin = 0; pin < 3; pin++)
    entry(pin, (uint32_t)(0x50 + pin), 0);
  irq_pulse(isa_irq_line(&isa, 0));
  ck_assert_int_eq(n_msgs, 1);
  ck_assert_uint_eq(msgs[0].vector, 0x52); /* IOAPIC input 2 */
  ck_assert(pic_intr(&pic));
  ck_assert_int_eq(pic_ack(&pic), 0x08); /* and 8259A IRQ0 */
  irq_pulse(isa_irq_line(&isa, 2));
  ck_assert_int_eq(n_msgs, 1); /* the cascade reaches no IOAPIC input */
  ck_assert(isa_irq_line(&isa, 16) == NULL);

  isa_irqs_init(&isa, &pic, NULL); /* no IOAPIC */
  irq_pulse(isa_irq_line(&isa, 1));
  ck_assert_int_eq(n_msgs, 1);
  pic_exit(&pic);
}
END_TEST

static Suite *ioapic_suite(void) {
  Suite *s = suite_create("ioapic");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, identification_registers);
  tcase_add_test(tc, entries_start_masked_and_keep_read_only_bits);
  tcase_add_test(tc, edge_sends_one_message_per_assertion);
  tcase_add_test(tc, masked_edges_are_lost);
  tcase_add_test(tc, message_fields_follow_the_entry);
  tcase_add_test(tc, level_holds_remote_irr_until_eoi);
  tcase_add_test(tc, polarity_that_disagrees_with_the_wire_inverts);
  tcase_add_test(tc, unmasking_an_asserted_level_input_sends);
  tcase_add_test(tc, refused_message_leaves_remote_irr_clear);
  tcase_add_test(tc, switching_to_edge_clears_remote_irr);
  tcase_add_test(tc, level_interrupt_through_the_local_apic);
  tcase_add_test(tc, software_disabled_apic_refuses_and_the_ioapic_retries);
  tcase_add_test(tc, isa_irqs_reach_the_pic_and_the_ioapic);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(ioapic_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
