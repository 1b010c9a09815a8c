/* pic.h - the PC's two cascaded Intel 8259A interrupt controllers and the PIIX edge/level
 * control registers (ELCR).
 *
 * The master answers at 0x20/0x21 (IRQ 0-7), the slave at 0xA0/0xA1 (IRQ 8-15) with its INT
 * output on the master's IR2; ELCR1/ELCR2 at 0x4D0/0x4D1 choose edge (0) or level (1)
 * triggering per IRQ (IRQ 0, 1, 2, 8 and 13 are always edge, as on the PIIX).
 *
 * Devices drive IRQ lines through the struct irq_line that pic_irq_line() hands out (pin = IRQ
 * number). The CPU side asks pic_intr() whether INTR is asserted, or is told of every change by
 * the callback installed with pic_set_intr_callback(), and runs the INTA cycle with pic_ack(),
 * which returns the vector and moves the request from IRR to ISR.
 *
 * Usage:
 *   pic_init(&m->pic, &m->io);
 *   pic_set_intr_callback(&m->pic, cpu_intr_changed, &m->cpu);
 *   pit_init(&m->pit, &m->io, pic_irq_line(&m->pic, 0), &m->timers);
 *   ...                                    if (eflags.IF && pic_intr(&m->pic))
 *                                            deliver(pic_ack(&m->pic)); */
#ifndef BT386_PIC_H
#define BT386_PIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ioport.h"
#include "devices/irq.h"

/* One 8259A. */
struct pic_chip {
  uint8_t irr, isr, imr;
  uint8_t pins;      /* current level of the IR inputs, for edge detection */
  uint8_t elcr;      /* 1 = level triggered (PIIX ELCR) */
  uint8_t elcr_mask; /* the ELCR bits that can be set */
  uint8_t base;      /* ICW2: vector of IR0 */
  uint8_t icw3;
  uint8_t highest;   /* the IR level with the highest priority (rotation) */
  uint8_t init_step; /* 0 = operational, else the ICW (2-4) expected next on the data port */
  bool single;       /* ICW1 SNGL */
  bool need_icw4;    /* ICW1 IC4 */
  bool auto_eoi;     /* ICW4 AEOI */
  bool sfnm;         /* ICW4 special fully nested mode */
  bool rotate_aeoi;  /* OCW2 rotate in automatic EOI mode */
  bool special_mask; /* OCW3 SMM */
  bool read_isr;     /* OCW3 RIS: the command port reads ISR instead of IRR */
  bool poll;         /* OCW3 P: the next read is a poll */
};

typedef void (*pic_intr_fn)(void *opaque, bool level);

struct pic {
  struct pic_chip chip[2]; /* 0 = master, 1 = slave */
  struct irq_line lines[16];
  bool intr; /* the master's INT output */
  pic_intr_fn intr_changed;
  void *intr_opaque;
};

/* Registers 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1. Both chips start as a BIOS leaves them:
 * initialized, vectors 0x08 and 0x70, every IRQ masked. */
int pic_init(struct pic *p, struct ioports *io);
void pic_exit(struct pic *p);

/* The input line of IRQ irq (0-15) to hand to a device; IRQ 2 is the cascade and ignores it. */
const struct irq_line *pic_irq_line(struct pic *p, int irq);
/* What the line does: edge-triggered inputs latch a request on 0 -> 1, level-triggered ones
 * request while the level is 1. */
void pic_set_irq(struct pic *p, int irq, int level);

/* fn(opaque, level) runs whenever INTR changes; NULL removes it. */
void pic_set_intr_callback(struct pic *p, pic_intr_fn fn, void *opaque);
/* Whether INTR is asserted: some unmasked request outranks everything in service. */
bool pic_intr(const struct pic *p);
/* INTA: the vector of the highest-priority request, moved from IRR to ISR (or straight out
 * with auto-EOI). With nothing to deliver it returns the spurious vector of IR7 of the master
 * (IRQ7), or of the slave (IRQ15) when the master's request came from the slave, and sets no
 * ISR bit on that chip. */
int pic_ack(struct pic *p);

#endif
