/* irq.h - an interrupt line from a device to an interrupt controller (PIC, IOAPIC).
 *
 * A device holds a struct irq_line given to it by the machine and calls irq_set() with the
 * line's new level; edge-triggered inputs see a pulse as irq_set(l, 1) then irq_set(l, 0).
 * The device never knows which controller, or which pin, is on the other end. */
#ifndef BT386_IRQ_H
#define BT386_IRQ_H

struct irq_line {
  void (*set)(void *opaque, int pin, int level);
  void *opaque;
  int pin;
};

static inline void irq_set(const struct irq_line *l, int level) {
  if (l && l->set)
    l->set(l->opaque, l->pin, level);
}

static inline void irq_pulse(const struct irq_line *l) {
  irq_set(l, 1);
  irq_set(l, 0);
}

#endif
