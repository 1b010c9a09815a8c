/* isairq.h - the ISA interrupt lines of a PC with both interrupt controllers, wired as on a
 * PIIX board: ISA IRQ n drives the 8259A's input n and the IOAPIC's input n, except IRQ0 (the
 * 8254's OUT0), which the IOAPIC sees on input 2 as the ACPI and MP tables say, and IRQ2, the
 * 8259A cascade, which reaches no IOAPIC input. Without an IOAPIC the lines are the PIC's.
 *
 * Usage:
 *   isa_irqs_init(&m->isa, &m->pic, &m->ioapic);          (NULL: no IOAPIC)
 *   pit_init(&m->pit, &m->io, isa_irq_line(&m->isa, 0), &m->timers); */
#ifndef BT386_ISAIRQ_H
#define BT386_ISAIRQ_H

#include "devices/ioapic.h"
#include "devices/irq.h"
#include "devices/pic.h"

#define ISA_IRQS 16

struct isa_irqs {
  struct irq_line lines[ISA_IRQS];
  const struct irq_line *pic[ISA_IRQS];
  const struct irq_line *ioapic[ISA_IRQS];
};

void isa_irqs_init(struct isa_irqs *b, struct pic *pic, struct ioapic *ioapic);
/* The line a device on ISA IRQ irq (0-15) drives, or NULL. */
const struct irq_line *isa_irq_line(struct isa_irqs *b, int irq);
/* The IOAPIC input (global system interrupt) of ISA IRQ irq, or -1 for IRQ2. */
int isa_irq_to_gsi(int irq);

#endif
