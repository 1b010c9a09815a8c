/* isairq.c - the ISA IRQ lines to the 8259A pair and the IOAPIC (see isairq.h). */
#include "devices/isairq.h"

#include <string.h>

int isa_irq_to_gsi(int irq) {
  if (irq < 0 || irq >= ISA_IRQS || irq == 2)
    return -1;
  return irq == 0 ? 2 : irq;
}

static void isa_set(void *opaque, int irq, int level) {
  struct isa_irqs *b = opaque;
  irq_set(b->pic[irq], level);
  irq_set(b->ioapic[irq], level);
}

void isa_irqs_init(struct isa_irqs *b, struct pic *pic, struct ioapic *ioapic) {
  memset(b, 0, sizeof(*b));
  for (int irq = 0; irq < ISA_IRQS; irq++) {
    b->lines[irq] = (struct irq_line){isa_set, b, irq};
    b->pic[irq] = pic ? pic_irq_line(pic, irq) : NULL;
    int gsi = isa_irq_to_gsi(irq);
    b->ioapic[irq] = ioapic && gsi >= 0 ? ioapic_irq_line(ioapic, gsi) : NULL;
  }
}

const struct irq_line *isa_irq_line(struct isa_irqs *b, int irq) {
  return irq >= 0 && irq < ISA_IRQS ? &b->lines[irq] : NULL;
}
