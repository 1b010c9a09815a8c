/* ioapic.h - the Intel 82093AA I/O APIC: 24 interrupt inputs, each with a redirection entry
 * that sends an APIC bus message to the local APIC(s).
 *
 * Memory mapped at 0xFEC00000: IOREGSEL at +0x00 selects a register, IOWIN at +0x10 reads or
 * writes it (ID 0x00, version 0x01 = 0x00170011, arbitration ID 0x02, redirection table
 * 0x10-0x3F, two 32-bit halves per entry).
 *
 * Inputs are struct irq_line (pin = input number) carrying the level the device drives,
 * 1 = asserted. Between device and pin sits the board's wire: active-high unless
 * ioapic_set_wire_active_low() says the board inverts it (the ACPI SCI and PCI INTx lines are
 * active-low at the IOAPIC). A redirection entry's polarity bit then says which electrical
 * level the IOAPIC takes as asserted, so a guest that programs the polarity the firmware
 * tables describe sees the device's level, and one that programs the other sees it inverted,
 * as on hardware. Edge-triggered entries send a message on each assertion while unmasked;
 * level-triggered ones send while asserted, unmasked and remote IRR clear, and set remote IRR
 * when a local APIC accepts; the local APIC's EOI broadcast (ioapic_eoi()) clears it and an
 * input still asserted sends again.
 *
 * Usage:
 *   ioapic_init(&m->ioapic, &m->mmio, IOAPIC_DEFAULT_BASE, 1, lapic_bus_deliver, &m->lapic);
 *   lapic_set_eoi_callback(&m->lapic, ioapic_bus_eoi, &m->ioapic);
 *   ioapic_set_wire_active_low(&m->ioapic, 9, true);        the SCI
 *   device -> ioapic_irq_line(&m->ioapic, pin) */
#ifndef BT386_IOAPIC_H
#define BT386_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/irq.h"
#include "devices/lapic.h"
#include "devices/mmio.h"

#define IOAPIC_DEFAULT_BASE 0xfec00000u
#define IOAPIC_PINS 24
#define IOAPIC_VERSION 0x11u

/* Registers selected through IOREGSEL. */
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDTBL 0x10

/* Redirection entry bits (the low half; the destination is bits 56-63). */
#define IOAPIC_DEST_LOGICAL (1u << 11)
#define IOAPIC_DELIVERY_PENDING (1u << 12)
#define IOAPIC_ACTIVE_LOW (1u << 13)
#define IOAPIC_REMOTE_IRR (1u << 14)
#define IOAPIC_LEVEL (1u << 15)
#define IOAPIC_MASKED (1u << 16)

typedef bool (*apic_deliver_fn)(void *opaque, const struct apic_msg *m);

struct ioapic {
  uint8_t id;
  uint8_t regsel;
  uint64_t redir[IOAPIC_PINS];
  uint32_t pins;      /* electrical level at each input */
  uint32_t wire_low;  /* inputs whose board wire is active-low */
  struct irq_line lines[IOAPIC_PINS];
  apic_deliver_fn deliver;
  void *deliver_opaque;
};

/* Registers 4 KiB of MMIO at base; the ID register starts as id (a BIOS assigns it), every
 * entry masked. */
int ioapic_init(struct ioapic *s, struct mmio *mmio, uint32_t base, uint8_t id,
                apic_deliver_fn deliver, void *opaque);
void ioapic_exit(struct ioapic *s);
void ioapic_reset(struct ioapic *s);

const struct irq_line *ioapic_irq_line(struct ioapic *s, int pin);
void ioapic_set_irq(struct ioapic *s, int pin, int level);
/* The board wires pin active-low; call before the device drives it (it idles deasserted). */
void ioapic_set_wire_active_low(struct ioapic *s, int pin, bool active_low);

/* An EOI for vector from a local APIC; ioapic_bus_eoi() is the same as a callback. */
void ioapic_eoi(struct ioapic *s, int vector);
void ioapic_bus_eoi(void *opaque, int vector);

uint32_t ioapic_mmio_read(void *opaque, uint32_t offset, int size);
void ioapic_mmio_write(void *opaque, uint32_t offset, int size, uint32_t value);

#endif
