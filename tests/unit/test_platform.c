/* test_platform.c - the PC as devices/machine.c wires it: the ACPI and MP tables where a kernel
 * scans for them (checksums, the addresses of the APICs), CPUID and the APIC base MSR, the ISA
 * IRQ lines reaching the CPU through the IOAPIC and the local APIC or through the 8259A in
 * virtual wire mode, ACPI power-off and the PIIX3 reset, the IDE disk from the command line,
 * and -no-acpi / --no-apic. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/machine.h"
#include "devices/mptable.h"
#include "tests/unit/table_bytes.h"

static struct machine m;

static void start(bool no_acpi, bool no_apic) {
  struct machine_config cfg;
  machine_config_default(&cfg);
  cfg.ram_bytes = 16u << 20;
  cfg.serial.kind = CHARDEV_NONE;
  cfg.no_acpi = no_acpi;
  cfg.no_apic = no_apic;
  ck_assert_int_eq(machine_init(&m, &cfg), 0);
}

static void stop(void) { machine_exit(&m); }

/* IRQ 1 unmasked at the 8259A (vectors 0x08.. as the BIOS left them) and raised reaches the
 * CPU as vector 0x09. */
static void check_irq1_through_the_8259a(void) {
  ioports_write(&m.io, 0x21, 1, 0xfd);
  irq_set(isa_irq_line(&m.isa, 1), 1);
  ck_assert(m.cpu.env.intr_pending(m.cpu.env.opaque));
  ck_assert_int_eq(m.cpu.env.intr_ack(m.cpu.env.opaque), 0x09);
}

static const uint8_t *phys(uint32_t pa, uint32_t len) { return mmu_phys_ptr(&m.mmu, pa, len); }

/* As Linux scans the BIOS area: 16-byte steps from 0xE0000 (RSDP) or 0xF0000 (MP), signature
 * and checksum. Returns the physical address or 0. */
static uint32_t scan(uint32_t from, const char *sig, uint32_t len) {
  for (uint32_t pa = from; pa + len <= 0x100000u; pa += 16) {
    const uint8_t *p = phys(pa, len);
    if (memcmp(p, sig, strlen(sig)) == 0 && sum(p, len) == 0)
      return pa;
  }
  return 0;
}

/* The ACPI table with that signature through RSDP -> RSDT, checksums checked; 0 if none. */
static uint32_t acpi_table(const char *sig) {
  uint32_t rsdp = scan(0xe0000, "RSD PTR ", 20);
  ck_assert_uint_ne(rsdp, 0);
  uint32_t rsdt = get32(phys(rsdp + 16, 4));
  const uint8_t *r = phys(rsdt, 36);
  ck_assert_mem_eq(r, "RSDT", 4);
  ck_assert_uint_eq(sum(r, get32(r + 4)), 0);
  for (uint32_t off = 36; off < get32(r + 4); off += 4) {
    uint32_t pa = get32(r + off);
    const uint8_t *t = phys(pa, 36);
    if (memcmp(t, sig, 4) == 0) {
      ck_assert_uint_eq(sum(t, get32(t + 4)), 0);
      return pa;
    }
  }
  return 0;
}

START_TEST(acpi_tables_describe_the_machine) {
  start(false, false);
  ck_assert_uint_eq(scan(0xe0000, "RSD PTR ", 20), ACPI_TABLES_ADDR);
  const uint8_t *fadt = phys(acpi_table("FACP"), 244);
  ck_assert_uint_eq(get32(fadt + 76), ACPI_PM_BASE + 8); /* PM_TMR_BLK: registered below */
  ck_assert_uint_eq(fadt[108], 0x32);                    /* the RTC's century byte */
  const uint8_t *dsdt = phys(get32(fadt + 40), 36);
  ck_assert_uint_eq(sum(dsdt, get32(dsdt + 4)), 0);
  uint32_t madt_pa = acpi_table("APIC");
  const uint8_t *madt = phys(madt_pa, 44);
  ck_assert_uint_eq(get32(madt + 36), LAPIC_DEFAULT_BASE);
  bool ioapic = false;
  for (uint32_t off = 44; off < get32(madt + 4);) {
    const uint8_t *e = phys(madt_pa + off, 12);
    ck_assert_uint_ge(e[1], 2);
    off += e[1];
    if (e[0] == 1) {
      ck_assert_uint_eq(get32(e + 4), IOAPIC_DEFAULT_BASE);
      ck_assert_uint_eq(e[2], m.ioapic.id);
      ioapic = true;
    }
  }
  ck_assert(ioapic);
  /* The PM timer counts at 3.58 MHz on host time. */
  uint32_t t0 = ioports_read(&m.io, ACPI_PM_BASE + 8, 4);
  usleep(2000);
  uint32_t t1 = ioports_read(&m.io, ACPI_PM_BASE + 8, 4);
  ck_assert_uint_ge(t1 - t0, 7000); /* 2 ms = 7159 ticks */
  stop();
}
END_TEST

START_TEST(mp_table_describes_the_machine) {
  start(false, false);
  uint32_t fp = scan(0xf0000, "_MP_", 16);
  ck_assert_uint_eq(fp, MPTABLE_ADDR);
  uint32_t ct = get32(phys(fp + 4, 4));
  const uint8_t *c = phys(ct, 44);
  ck_assert_mem_eq(c, "PCMP", 4);
  ck_assert_uint_eq(sum(c, get16(c + 4)), 0);
  ck_assert_uint_eq(get32(c + 36), LAPIC_DEFAULT_BASE);
  /* The processor entry repeats CPUID's features, APIC included. */
  const uint8_t *e = phys(ct + 44, 20);
  ck_assert_uint_eq(e[0], MP_PROCESSOR);
  ck_assert_uint_eq(get32(e + 8), cpu_features_edx(&m.cpu));
  ck_assert_uint_ne(cpu_features_edx(&m.cpu) & (1u << 9), 0);
  stop();
}
END_TEST

START_TEST(cpuid_and_the_apic_base_msr) {
  start(false, false);
  m.cpu.regs[R_EAX] = 1;
  cpu_cpuid(&m.cpu);
  ck_assert_uint_ne(m.cpu.regs[R_EDX] & (1u << 9), 0);
  ck_assert_uint_ne(m.cpu.regs[R_ECX] & (1u << 31), 0); /* a hypervisor, as QEMU and KVM say */
  m.cpu.regs[R_EAX] = 0x40000000;
  cpu_cpuid(&m.cpu);
  char vendor[13] = {0};
  memcpy(vendor, &m.cpu.regs[R_EBX], 4);
  memcpy(vendor + 4, &m.cpu.regs[R_ECX], 4);
  memcpy(vendor + 8, &m.cpu.regs[R_EDX], 4);
  ck_assert_uint_eq(m.cpu.regs[R_EAX], 0x40000000); /* the highest hypervisor leaf */
  ck_assert_str_eq(vendor, "bt386 VMM");
  uint64_t v = 0;
  ck_assert(m.cpu.env.msr_read(m.cpu.env.opaque, 0x1b, &v));
  ck_assert_uint_eq(v, 0xfee00900u); /* base, enabled, BSP */
  ck_assert(!m.cpu.env.msr_read(m.cpu.env.opaque, 0x1c, &v));
  ck_assert(!m.cpu.env.msr_write(m.cpu.env.opaque, 0x1b, v | 1u << 10)); /* x2APIC: #GP */
  stop();
}
END_TEST

/* CPUID 15H's crystal is what the local APIC timer counts, so that a kernel can take its
 * period from there (Linux: lapic_timer_period = crystal kHz * 1000 / HZ) instead of
 * calibrating it. IA32_MISC_ENABLE's "limit CPUID maxval" bit hides leaves above 2. */
START_TEST(cpuid_states_the_apic_timer_clock) {
  start(false, false);
  m.cpu.regs[R_EAX] = 0;
  cpu_cpuid(&m.cpu);
  ck_assert_uint_ge(m.cpu.regs[R_EAX], 0x15);
  m.cpu.regs[R_EAX] = 0x15;
  cpu_cpuid(&m.cpu);
  ck_assert_uint_eq(m.cpu.regs[R_ECX], LAPIC_BUS_HZ);
  ck_assert_uint_ne(m.cpu.regs[R_EAX], 0);
  ck_assert_uint_ne(m.cpu.regs[R_EBX], 0);
  m.cpu.misc_enable |= MISC_ENABLE_LIMIT_CPUID;
  m.cpu.regs[R_EAX] = 0;
  cpu_cpuid(&m.cpu);
  ck_assert_uint_eq(m.cpu.regs[R_EAX], 2);
  m.cpu.regs[R_EAX] = 0x15; /* above the maximum: the highest basic leaf's data */
  cpu_cpuid(&m.cpu);
  ck_assert_uint_eq(m.cpu.regs[R_EAX], 1);
  stop();
}
END_TEST

static void ioapic_write(uint32_t reg, uint32_t value) {
  mmio_write(&m.mmio, IOAPIC_DEFAULT_BASE, 4, reg);
  mmio_write(&m.mmio, IOAPIC_DEFAULT_BASE + 0x10, 4, value);
}

START_TEST(isa_irq_reaches_the_cpu_through_the_ioapic) {
  start(false, false);
  /* IRQ 14 (the IDE primary channel) to vector 0x51, edge, physical destination APIC 0. */
  ioapic_write(0x10 + 2 * 14, 0x51);
  ioapic_write(0x11 + 2 * 14, 0);
  ck_assert(!m.cpu.env.intr_pending(m.cpu.env.opaque));
  irq_set(isa_irq_line(&m.isa, 14), 1);
  ck_assert(m.cpu.env.intr_pending(m.cpu.env.opaque));
  ck_assert_int_eq(m.cpu.env.intr_ack(m.cpu.env.opaque), 0x51);
  irq_set(isa_irq_line(&m.isa, 14), 0);
  mmio_write(&m.mmio, LAPIC_DEFAULT_BASE + LAPIC_EOI, 4, 0);
  ck_assert(!m.cpu.env.intr_pending(m.cpu.env.opaque));
  stop();
}
END_TEST

START_TEST(the_8259a_passes_through_lint0) {
  start(false, false);
  /* As the BIOS left them: the 8259A at vectors 0x08/0x70, the local APIC in virtual wire
   * mode. Unmask IRQ 1 at the 8259A only. */
  check_irq1_through_the_8259a();
  stop();
}
END_TEST

START_TEST(acpi_s5_powers_off) {
  start(false, false);
  m.debug_exit.status = 7;
  ioports_write(&m.io, ACPI_PM_BASE + 4, 2, ACPI_PM1_SLP_EN | ACPI_S5_SLP_TYP << 10);
  ck_assert_int_eq(m.cpu.shutdown, SHUTDOWN_EXIT);
  ck_assert_int_eq(m.debug_exit.status, 0);
  stop();
}
END_TEST

START_TEST(the_fadt_reset_register_resets) {
  start(false, false);
  const uint8_t *fadt = phys(acpi_table("FACP"), 244);
  ioports_write(&m.io, (uint16_t)get32(fadt + 120), 1, fadt[128]);
  ck_assert_int_eq(m.cpu.shutdown, SHUTDOWN_RESET);
  stop();
}
END_TEST

START_TEST(no_acpi_and_no_apic) {
  start(true, false);
  ck_assert_uint_eq(scan(0xe0000, "RSD PTR ", 20), 0);
  ck_assert_uint_eq(ioports_read(&m.io, ACPI_PM_BASE + 8, 4), 0xffffffffu);
  ck_assert_uint_eq(scan(0xf0000, "_MP_", 16), MPTABLE_ADDR);
  stop();
  start(false, true);
  ck_assert_uint_eq(scan(0xf0000, "_MP_", 16), 0);
  ck_assert_uint_eq(acpi_table("APIC"), 0);
  ck_assert_uint_eq(cpu_features_edx(&m.cpu) & (1u << 9), 0);
  uint64_t v;
  ck_assert(!m.cpu.env.msr_read(m.cpu.env.opaque, 0x1b, &v));
  /* The 8259A straight to the CPU. */
  check_irq1_through_the_8259a();
  stop();
}
END_TEST

START_TEST(ide_disk_from_the_command_line) {
  char path[] = "/tmp/bt386-platform-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
  close(fd);
  struct machine_config cfg;
  machine_config_default(&cfg);
  cfg.ram_bytes = 16u << 20;
  cfg.serial.kind = CHARDEV_NONE;
  snprintf(cfg.drives[0].file, sizeof(cfg.drives[0].file), "%s", path);
  cfg.drives[0].index = 0;
  cfg.n_drives = 1;
  ck_assert_int_eq(machine_init(&m, &cfg), 0);
  /* IDENTIFY on the primary master: DRQ, and the PCI function is at 00:01.1. */
  ioports_write(&m.io, 0x1f6, 1, 0xa0);
  ioports_write(&m.io, 0x1f7, 1, 0xec);
  ck_assert_uint_eq(ioports_read(&m.io, 0x1f7, 1) & (ATA_BSY | ATA_DRQ), ATA_DRQ);
  ioports_write(&m.io, 0xcf8, 4, 0x80000000u | 1u << 11 | 1u << 8);
  ck_assert_uint_eq(ioports_read(&m.io, 0xcfc, 4), 0x70108086u);
  machine_exit(&m);
  /* A missing image stops machine_init with an error. */
  unlink(path);
  ck_assert_int_eq(machine_init(&m, &cfg), -ENOENT);
}
END_TEST

static Suite *platform_suite(void) {
  Suite *s = suite_create("platform");
  TCase *t = tcase_create("machine");
  tcase_set_timeout(t, 30);
  tcase_add_test(t, acpi_tables_describe_the_machine);
  tcase_add_test(t, mp_table_describes_the_machine);
  tcase_add_test(t, cpuid_and_the_apic_base_msr);
  tcase_add_test(t, cpuid_states_the_apic_timer_clock);
  tcase_add_test(t, isa_irq_reaches_the_cpu_through_the_ioapic);
  tcase_add_test(t, the_8259a_passes_through_lint0);
  tcase_add_test(t, acpi_s5_powers_off);
  tcase_add_test(t, the_fadt_reset_register_resets);
  tcase_add_test(t, no_acpi_and_no_apic);
  tcase_add_test(t, ide_disk_from_the_command_line);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  SRunner *r = srunner_create(platform_suite());
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
