/* mptable.h - the Intel MultiProcessor Specification 1.4 tables: a floating pointer
 * structure ("_MP_") where kernels scan for it, and the configuration table ("PCMP") it points
 * to, describing one processor with its local APIC, the PCI and ISA buses, the IOAPIC, where
 * each ISA IRQ and each routed PCI interrupt enters the IOAPIC (ISA IRQ0 on input 2, IRQ2 the
 * cascade left out, the ACPI SCI level-triggered and active-low), ExtINT on LINT0 and NMI on
 * LINT1. The IMCR is absent: the system starts in virtual wire mode.
 *
 * Usage:
 *   mptable_config_default(&cfg);               cfg.cpu_signature/features: CPUID 1 EAX/EDX
 *   mptable_build(mmu_phys_ptr(&m->mmu, MPTABLE_ADDR, MPTABLE_SIZE), MPTABLE_SIZE,
 *                 MPTABLE_ADDR, &cfg); */
#ifndef BT386_MPTABLE_H
#define BT386_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

/* The start of the BIOS area that Linux scans (0xF0000-0xFFFFF), reserved in the e820 map;
 * the floating pointer comes first, the configuration table right after it. */
#define MPTABLE_ADDR 0xf0000u
#define MPTABLE_SIZE 0x400u

/* Entry types and the bus IDs we use. */
#define MP_PROCESSOR 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_INTSRC 3
#define MP_LINTSRC 4
#define MP_BUS_PCI 0
#define MP_BUS_ISA 1

/* Interrupt types and flags (polarity bits 1:0, trigger mode bits 3:2; 0 = as the bus). */
#define MP_INT 0
#define MP_NMI 1
#define MP_SMI 2
#define MP_EXTINT 3
#define MP_IRQ_ACTIVE_HIGH 1u
#define MP_IRQ_ACTIVE_LOW 3u
#define MP_IRQ_EDGE (1u << 2)
#define MP_IRQ_LEVEL (3u << 2)

/* A PCI interrupt pin routed to an IOAPIC input. */
struct mptable_pci_irq {
  uint8_t dev;  /* device number on bus 0 */
  uint8_t pin;  /* 0 = INTA# ... 3 = INTD# */
  uint8_t gsi;  /* IOAPIC input */
};

struct mptable_config {
  uint8_t lapic_id, lapic_version;
  uint32_t lapic_addr;
  uint32_t cpu_signature; /* CPUID 1 EAX: stepping, model, family */
  uint32_t cpu_features;  /* CPUID 1 EDX */
  uint8_t ioapic_id, ioapic_version;
  uint32_t ioapic_addr;
  int sci_irq;            /* the ISA IRQ of the ACPI SCI, or -1 */
  const struct mptable_pci_irq *pci_irqs;
  int n_pci_irqs;
};

void mptable_config_default(struct mptable_config *cfg);
/* Write the floating pointer at buf (guest physical phys, a multiple of 16) and the
 * configuration table after it. Returns the bytes used, -EINVAL for a misaligned phys or a
 * bad PCI route, -ENOSPC if they do not fit. */
int mptable_build(void *buf, size_t size, uint32_t phys, const struct mptable_config *cfg);

#endif
