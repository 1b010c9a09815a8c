/* lapic.c - the local APIC (see lapic.h), after the Intel SDM vol. 3A, "Advanced Programmable
 * Interrupt Controller (APIC)":
 *
 *  - Fixed interrupts (bus messages, LVT entries, self-IPIs) set their IRR bit, and their TMR
 *    bit when level-triggered; vectors 0-15 are refused with "received illegal vector" in ESR.
 *  - PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0, where ISRV is the highest vector in
 *    service. The highest IRR vector goes to the core if its class (bits 7:4) is above PPR's.
 *  - INTA moves that vector from IRR to ISR; if nothing qualifies any more, the core gets the
 *    spurious vector and no ISR bit is set.
 *  - EOI clears the highest ISR bit; if its TMR bit is set, the EOI is broadcast to the
 *    IOAPIC, and level-triggered LINT entries with that vector drop their remote IRR.
 *  - ExtINT (LINT0 in virtual wire mode, or an IOAPIC message) bypasses IRR, ISR and priority:
 *    the INTA goes to the 8259A, which supplies the vector. ExtINT is level-sensitive.
 *  - Software-disabled (SVR bit 8 clear): every LVT is masked and stays masked, fixed and
 *    ExtINT messages are not accepted and nothing is delivered; NMI still is.
 *  - Globally disabled (IA32_APIC_BASE bit 11 clear): the registers are gone, the APIC returns
 *    to its power-up state and LINT0/LINT1 are the CPU's INTR and NMI pins.
 *
 * ESR latches on writes: a write makes the errors seen since the previous write readable and
 * starts collecting anew. Accesses to reserved offsets set "illegal register address". Only
 * aligned 32-bit writes reach a register; narrower reads see part of one. */
#include "devices/lapic.h"

#include <errno.h>
#include <string.h>

#define LVT_VECTOR 0xffu
#define LVT_DM_MASK 0x700u
#define ICR_LO_WRITABLE 0x000ccfffu /* vector, mode, dest mode, level, trigger, shorthand */
#define SVR_WRITABLE 0x3ffu        /* vector, enable, focus processor checking */
#define DFR_RESERVED 0x0fffffffu   /* reads as ones */
#define DCR_WRITABLE 0x0bu
#define APIC_BASE_ADDR_MASK 0xfffff000ull
#define APIC_BASE_WRITABLE (APIC_BASE_ADDR_MASK | APIC_BASE_BSP | APIC_BASE_ENABLE)

/* ---- registers of 256 bits ---- */

static int highest(const uint32_t r[8]) {
  for (int i = 7; i >= 0; i--)
    if (r[i])
      return i * 32 + 31 - __builtin_clz(r[i]);
  return -1;
}

static void set_vec(uint32_t r[8], int v) { r[v >> 5] |= 1u << (v & 31); }
static void clear_vec(uint32_t r[8], int v) { r[v >> 5] &= ~(1u << (v & 31)); }
static bool test_vec(const uint32_t r[8], int v) { return r[v >> 5] >> (v & 31) & 1; }

/* ---- state ---- */

static bool hw_enabled(const struct lapic *s) { return s->base_msr & APIC_BASE_ENABLE; }

static bool sw_enabled(const struct lapic *s) {
  return hw_enabled(s) && (s->svr & APIC_SVR_ENABLE);
}

static int delivery_mode(uint32_t lvt) { return (int)((lvt & LVT_DM_MASK) >> 8); }

static uint8_t ppr(const struct lapic *s) {
  int isrv = highest(s->isr);
  if (isrv < 0)
    isrv = 0;
  if ((s->tpr & 0xf0) >= (isrv & 0xf0))
    return s->tpr;
  return (uint8_t)(isrv & 0xf0);
}

/* The arbitration priority (P6 and Pentium 4): TPR if its class is at least IRRV's and above
 * ISRV's, else the highest of the three classes. */
static uint8_t apr(const struct lapic *s) {
  int irrv = highest(s->irr), isrv = highest(s->isr);
  if (irrv < 0)
    irrv = 0;
  if (isrv < 0)
    isrv = 0;
  if ((s->tpr & 0xf0) >= (irrv & 0xf0) && (s->tpr & 0xf0) > (isrv & 0xf0))
    return s->tpr;
  int c = s->tpr & 0xf0;
  if ((isrv & 0xf0) > c)
    c = isrv & 0xf0;
  if ((irrv & 0xf0) > c)
    c = irrv & 0xf0;
  return (uint8_t)c;
}

static void accept_fixed(struct lapic *s, int vector, bool level, bool from_error_lvt);

/* An error: logged for the next ESR write, and signalled through the error LVT. */
static void apic_error(struct lapic *s, uint32_t bits, bool from_error_lvt) {
  s->esr_pending |= bits;
  uint32_t lvt = s->lvt[LVT_ERROR];
  if (!from_error_lvt && !(lvt & APIC_LVT_MASKED))
    accept_fixed(s, (int)(lvt & LVT_VECTOR), false, true);
}

static void accept_fixed(struct lapic *s, int vector, bool level, bool from_error_lvt) {
  if (vector < 16) {
    apic_error(s, APIC_ESR_RECV_ILLEGAL_VECTOR, from_error_lvt);
    return;
  }
  set_vec(s->irr, vector);
  if (level)
    set_vec(s->tmr, vector);
  else
    clear_vec(s->tmr, vector);
}

/* ---- LINT0 and LINT1 ---- */

static bool lint_asserted(const struct lapic *s, int pin) {
  return s->lint_level[pin] != ((s->lvt[LVT_LINT0 + pin] & APIC_LVT_ACTIVE_LOW) != 0);
}

/* The pin's level changed from was_asserted, or its LVT entry changed (was_asserted = the
 * current state): deliver what the entry says. ExtINT is sampled when the core asks. */
static void lint_update(struct lapic *s, int pin, bool was_asserted) {
  uint32_t *lvt = &s->lvt[LVT_LINT0 + pin];
  bool now = lint_asserted(s, pin);
  if (*lvt & APIC_LVT_MASKED)
    return;
  switch (delivery_mode(*lvt)) {
  case APIC_DM_FIXED:
    if (*lvt & APIC_LVT_LEVEL) {
      if (now && !(*lvt & APIC_LVT_REMOTE_IRR)) {
        *lvt |= APIC_LVT_REMOTE_IRR;
        accept_fixed(s, (int)(*lvt & LVT_VECTOR), true, false);
      }
    } else if (now && !was_asserted) {
      accept_fixed(s, (int)(*lvt & LVT_VECTOR), false, false);
    }
    break;
  case APIC_DM_NMI: /* always edge-sensitive */
    if (now && !was_asserted)
      s->nmi_pending = true;
    break;
  default: /* ExtINT: level, sampled by lapic_intr_pending(); SMI, INIT: not modelled */
    break;
  }
}

static void lint_set(void *opaque, int pin, int level) {
  struct lapic *s = opaque;
  if (pin < 0 || pin > 1)
    return;
  bool was_level = s->lint_level[pin];
  bool was_asserted = lint_asserted(s, pin);
  s->lint_level[pin] = level != 0;
  if (!hw_enabled(s)) {
    /* The pins are the CPU's INTR (sampled) and NMI (edge). */
    if (pin == 1 && level && !was_level)
      s->nmi_pending = true;
    return;
  }
  lint_update(s, pin, was_asserted);
}

static bool extint_pending(const struct lapic *s) {
  if (s->extint_req)
    return true;
  for (int pin = 0; pin < 2; pin++) {
    uint32_t lvt = s->lvt[LVT_LINT0 + pin];
    if (!(lvt & APIC_LVT_MASKED) && delivery_mode(lvt) == APIC_DM_EXTINT &&
        lint_asserted(s, pin))
      return true;
  }
  return false;
}

static int extint_ack(struct lapic *s) {
  return s->extint_ack ? s->extint_ack(s->extint_opaque) : -1;
}

/* ---- the timer ---- */

static uint32_t timer_divide(uint32_t dcr) {
  uint32_t v = (dcr & 3) | ((dcr >> 1) & 4);
  return v == 7 ? 1 : 2u << v;
}

static bool periodic(const struct lapic *s) {
  return s->lvt[LVT_TIMER] & APIC_LVT_TIMER_PERIODIC;
}

/* The first time the count reaches zero after `after`. */
static uint64_t expiry_after(const struct lapic *s, uint64_t after) {
  uint64_t first = s->base_ns + (uint64_t)s->base_count * s->tick_ns;
  if (first > after || !periodic(s))
    return first;
  uint64_t period = (uint64_t)s->timer_initial * s->tick_ns;
  return first + ((after - first) / period + 1) * period;
}

static uint64_t elapsed_ticks(const struct lapic *s, uint64_t now) {
  return now > s->base_ns ? (now - s->base_ns) / s->tick_ns : 0;
}

static uint32_t current_count(const struct lapic *s, uint64_t now) {
  if (!s->timer_running)
    return 0;
  uint64_t d = elapsed_ticks(s, now);
  if (d < s->base_count)
    return s->base_count - (uint32_t)d;
  if (!periodic(s))
    return 0;
  return s->timer_initial - (uint32_t)((d - s->base_count) % s->timer_initial);
}

/* The host timer runs only for an expiry that interrupts: a masked timer's count is computed
 * when read. A periodic one fires at most every LAPIC_MIN_PERIOD_NS; each one-shot needs a
 * write from the guest anyway. */
static void timer_arm(struct lapic *s) {
  if (!s->timer_running || (s->lvt[LVT_TIMER] & APIC_LVT_MASKED)) {
    timer_del(s->timers, &s->timer);
    return;
  }
  uint64_t when = s->next_ns;
  if (periodic(s) && s->last_fire_ns + LAPIC_MIN_PERIOD_NS > when)
    when = s->last_fire_ns + LAPIC_MIN_PERIOD_NS;
  timer_mod(s->timers, &s->timer, when);
}

/* Deliver the expiry that fell due by now (several merge into one interrupt). */
static void timer_catch_up(struct lapic *s, uint64_t now) {
  if (!s->timer_running || now < s->next_ns)
    return;
  uint32_t lvt = s->lvt[LVT_TIMER];
  if (!(lvt & APIC_LVT_MASKED)) {
    accept_fixed(s, (int)(lvt & LVT_VECTOR), false, false);
    s->last_fire_ns = now;
  }
  if (periodic(s))
    s->next_ns = expiry_after(s, now);
  else
    s->timer_running = false;
}

/* Restate the count as "base_count at base_ns" at the last decrement before now, so that the
 * divider or the mode can change without disturbing the count. */
static void timer_rebase(struct lapic *s, uint64_t now) {
  if (!s->timer_running)
    return;
  uint32_t count = current_count(s, now);
  uint64_t d = elapsed_ticks(s, now);
  s->base_ns += d * s->tick_ns;
  s->base_count = count;
}

static void timer_reschedule(struct lapic *s) {
  if (s->timer_running)
    s->next_ns = s->base_ns + (uint64_t)s->base_count * s->tick_ns;
  timer_arm(s);
}

static void timer_fired(void *opaque) {
  struct lapic *s = opaque;
  timer_catch_up(s, s->clock());
  timer_arm(s);
}

static void timer_start(struct lapic *s, uint32_t initial) {
  uint64_t now = s->clock();
  timer_catch_up(s, now);
  s->timer_initial = initial;
  s->timer_running = initial != 0;
  s->base_ns = now;
  s->base_count = initial;
  timer_reschedule(s);
}

static void timer_set_divide(struct lapic *s, uint32_t dcr) {
  uint64_t now = s->clock();
  timer_catch_up(s, now);
  timer_rebase(s, now);
  s->timer_dcr = dcr & DCR_WRITABLE;
  s->tick_ns = LAPIC_TICK_NS * timer_divide(s->timer_dcr);
  timer_reschedule(s);
}

/* ---- local vector table ---- */

static uint32_t lvt_writable(int i) {
  switch (i) {
  case LVT_TIMER: return LVT_VECTOR | APIC_LVT_MASKED | APIC_LVT_TIMER_PERIODIC;
  case LVT_THERMAL:
  case LVT_PERF: return LVT_VECTOR | LVT_DM_MASK | APIC_LVT_MASKED;
  case LVT_LINT0:
  case LVT_LINT1:
    return LVT_VECTOR | LVT_DM_MASK | APIC_LVT_ACTIVE_LOW | APIC_LVT_LEVEL | APIC_LVT_MASKED;
  default: return LVT_VECTOR | APIC_LVT_MASKED;
  }
}

static void write_lvt(struct lapic *s, int i, uint32_t value) {
  uint64_t now = 0;
  if (i == LVT_TIMER) {
    now = s->clock();
    timer_catch_up(s, now);
    timer_rebase(s, now);
  }
  bool was_asserted = i == LVT_LINT0 || i == LVT_LINT1 ? lint_asserted(s, i - LVT_LINT0) : false;
  uint32_t keep = s->lvt[i] & APIC_LVT_REMOTE_IRR;
  value &= lvt_writable(i);
  if (!sw_enabled(s))
    value |= APIC_LVT_MASKED;
  if ((i == LVT_LINT0 || i == LVT_LINT1) && !(value & APIC_LVT_LEVEL))
    keep = 0;
  s->lvt[i] = value | keep;
  if (i == LVT_TIMER) {
    timer_reschedule(s);
  } else if (i == LVT_LINT0 || i == LVT_LINT1) {
    /* A newly unmasked level-triggered entry sees a pin that is already asserted. */
    lint_update(s, i - LVT_LINT0, was_asserted);
  }
}

static void write_svr(struct lapic *s, uint32_t value) {
  s->svr = value & SVR_WRITABLE;
  if (!(s->svr & APIC_SVR_ENABLE))
    for (int i = 0; i < LVT_COUNT; i++)
      s->lvt[i] |= APIC_LVT_MASKED;
}

/* ---- EOI and IPIs ---- */

static void eoi(struct lapic *s) {
  int v = highest(s->isr);
  if (v < 0)
    return;
  clear_vec(s->isr, v);
  if (!test_vec(s->tmr, v))
    return;
  for (int pin = 0; pin < 2; pin++) {
    uint32_t *lvt = &s->lvt[LVT_LINT0 + pin];
    if ((*lvt & APIC_LVT_REMOTE_IRR) && (int)(*lvt & LVT_VECTOR) == v) {
      *lvt &= ~APIC_LVT_REMOTE_IRR;
      lint_update(s, pin, false); /* still asserted: deliver again */
    }
  }
  if (s->eoi)
    s->eoi(s->eoi_opaque, v);
}

static bool dest_matches(const struct lapic *s, const struct apic_msg *m) {
  if (m->dest == 0xff)
    return true; /* broadcast, physical or logical */
  if (!m->logical)
    return m->dest == s->id;
  uint8_t ldr = (uint8_t)(s->ldr >> 24);
  switch (s->dfr >> 28) {
  case 0xf: return (m->dest & ldr) != 0;                                   /* flat */
  case 0x0: return (m->dest >> 4) == (ldr >> 4) && (m->dest & ldr & 0xf); /* cluster */
  default: return false;
  }
}

static bool receive(struct lapic *s, const struct apic_msg *m) {
  switch (m->delivery) {
  case APIC_DM_FIXED:
  case APIC_DM_LOWEST: /* one CPU: it is always the lowest-priority one */
    if (!sw_enabled(s))
      return false;
    accept_fixed(s, m->vector, m->level, false);
    return true;
  case APIC_DM_NMI:
    s->nmi_pending = true;
    return true;
  case APIC_DM_EXTINT:
    if (!sw_enabled(s))
      return false;
    s->extint_req = true;
    return true;
  default: /* SMI, INIT, STARTUP: nothing to start on a single CPU */
    return true;
  }
}

bool lapic_deliver(struct lapic *s, const struct apic_msg *m) {
  if (!hw_enabled(s) || !dest_matches(s, m))
    return false;
  return receive(s, m);
}

bool lapic_bus_deliver(void *opaque, const struct apic_msg *m) { return lapic_deliver(opaque, m); }

static void send_ipi(struct lapic *s) {
  uint32_t lo = s->icr_lo;
  struct apic_msg m = {
      .vector = (uint8_t)(lo & 0xff),
      .delivery = (uint8_t)((lo >> 8) & 7),
      .dest = (uint8_t)(s->icr_hi >> 24),
      .logical = lo & (1u << 11),
      .level = lo & (1u << 15),
  };
  if ((m.delivery == APIC_DM_FIXED || m.delivery == APIC_DM_LOWEST) && m.vector < 16)
    apic_error(s, APIC_ESR_SEND_ILLEGAL_VECTOR, false);
  if (m.delivery == APIC_DM_INIT || m.delivery == APIC_DM_STARTUP)
    return; /* INIT (and its de-assert) and SIPI go to other CPUs; there are none */
  switch ((lo >> 18) & 3) {
  case 0: lapic_deliver(s, &m); break;           /* destination field */
  case 1: case 2: receive(s, &m); break;         /* self, all including self */
  default: break;                                /* all excluding self */
  }
}

/* ---- registers ---- */

static uint32_t read_reg(struct lapic *s, uint32_t reg) {
  if (reg >= LAPIC_ISR && reg < LAPIC_ISR + 0x80)
    return s->isr[(reg - LAPIC_ISR) >> 4];
  if (reg >= LAPIC_TMR && reg < LAPIC_TMR + 0x80)
    return s->tmr[(reg - LAPIC_TMR) >> 4];
  if (reg >= LAPIC_IRR && reg < LAPIC_IRR + 0x80)
    return s->irr[(reg - LAPIC_IRR) >> 4];
  if (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR)
    return s->lvt[(reg - LAPIC_LVT_TIMER) >> 4];
  switch (reg) {
  case LAPIC_ID: return (uint32_t)s->id << 24;
  case LAPIC_VER: return LAPIC_VERSION | LAPIC_MAX_LVT << 16;
  case LAPIC_TPR: return s->tpr;
  case LAPIC_APR: return apr(s);
  case LAPIC_PPR: return ppr(s);
  case LAPIC_EOI: return 0; /* write-only */
  case LAPIC_RRD: return 0; /* remote read: not supported by xAPICs */
  case LAPIC_LDR: return s->ldr;
  case LAPIC_DFR: return s->dfr;
  case LAPIC_SVR: return s->svr;
  case LAPIC_ESR: return s->esr;
  case LAPIC_ICR_LO: return s->icr_lo; /* delivery status: always idle */
  case LAPIC_ICR_HI: return s->icr_hi;
  case LAPIC_TIMER_ICR: return s->timer_initial;
  case LAPIC_TIMER_CCR: {
    uint64_t now = s->clock();
    timer_catch_up(s, now);
    timer_arm(s);
    return current_count(s, now);
  }
  case LAPIC_TIMER_DCR: return s->timer_dcr;
  default:
    apic_error(s, APIC_ESR_ILLEGAL_REGISTER, false);
    return 0;
  }
}

static void write_reg(struct lapic *s, uint32_t reg, uint32_t v) {
  if (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR) {
    write_lvt(s, (int)((reg - LAPIC_LVT_TIMER) >> 4), v);
    return;
  }
  if (reg >= LAPIC_ISR && reg < LAPIC_IRR + 0x80)
    return; /* ISR, TMR, IRR are read-only */
  switch (reg) {
  case LAPIC_ID: s->id = (uint8_t)(v >> 24); break;
  case LAPIC_TPR: s->tpr = (uint8_t)v; break;
  case LAPIC_EOI: eoi(s); break;
  case LAPIC_LDR: s->ldr = v & 0xff000000u; break;
  case LAPIC_DFR: s->dfr = v | DFR_RESERVED; break;
  case LAPIC_SVR: write_svr(s, v); break;
  case LAPIC_ESR:
    s->esr = s->esr_pending;
    s->esr_pending = 0;
    break;
  case LAPIC_ICR_LO:
    s->icr_lo = v & ICR_LO_WRITABLE;
    send_ipi(s);
    break;
  case LAPIC_ICR_HI: s->icr_hi = v & 0xff000000u; break;
  case LAPIC_TIMER_ICR: timer_start(s, v); break;
  case LAPIC_TIMER_DCR: timer_set_divide(s, v); break;
  case LAPIC_VER:
  case LAPIC_APR:
  case LAPIC_PPR:
  case LAPIC_RRD:
  case LAPIC_TIMER_CCR: break; /* read-only */
  default: apic_error(s, APIC_ESR_ILLEGAL_REGISTER, false); break;
  }
}

/* The registers answer only while the APIC is enabled and at the address it was mapped at. */
static bool mapped(const struct lapic *s) {
  return hw_enabled(s) && (s->base_msr & APIC_BASE_ADDR_MASK) == LAPIC_DEFAULT_BASE;
}

uint32_t lapic_mmio_read(void *opaque, uint32_t offset, int size) {
  struct lapic *s = opaque;
  uint32_t ones = size >= 4 ? ~0u : (1u << (size * 8)) - 1;
  if (!mapped(s))
    return ones;
  uint32_t in = offset & 0xf;
  if (in + (uint32_t)size > 4)
    return 0; /* bytes 4-15 of each 16-byte slot */
  uint32_t v = read_reg(s, offset & 0xff0);
  return (v >> (in * 8)) & ones;
}

void lapic_mmio_write(void *opaque, uint32_t offset, int size, uint32_t value) {
  struct lapic *s = opaque;
  if (!mapped(s) || size != 4 || (offset & 0xf))
    return;
  write_reg(s, offset & 0xff0, value);
}

/* ---- the CPU side ---- */

bool lapic_intr_pending(const struct lapic *s) {
  if (!hw_enabled(s))
    return s->lint_level[0];
  if (extint_pending(s))
    return true;
  if (!sw_enabled(s))
    return false;
  int v = highest(s->irr);
  return v >= 0 && (v & 0xf0) > (ppr(s) & 0xf0);
}

int lapic_ack(struct lapic *s) {
  if (!hw_enabled(s))
    return extint_ack(s);
  if (extint_pending(s)) {
    s->extint_req = false;
    return extint_ack(s);
  }
  int v = highest(s->irr);
  if (!sw_enabled(s) || v < 0 || (v & 0xf0) <= (ppr(s) & 0xf0))
    return (int)(s->svr & 0xff); /* spurious: no ISR bit */
  clear_vec(s->irr, v);
  set_vec(s->isr, v);
  return v;
}

bool lapic_nmi_pending(const struct lapic *s) { return s->nmi_pending; }

void lapic_nmi_ack(struct lapic *s) { s->nmi_pending = false; }

uint64_t lapic_base_msr(const struct lapic *s) { return s->base_msr; }

int lapic_set_base_msr(struct lapic *s, uint64_t value) {
  if (value & ~APIC_BASE_WRITABLE)
    return -EINVAL; /* reserved bits, x2APIC enable (bit 10), above MAXPHYADDR (32) */
  bool was = hw_enabled(s);
  /* The BSP flag is the hardware's; writes cannot change it. */
  value = (value & ~APIC_BASE_BSP) | (s->base_msr & APIC_BASE_BSP);
  if (was && !(value & APIC_BASE_ENABLE)) {
    lapic_reset(s);
  }
  s->base_msr = value;
  return 0;
}

/* ---- bring-up ---- */

void lapic_reset(struct lapic *s) {
  s->base_msr = LAPIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_ENABLE;
  s->id = 0;
  s->tpr = 0;
  s->ldr = 0;
  s->dfr = 0xffffffffu;
  s->svr = 0xff;
  memset(s->irr, 0, sizeof(s->irr));
  memset(s->isr, 0, sizeof(s->isr));
  memset(s->tmr, 0, sizeof(s->tmr));
  s->esr = s->esr_pending = 0;
  s->icr_lo = s->icr_hi = 0;
  for (int i = 0; i < LVT_COUNT; i++)
    s->lvt[i] = APIC_LVT_MASKED;
  s->extint_req = false;
  s->nmi_pending = false;
  s->timer_initial = 0;
  s->timer_dcr = 0;
  s->tick_ns = LAPIC_TICK_NS * timer_divide(0);
  s->timer_running = false;
  s->last_fire_ns = 0;
  timer_del(s->timers, &s->timer);
}

int lapic_init(struct lapic *s, struct mmio *mmio, struct timer_list *timers) {
  memset(s, 0, sizeof(*s));
  s->timers = timers;
  s->clock = clock_ns;
  timer_init(&s->timer, timer_fired, s);
  for (int pin = 0; pin < 2; pin++)
    s->lint[pin] = (struct irq_line){lint_set, s, pin};
  lapic_reset(s);
  /* What a BIOS leaves: software-enabled, virtual wire mode through LINT0, NMI on LINT1. */
  write_svr(s, APIC_SVR_ENABLE | 0xff);
  s->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
  s->lvt[LVT_LINT1] = APIC_DM_NMI << 8;
  return mmio_register(mmio, LAPIC_DEFAULT_BASE, 0x1000, "lapic", lapic_mmio_read,
                       lapic_mmio_write, s);
}

void lapic_exit(struct lapic *s) { timer_del(s->timers, &s->timer); }

void lapic_set_clock(struct lapic *s, uint64_t (*clock)(void)) {
  s->clock = clock;
  s->last_fire_ns = 0;
  if (s->timer_running) {
    s->base_ns = clock();
    s->base_count = s->timer_initial;
  }
  timer_reschedule(s);
}

void lapic_set_extint_ack(struct lapic *s, int (*ack)(void *opaque), void *opaque) {
  s->extint_ack = ack;
  s->extint_opaque = opaque;
}

void lapic_set_eoi_callback(struct lapic *s, void (*fn)(void *opaque, int vector),
                            void *opaque) {
  s->eoi = fn;
  s->eoi_opaque = opaque;
}

const struct irq_line *lapic_lint_line(struct lapic *s, int pin) {
  return pin >= 0 && pin < 2 ? &s->lint[pin] : NULL;
}
