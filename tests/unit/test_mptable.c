/* test_mptable.c - the MP 1.4 tables found and parsed back as Linux's mpparse.c does: the
 * floating pointer by its 16-byte scan of 0xF0000-0xFFFFF, the configuration table's
 * checksum, header and entries in order. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/isairq.h"
#include "devices/mptable.h"
#include "tests/unit/table_bytes.h"

#define PHYS 0xf0000u
#define AREA 0x10000u

static uint8_t mem[AREA];

/* smp_scan_config(): signature, length 1, checksum, revision 1 or 4. */
static const uint8_t *find_mpf(void) {
  for (size_t off = 0; off + 16 <= AREA; off += 16) {
    const uint8_t *p = mem + off;
    if (memcmp(p, "_MP_", 4) == 0 && p[8] == 1 && sum(p, 16) == 0 && (p[9] == 1 || p[9] == 4))
      return p;
  }
  return NULL;
}

/* smp_check_mpc(): the configuration table the floating pointer names. */
static const uint8_t *config(void) {
  const uint8_t *mpf = find_mpf();
  ck_assert_ptr_nonnull(mpf);
  ck_assert_uint_eq(mpf[11], 0); /* not a default configuration */
  uint32_t pa = get32(mpf + 4);
  ck_assert_uint_ge(pa, PHYS);
  const uint8_t *t = mem + (pa - PHYS);
  ck_assert_mem_eq(t, "PCMP", 4);
  uint16_t len = get16(t + 4);
  ck_assert_uint_le(pa - PHYS + len, AREA);
  ck_assert_uint_eq(sum(t, len), 0);
  ck_assert_uint_eq(t[6], 4);
  return t;
}

struct parsed {
  int procs, buses, ioapics, intsrcs, lintsrcs;
  int pci_bus, isa_bus;
  const uint8_t *isa[16];   /* I/O interrupt entry of each ISA IRQ */
  const uint8_t *pci[8];
  int n_pci;
  const uint8_t *lint[2];
};

static void parse(const uint8_t *t, struct parsed *r) {
  memset(r, 0, sizeof(*r));
  r->pci_bus = r->isa_bus = -1;
  uint16_t len = get16(t + 4);
  const uint8_t *p = t + 44, *end = t + len;
  int count = 0, last_type = 0;
  while (p < end) {
    ck_assert_int_ge(p[0], last_type); /* entries sorted by type */
    last_type = p[0];
    count++;
    switch (p[0]) {
    case MP_PROCESSOR:
      ck_assert_uint_eq(p[3] & 3, 3); /* enabled, bootstrap processor */
      r->procs++;
      p += 20;
      continue;
    case MP_BUS:
      if (memcmp(p + 2, "PCI   ", 6) == 0)
        r->pci_bus = p[1];
      else if (memcmp(p + 2, "ISA   ", 6) == 0)
        r->isa_bus = p[1];
      else
        ck_abort_msg("unknown bus type");
      r->buses++;
      break;
    case MP_IOAPIC:
      ck_assert_uint_eq(p[1], 1);
      ck_assert_uint_eq(p[2], 0x11);
      ck_assert_uint_eq(p[3] & 1, 1);
      ck_assert_uint_eq(get32(p + 4), 0xfec00000);
      r->ioapics++;
      break;
    case MP_INTSRC:
      ck_assert_uint_eq(p[6], 1); /* the IOAPIC's ID */
      if (p[4] == r->isa_bus) {
        ck_assert_uint_lt(p[5], 16);
        ck_assert_ptr_null(r->isa[p[5]]);
        r->isa[p[5]] = p;
      } else {
        ck_assert_int_eq(p[4], r->pci_bus);
        r->pci[r->n_pci++] = p;
      }
      r->intsrcs++;
      break;
    case MP_LINTSRC:
      ck_assert_uint_lt(p[7], 2);
      r->lint[p[7]] = p;
      r->lintsrcs++;
      break;
    default:
      ck_abort_msg("unknown entry type %u", p[0]);
    }
    p += 8;
  }
  ck_assert_ptr_eq(p, end);
  ck_assert_int_eq(count, get16(t + 34));
}

START_TEST(floating_pointer_is_found_where_linux_scans) {
  struct mptable_config cfg;
  mptable_config_default(&cfg);
  int n = mptable_build(mem, MPTABLE_SIZE, PHYS, &cfg);
  ck_assert_int_gt(n, 0);
  ck_assert_int_le(n, MPTABLE_SIZE);
  const uint8_t *mpf = find_mpf();
  ck_assert_ptr_eq(mpf, mem);
  ck_assert_uint_eq(mpf[9], 4);
  ck_assert_uint_eq(mpf[12] & 0x80, 0); /* no IMCR: virtual wire mode */
  const uint8_t *t = config();
  ck_assert_uint_eq(get32(t + 36), 0xfee00000);
  ck_assert_uint_eq(get16(t + 40), 0); /* no extended table */
  ck_assert_uint_eq(get32(mpf + 4) - PHYS + get16(t + 4), (uint32_t)n);
  ck_assert_uint_ge((uint32_t)MPTABLE_ADDR, 0xf0000u); /* inside Linux's scan */
  ck_assert_uint_le((uint32_t)MPTABLE_ADDR + MPTABLE_SIZE, 0x100000u);
}
END_TEST

START_TEST(processor_buses_and_ioapic) {
  struct mptable_config cfg;
  mptable_config_default(&cfg);
  cfg.cpu_features = 0x0383fbff;
  ck_assert_int_gt(mptable_build(mem, MPTABLE_SIZE, PHYS, &cfg), 0);
  const uint8_t *t = config();
  struct parsed r;
  parse(t, &r);
  ck_assert_int_eq(r.procs, 1);
  ck_assert_int_eq(r.buses, 2);
  ck_assert_int_eq(r.ioapics, 1);
  ck_assert_int_ge(r.pci_bus, 0);
  ck_assert_int_ge(r.isa_bus, 0);
  const uint8_t *cpu = t + 44;
  ck_assert_uint_eq(cpu[1], 0);          /* APIC ID */
  ck_assert_uint_eq(cpu[2], 0x14);       /* APIC version */
  ck_assert_uint_eq(get32(cpu + 4), 0x6d6);
  ck_assert_uint_eq(get32(cpu + 8), 0x0383fbff);
}
END_TEST

START_TEST(isa_interrupts_and_local_interrupts) {
  struct mptable_config cfg;
  mptable_config_default(&cfg);
  ck_assert_int_gt(mptable_build(mem, MPTABLE_SIZE, PHYS, &cfg), 0);
  struct parsed r;
  parse(config(), &r);
  ck_assert_int_eq(r.intsrcs, 15);
  for (int irq = 0; irq < 16; irq++) {
    const uint8_t *e = r.isa[irq];
    if (irq == 2) {
      ck_assert_ptr_null(e); /* the cascade */
      continue;
    }
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e[1], MP_INT);
    ck_assert_int_eq(e[7], isa_irq_to_gsi(irq)); /* as the ISA lines are wired */
    ck_assert_uint_eq(get16(e + 2), irq == 9 ? 0x0f : 0); /* the SCI: level, active low */
  }
  ck_assert_uint_eq(r.isa[0][7], 2);
  ck_assert_int_eq(r.lintsrcs, 2);
  ck_assert_uint_eq(r.lint[0][1], MP_EXTINT);
  ck_assert_uint_eq(r.lint[0][6], 0xff);
  ck_assert_uint_eq(r.lint[1][1], MP_NMI);
  ck_assert_uint_eq(r.lint[1][6], 0xff);
}
END_TEST

START_TEST(pci_routes_take_their_inputs) {
  static const struct mptable_pci_irq routes[] = {{3, 0, 11}, {4, 1, 16}};
  struct mptable_config cfg;
  mptable_config_default(&cfg);
  cfg.pci_irqs = routes;
  cfg.n_pci_irqs = 2;
  cfg.sci_irq = -1;
  ck_assert_int_gt(mptable_build(mem, MPTABLE_SIZE, PHYS, &cfg), 0);
  struct parsed r;
  parse(config(), &r);
  ck_assert_int_eq(r.n_pci, 2);
  ck_assert_uint_eq(r.pci[0][5], 3 << 2 | 0); /* device 3, INTA# */
  ck_assert_uint_eq(r.pci[0][7], 11);
  ck_assert_uint_eq(get16(r.pci[0] + 2), 0);  /* PCI: level, active low by the bus */
  ck_assert_uint_eq(r.pci[1][5], 4 << 2 | 1); /* device 4, INTB# */
  ck_assert_uint_eq(r.pci[1][7], 16);
  ck_assert_ptr_null(r.isa[11]); /* input 11 is PCI's now */
  ck_assert_uint_eq(get16(r.isa[9] + 2), 0);
  ck_assert_int_eq(r.intsrcs, 2 + 14);
}
END_TEST

START_TEST(bad_arguments) {
  struct mptable_config cfg;
  mptable_config_default(&cfg);
  ck_assert_int_eq(mptable_build(mem, MPTABLE_SIZE, PHYS + 4, &cfg), -EINVAL);
  ck_assert_int_eq(mptable_build(mem, 64, PHYS, &cfg), -ENOSPC);
  static const struct mptable_pci_irq bad[] = {{3, 4, 11}};
  cfg.pci_irqs = bad;
  cfg.n_pci_irqs = 1;
  ck_assert_int_eq(mptable_build(mem, MPTABLE_SIZE, PHYS, &cfg), -EINVAL);
}
END_TEST

static Suite *mptable_suite(void) {
  Suite *s = suite_create("mptable");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, floating_pointer_is_found_where_linux_scans);
  tcase_add_test(tc, processor_buses_and_ioapic);
  tcase_add_test(tc, isa_interrupts_and_local_interrupts);
  tcase_add_test(tc, pci_routes_take_their_inputs);
  tcase_add_test(tc, bad_arguments);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(mptable_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
