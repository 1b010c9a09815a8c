/* acpi.h - minimal ACPI: the firmware tables a kernel reads (RSDP, RSDT, FADT, FACS, DSDT,
 * MADT) and the fixed hardware they describe, a PIIX4-style power management I/O block:
 *
 *   base+0  PM1a_STS (16 bits, write 1 to clear)   TMR, BM, GBL, PWRBTN, SLPBTN, RTC, WAK
 *   base+2  PM1a_EN  (16 bits)                     TMR, GBL, PWRBTN, SLPBTN, RTC
 *   base+4  PM1a_CNT (16 bits)                     SCI_EN (always set), SLP_TYP, SLP_EN
 *   base+8  PM_TMR   (32 bits, read-only)          3.579545 MHz, 32 bits (FADT TMR_VAL_EXT)
 *
 * There is no SMI command port, so the machine is always in ACPI mode. The SCI is an
 * irq_line, asserted (level 1) while any enabled status bit is set; the tables describe it as
 * ISA IRQ 9, level-triggered and active-low at the IOAPIC (wire it so: see ioapic.h). Writing
 * SLP_EN with SLP_TYP = ACPI_S5_SLP_TYP (the \_S5 package of the DSDT; 0 as on the PIIX4)
 * calls the machine's power-off callback; other sleep types wake at once (WAK_STS). The FADT's
 * reset register (default: port 0xCF9, value 6, the PIIX's reset control register) belongs to
 * whichever device owns that port, or to this one after acpi_pm_claim_reset_port(), which
 * calls the reset callback.
 *
 * Usage:
 *   acpi_pm_init(&m->acpi, &m->io, isa_irq_line(&m->isa, 9), &m->timers, ACPI_PM_BASE);
 *   acpi_pm_set_callbacks(&m->acpi, power_off, reset, m);
 *   acpi_config_default(&cfg);                       cfg.apic = true when the APICs exist,
 *                                                    cfg.pci when there is a PCI bus
 *   acpi_build_tables(mmu_phys_ptr(&m->mmu, ACPI_TABLES_ADDR, ACPI_TABLES_SIZE),
 *                     ACPI_TABLES_SIZE, ACPI_TABLES_ADDR, &cfg); */
#ifndef BT386_ACPI_H
#define BT386_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/timer.h"

#define ACPI_PM_BASE 0xb000u
#define ACPI_PM_LEN 12u
#define ACPI_PM_TIMER_HZ 3579545u
#define ACPI_SCI_IRQ 9u
#define ACPI_S5_SLP_TYP 0u

/* Where the tables go: the RSDP must lie on a 16-byte boundary in 0xE0000-0xFFFFF, where
 * kernels scan for it; the e820 map reserves that area. */
#define ACPI_TABLES_ADDR 0xe0000u
#define ACPI_TABLES_SIZE 0x1000u

/* PM1 status and enable bits. */
#define ACPI_PM1_TMR (1u << 0)
#define ACPI_PM1_BM (1u << 4)
#define ACPI_PM1_GBL (1u << 5)
#define ACPI_PM1_PWRBTN (1u << 8)
#define ACPI_PM1_SLPBTN (1u << 9)
#define ACPI_PM1_RTC (1u << 10)
#define ACPI_PM1_WAK (1u << 15)
/* PM1 control bits. */
#define ACPI_PM1_SCI_EN (1u << 0)
#define ACPI_PM1_BM_RLD (1u << 1)
#define ACPI_PM1_GBL_RLS (1u << 2)
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP (7u << ACPI_PM1_SLP_TYP_SHIFT)
#define ACPI_PM1_SLP_EN (1u << 13)

typedef void (*acpi_event_fn)(void *opaque);

struct acpi_pm {
  uint16_t base;
  uint16_t sts, en, cnt;
  uint64_t clock_base;   /* clock value at which the timer read 0 */
  uint64_t tmr_checked;  /* the tick up to which TMR_STS was brought up to date */
  struct timer tmr_timer;
  struct timer_list *timers;
  uint64_t (*clock)(void);
  struct irq_line sci;
  int sci_level;
  uint16_t reset_port;   /* 0 unless claimed */
  uint8_t reset_value;
  acpi_event_fn power_off, reset;
  void *cb_opaque;
};

/* Registers the PM block at base (ACPI_PM_LEN ports). sci may be NULL. */
int acpi_pm_init(struct acpi_pm *pm, struct ioports *io, const struct irq_line *sci,
                 struct timer_list *timers, uint16_t base);
void acpi_pm_exit(struct acpi_pm *pm);
void acpi_pm_set_callbacks(struct acpi_pm *pm, acpi_event_fn power_off, acpi_event_fn reset,
                           void *opaque);
/* Replace the clock (a test's); the timer restarts from 0. */
void acpi_pm_set_clock(struct acpi_pm *pm, uint64_t (*clock)(void));
/* The power button was pressed (the host asks the guest to shut down): PWRBTN_STS. */
void acpi_pm_power_button(struct acpi_pm *pm);
/* Own the FADT reset register: writing value to port calls the reset callback. -EBUSY if
 * another device has the port. */
int acpi_pm_claim_reset_port(struct acpi_pm *pm, struct ioports *io, uint16_t port,
                             uint8_t value);
/* The PM timer's count now (what PM_TMR reads). */
uint32_t acpi_pm_timer(const struct acpi_pm *pm);

struct acpi_config {
  uint16_t pm_base;     /* the PM block above */
  uint8_t sci_irq;
  uint16_t reset_port;  /* FADT RESET_REG in I/O space, 0 for none */
  uint8_t reset_value;
  uint8_t century;      /* CMOS index of the century byte, 0 for none */
  bool i8042;           /* IAPC_BOOT_ARCH: an 8042 keyboard controller is present */
  bool apic;            /* write a MADT: local APIC, IOAPIC, interrupt overrides */
  uint32_t lapic_addr;
  uint8_t lapic_id;
  uint32_t ioapic_addr;
  uint8_t ioapic_id;
  /* A PCI root bridge in the DSDT (\_SB.PCI0, PNP0A03): with ACPI, Linux finds PCI bus 0
   * only through it. Its _CRS claims bus 0-255, ports 0xCF8-0xCFF and gives the rest of the
   * I/O space, the VGA hole and [pci_mem_base, +pci_mem_len) to PCI. */
  bool pci;
  uint32_t pci_mem_base, pci_mem_len;
};

void acpi_config_default(struct acpi_config *cfg);
/* Write the tables into buf (size bytes), which the guest sees at physical address phys (a
 * multiple of 16): the RSDP first, then the FACS, RSDT, FADT, MADT and DSDT. Returns the
 * bytes used, -EINVAL for a misaligned phys, -ENOSPC if they do not fit. */
int acpi_build_tables(void *buf, size_t size, uint32_t phys, const struct acpi_config *cfg);

#endif
