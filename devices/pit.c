/* pit.c - the Intel 8254 interval timer and port 0x61 (see pit.h).
 *
 * Each counter is computed from the tick count of the 1.193182 MHz input clock since the start
 * of its current cycle, so nothing runs between accesses. Modes 0-5 follow the 8254 datasheet:
 * gate low stops modes 0, 2, 3 and 4 (and forces OUT high in 2 and 3), a rising gate triggers
 * modes 1 and 5 and restarts 2 and 3; in mode 0 writing the first byte of a two-byte count
 * stops the count; in modes 2 and 3 a new count takes effect at the end of the current cycle
 * (the datasheet reloads mode 3 at the end of the half cycle; we take the whole cycle). Counter
 * latch and read-back (count and status) latch until read. The one-clock delay between writing
 * a count and the first decrement is not modelled, and a count of 1, illegal in modes 2 and 3,
 * counts as 2 there. Odd counts in mode 3 give OUT high for (N+1)/2 and low for (N-1)/2 ticks,
 * as on the chip, but the counter reads N - 2d mod N. */
#include "devices/pit.h"

#include <string.h>

#define NEVER UINT64_MAX

static uint64_t ns_to_tick(uint64_t ns) {
  return (uint64_t)((unsigned __int128)ns * PIT_HZ / 1000000000u);
}

/* The first nanosecond at which the tick count reaches t. */
static uint64_t tick_to_ns(uint64_t t) {
  return (uint64_t)(((unsigned __int128)t * 1000000000u + PIT_HZ - 1) / PIT_HZ);
}

static uint64_t now_tick(const struct pit *p) { return ns_to_tick(p->clock()); }

static uint32_t modulus(const struct pit_channel *c) { return c->bcd ? 10000 : 65536; }

static uint32_t from_bcd(uint32_t v) {
  return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
}

static uint32_t to_bcd(uint32_t v) {
  return (v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000 % 10) << 12);
}

static bool counting(const struct pit_channel *c) {
  if (!c->loaded)
    return false;
  return (c->mode != 1 && c->mode != 5) || c->triggered;
}

static uint64_t elapsed(const struct pit_channel *c, uint64_t t) {
  return c->frozen ? c->frozen_d : t - c->base;
}

/* Apply a reload of modes 2 and 3 that falls due by t. */
static void sync(struct pit_channel *c, uint64_t t) {
  if (c->pending && !c->frozen && t >= c->pending_tick) {
    c->base = c->pending_tick;
    c->n = c->cr;
    c->pending = false;
    c->null_count = false;
  }
}

static int out_at(const struct pit_channel *c, uint64_t t) {
  if (!counting(c))
    return c->mode == 0 ? 0 : 1;
  uint64_t d = elapsed(c, t), n = c->n;
  switch (c->mode) {
  case 0:
  case 1:
    return d >= n;
  case 2:
    return !c->gate || d % n != n - 1;
  case 3:
    return !c->gate || d % n < (n + 1) / 2;
  default: /* 4, 5: one tick low when the count reaches 0 */
    return d != n;
  }
}

/* The value in the counting element, before BCD encoding. */
static uint32_t count_at(const struct pit_channel *c, uint64_t t) {
  if (!counting(c))
    return c->idle;
  uint64_t d = elapsed(c, t), n = c->n, m = modulus(c);
  switch (c->mode) {
  case 2:
    return (uint32_t)((n - d % n) % m);
  case 3:
    return (uint32_t)((n - 2 * d % n) % m);
  default: /* 0, 1, 4, 5 wrap around after the terminal count */
    return (uint32_t)((n + m - d % m) % m);
  }
}

static uint16_t encoded_count(const struct pit_channel *c, uint64_t t) {
  uint32_t v = count_at(c, t);
  return (uint16_t)(c->bcd ? to_bcd(v) : v);
}

/* The first tick after from at which OUT rises, given the current cycle. */
static uint64_t next_rise(const struct pit_channel *c, uint64_t from) {
  if (!counting(c) || c->frozen)
    return NEVER;
  int64_t d = (int64_t)(from - c->base);
  int64_t n = c->n;
  switch (c->mode) {
  case 0:
  case 1:
    return d < n ? c->base + (uint64_t)n : NEVER;
  case 2:
  case 3:
    return c->base + (uint64_t)((d < 0 ? 1 : d / n + 1) * n);
  default:
    return d < n + 1 ? c->base + (uint64_t)n + 1 : NEVER;
  }
}

/* The first tick after from at which OUT falls for longer than a tick (mode 3's half cycle). */
static uint64_t next_fall(const struct pit_channel *c, uint64_t from) {
  if (c->mode != 3 || !counting(c) || c->frozen)
    return NEVER;
  int64_t d = (int64_t)(from - c->base);
  int64_t n = c->n, h = (n + 1) / 2;
  if (d < h)
    return c->base + (uint64_t)h;
  return c->base + (uint64_t)(((d - h) / n + 1) * n + h);
}

static bool rises_between(const struct pit_channel *c, uint64_t from, uint64_t to) {
  return from < to && next_rise(c, from) <= to;
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Bring IRQ0 up to date with channel 0 at tick t: deliver a rising edge if OUT rose since the
 * last update (however many times), follow OUT's level, and arm the timer for the next change. */
static void ch0_update(struct pit *p, uint64_t t) {
  struct pit_channel *c = &p->ch[0];
  uint64_t from = min64(p->irq_checked, t);
  bool rose = false;
  if (c->pending && !c->frozen && c->pending_tick <= t) {
    rose = rises_between(c, from, c->pending_tick);
    sync(c, t);
    if (from < c->base)
      from = c->base;
  }
  rose = rose || rises_between(c, from, t);
  if (rose) {
    if (p->irq_level)
      irq_set(&p->irq, 0);
    irq_set(&p->irq, 1);
    p->irq_level = 1;
  }
  int level = out_at(c, t);
  if (level != p->irq_level) {
    irq_set(&p->irq, level);
    p->irq_level = level;
  }
  p->irq_checked = t;

  uint64_t next = min64(next_rise(c, t), next_fall(c, t));
  if (c->pending && !c->frozen)
    next = min64(next, c->pending_tick);
  if (next == NEVER || !p->irq.set)
    timer_del(p->timers, &p->irq_timer);
  else
    timer_mod(p->timers, &p->irq_timer, tick_to_ns(next));
}

static void irq_timer_fired(void *opaque) {
  struct pit *p = opaque;
  ch0_update(p, now_tick(p));
}

static uint32_t effective_count(const struct pit_channel *c) {
  return (c->cr == 1 && (c->mode == 2 || c->mode == 3)) ? 2 : c->cr;
}

/* Load the count register into the counting element and start a cycle at t. */
static void start(struct pit_channel *c, uint64_t t) {
  c->n = effective_count(c);
  c->base = t;
  c->loaded = true;
  c->null_count = false;
  c->pending = false;
  c->frozen = !c->gate && c->mode != 1 && c->mode != 5;
  c->frozen_d = 0;
}

static void load_count(struct pit_channel *c, uint32_t raw, uint64_t t) {
  uint32_t v = c->bcd ? from_bcd(raw) : raw;
  c->cr = v ? v : modulus(c);
  c->null_count = true;
  switch (c->mode) {
  case 0:
  case 4:
    start(c, t);
    break;
  case 1:
  case 5: /* used by the next trigger */
    c->loaded = true;
    break;
  default: /* 2, 3 */
    sync(c, t);
    if (!c->loaded) {
      start(c, t);
    } else if (!c->frozen) {
      uint64_t n = c->n;
      c->pending = true;
      c->pending_tick = c->base + ((t - c->base) / n + 1) * n;
    } /* else the rising gate loads it */
    break;
  }
}

static void set_gate(struct pit_channel *c, bool gate, uint64_t t) {
  if (gate == c->gate)
    return;
  sync(c, t);
  c->gate = gate;
  if (!c->loaded)
    return;
  if (!gate) {
    if (c->mode != 1 && c->mode != 5 && !c->frozen) {
      c->frozen_d = t - c->base;
      c->frozen = true;
    }
    return;
  }
  switch (c->mode) {
  case 0:
  case 4:
    c->base = t - c->frozen_d;
    c->frozen = false;
    break;
  case 1:
  case 5:
    start(c, t);
    c->triggered = true;
    break;
  default:
    start(c, t);
    break;
  }
}

static uint8_t status_byte(const struct pit_channel *c, uint64_t t) {
  return (uint8_t)(out_at(c, t) << 7 | c->null_count << 6 | c->rw << 4 | c->mode << 1 | c->bcd);
}

static void latch_count(struct pit_channel *c, uint64_t t) {
  if (c->latch_bytes)
    return; /* the first latch holds until it is read */
  c->latch = encoded_count(c, t);
  c->latch_bytes = c->rw == 3 ? 2 : 1;
}

static void read_back(struct pit *p, uint8_t v, uint64_t t) {
  for (int i = 0; i < 3; i++) {
    if (!(v & (2u << i)))
      continue;
    struct pit_channel *c = &p->ch[i];
    sync(c, t);
    if (!(v & 0x20))
      latch_count(c, t);
    if (!(v & 0x10) && !c->status_latched) {
      c->status = status_byte(c, t);
      c->status_latched = true;
    }
  }
}

static void write_control(struct pit *p, uint8_t v, uint64_t t) {
  int sc = v >> 6, rw = (v >> 4) & 3;
  if (sc == 3) {
    read_back(p, v, t);
    return;
  }
  struct pit_channel *c = &p->ch[sc];
  sync(c, t);
  if (rw == 0) {
    latch_count(c, t);
    return;
  }
  c->idle = count_at(c, t);
  c->rw = (uint8_t)rw;
  c->mode = (v >> 1) & 7;
  if (c->mode > 5)
    c->mode -= 4; /* 6 and 7 are 2 and 3 */
  c->bcd = v & 1;
  c->loaded = false;
  c->triggered = false;
  c->frozen = false;
  c->pending = false;
  c->null_count = true;
  c->write_msb = false;
  c->read_msb = false;
  c->latch_bytes = 0;
  c->status_latched = false;
}

static void write_counter(struct pit_channel *c, uint8_t v, uint64_t t) {
  sync(c, t);
  switch (c->rw) {
  case 1:
    load_count(c, v, t);
    break;
  case 2:
    load_count(c, (uint32_t)v << 8, t);
    break;
  default:
    if (!c->write_msb) {
      c->write_lsb = v;
      c->write_msb = true;
      if (c->mode == 0) { /* writing the first byte stops the count; OUT goes low */
        c->idle = count_at(c, t);
        c->loaded = false;
      }
    } else {
      c->write_msb = false;
      load_count(c, c->write_lsb | (uint32_t)v << 8, t);
    }
    break;
  }
}

static uint8_t read_counter(struct pit_channel *c, uint64_t t) {
  sync(c, t);
  if (c->status_latched) {
    c->status_latched = false;
    return c->status;
  }
  if (c->latch_bytes) {
    bool msb = c->rw == 2 || (c->rw == 3 && c->latch_bytes == 1);
    c->latch_bytes--;
    return (uint8_t)(msb ? c->latch >> 8 : c->latch);
  }
  uint16_t v = encoded_count(c, t);
  bool msb = c->rw == 2;
  if (c->rw == 3) {
    msb = c->read_msb;
    c->read_msb = !msb;
  }
  return (uint8_t)(msb ? v >> 8 : v);
}

static uint32_t pit_read(void *opaque, uint16_t offset, int size) {
  (void)size;
  struct pit *p = opaque;
  if (offset == 3)
    return 0xff; /* the control word register cannot be read */
  uint64_t t = now_tick(p);
  ch0_update(p, t);
  uint8_t v = read_counter(&p->ch[offset], t);
  ch0_update(p, t);
  return v;
}

static void pit_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)size;
  struct pit *p = opaque;
  uint64_t t = now_tick(p);
  ch0_update(p, t);
  if (offset == 3)
    write_control(p, (uint8_t)value, t);
  else
    write_counter(&p->ch[offset], (uint8_t)value, t);
  ch0_update(p, t);
}

/* Port 0x61: bit 0 channel 2 gate, bit 1 speaker data enable, bits 2-3 parity and I/O channel
 * check enables (read back, no NMIs here), bit 4 the refresh request toggle (every 15.085 us),
 * bit 5 channel 2's OUT; bits 6-7 (parity and I/O channel check status) read 0. */
static uint32_t port61_read(void *opaque, uint16_t offset, int size) {
  (void)offset, (void)size;
  struct pit *p = opaque;
  uint64_t ns = p->clock();
  uint64_t t = ns_to_tick(ns);
  int refresh = (int)((ns / 15085) & 1);
  return (uint32_t)(p->port61 | refresh << 4 | out_at(&p->ch[2], t) << 5);
}

static void port61_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)offset, (void)size;
  struct pit *p = opaque;
  p->port61 = value & 0x0f;
  set_gate(&p->ch[2], value & 1, now_tick(p));
}

static void reset(struct pit *p) {
  uint64_t t = now_tick(p);
  for (int i = 0; i < 3; i++) {
    struct pit_channel *c = &p->ch[i];
    memset(c, 0, sizeof(*c));
    c->mode = 3;
    c->rw = 3;
    c->cr = 65536;
    c->gate = i != 2;
    start(c, t);
  }
  p->port61 = 0;
  p->irq_checked = t;
  ch0_update(p, t);
}

int pit_init(struct pit *p, struct ioports *io, const struct irq_line *irq0,
             struct timer_list *timers) {
  memset(p, 0, sizeof(*p));
  if (irq0)
    p->irq = *irq0;
  p->timers = timers;
  p->clock = clock_ns;
  timer_init(&p->irq_timer, irq_timer_fired, p);
  reset(p);
  int err = ioports_register(io, 0x40, 4, IO_BYTES_ONLY, "pit", pit_read, pit_write, p);
  if (!err)
    err = ioports_register(io, 0x61, 1, IO_BYTES_ONLY, "port61", port61_read, port61_write, p);
  if (err)
    timer_del(p->timers, &p->irq_timer);
  return err;
}

void pit_exit(struct pit *p) { timer_del(p->timers, &p->irq_timer); }

void pit_set_clock(struct pit *p, uint64_t (*clock)(void)) {
  p->clock = clock;
  reset(p);
}
