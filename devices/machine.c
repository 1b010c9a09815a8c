/* machine.c - bringing the virtual PC up and down, in an explicit order: the interrupt
 * controllers (8259A pair, local APIC, IOAPIC) and the ISA IRQ lines first, then the ISA
 * devices, the PCI bus with the i440FX, the PIIX3 and its IDE function, the ACPI PM block, and
 * the firmware tables (ACPI, MP) in guest RAM. docs/platform.md describes the result. */
#include "devices/machine.h"

#include "devices/le.h"
#include "devices/mptable.h"
#include "devices/smbios.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

void machine_config_default(struct machine_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->ram_bytes = 128ull << 20;
  tc_config_default(&cfg->tc);
  cfg->log = stderr;
  cfg->debugcon = stdout;
  cfg->debug_exit_port = 0xf4;
  cfg->debug_exit_size = 4;
  cfg->serial.kind = CHARDEV_STDIO;
}

/* ---- what the CPU asks of the machine (struct cpu_env) ---- */

static void ticker_arm(struct machine *m);

/* A device access may start or move a timer (the PIT, the RTC's periodic interrupt): the
 * ticker follows at once, since translated code may now run for long without a pass through
 * the run loop's service. */
static uint32_t cpu_io_read(void *opaque, uint16_t port, int size) {
  struct machine *m = opaque;
  uint32_t v = ioports_read(&m->io, port, size);
  ticker_arm(m);
  return v;
}

static void cpu_io_write(void *opaque, uint16_t port, int size, uint32_t value) {
  struct machine *m = opaque;
  ioports_write(&m->io, port, size, value);
  ticker_arm(m);
}

static bool cpu_mmio_read(void *opaque, uint32_t pa, int size, uint64_t *value) {
  struct machine *m = opaque;
  return mmio_read(&m->mmio, pa, size, value);
}

static bool cpu_mmio_write(void *opaque, uint32_t pa, int size, uint64_t value) {
  struct machine *m = opaque;
  bool ok = mmio_write(&m->mmio, pa, size, value);
  ticker_arm(m);
  return ok;
}

static bool mmu_is_device(void *opaque, uint32_t pa) {
  struct machine *m = opaque;
  return mmio_find(&m->mmio, pa) != NULL;
}

/* The CPU's INTR: the local APIC's decision, which passes the 8259A through LINT0 in virtual
 * wire mode (and while the APIC is disabled); without an APIC, the 8259A's INT output. */
static bool cpu_intr_pending(void *opaque) {
  struct machine *m = opaque;
  return m->has_apic ? lapic_intr_pending(&m->lapic) : pic_intr(&m->pic);
}

static int cpu_intr_ack(void *opaque) {
  struct machine *m = opaque;
  return m->has_apic ? lapic_ack(&m->lapic) : pic_ack(&m->pic);
}

#define MSR_APIC_BASE 0x1b

static bool cpu_msr_read(void *opaque, uint32_t msr, uint64_t *value) {
  struct machine *m = opaque;
  if (msr == MSR_APIC_BASE && m->has_apic) {
    *value = lapic_base_msr(&m->lapic);
    return true;
  }
  return false;
}

static bool cpu_msr_write(void *opaque, uint32_t msr, uint64_t value) {
  struct machine *m = opaque;
  if (msr == MSR_APIC_BASE && m->has_apic)
    return lapic_set_base_msr(&m->lapic, value) == 0;
  return false;
}

static uint64_t cpu_next_deadline(void *opaque) {
  struct machine *m = opaque;
  return timers_next_deadline(&m->timers);
}

/* Between blocks: take serial input, fire the device timers that are due, re-arm the
 * ticker. */
static void cpu_service(void *opaque) {
  struct machine *m = opaque;
  if (m->has_com1)
    uart_poll(&m->com1);
  timers_run(&m->timers, clock_ns());
  ticker_arm(m);
}

/* ---- the ticker: a thread that kicks the vCPU when the next device timer is due ---- */

static void ticker_arm(struct machine *m) {
  if (!m->ticker.running)
    return;
  uint64_t deadline = timers_next_deadline(&m->timers);
  if (deadline == m->ticker.armed)
    return;
  m->ticker.armed = deadline;
  struct itimerspec its = {{0, 0}, {0, 0}};
  if (deadline != UINT64_MAX) {
    its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
    its.it_value.tv_nsec = (long)(deadline % 1000000000u);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
      its.it_value.tv_nsec = 1; /* zero would disarm it */
  }
  timerfd_settime(m->ticker.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void *ticker_main(void *opaque) {
  struct machine *m = opaque;
  for (;;) {
    uint64_t expirations;
    ssize_t n = read(m->ticker.fd, &expirations, sizeof(expirations));
    if (!__atomic_load_n(&m->ticker.running, __ATOMIC_ACQUIRE))
      return NULL;
    if (n == (ssize_t)sizeof(expirations))
      bt_kick_at_deadline(m->tc);
  }
}

static int ticker_start(struct machine *m) {
  m->ticker.armed = UINT64_MAX;
  m->ticker.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (m->ticker.fd < 0)
    return -errno;
  m->ticker.running = true;
  pthread_t t;
  int err = pthread_create(&t, NULL, ticker_main, m);
  if (err) {
    close(m->ticker.fd);
    m->ticker.running = false;
    return -err;
  }
  m->ticker.thread = (unsigned long)t;
  return 0;
}

static void ticker_stop(struct machine *m) {
  if (!m->ticker.running)
    return;
  __atomic_store_n(&m->ticker.running, false, __ATOMIC_RELEASE);
  struct itimerspec now = {{0, 0}, {0, 1}};
  timerfd_settime(m->ticker.fd, 0, &now, NULL);
  pthread_join((pthread_t)m->ticker.thread, NULL);
  close(m->ticker.fd);
}

/* ---- bring-up ---- */

/* The PIC's INTR output changes on the vCPU thread (device timers, I/O): the run loop looks at
 * it after each, so nothing needs kicking here. With a local APIC the output is wired to its
 * LINT0 pin. */
static void intr_changed(void *opaque, bool level) {
  struct machine *m = opaque;
  if (m->has_apic)
    irq_set(lapic_lint_line(&m->lapic, 0), level);
}

/* The INTA cycle of an ExtINT interrupt (LINT0 in virtual wire mode) reaches the 8259A. */
static int pic_inta(void *opaque) { return pic_ack(opaque); }

/* The serial backend's reader thread has input for the guest. */
static void serial_kick(void *opaque) {
  struct machine *m = opaque;
  if (m->tc)
    bt_kick(m->tc);
}

/* Ctrl-A x on the console: stop the VM as QEMU does. */
static void serial_quit(void *opaque) {
  struct machine *m = opaque;
  m->debug_exit.status = 0;
  cpu_stop(&m->cpu, SHUTDOWN_EXIT, "quit from the console (Ctrl-A x)");
}

static void serial_exit(struct machine *m) {
  if (m->has_com1) {
    uart_exit(&m->com1);
    chardev_exit(&m->serial);
    m->has_com1 = false;
  }
}

static int serial_init(struct machine *m) {
  if (m->cfg.serial.kind == CHARDEV_NONE)
    return 0;
  int err = chardev_init(&m->serial, &m->cfg.serial);
  if (err) {
    fprintf(stderr, "bt386: cannot open the serial console's backend: %s\n", strerror(-err));
    return err;
  }
  err = uart_init(&m->com1, &m->io, UART_COM1_BASE, *isa_irq_line(&m->isa, UART_COM1_IRQ),
                  &m->timers, &m->serial);
  if (err) {
    chardev_exit(&m->serial);
    return err;
  }
  chardev_set_host(&m->serial, &(struct chardev_host){serial_kick, serial_quit, m});
  m->has_com1 = true;
  return 0;
}

/* The keyboard controller's reset line (and port 0x92's): a reboot. */
static void guest_reset(void *opaque) {
  struct machine *m = opaque;
  cpu_stop(&m->cpu, SHUTDOWN_RESET, "the guest asked for a reset");
}

/* A20 is always on: bt386 runs protected-mode guests, whose memory above 1 MiB must not wrap. */
static void guest_a20(void *opaque, bool on) { (void)opaque, (void)on; }

/* The PIIX3's reset control register (port 0xCF9, also the FADT's reset register). */
static void chipset_reset(void *opaque, bool hard) {
  (void)hard;
  guest_reset(opaque);
}

/* ACPI S5 (PM1a_CNT SLP_EN with SLP_TYP 0): bt386 ends with status 0. */
static void guest_power_off(void *opaque) {
  struct machine *m = opaque;
  m->debug_exit.status = 0;
  cpu_stop(&m->cpu, SHUTDOWN_EXIT, "the guest powered off");
}

/* The interrupt controllers, in virtual wire mode as a BIOS leaves them: the 8259A's INT on
 * the local APIC's LINT0 (ExtINT), the IOAPIC's messages to the local APIC, its EOIs back, and
 * the ISA IRQ lines to both the 8259A and the IOAPIC (isairq.h). */
static int interrupts_init(struct machine *m) {
  int err = pic_init(&m->pic, &m->io);
  if (err)
    return err;
  pic_set_intr_callback(&m->pic, intr_changed, m);
  if (!m->cfg.no_apic) {
    err = lapic_init(&m->lapic, &m->mmio, &m->timers);
    if (!err) {
      lapic_set_extint_ack(&m->lapic, pic_inta, &m->pic);
      err = ioapic_init(&m->ioapic, &m->mmio, IOAPIC_DEFAULT_BASE, 1, lapic_bus_deliver,
                        &m->lapic);
      if (err)
        lapic_exit(&m->lapic);
    }
    if (err) {
      pic_exit(&m->pic);
      return err;
    }
    lapic_set_eoi_callback(&m->lapic, ioapic_bus_eoi, &m->ioapic);
    if (!m->cfg.no_acpi)
      ioapic_set_wire_active_low(&m->ioapic, ACPI_SCI_IRQ, true);
    m->has_apic = true;
    m->cpu.apic = true;
  }
  isa_irqs_init(&m->isa, &m->pic, m->has_apic ? &m->ioapic : NULL);
  return 0;
}

static void interrupts_exit(struct machine *m) {
  if (m->has_apic) {
    ioapic_exit(&m->ioapic);
    lapic_exit(&m->lapic);
    m->has_apic = false;
  }
  pic_exit(&m->pic);
}

/* PCI: the i440FX host bridge (00:00.0), the PIIX3 (00:01.0) and its IDE function (00:01.1)
 * with the disks of the command line. The PIRQ lines are routed as SeaBIOS routes them, so
 * IRQ 10 and 11 are level-triggered in the ELCR. */
static int pci_init(struct machine *m) {
  int err = pci_bus_init(&m->pci, &m->io, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_LEN, &m->mmio,
                         PCI_MEM_WINDOW_BASE, PCI_MEM_WINDOW_LEN);
  if (err)
    return err;
  pci_bus_set_log(&m->pci, m->cfg.log_unimp, m->cfg.log);
  err = i440fx_init(&m->i440fx, &m->pci);
  if (err)
    goto out_bus;
  const struct irq_line *isa[ISA_IRQS];
  for (int i = 0; i < ISA_IRQS; i++)
    isa[i] = isa_irq_line(&m->isa, i);
  err = piix3_init(&m->piix3, &m->pci, isa, PIIX3_BIOS_PIRQ, chipset_reset, m);
  if (err)
    goto out_i440fx;
  uint8_t elcr2 = (uint8_t)ioports_read(&m->io, 0x4d1, 1);
  ioports_write(&m->io, 0x4d1, 1, elcr2 | 1u << (10 - 8) | 1u << (11 - 8));
  err = ide_init(&m->ide, &m->pci, &m->io, &m->mmu, isa_irq_line(&m->isa, IDE_PRIMARY_IRQ),
                 isa_irq_line(&m->isa, IDE_SECONDARY_IRQ), IDE_BM_BASE);
  if (err)
    goto out_piix3;
  ide_set_log(&m->ide, m->cfg.log_unimp, m->cfg.log);
  for (int i = 0; i < m->cfg.n_drives; i++) {
    err = ide_attach(&m->ide, &m->cfg.drives[i]);
    if (err) {
      m->err_reported = true; /* ide_attach named the file and the problem */
      goto out_ide;
    }
  }
  return 0;
out_ide:
  ide_exit(&m->ide);
out_piix3:
  piix3_exit(&m->piix3);
out_i440fx:
  i440fx_exit(&m->i440fx);
out_bus:
  pci_bus_exit(&m->pci);
  return err;
}

static void pci_exit(struct machine *m) {
  ide_exit(&m->ide);
  piix3_exit(&m->piix3);
  i440fx_exit(&m->i440fx);
  pci_bus_exit(&m->pci);
}

/* The BIOS data area at 0x400 and the extended one (EBDA) below 640 KiB, as a PC BIOS leaves
 * them (SeaBIOS under QEMU): kernels that look for the MP floating pointer search the EBDA's
 * first KiB, or the last KiB of base memory, before the BIOS ROM (MP spec 1.4, 4), and xv6
 * reads where those are from here. The EBDA is the 1 KiB the e820 maps reserve at 0x9fc00. */
#define BDA_ADDR 0x400u
#define BDA_COM_PORTS 0x00    /* four words: the serial ports' I/O bases */
#define BDA_EBDA_SEGMENT 0x0e /* word: the EBDA's address / 16 */
#define BDA_EQUIPMENT 0x10    /* word: bit 1 x87, 9-11 serial ports */
#define BDA_BASE_MEMORY 0x13  /* word: KiB of memory below the EBDA */
#define EBDA_ADDR 0x9fc00u
#define EBDA_KIB 1u

static void bios_data_area_init(struct machine *m) {
  uint8_t *bda = mmu_phys_ptr(&m->mmu, BDA_ADDR, 0x100);
  uint8_t *ebda = mmu_phys_ptr(&m->mmu, EBDA_ADDR, EBDA_KIB * 1024);
  if (!bda || !ebda)
    return; /* less RAM than 640 KiB: there is no BIOS data area to speak of */
  memset(bda, 0, 0x100);
  if (m->has_com1)
    put16(bda + BDA_COM_PORTS, UART_COM1_BASE);
  put16(bda + BDA_EBDA_SEGMENT, EBDA_ADDR >> 4);
  put16(bda + BDA_EQUIPMENT, (uint16_t)(1u << 1 | (m->has_com1 ? 1u : 0u) << 9));
  put16(bda + BDA_BASE_MEMORY, EBDA_ADDR / 1024);
  memset(ebda, 0, EBDA_KIB * 1024);
  ebda[0] = EBDA_KIB; /* the EBDA's first byte: its size in KiB */
}

/* What a BIOS leaves in 0xE0000-0xFFFFF, which the e820 map reserves: the ACPI tables at
 * ACPI_TABLES_ADDR, the MP tables at MPTABLE_ADDR and the SMBIOS tables at SMBIOS_ADDR; and
 * its data areas. */
static int firmware_tables_init(struct machine *m) {
  bios_data_area_init(m);
  if (m->has_acpi) {
    struct acpi_config ac;
    acpi_config_default(&ac);
    ac.apic = m->has_apic;
    ac.century = 0x32;
    ac.pci_mem_base = PCI_MEM_WINDOW_BASE;
    ac.pci_mem_len = PCI_MEM_WINDOW_LEN;
    int n = acpi_build_tables(mmu_phys_ptr(&m->mmu, ACPI_TABLES_ADDR, ACPI_TABLES_SIZE),
                              ACPI_TABLES_SIZE, ACPI_TABLES_ADDR, &ac);
    if (n < 0)
      return n;
  }
  uint8_t *smbios = mmu_phys_ptr(&m->mmu, SMBIOS_ADDR, SMBIOS_SIZE);
  if (smbios && smbios_build(smbios, SMBIOS_SIZE, SMBIOS_ADDR) < 0)
    return -ENOSPC;
  if (m->has_apic) {
    struct mptable_config mc;
    mptable_config_default(&mc);
    mc.cpu_features = cpu_features_edx(&m->cpu);
    mc.sci_irq = m->has_acpi ? (int)ACPI_SCI_IRQ : -1;
    int n = mptable_build(mmu_phys_ptr(&m->mmu, MPTABLE_ADDR, MPTABLE_SIZE), MPTABLE_SIZE,
                          MPTABLE_ADDR, &mc);
    if (n < 0)
      return n;
  }
  return 0;
}

/* The PC platform, in dependency order: the interrupt controllers first (the others raise
 * their lines), the firmware tables last (they describe what exists). */
static int platform_init(struct machine *m) {
  int err = interrupts_init(m);
  if (err)
    return err;
  uint64_t ram = m->mmu.ram_size;
  err = pit_init(&m->pit, &m->io, isa_irq_line(&m->isa, 0), &m->timers);
  if (err)
    goto out_interrupts;
  err = rtc_init(&m->rtc, &m->io, isa_irq_line(&m->isa, 8), ram, 0, &m->timers);
  if (err)
    goto out_pit;
  err = i8042_init(&m->kbc, &m->io, isa_irq_line(&m->isa, 1), isa_irq_line(&m->isa, 12));
  if (err)
    goto out_rtc;
  i8042_set_callbacks(&m->kbc, guest_reset, guest_a20, m);
  err = port80_init(&m->port80, &m->io);
  if (err)
    goto out_kbc;
  if (!m->cfg.no_vga) {
    err = crtc_init(&m->crtc, &m->io); /* nothing to undo: registers only */
    if (err)
      goto out_port80;
  }
  err = serial_init(m);
  if (err)
    goto out_port80;
  err = pci_init(m);
  if (err)
    goto out_serial;
  if (!m->cfg.no_acpi) {
    err = acpi_pm_init(&m->acpi, &m->io, isa_irq_line(&m->isa, ACPI_SCI_IRQ), &m->timers,
                       ACPI_PM_BASE);
    if (err)
      goto out_pci;
    acpi_pm_set_callbacks(&m->acpi, guest_power_off, guest_reset, m);
    m->has_acpi = true;
  }
  err = firmware_tables_init(m);
  if (err)
    goto out_acpi;
  return 0;
out_acpi:
  if (m->has_acpi) {
    acpi_pm_exit(&m->acpi);
    m->has_acpi = false;
  }
out_pci:
  pci_exit(m);
out_serial:
  serial_exit(m);
out_port80:
  port80_exit(&m->port80);
out_kbc:
  i8042_exit(&m->kbc);
out_rtc:
  rtc_exit(&m->rtc);
out_pit:
  pit_exit(&m->pit);
out_interrupts:
  interrupts_exit(m);
  return err;
}

static void platform_exit(struct machine *m) {
  if (m->has_acpi) {
    acpi_pm_exit(&m->acpi);
    m->has_acpi = false;
  }
  pci_exit(m);
  serial_exit(m);
  port80_exit(&m->port80);
  i8042_exit(&m->kbc);
  rtc_exit(&m->rtc);
  pit_exit(&m->pit);
  interrupts_exit(m);
}

enum { STAGE_NONE, STAGE_MMU, STAGE_DEVICES, STAGE_PLATFORM, STAGE_TC, STAGE_TICKER };

int machine_init(struct machine *m, const struct machine_config *cfg) {
  memset(m, 0, sizeof(*m));
  m->cfg = *cfg;
  int err = mmu_init(&m->mmu, cfg->ram_bytes);
  if (err)
    return err;
  m->stage = STAGE_MMU;
  m->mmu.log_unassigned = cfg->log_unimp;

  m->cpu.mmu = &m->mmu;
  m->cpu.env = (struct cpu_env){
      .opaque = m,
      .io_read = cpu_io_read,
      .io_write = cpu_io_write,
      .service = cpu_service,
      .intr_pending = cpu_intr_pending,
      .intr_ack = cpu_intr_ack,
      .next_deadline = cpu_next_deadline,
      .mmio_read = cpu_mmio_read,
      .mmio_write = cpu_mmio_write,
      .msr_read = cpu_msr_read,
      .msr_write = cpu_msr_write,
  };
  mmio_init(&m->mmio);
  m->mmu.is_mmio = mmu_is_device;
  m->mmu.is_mmio_opaque = m;
  cpu_reset_protected_flat(&m->cpu);
  m->cpu.crystal_hz = LAPIC_BUS_HZ; /* CPUID 15H: the APIC timer counts the crystal clock */

  ioports_init(&m->io, cfg->log_unimp, cfg->log);
  err = debugcon_init(&m->debugcon, &m->io, cfg->debugcon);
  if (!err)
    err = debug_exit_init(&m->debug_exit, &m->io, &m->cpu, cfg->debug_exit_port,
                          cfg->debug_exit_size);
  if (err) {
    fprintf(stderr, "bt386: cannot place the debug devices' I/O ports\n");
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_DEVICES;

  err = platform_init(m);
  if (err) {
    if (!m->err_reported)
      fprintf(stderr, "bt386: cannot set up the PC platform's devices: %s\n", strerror(-err));
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_PLATFORM;

  err = tc_init(&m->tc, &m->cpu, &m->mmu, &cfg->tc);
  if (err) {
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_TC;
  tc_set_logging(m->tc, cfg->log_in_asm, cfg->log_out_asm, cfg->log);
  tc_set_perf_map(m->tc, cfg->perf_map);

  err = ticker_start(m);
  if (err) {
    fprintf(stderr, "bt386: cannot start the timer thread: %s\n", strerror(-err));
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_TICKER;
  return 0;
}

void machine_exit(struct machine *m) {
  if (m->stage >= STAGE_TICKER)
    ticker_stop(m);
  if (m->stage >= STAGE_TC)
    tc_exit(m->tc);
  if (m->stage >= STAGE_PLATFORM)
    platform_exit(m);
  if (m->stage >= STAGE_DEVICES)
    debugcon_exit(&m->debugcon);
  if (m->stage >= STAGE_MMU)
    mmu_exit(&m->mmu);
  m->stage = STAGE_NONE;
}

int machine_run(struct machine *m) {
  int why = bt_run(m->tc);
  debugcon_exit(&m->debugcon);
  switch (why) {
  case SHUTDOWN_EXIT:
    return m->debug_exit.status;
  case SHUTDOWN_HALTED:
    fprintf(m->cfg.log, "bt386: %s\n", m->cpu.shutdown_msg);
    return 0;
  case SHUTDOWN_RESET:
    if (!m->cfg.no_reboot)
      return MACHINE_REBOOT;
    return 0; /* -no-reboot: as QEMU, a reset ends the VM */
  case SHUTDOWN_TRIPLE_FAULT:
    if (m->cfg.no_reboot) {
      fprintf(stderr, "bt386: the guest stopped: %s\n", m->cpu.shutdown_msg);
      return 3;
    }
    fprintf(stderr, "bt386: %s; resetting the machine\n", m->cpu.shutdown_msg);
    return MACHINE_REBOOT;
  default:
    fprintf(stderr, "bt386: the guest stopped: %s\n", m->cpu.shutdown_msg);
    return 1;
  }
}
