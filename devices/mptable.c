/* mptable.c - the MP specification 1.4 tables (see mptable.h), laid out as in chapter 4 of the
 * specification: the 16-byte floating pointer, then the configuration table header and its
 * entries in the order the specification requires (processors, buses, I/O APICs, I/O
 * interrupt assignments, local interrupt assignments). Each structure is checksummed so that
 * its bytes add up to zero; there is no extended table. */
#include "devices/mptable.h"

#include <errno.h>
#include <string.h>

#include "devices/le.h"

#define FLOAT_LEN 16
#define HEADER_LEN 44
#define PROC_LEN 20
#define ENTRY_LEN 8
#define SPEC_REV 4 /* 1.4 */
#define IOAPIC_INPUTS 24
#define ISA_IRQS 16

#define CPU_ENABLED 1u
#define CPU_BSP 2u
#define IOAPIC_ENABLED 1u

void mptable_config_default(struct mptable_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->lapic_id = 0;
  cfg->lapic_version = 0x14;
  cfg->lapic_addr = 0xfee00000u;
  cfg->cpu_signature = 0x6d6;        /* family 6, model 13, stepping 6 */
  cfg->cpu_features = 1u | 1u << 9;  /* FPU, APIC: pass the CPU's CPUID 1 EDX instead */
  cfg->ioapic_id = 1;
  cfg->ioapic_version = 0x11;
  cfg->ioapic_addr = 0xfec00000u;
  cfg->sci_irq = 9;
}

/* An I/O (MP_INTSRC) or local (MP_LINTSRC) interrupt assignment entry. */
static size_t int_entry(uint8_t *e, uint8_t type, uint8_t int_type, uint16_t flags,
                        uint8_t bus, uint8_t bus_irq, uint8_t dest_id, uint8_t dest_input) {
  e[0] = type;
  e[1] = int_type;
  put16(e + 2, flags);
  e[4] = bus;
  e[5] = bus_irq;
  e[6] = dest_id;
  e[7] = dest_input;
  return ENTRY_LEN;
}

static size_t bus_entry(uint8_t *e, uint8_t id, const char *type) {
  e[0] = MP_BUS;
  e[1] = id;
  memcpy(e + 2, type, 6);
  return ENTRY_LEN;
}

static int isa_irq_input(int irq) { return irq == 0 ? 2 : irq; }

int mptable_build(void *buf, size_t size, uint32_t phys, const struct mptable_config *cfg) {
  if (phys & 15)
    return -EINVAL;
  uint32_t pci_inputs = 0;
  for (int i = 0; i < cfg->n_pci_irqs; i++) {
    const struct mptable_pci_irq *r = &cfg->pci_irqs[i];
    if (r->dev > 31 || r->pin > 3 || r->gsi >= IOAPIC_INPUTS)
      return -EINVAL;
    pci_inputs |= 1u << r->gsi;
  }
  size_t max = FLOAT_LEN + HEADER_LEN + PROC_LEN +
               ENTRY_LEN * (2 + 1 + (size_t)cfg->n_pci_irqs + ISA_IRQS + 2);
  if (max > size)
    return -ENOSPC;
  uint8_t *b = buf;
  memset(b, 0, max);

  uint8_t *t = b + FLOAT_LEN;
  size_t n = HEADER_LEN;
  unsigned entries = 0;

  uint8_t *e = t + n; /* the processor */
  e[0] = MP_PROCESSOR;
  e[1] = cfg->lapic_id;
  e[2] = cfg->lapic_version;
  e[3] = CPU_ENABLED | CPU_BSP;
  put32(e + 4, cfg->cpu_signature);
  put32(e + 8, cfg->cpu_features);
  n += PROC_LEN;
  entries++;

  n += bus_entry(t + n, MP_BUS_PCI, "PCI   ");
  n += bus_entry(t + n, MP_BUS_ISA, "ISA   ");
  entries += 2;

  e = t + n;
  e[0] = MP_IOAPIC;
  e[1] = cfg->ioapic_id;
  e[2] = cfg->ioapic_version;
  e[3] = IOAPIC_ENABLED;
  put32(e + 4, cfg->ioapic_addr);
  n += ENTRY_LEN;
  entries++;

  /* PCI interrupts: source bus IRQ = device << 2 | pin; PCI's own polarity and trigger
   * (active low, level) apply. */
  for (int i = 0; i < cfg->n_pci_irqs; i++) {
    const struct mptable_pci_irq *r = &cfg->pci_irqs[i];
    n += int_entry(t + n, MP_INTSRC, MP_INT, 0, MP_BUS_PCI, (uint8_t)(r->dev << 2 | r->pin),
                   cfg->ioapic_id, r->gsi);
    entries++;
  }

  /* ISA IRQs, edge and active high as on the ISA bus, except the SCI. IRQ2 (the cascade)
   * reaches no input; an input that PCI interrupts use is not shared with ISA. */
  for (int irq = 0; irq < ISA_IRQS; irq++) {
    int input = isa_irq_input(irq);
    if (irq == 2 || (pci_inputs >> input & 1))
      continue;
    uint16_t flags = irq == cfg->sci_irq ? MP_IRQ_ACTIVE_LOW | MP_IRQ_LEVEL : 0;
    n += int_entry(t + n, MP_INTSRC, MP_INT, flags, MP_BUS_ISA, (uint8_t)irq, cfg->ioapic_id,
                   (uint8_t)input);
    entries++;
  }

  /* Virtual wire: the 8259A's INTR on LINT0 as ExtINT, NMI on LINT1, of every local APIC. */
  n += int_entry(t + n, MP_LINTSRC, MP_EXTINT, 0, MP_BUS_ISA, 0, 0xff, 0);
  n += int_entry(t + n, MP_LINTSRC, MP_NMI, 0, MP_BUS_ISA, 0, 0xff, 1);
  entries += 2;

  memcpy(t, "PCMP", 4);
  put16(t + 4, (uint16_t)n); /* base table length */
  t[6] = SPEC_REV;
  memcpy(t + 8, "BT386   ", 8);       /* OEM ID */
  memcpy(t + 16, "BT386PC     ", 12); /* product ID */
  put32(t + 28, 0);                   /* no OEM table */
  put16(t + 32, 0);
  put16(t + 34, (uint16_t)entries);
  put32(t + 36, cfg->lapic_addr);
  put16(t + 40, 0);                   /* no extended table */
  t[42] = 0;
  put_checksum(t, n, 7);

  memcpy(b, "_MP_", 4);
  put32(b + 4, phys + FLOAT_LEN);
  b[8] = 1;        /* length in 16-byte paragraphs */
  b[9] = SPEC_REV;
  b[11] = 0;       /* feature byte 1: a configuration table is present */
  b[12] = 0;       /* feature byte 2: IMCRP clear, virtual wire mode */
  put_checksum(b, FLOAT_LEN, 10);
  return (int)(FLOAT_LEN + n);
}
