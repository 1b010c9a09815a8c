/* test_lapic.c - the local APIC through its MMIO page, as a guest programs it, on a clock the
 * test moves: priorities, EOI, the timer, LINT0/LINT1 with the 8259A, IPIs, the base MSR. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "devices/lapic.h"
#include "devices/pic.h"

#define T0 1000000000ull /* the clock when each test starts */

static struct mmio mmio;
static struct timer_list timers;
static struct lapic apic;
static uint64_t fake_ns;
static int eois[16], n_eois;

static uint64_t fake_clock(void) { return fake_ns; }

static void record_eoi(void *opaque, int vector) {
  (void)opaque;
  if (n_eois < 16)
    eois[n_eois] = vector;
  n_eois++;
}

static uint32_t rd(uint32_t reg) {
  uint64_t v = 0;
  ck_assert(mmio_read(&mmio, LAPIC_DEFAULT_BASE + reg, 4, &v));
  return (uint32_t)v;
}

static void wr(uint32_t reg, uint32_t v) {
  ck_assert(mmio_write(&mmio, LAPIC_DEFAULT_BASE + reg, 4, v));
}

static bool vec_set(uint32_t base, int v) { return rd(base + 0x10 * (v >> 5)) >> (v & 31) & 1; }

static void at(uint64_t ns) {
  fake_ns = T0 + ns;
  timers_run(&timers, fake_ns);
}

static bool fixed(int vector, bool level) {
  struct apic_msg m = {.vector = (uint8_t)vector, .delivery = APIC_DM_FIXED, .dest = 0,
                       .level = level};
  return lapic_deliver(&apic, &m);
}

static void setup(void) {
  mmio_init(&mmio);
  timers.head = NULL;
  fake_ns = T0;
  n_eois = 0;
  ck_assert_int_eq(lapic_init(&apic, &mmio, &timers), 0);
  lapic_set_clock(&apic, fake_clock);
  lapic_set_eoi_callback(&apic, record_eoi, NULL);
}

static void teardown(void) { lapic_exit(&apic); }

/* ---- registers ---- */

START_TEST(starts_as_a_bios_leaves_it) {
  ck_assert_uint_eq(rd(LAPIC_VER), 0x00050014);
  ck_assert_uint_eq(rd(LAPIC_ID), 0);
  ck_assert_uint_eq(rd(LAPIC_SVR), 0x1ff);
  ck_assert_uint_eq(rd(LAPIC_LVT_LINT0), 0x700);
  ck_assert_uint_eq(rd(LAPIC_LVT_LINT1), 0x400);
  ck_assert_uint_eq(rd(LAPIC_LVT_TIMER), 0x10000);
  ck_assert_uint_eq(rd(LAPIC_LVT_ERROR), 0x10000);
  ck_assert_uint_eq(rd(LAPIC_DFR), 0xffffffff);
  ck_assert_uint_eq(rd(LAPIC_TPR), 0);
  ck_assert_uint_eq(lapic_base_msr(&apic), 0xfee00900ull);
  ck_assert(!lapic_intr_pending(&apic));
}
END_TEST

START_TEST(register_write_masks) {
  wr(LAPIC_VER, 0);
  ck_assert_uint_eq(rd(LAPIC_VER), 0x00050014); /* Linux's verify_local_APIC */
  wr(LAPIC_ID, 0xff000000);
  ck_assert_uint_eq(rd(LAPIC_ID), 0xff000000);
  wr(LAPIC_ID, 0);
  wr(LAPIC_LDR, 0xffffffff);
  ck_assert_uint_eq(rd(LAPIC_LDR), 0xff000000);
  wr(LAPIC_DFR, 0);
  ck_assert_uint_eq(rd(LAPIC_DFR), 0x0fffffff);
  wr(LAPIC_TPR, 0xffffffff);
  ck_assert_uint_eq(rd(LAPIC_TPR), 0xff);
  wr(LAPIC_LVT_TIMER, 0xffffffff);
  ck_assert_uint_eq(rd(LAPIC_LVT_TIMER), 0x300ff); /* no TSC-deadline mode */
  wr(LAPIC_LVT_LINT0, 0xffffffff);
  ck_assert_uint_eq(rd(LAPIC_LVT_LINT0), 0x1a7ff); /* no delivery status, no remote IRR */
  wr(LAPIC_LVT_ERROR, 0xffffffff);
  ck_assert_uint_eq(rd(LAPIC_LVT_ERROR), 0x100ff);
  wr(LAPIC_TIMER_DCR, 0xffffffff);
  ck_assert_uint_eq(rd(LAPIC_TIMER_DCR), 0x0b);
  wr(LAPIC_ICR_HI, 0xffffffff);
  ck_assert_uint_eq(rd(LAPIC_ICR_HI), 0xff000000);
  /* Sub-word reads see part of the register; bytes 4-15 of a slot read 0. */
  uint64_t v;
  ck_assert(mmio_read(&mmio, LAPIC_DEFAULT_BASE + LAPIC_VER + 2, 1, &v));
  ck_assert_uint_eq(v, 0x05);
  ck_assert(mmio_read(&mmio, LAPIC_DEFAULT_BASE + LAPIC_VER + 4, 4, &v));
  ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(reserved_register_sets_illegal_register_address) {
  ck_assert_uint_eq(rd(0x040), 0);
  ck_assert_uint_eq(rd(LAPIC_ESR), 0); /* not latched until written */
  wr(LAPIC_ESR, 0);
  ck_assert_uint_eq(rd(LAPIC_ESR), APIC_ESR_ILLEGAL_REGISTER);
  wr(LAPIC_ESR, 0);
  ck_assert_uint_eq(rd(LAPIC_ESR), 0);
}
END_TEST

/* ---- acceptance, priority, EOI ---- */

START_TEST(highest_class_first_and_eoi_clears_highest_isr) {
  ck_assert(fixed(0x31, false));
  ck_assert(fixed(0x52, false));
  ck_assert(fixed(0x45, false));
  ck_assert(vec_set(LAPIC_IRR, 0x31) && vec_set(LAPIC_IRR, 0x52) && vec_set(LAPIC_IRR, 0x45));
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_int_eq(lapic_ack(&apic), 0x52);
  ck_assert(vec_set(LAPIC_ISR, 0x52));
  ck_assert(!vec_set(LAPIC_IRR, 0x52));
  ck_assert_uint_eq(rd(LAPIC_PPR), 0x50);
  ck_assert(!lapic_intr_pending(&apic)); /* 0x45 is below the class in service */

  ck_assert(fixed(0x61, false));
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_int_eq(lapic_ack(&apic), 0x61);
  ck_assert_uint_eq(rd(LAPIC_PPR), 0x60);
  wr(LAPIC_EOI, 0);
  ck_assert(!vec_set(LAPIC_ISR, 0x61));
  ck_assert(vec_set(LAPIC_ISR, 0x52));
  ck_assert_uint_eq(rd(LAPIC_PPR), 0x50);
  wr(LAPIC_EOI, 0);
  ck_assert_uint_eq(rd(LAPIC_PPR), 0x00);
  ck_assert_int_eq(lapic_ack(&apic), 0x45);
  ck_assert(!lapic_intr_pending(&apic));
  wr(LAPIC_EOI, 0);
  ck_assert_int_eq(lapic_ack(&apic), 0x31);
  wr(LAPIC_EOI, 0);
  ck_assert(!lapic_intr_pending(&apic));
  ck_assert_int_eq(n_eois, 0); /* all edge-triggered: nothing broadcast */
}
END_TEST

START_TEST(same_class_waits_for_eoi) {
  fixed(0x52, false);
  ck_assert_int_eq(lapic_ack(&apic), 0x52);
  fixed(0x5f, false); /* higher vector, same class */
  ck_assert(!lapic_intr_pending(&apic));
  wr(LAPIC_EOI, 0);
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_int_eq(lapic_ack(&apic), 0x5f);
}
END_TEST

START_TEST(repeated_requests_collapse_into_one) {
  fixed(0x40, false);
  fixed(0x40, false);
  ck_assert_int_eq(lapic_ack(&apic), 0x40);
  wr(LAPIC_EOI, 0);
  ck_assert(!lapic_intr_pending(&apic));
}
END_TEST

START_TEST(tpr_masks_by_class) {
  wr(LAPIC_TPR, 0x50);
  ck_assert_uint_eq(rd(LAPIC_PPR), 0x50);
  fixed(0x5f, false);
  ck_assert(!lapic_intr_pending(&apic));
  fixed(0x60, false);
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_int_eq(lapic_ack(&apic), 0x60);
  /* PPR: TPR when its class is at least the in-service class, else that class. */
  wr(LAPIC_TPR, 0x62);
  ck_assert_uint_eq(rd(LAPIC_PPR), 0x62);
  wr(LAPIC_TPR, 0x42);
  ck_assert_uint_eq(rd(LAPIC_PPR), 0x60);
  wr(LAPIC_EOI, 0);
  ck_assert_uint_eq(rd(LAPIC_PPR), 0x42);
  ck_assert(lapic_intr_pending(&apic)); /* 0x5f is above class 4 */
  wr(LAPIC_TPR, 0xf0);
  ck_assert(!lapic_intr_pending(&apic));
}
END_TEST

START_TEST(arbitration_priority) {
  wr(LAPIC_TPR, 0x30);
  ck_assert_uint_eq(rd(LAPIC_APR), 0x30);
  fixed(0x75, false);
  ck_assert_uint_eq(rd(LAPIC_APR), 0x70);
}
END_TEST

START_TEST(ack_without_a_deliverable_vector_is_spurious) {
  wr(LAPIC_SVR, 0x1ef);
  fixed(0x40, false);
  ck_assert(lapic_intr_pending(&apic));
  wr(LAPIC_TPR, 0x40); /* raised between INTR and INTA */
  ck_assert_int_eq(lapic_ack(&apic), 0xef);
  ck_assert(!vec_set(LAPIC_ISR, 0xef));
  ck_assert(!vec_set(LAPIC_ISR, 0x40));
  ck_assert(vec_set(LAPIC_IRR, 0x40));
}
END_TEST

START_TEST(illegal_vectors_are_refused_and_reported) {
  fixed(0x05, false);
  ck_assert(!vec_set(LAPIC_IRR, 0x05));
  ck_assert(!lapic_intr_pending(&apic));
  wr(LAPIC_ESR, 0);
  ck_assert_uint_eq(rd(LAPIC_ESR), APIC_ESR_RECV_ILLEGAL_VECTOR);
  /* With the error LVT unmasked the error raises its vector. */
  wr(LAPIC_LVT_ERROR, 0xe3);
  fixed(0x0f, false);
  ck_assert(vec_set(LAPIC_IRR, 0xe3));
  ck_assert_int_eq(lapic_ack(&apic), 0xe3);
  /* A self-IPI with an illegal vector: send and receive errors. */
  wr(LAPIC_ESR, 0);
  wr(LAPIC_ICR_LO, 1u << 18 | 0x03);
  wr(LAPIC_ESR, 0);
  ck_assert_uint_eq(rd(LAPIC_ESR), APIC_ESR_SEND_ILLEGAL_VECTOR | APIC_ESR_RECV_ILLEGAL_VECTOR);
}
END_TEST

START_TEST(level_triggered_eoi_is_broadcast) {
  ck_assert(fixed(0x70, true));
  ck_assert(vec_set(LAPIC_TMR, 0x70));
  ck_assert_int_eq(lapic_ack(&apic), 0x70);
  wr(LAPIC_EOI, 0);
  ck_assert_int_eq(n_eois, 1);
  ck_assert_int_eq(eois[0], 0x70);
  /* The same vector edge-triggered clears TMR: no broadcast. */
  fixed(0x70, false);
  ck_assert(!vec_set(LAPIC_TMR, 0x70));
  ck_assert_int_eq(lapic_ack(&apic), 0x70);
  wr(LAPIC_EOI, 0);
  ck_assert_int_eq(n_eois, 1);
}
END_TEST

START_TEST(software_disable_masks_everything) {
  wr(LAPIC_SVR, 0x0ff);
  ck_assert_uint_eq(rd(LAPIC_LVT_LINT0) & APIC_LVT_MASKED, APIC_LVT_MASKED);
  ck_assert_uint_eq(rd(LAPIC_LVT_LINT1) & APIC_LVT_MASKED, APIC_LVT_MASKED);
  wr(LAPIC_LVT_TIMER, 0x40);
  ck_assert_uint_eq(rd(LAPIC_LVT_TIMER), 0x10040); /* the mask cannot be cleared */
  ck_assert(!fixed(0x40, false));
  ck_assert(!vec_set(LAPIC_IRR, 0x40));
  struct apic_msg nmi = {.delivery = APIC_DM_NMI, .dest = 0};
  ck_assert(lapic_deliver(&apic, &nmi)); /* NMI still accepted */
  ck_assert(lapic_nmi_pending(&apic));
  lapic_nmi_ack(&apic);
  ck_assert(!lapic_nmi_pending(&apic));
  wr(LAPIC_SVR, 0x1ff);
  ck_assert_uint_eq(rd(LAPIC_LVT_TIMER), 0x10040); /* stays masked until written */
  wr(LAPIC_LVT_TIMER, 0x40);
  ck_assert_uint_eq(rd(LAPIC_LVT_TIMER), 0x40);
  ck_assert(fixed(0x40, false));
  ck_assert_int_eq(lapic_ack(&apic), 0x40);
}
END_TEST

/* ---- destinations and IPIs ---- */

START_TEST(physical_and_logical_destinations) {
  struct apic_msg m = {.vector = 0x41, .delivery = APIC_DM_FIXED, .dest = 1};
  ck_assert(!lapic_deliver(&apic, &m));
  m.dest = 0xff; /* broadcast */
  ck_assert(lapic_deliver(&apic, &m));
  wr(LAPIC_ID, 0x03000000);
  m.dest = 3;
  ck_assert(lapic_deliver(&apic, &m));
  m.dest = 0;
  ck_assert(!lapic_deliver(&apic, &m));

  m.logical = true;
  m.dest = 0x01;
  ck_assert(!lapic_deliver(&apic, &m)); /* LDR 0 */
  wr(LAPIC_LDR, 0x01000000);            /* flat model: a bit mask */
  ck_assert(lapic_deliver(&apic, &m));
  m.dest = 0x02;
  ck_assert(!lapic_deliver(&apic, &m));
  m.dest = 0x03;
  ck_assert(lapic_deliver(&apic, &m));

  wr(LAPIC_DFR, 0x0fffffff);            /* cluster model: cluster 1, member bit 1 */
  wr(LAPIC_LDR, 0x12000000);
  m.dest = 0x12;
  ck_assert(lapic_deliver(&apic, &m));
  m.dest = 0x13;
  ck_assert(lapic_deliver(&apic, &m));
  m.dest = 0x22;
  ck_assert(!lapic_deliver(&apic, &m));
  m.dest = 0x11;
  ck_assert(!lapic_deliver(&apic, &m));
}
END_TEST

START_TEST(ipis_to_self) {
  wr(LAPIC_ICR_LO, 1u << 18 | 0x90); /* shorthand: self */
  ck_assert(vec_set(LAPIC_IRR, 0x90));
  ck_assert_uint_eq(rd(LAPIC_ICR_LO) & APIC_LVT_DELIVERY_STATUS, 0); /* idle at once */
  wr(LAPIC_ICR_LO, 3u << 18 | 0x91); /* all excluding self: nobody */
  ck_assert(!vec_set(LAPIC_IRR, 0x91));
  wr(LAPIC_ICR_LO, 2u << 18 | 0x92); /* all including self */
  ck_assert(vec_set(LAPIC_IRR, 0x92));
  wr(LAPIC_ICR_HI, 0x00000000);
  wr(LAPIC_ICR_LO, 0x93);            /* destination field: APIC ID 0 */
  ck_assert(vec_set(LAPIC_IRR, 0x93));
  wr(LAPIC_ICR_HI, 0x01000000);
  wr(LAPIC_ICR_LO, 0x94);            /* APIC ID 1: not there */
  ck_assert(!vec_set(LAPIC_IRR, 0x94));
  /* INIT, INIT de-assert and STARTUP go to other CPUs and change nothing here. */
  wr(LAPIC_ICR_LO, 3u << 18 | 0x4500);
  wr(LAPIC_ICR_LO, 2u << 18 | 0x8500);
  wr(LAPIC_ICR_LO, 3u << 18 | 0x0699);
  ck_assert_uint_eq(rd(LAPIC_SVR), 0x1ff);
  ck_assert(vec_set(LAPIC_IRR, 0x90));
  wr(LAPIC_ICR_LO, 1u << 18 | 0x400); /* NMI to self */
  ck_assert(lapic_nmi_pending(&apic));
}
END_TEST

/* ---- the timer ---- */

START_TEST(one_shot_counts_down_and_fires_once) {
  wr(LAPIC_TIMER_DCR, 0x0b); /* divide by 1: 10 ns a count */
  wr(LAPIC_LVT_TIMER, 0x40);
  wr(LAPIC_TIMER_ICR, 1000);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 1000);
  at(5000);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 500);
  at(9999);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 1);
  ck_assert(!vec_set(LAPIC_IRR, 0x40));
  ck_assert_uint_eq(timers_next_deadline(&timers), T0 + 10000);
  at(10000);
  ck_assert(vec_set(LAPIC_IRR, 0x40));
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 0);
  ck_assert_uint_eq(timers_next_deadline(&timers), UINT64_MAX);
  ck_assert_int_eq(lapic_ack(&apic), 0x40);
  wr(LAPIC_EOI, 0);
  at(50000);
  ck_assert(!lapic_intr_pending(&apic));
  ck_assert_uint_eq(rd(LAPIC_TIMER_ICR), 1000);
}
END_TEST

START_TEST(periodic_reloads_and_merges_missed_periods) {
  wr(LAPIC_TIMER_DCR, 0x01); /* divide by 4: 40 ns a count */
  wr(LAPIC_LVT_TIMER, APIC_LVT_TIMER_PERIODIC | 0x41);
  wr(LAPIC_TIMER_ICR, 2500); /* 100 us */
  int fired = 0;
  for (int k = 1; k <= 3; k++) {
    at((uint64_t)k * 100000 - 40);
    ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 1);
    ck_assert(!lapic_intr_pending(&apic));
    at((uint64_t)k * 100000);
    if (lapic_intr_pending(&apic)) {
      ck_assert_int_eq(lapic_ack(&apic), 0x41);
      wr(LAPIC_EOI, 0);
      fired++;
    }
    ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 2500); /* reloaded */
  }
  ck_assert_int_eq(fired, 3);
  ck_assert_uint_eq(timers_next_deadline(&timers), T0 + 400000);
  at(300000 + 50000);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 1250);
  /* The host was late by ten periods: one interrupt, and the count is where time says. */
  fake_ns = T0 + 1300000 + 20000;
  timers_run(&timers, fake_ns);
  ck_assert_int_eq(lapic_ack(&apic), 0x41);
  wr(LAPIC_EOI, 0);
  ck_assert(!lapic_intr_pending(&apic));
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 2000);
  ck_assert_uint_eq(timers_next_deadline(&timers), T0 + 1400000);
}
END_TEST

START_TEST(masked_timer_counts_silently) {
  wr(LAPIC_TIMER_DCR, 0x0b);
  wr(LAPIC_LVT_TIMER, APIC_LVT_MASKED | APIC_LVT_TIMER_PERIODIC | 0x42);
  wr(LAPIC_TIMER_ICR, 1000);
  ck_assert_uint_eq(timers_next_deadline(&timers), UINT64_MAX); /* no host timer for it */
  at(25000);
  ck_assert(!vec_set(LAPIC_IRR, 0x42));
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 500);
  /* Unmasked, it interrupts at the next reload. */
  wr(LAPIC_LVT_TIMER, APIC_LVT_TIMER_PERIODIC | 0x42);
  ck_assert_uint_eq(timers_next_deadline(&timers), T0 + 30000);
  at(30000);
  ck_assert(vec_set(LAPIC_IRR, 0x42));
  wr(LAPIC_LVT_TIMER, APIC_LVT_MASKED | APIC_LVT_TIMER_PERIODIC | 0x42);
  at(35000);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 500);
  wr(LAPIC_TIMER_ICR, 0); /* stops it */
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 0);
  ck_assert_uint_eq(timers_next_deadline(&timers), UINT64_MAX);
}
END_TEST

START_TEST(one_shot_expired_while_masked_stays_quiet) {
  wr(LAPIC_TIMER_DCR, 0x0b);
  wr(LAPIC_LVT_TIMER, APIC_LVT_MASKED | 0x45);
  wr(LAPIC_TIMER_ICR, 100);
  at(5000);
  wr(LAPIC_LVT_TIMER, 0x45);
  ck_assert(!lapic_intr_pending(&apic));
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 0);
  ck_assert_uint_eq(timers_next_deadline(&timers), UINT64_MAX);
}
END_TEST

START_TEST(periodic_host_timer_is_rate_limited) {
  wr(LAPIC_TIMER_DCR, 0x0b);
  wr(LAPIC_LVT_TIMER, APIC_LVT_TIMER_PERIODIC | 0x46);
  wr(LAPIC_TIMER_ICR, 10); /* 100 ns */
  at(100);
  ck_assert_int_eq(lapic_ack(&apic), 0x46);
  wr(LAPIC_EOI, 0);
  ck_assert_uint_eq(timers_next_deadline(&timers), T0 + 100 + LAPIC_MIN_PERIOD_NS);
  at(150);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 5); /* the count itself keeps time */
}
END_TEST

START_TEST(divide_change_keeps_the_count) {
  wr(LAPIC_TIMER_DCR, 0x00); /* divide by 2: 20 ns */
  wr(LAPIC_LVT_TIMER, 0x43);
  wr(LAPIC_TIMER_ICR, 1000);
  at(10000);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 500);
  wr(LAPIC_TIMER_DCR, 0x0b); /* divide by 1 from here */
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 500);
  at(12500);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 250);
  at(14999);
  ck_assert(!vec_set(LAPIC_IRR, 0x43));
  at(15000);
  ck_assert(vec_set(LAPIC_IRR, 0x43));
}
END_TEST

START_TEST(divide_values) {
  static const struct { uint32_t dcr, divide; } cases[] = {
      {0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
  for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    fake_ns = T0 + i * 10000000ull;
    wr(LAPIC_TIMER_DCR, cases[i].dcr);
    wr(LAPIC_TIMER_ICR, 100000);
    fake_ns += 1000ull * LAPIC_TICK_NS * cases[i].divide;
    ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 100000 - 1000);
  }
}
END_TEST

START_TEST(mode_switch_to_one_shot_stops_after_the_current_count) {
  wr(LAPIC_TIMER_DCR, 0x0b);
  wr(LAPIC_LVT_TIMER, APIC_LVT_TIMER_PERIODIC | 0x44);
  wr(LAPIC_TIMER_ICR, 1000);
  at(10000);
  ck_assert_int_eq(lapic_ack(&apic), 0x44);
  wr(LAPIC_EOI, 0);
  at(12000);
  wr(LAPIC_LVT_TIMER, 0x44);
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 800);
  at(20000);
  ck_assert_int_eq(lapic_ack(&apic), 0x44);
  wr(LAPIC_EOI, 0);
  at(40000);
  ck_assert(!lapic_intr_pending(&apic));
  ck_assert_uint_eq(rd(LAPIC_TIMER_CCR), 0);
}
END_TEST

/* ---- LINT0, LINT1 and the 8259A ---- */

static struct ioports io;
static struct pic pic;

static void pic_intr_to_lint0(void *opaque, bool level) {
  irq_set(lapic_lint_line(opaque, 0), level);
}

static int pic_inta(void *opaque) { return pic_ack(opaque); }

static void out(uint16_t port, uint8_t v) { ioports_write(&io, port, 1, v); }

static void pic_setup(void) {
  ioports_init(&io, false, NULL);
  ck_assert_int_eq(pic_init(&pic, &io), 0);
  pic_set_intr_callback(&pic, pic_intr_to_lint0, &apic);
  lapic_set_extint_ack(&apic, pic_inta, &pic);
  /* Linux's init_8259A: vectors 0x30/0x38, everything unmasked. */
  static const uint8_t seq[][2] = {{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                   {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01},
                                   {0x21, 0x00}, {0xa1, 0x00}};
  for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
    out(seq[i][0], seq[i][1]);
}

START_TEST(extint_virtual_wire_through_lint0) {
  pic_setup();
  ck_assert(!lapic_intr_pending(&apic));
  irq_pulse(pic_irq_line(&pic, 1));
  ck_assert(lapic_intr_pending(&apic));
  wr(LAPIC_TPR, 0xff); /* ExtINT ignores priority */
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_int_eq(lapic_ack(&apic), 0x31);
  ck_assert(!lapic_intr_pending(&apic));
  ck_assert_uint_eq(rd(LAPIC_ISR + 0x10), 0); /* nothing in service in the APIC */
  out(0x20, 0x20);
  wr(LAPIC_TPR, 0);

  /* A fixed interrupt and the PIC together: ExtINT goes first, then the fixed vector. */
  fixed(0x80, false);
  irq_pulse(pic_irq_line(&pic, 4));
  ck_assert_int_eq(lapic_ack(&apic), 0x34);
  out(0x20, 0x20);
  ck_assert_int_eq(lapic_ack(&apic), 0x80);
  wr(LAPIC_EOI, 0);

  /* Linux masks LINT0 once the IOAPIC takes over: the PIC no longer reaches the CPU. */
  wr(LAPIC_LVT_LINT0, APIC_LVT_MASKED | 0x700);
  irq_pulse(pic_irq_line(&pic, 3));
  ck_assert(!lapic_intr_pending(&apic));
  wr(LAPIC_LVT_LINT0, 0x700);
  ck_assert(lapic_intr_pending(&apic)); /* INTR is a level: still asserted */
  ck_assert_int_eq(lapic_ack(&apic), 0x33);
  out(0x20, 0x20);
  pic_exit(&pic);
}
END_TEST

START_TEST(globally_disabled_apic_passes_the_pic_through) {
  pic_setup();
  ck_assert_int_eq(lapic_set_base_msr(&apic, 0xfee00000ull | APIC_BASE_BSP), 0);
  uint64_t v;
  ck_assert(mmio_read(&mmio, LAPIC_DEFAULT_BASE + LAPIC_VER, 4, &v));
  ck_assert_uint_eq(v, 0xffffffff); /* the registers are gone */
  irq_pulse(pic_irq_line(&pic, 6));
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_int_eq(lapic_ack(&apic), 0x36);
  out(0x20, 0x20);
  /* Re-enabled, it is in its power-up state: LINT0 masked, software-disabled. */
  ck_assert_int_eq(lapic_set_base_msr(&apic, 0xfee00000ull | APIC_BASE_ENABLE), 0);
  ck_assert_uint_eq(lapic_base_msr(&apic), 0xfee00900ull);
  ck_assert_uint_eq(rd(LAPIC_SVR), 0xff);
  ck_assert_uint_eq(rd(LAPIC_LVT_LINT0), 0x10000);
  irq_pulse(pic_irq_line(&pic, 5));
  ck_assert(!lapic_intr_pending(&apic));
  pic_exit(&pic);
}
END_TEST

START_TEST(lint1_nmi_on_rising_edge) {
  const struct irq_line *lint1 = lapic_lint_line(&apic, 1);
  irq_set(lint1, 1);
  ck_assert(lapic_nmi_pending(&apic));
  lapic_nmi_ack(&apic);
  irq_set(lint1, 1);
  ck_assert(!lapic_nmi_pending(&apic)); /* no new edge */
  irq_set(lint1, 0);
  irq_set(lint1, 1);
  ck_assert(lapic_nmi_pending(&apic));
  ck_assert(!lapic_intr_pending(&apic));
}
END_TEST

START_TEST(lint0_fixed_level_holds_remote_irr_until_eoi) {
  const struct irq_line *lint0 = lapic_lint_line(&apic, 0);
  wr(LAPIC_LVT_LINT0, APIC_LVT_LEVEL | 0x81);
  irq_set(lint0, 1);
  ck_assert(vec_set(LAPIC_IRR, 0x81));
  ck_assert(vec_set(LAPIC_TMR, 0x81));
  ck_assert_uint_eq(rd(LAPIC_LVT_LINT0) & APIC_LVT_REMOTE_IRR, APIC_LVT_REMOTE_IRR);
  ck_assert_int_eq(lapic_ack(&apic), 0x81);
  wr(LAPIC_EOI, 0); /* still asserted: delivered again */
  ck_assert(vec_set(LAPIC_IRR, 0x81));
  ck_assert_int_eq(lapic_ack(&apic), 0x81);
  irq_set(lint0, 0);
  wr(LAPIC_EOI, 0);
  ck_assert_uint_eq(rd(LAPIC_LVT_LINT0) & APIC_LVT_REMOTE_IRR, 0);
  ck_assert(!lapic_intr_pending(&apic));
  ck_assert_int_eq(n_eois, 2);

  /* Active-low and edge-triggered: the falling edge requests. */
  wr(LAPIC_LVT_LINT0, APIC_LVT_MASKED | APIC_LVT_LEVEL | 0x81);
  irq_set(lint0, 1);
  wr(LAPIC_LVT_LINT0, APIC_LVT_ACTIVE_LOW | 0x82);
  ck_assert(!vec_set(LAPIC_IRR, 0x82));
  irq_set(lint0, 0);
  ck_assert(vec_set(LAPIC_IRR, 0x82));
  ck_assert(!vec_set(LAPIC_TMR, 0x82));
}
END_TEST

START_TEST(extint_message_from_the_ioapic) {
  pic_setup();
  wr(LAPIC_LVT_LINT0, APIC_LVT_MASKED | 0x700);
  irq_pulse(pic_irq_line(&pic, 0));
  ck_assert(!lapic_intr_pending(&apic));
  struct apic_msg m = {.delivery = APIC_DM_EXTINT, .dest = 0};
  ck_assert(lapic_deliver(&apic, &m));
  ck_assert(lapic_intr_pending(&apic));
  ck_assert_int_eq(lapic_ack(&apic), 0x30);
  ck_assert(!lapic_intr_pending(&apic));
  pic_exit(&pic);
}
END_TEST

/* ---- IA32_APIC_BASE ---- */

START_TEST(base_msr_reserved_bits_fault) {
  ck_assert_int_eq(lapic_set_base_msr(&apic, 0xfee00900ull | 1u << 10), -EINVAL); /* x2APIC */
  ck_assert_int_eq(lapic_set_base_msr(&apic, 0xfee00900ull | 1u), -EINVAL);
  ck_assert_int_eq(lapic_set_base_msr(&apic, 0x1fee00900ull), -EINVAL);
  ck_assert_int_eq(lapic_set_base_msr(&apic, 0xfee00800ull), 0); /* BSP is read-only */
  ck_assert_uint_eq(lapic_base_msr(&apic), 0xfee00900ull);
  /* Moved elsewhere, the registers no longer answer at the old address. */
  ck_assert_int_eq(lapic_set_base_msr(&apic, 0xfed00900ull), 0);
  uint64_t v;
  ck_assert(mmio_read(&mmio, LAPIC_DEFAULT_BASE + LAPIC_VER, 4, &v));
  ck_assert_uint_eq(v, 0xffffffff);
}
END_TEST

static Suite *lapic_suite(void) {
  Suite *s = suite_create("lapic");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, starts_as_a_bios_leaves_it);
  tcase_add_test(tc, register_write_masks);
  tcase_add_test(tc, reserved_register_sets_illegal_register_address);
  tcase_add_test(tc, highest_class_first_and_eoi_clears_highest_isr);
  tcase_add_test(tc, same_class_waits_for_eoi);
  tcase_add_test(tc, repeated_requests_collapse_into_one);
  tcase_add_test(tc, tpr_masks_by_class);
  tcase_add_test(tc, arbitration_priority);
  tcase_add_test(tc, ack_without_a_deliverable_vector_is_spurious);
  tcase_add_test(tc, illegal_vectors_are_refused_and_reported);
  tcase_add_test(tc, level_triggered_eoi_is_broadcast);
  tcase_add_test(tc, software_disable_masks_everything);
  tcase_add_test(tc, physical_and_logical_destinations);
  tcase_add_test(tc, ipis_to_self);
  tcase_add_test(tc, one_shot_counts_down_and_fires_once);
  tcase_add_test(tc, periodic_reloads_and_merges_missed_periods);
  tcase_add_test(tc, masked_timer_counts_silently);
  tcase_add_test(tc, one_shot_expired_while_masked_stays_quiet);
  tcase_add_test(tc, periodic_host_timer_is_rate_limited);
  tcase_add_test(tc, divide_change_keeps_the_count);
  tcase_add_test(tc, divide_values);
  tcase_add_test(tc, mode_switch_to_one_shot_stops_after_the_current_count);
  tcase_add_test(tc, extint_virtual_wire_through_lint0);
  tcase_add_test(tc, globally_disabled_apic_passes_the_pic_through);
  tcase_add_test(tc, lint1_nmi_on_rising_edge);
  tcase_add_test(tc, lint0_fixed_level_holds_remote_irr_until_eoi);
  tcase_add_test(tc, extint_message_from_the_ioapic);
  tcase_add_test(tc, base_msr_reserved_bits_fault);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(lapic_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
