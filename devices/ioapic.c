/* ioapic.c - the 82093AA I/O APIC (see ioapic.h), after the 82093AA datasheet: IOREGSEL and
 * IOWIN, the 4-bit ID, version 0x11 with 24 redirection entries, edge-triggered requests
 * ignored while an entry is masked, level-triggered requests held by remote IRR until the EOI
 * message with the entry's vector. Delivery is instantaneous, so the delivery status bit
 * always reads idle. An entry switched to edge triggering drops its remote IRR, which Linux
 * relies on to clear a stuck one on IOAPICs without an EOI register. */
#include "devices/ioapic.h"

#include <string.h>

#define REDIR_LOW_WRITABLE                                                                   \
  (0xffu | 0x700u | IOAPIC_DEST_LOGICAL | IOAPIC_ACTIVE_LOW | IOAPIC_LEVEL | IOAPIC_MASKED)
#define REDIR_HIGH_WRITABLE 0xff000000u
#define IOREGSEL 0x00
#define IOWIN 0x10

static bool asserted(const struct ioapic *s, int pin) {
  bool electrical = (s->pins >> pin) & 1;
  bool active_low = s->redir[pin] & IOAPIC_ACTIVE_LOW;
  return electrical != active_low;
}

static bool send(struct ioapic *s, int pin) {
  uint64_t e = s->redir[pin];
  struct apic_msg m = {
      .vector = (uint8_t)(e & 0xff),
      .delivery = (uint8_t)((e >> 8) & 7),
      .dest = (uint8_t)(e >> 56),
      .logical = e & IOAPIC_DEST_LOGICAL,
      .level = e & IOAPIC_LEVEL,
  };
  return s->deliver && s->deliver(s->deliver_opaque, &m);
}

/* A level-triggered entry sends while its input is asserted, it is unmasked and the previous
 * message has been EOI'd (remote IRR clear). */
static void service_level(struct ioapic *s, int pin) {
  uint64_t *e = &s->redir[pin];
  if (!(*e & IOAPIC_LEVEL) || (*e & (IOAPIC_MASKED | IOAPIC_REMOTE_IRR)) || !asserted(s, pin))
    return;
  if (send(s, pin))
    *e |= IOAPIC_REMOTE_IRR;
}

void ioapic_set_irq(struct ioapic *s, int pin, int level) {
  if (pin < 0 || pin >= IOAPIC_PINS)
    return;
  uint32_t bit = 1u << pin;
  bool was = asserted(s, pin);
  bool electrical = (level != 0) != ((s->wire_low & bit) != 0);
  s->pins = electrical ? s->pins | bit : s->pins & ~bit;
  uint64_t e = s->redir[pin];
  if (e & IOAPIC_LEVEL)
    service_level(s, pin);
  else if (!(e & IOAPIC_MASKED) && asserted(s, pin) && !was)
    send(s, pin);
}

static void line_set(void *opaque, int pin, int level) { ioapic_set_irq(opaque, pin, level); }

void ioapic_set_wire_active_low(struct ioapic *s, int pin, bool active_low) {
  if (pin < 0 || pin >= IOAPIC_PINS)
    return;
  uint32_t bit = 1u << pin;
  bool level = ((s->pins & bit) != 0) != ((s->wire_low & bit) != 0); /* the device's level */
  s->wire_low = active_low ? s->wire_low | bit : s->wire_low & ~bit;
  bool electrical = level != active_low;
  s->pins = electrical ? s->pins | bit : s->pins & ~bit;
}

void ioapic_eoi(struct ioapic *s, int vector) {
  for (int pin = 0; pin < IOAPIC_PINS; pin++) {
    uint64_t *e = &s->redir[pin];
    if ((int)(*e & 0xff) == vector && (*e & IOAPIC_LEVEL) && (*e & IOAPIC_REMOTE_IRR)) {
      *e &= ~(uint64_t)IOAPIC_REMOTE_IRR;
      service_level(s, pin);
    }
  }
}

void ioapic_bus_eoi(void *opaque, int vector) { ioapic_eoi(opaque, vector); }

/* ---- registers ---- */

static uint32_t read_window(const struct ioapic *s) {
  switch (s->regsel) {
  case IOAPIC_REG_ID:
  case IOAPIC_REG_ARB: return (uint32_t)s->id << 24;
  case IOAPIC_REG_VER: return IOAPIC_VERSION | (IOAPIC_PINS - 1) << 16;
  default:
    if (s->regsel >= IOAPIC_REG_REDTBL && s->regsel < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS) {
      uint64_t e = s->redir[(s->regsel - IOAPIC_REG_REDTBL) / 2];
      return (s->regsel & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
    }
    return 0;
  }
}

static void write_window(struct ioapic *s, uint32_t v) {
  if (s->regsel == IOAPIC_REG_ID) {
    s->id = (v >> 24) & 0x0f;
    return;
  }
  if (s->regsel < IOAPIC_REG_REDTBL || s->regsel >= IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS)
    return; /* version, arbitration ID: read-only */
  int pin = (s->regsel - IOAPIC_REG_REDTBL) / 2;
  uint64_t *e = &s->redir[pin];
  if (s->regsel & 1) {
    *e = (*e & 0xffffffffu) | (uint64_t)(v & REDIR_HIGH_WRITABLE) << 32;
  } else {
    uint64_t keep = *e & ((uint64_t)REDIR_HIGH_WRITABLE << 32 | IOAPIC_REMOTE_IRR);
    if (!(v & IOAPIC_LEVEL))
      keep &= ~(uint64_t)IOAPIC_REMOTE_IRR;
    *e = keep | (v & REDIR_LOW_WRITABLE);
  }
  service_level(s, pin);
}

uint32_t ioapic_mmio_read(void *opaque, uint32_t offset, int size) {
  struct ioapic *s = opaque;
  uint32_t mask = size >= 4 ? ~0u : (1u << (size * 8)) - 1;
  uint32_t reg = offset & 0xfc, shift = (offset & 3) * 8;
  if (reg == IOREGSEL)
    return ((uint32_t)s->regsel >> shift) & mask;
  if (reg == IOWIN)
    return (read_window(s) >> shift) & mask;
  return 0;
}

void ioapic_mmio_write(void *opaque, uint32_t offset, int size, uint32_t value) {
  struct ioapic *s = opaque;
  if (offset == IOREGSEL)
    s->regsel = (uint8_t)value;
  else if (offset == IOWIN && size == 4)
    write_window(s, value);
}

/* ---- bring-up ---- */

void ioapic_reset(struct ioapic *s) {
  s->regsel = 0;
  for (int pin = 0; pin < IOAPIC_PINS; pin++)
    s->redir[pin] = IOAPIC_MASKED;
}

int ioapic_init(struct ioapic *s, struct mmio *mmio, uint32_t base, uint8_t id,
                apic_deliver_fn deliver, void *opaque) {
  memset(s, 0, sizeof(*s));
  s->id = id & 0x0f;
  s->deliver = deliver;
  s->deliver_opaque = opaque;
  for (int pin = 0; pin < IOAPIC_PINS; pin++)
    s->lines[pin] = (struct irq_line){line_set, s, pin};
  ioapic_reset(s);
  return mmio_register(mmio, base, 0x1000, "ioapic", ioapic_mmio_read, ioapic_mmio_write, s);
}

void ioapic_exit(struct ioapic *s) { s->deliver = NULL; }

const struct irq_line *ioapic_irq_line(struct ioapic *s, int pin) {
  return pin >= 0 && pin < IOAPIC_PINS ? &s->lines[pin] : NULL;
}
