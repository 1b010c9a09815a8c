/* pic.c - the Intel 8259A pair of a PC/AT and the PIIX ELCR (see pic.h).
 *
 * Modelled after the 8259A datasheet: ICW1-ICW4, OCW1-OCW3, fully nested priorities with
 * rotation (automatic, on EOI, by "set priority"), specific and non-specific EOI, auto-EOI,
 * special mask mode, special fully nested mode, poll mode, and spurious IR7 when INTA finds
 * nothing to deliver. The 8080/8085 call mode (ICW4 bit 0 = 0), buffered mode and ICW1's LTIM
 * are not modelled: on the PIIX, ELCR replaces LTIM, and x86 uses 8086 mode.
 *
 * The slave's INT output is wired to the master's IR2, which is edge-triggered: the master's
 * IRR bit 2 is set while the slave's output is high and stays set (until INTA) when it falls,
 * which is how a slave request that goes away before INTA becomes a spurious IRQ15. Setting
 * it while the output stays high, rather than only on its rising edge, keeps a slave request
 * that is still pending after another one was acknowledged (auto-EOI, special mask mode) from
 * being lost for want of a fresh edge. */
#include "devices/pic.h"

#include <string.h>

enum { MASTER, SLAVE };
enum { CASCADE_IR = 2 };
enum { NO_IRQ = -1 };

/* Priority 0 (highest) to 7 of the highest-priority bit set in mask, or 8 if none is. */
static int priority(const struct pic_chip *c, uint8_t mask) {
  if (!mask)
    return 8;
  int pri = 0;
  while (!(mask & (1u << ((pri + c->highest) & 7))))
    pri++;
  return pri;
}

static int level_of(const struct pic_chip *c, int pri) { return (pri + c->highest) & 7; }

/* The IR level this chip would present to INTA, or NO_IRQ. */
static int pending_irq(const struct pic_chip *c, bool master) {
  int pri = priority(c, c->irr & ~c->imr);
  if (pri == 8)
    return NO_IRQ;
  uint8_t in_service = c->isr;
  if (c->special_mask)
    in_service &= ~c->imr; /* a masked level in service no longer blocks lower ones */
  int cur = priority(c, in_service);
  if (pri < cur)
    return level_of(c, pri);
  /* Special fully nested mode: a slave request is passed on while IR2 itself is in service,
   * so that the slave's own priorities decide. */
  if (master && c->sfnm && pri == cur && level_of(c, pri) == CASCADE_IR)
    return CASCADE_IR;
  return NO_IRQ;
}

static bool level_triggered(const struct pic_chip *c, uint8_t bit) { return c->elcr & bit; }

/* Recompute the cascade input and INTR, and tell the CPU side if INTR changed. */
static void update(struct pic *p) {
  struct pic_chip *m = &p->chip[MASTER];
  uint8_t cascade = 1u << CASCADE_IR;
  if (pending_irq(&p->chip[SLAVE], false) != NO_IRQ) {
    m->pins |= cascade;
    m->irr |= cascade;
  } else {
    m->pins &= ~cascade;
  }
  bool intr = pending_irq(m, true) != NO_IRQ;
  if (intr != p->intr) {
    p->intr = intr;
    if (p->intr_changed)
      p->intr_changed(p->intr_opaque, intr);
  }
}

/* The second INTA pulse on one chip: the request at level irq goes in service. */
static void acknowledge(struct pic_chip *c, int irq) {
  uint8_t bit = (uint8_t)(1u << irq);
  if (!level_triggered(c, bit))
    c->irr &= ~bit; /* a level-triggered request stays while its line is high */
  if (c->auto_eoi) {
    if (c->rotate_aeoi)
      c->highest = (uint8_t)((irq + 1) & 7);
  } else {
    c->isr |= bit;
  }
}

int pic_ack(struct pic *p) {
  struct pic_chip *m = &p->chip[MASTER], *s = &p->chip[SLAVE];
  int vector;
  int irq = pending_irq(m, true);
  if (irq == NO_IRQ) {
    vector = m->base + 7;
  } else {
    acknowledge(m, irq);
    if (irq == CASCADE_IR && !m->single) {
      int irq2 = pending_irq(s, false);
      if (irq2 == NO_IRQ) {
        vector = s->base + 7;
      } else {
        acknowledge(s, irq2);
        vector = s->base + irq2;
      }
    } else {
      vector = m->base + irq;
    }
  }
  update(p);
  return vector;
}

bool pic_intr(const struct pic *p) { return p->intr; }

void pic_set_intr_callback(struct pic *p, pic_intr_fn fn, void *opaque) {
  p->intr_changed = fn;
  p->intr_opaque = opaque;
}

void pic_set_irq(struct pic *p, int irq, int level) {
  if (irq < 0 || irq > 15 || irq == CASCADE_IR)
    return;
  struct pic_chip *c = &p->chip[irq >> 3];
  uint8_t bit = (uint8_t)(1u << (irq & 7));
  if (level) {
    if (level_triggered(c, bit) || !(c->pins & bit))
      c->irr |= bit;
    c->pins |= bit;
  } else {
    if (level_triggered(c, bit))
      c->irr &= ~bit;
    c->pins &= ~bit;
  }
  update(p);
}

static void line_set(void *opaque, int pin, int level) { pic_set_irq(opaque, pin, level); }

const struct irq_line *pic_irq_line(struct pic *p, int irq) {
  if (irq < 0 || irq > 15)
    return NULL;
  return &p->lines[irq];
}

/* Clear ISR bit irq; with rotate, that level becomes the lowest priority. */
static void end_of_interrupt(struct pic_chip *c, int irq, bool rotate) {
  c->isr &= (uint8_t)~(1u << irq);
  if (rotate)
    c->highest = (uint8_t)((irq + 1) & 7);
}

static void write_ocw2(struct pic_chip *c, uint8_t v) {
  int level = v & 7;
  int pri = priority(c, c->isr);
  int highest_in_service = pri < 8 ? level_of(c, pri) : NO_IRQ;
  switch (v >> 5) {
  case 0: /* rotate in automatic EOI mode: clear */
    c->rotate_aeoi = false;
    break;
  case 4: /* rotate in automatic EOI mode: set */
    c->rotate_aeoi = true;
    break;
  case 1: /* non-specific EOI */
  case 5: /* rotate on non-specific EOI */
    if (highest_in_service != NO_IRQ)
      end_of_interrupt(c, highest_in_service, v >> 5 == 5);
    break;
  case 3: /* specific EOI */
  case 7: /* rotate on specific EOI */
    end_of_interrupt(c, level, v >> 5 == 7);
    break;
  case 6: /* set priority: level becomes the lowest */
    c->highest = (uint8_t)((level + 1) & 7);
    break;
  default: /* 2: no operation */
    break;
  }
}

static void write_ocw3(struct pic_chip *c, uint8_t v) {
  if (v & 0x40)
    c->special_mask = v & 0x20;
  if (v & 0x04)
    c->poll = true;
  if (v & 0x02)
    c->read_isr = v & 0x01;
}

/* ICW1 starts the initialization sequence. IRR keeps only level-triggered requests whose line
 * is high: an edge-triggered input must see a new 0 -> 1 transition. */
static void write_icw1(struct pic_chip *c, uint8_t v) {
  c->irr = c->pins & c->elcr;
  c->isr = 0;
  c->imr = 0;
  c->highest = 0;
  c->special_mask = false;
  c->read_isr = false;
  c->poll = false;
  c->auto_eoi = false;
  c->sfnm = false;
  c->rotate_aeoi = false;
  c->single = v & 0x02;
  c->need_icw4 = v & 0x01;
  c->init_step = 2;
}

static void write_data(struct pic_chip *c, uint8_t v) {
  switch (c->init_step) {
  case 0: /* OCW1 */
    c->imr = v;
    break;
  case 2:
    c->base = v & 0xf8;
    c->init_step = !c->single ? 3 : c->need_icw4 ? 4 : 0;
    break;
  case 3:
    c->icw3 = v;
    c->init_step = c->need_icw4 ? 4 : 0;
    break;
  default: /* 4 */
    c->auto_eoi = v & 0x02;
    c->sfnm = v & 0x10;
    c->init_step = 0;
    break;
  }
}

/* A poll read: the highest request, as 0x80 | level, acknowledged as INTA would; 0 if none. */
static uint8_t poll_read(struct pic *p, int which) {
  struct pic_chip *c = &p->chip[which];
  c->poll = false;
  int irq = pending_irq(c, which == MASTER);
  if (irq == NO_IRQ)
    return 0;
  acknowledge(c, irq);
  return (uint8_t)(0x80 | irq);
}

static uint32_t chip_read(struct pic *p, int which, uint16_t offset) {
  struct pic_chip *c = &p->chip[which];
  if (c->poll) {
    uint8_t v = poll_read(p, which);
    update(p);
    return v;
  }
  if (offset == 1)
    return c->imr;
  return c->read_isr ? c->isr : c->irr;
}

static void chip_write(struct pic *p, int which, uint16_t offset, uint8_t v) {
  struct pic_chip *c = &p->chip[which];
  if (offset == 1)
    write_data(c, v);
  else if (v & 0x10)
    write_icw1(c, v);
  else if (v & 0x08)
    write_ocw3(c, v);
  else
    write_ocw2(c, v);
  update(p);
}

static uint32_t master_read(void *opaque, uint16_t offset, int size) {
  (void)size;
  return chip_read(opaque, MASTER, offset);
}

static uint32_t slave_read(void *opaque, uint16_t offset, int size) {
  (void)size;
  return chip_read(opaque, SLAVE, offset);
}

static void master_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)size;
  chip_write(opaque, MASTER, offset, (uint8_t)value);
}

static void slave_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)size;
  chip_write(opaque, SLAVE, offset, (uint8_t)value);
}

static uint32_t elcr_read(void *opaque, uint16_t offset, int size) {
  (void)size;
  struct pic *p = opaque;
  return p->chip[offset].elcr;
}

/* A pin switched to level mode requests at once if its line is high; one switched to edge
 * mode keeps whatever request it had latched. */
static void elcr_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)size;
  struct pic *p = opaque;
  struct pic_chip *c = &p->chip[offset];
  c->elcr = (uint8_t)value & c->elcr_mask;
  c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->pins & c->elcr));
  update(p);
}

/* The state a BIOS leaves: ICW1 0x11, ICW2 0x08 / 0x70, ICW3 cascade on IR2, ICW4 8086 mode. */
static void chip_reset(struct pic_chip *c, uint8_t base, uint8_t icw3, uint8_t elcr_mask) {
  memset(c, 0, sizeof(*c));
  c->base = base;
  c->icw3 = icw3;
  c->imr = 0xff;
  c->elcr_mask = elcr_mask;
}

int pic_init(struct pic *p, struct ioports *io) {
  memset(p, 0, sizeof(*p));
  chip_reset(&p->chip[MASTER], 0x08, 1u << CASCADE_IR, 0xf8);
  chip_reset(&p->chip[SLAVE], 0x70, CASCADE_IR, 0xde);
  for (int i = 0; i < 16; i++)
    p->lines[i] = (struct irq_line){line_set, p, i};
  int err = ioports_register(io, 0x20, 2, IO_BYTES_ONLY, "pic-master", master_read,
                             master_write, p);
  if (!err)
    err = ioports_register(io, 0xa0, 2, IO_BYTES_ONLY, "pic-slave", slave_read, slave_write, p);
  if (!err)
    err = ioports_register(io, 0x4d0, 2, IO_BYTES_ONLY, "elcr", elcr_read, elcr_write, p);
  return err;
}

void pic_exit(struct pic *p) { p->intr_changed = NULL; }
