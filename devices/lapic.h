/* lapic.h - the local APIC of the one CPU, an integrated xAPIC as on a family-6 Pentium M
 * (Intel SDM vol. 3A, chapter "Advanced Programmable Interrupt Controller").
 *
 * Registers are memory mapped at 0xFEE00000 (struct mmio); the IA32_APIC_BASE MSR (0x1B) is
 * read and written through lapic_base_msr()/lapic_set_base_msr(). Interrupts arrive as APIC bus
 * messages (lapic_deliver(): the IOAPIC, inter-processor interrupts), from the local vector
 * table (timer, error, LINT0, LINT1) and, in virtual wire mode, from the 8259A wired to LINT0
 * as ExtINT. Acceptance, priority (TPR/PPR), IRR/ISR/TMR and EOI follow the SDM, so the CPU side
 * asks only two questions:
 *
 *   lapic_intr_pending()  is a maskable interrupt deliverable to the core now (its INTR)?
 *   lapic_ack()           the interrupt-acknowledge cycle: the vector (IRR -> ISR), or the
 *                         8259A's vector for ExtINT, or the spurious vector.
 *
 * With the APIC disabled in IA32_APIC_BASE, LINT0 is the CPU's INTR pin (the PIC straight
 * through), so the machine may always ask the local APIC. NMIs (LINT1, NMI messages) are held
 * separately for lapic_nmi_pending()/lapic_nmi_ack().
 *
 * The timer counts the bus clock, LAPIC_BUS_HZ = 100 MHz, through the divide configuration;
 * guest time follows host time (clock_ns(), or a test's clock). A periodic timer's period is
 * the initial count (the current count reads initial..1), interrupts missed while the host was
 * late are merged into one, and a periodic timer's host timer fires at most every
 * LAPIC_MIN_PERIOD_NS (a masked timer arms none: its count is computed when read).
 *
 * Usage (one CPU, APIC ID 0):
 *   lapic_init(&m->lapic, &m->mmio, &m->timers);
 *   lapic_set_extint_ack(&m->lapic, pic_ack_fn, &m->pic);      8259A INTA for ExtINT
 *   lapic_set_eoi_callback(&m->lapic, ioapic_bus_eoi, &m->ioapic);
 *   the PIC's INTR output:  irq_set(lapic_lint_line(&m->lapic, 0), level)
 *   cpu_env.intr_pending -> lapic_intr_pending(), cpu_env.intr_ack -> lapic_ack(),
 *   rdmsr/wrmsr 0x1B      -> lapic_base_msr() / lapic_set_base_msr() (#GP on -EINVAL). */
#ifndef BT386_LAPIC_H
#define BT386_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/irq.h"
#include "devices/mmio.h"
#include "devices/timer.h"

#define LAPIC_DEFAULT_BASE 0xfee00000u
#define LAPIC_VERSION 0x14u  /* integrated xAPIC (Pentium 4, Pentium M) */
#define LAPIC_MAX_LVT 5u     /* timer, thermal, performance counter, LINT0, LINT1, error */
#define LAPIC_BUS_HZ 100000000u
#define LAPIC_TICK_NS 10u    /* one bus clock */
#define LAPIC_MIN_PERIOD_NS 10000u

/* Register offsets in the 4 KiB page. */
#define LAPIC_ID 0x020
#define LAPIC_VER 0x030
#define LAPIC_TPR 0x080
#define LAPIC_APR 0x090
#define LAPIC_PPR 0x0a0
#define LAPIC_EOI 0x0b0
#define LAPIC_RRD 0x0c0
#define LAPIC_LDR 0x0d0
#define LAPIC_DFR 0x0e0
#define LAPIC_SVR 0x0f0
#define LAPIC_ISR 0x100 /* 8 registers, 0x10 apart */
#define LAPIC_TMR 0x180
#define LAPIC_IRR 0x200
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_THERMAL 0x330
#define LAPIC_LVT_PERF 0x340
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3e0

/* Delivery modes (ICR, LVT, IOAPIC redirection entries). */
#define APIC_DM_FIXED 0
#define APIC_DM_LOWEST 1
#define APIC_DM_SMI 2
#define APIC_DM_NMI 4
#define APIC_DM_INIT 5
#define APIC_DM_STARTUP 6
#define APIC_DM_EXTINT 7

/* LVT and ICR bits. */
#define APIC_LVT_DELIVERY_STATUS (1u << 12)
#define APIC_LVT_ACTIVE_LOW (1u << 13)
#define APIC_LVT_REMOTE_IRR (1u << 14)
#define APIC_LVT_LEVEL (1u << 15)
#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVT_TIMER_PERIODIC (1u << 17)
#define APIC_SVR_ENABLE (1u << 8)
#define APIC_SVR_FOCUS_DISABLED (1u << 9)

/* Error status register bits. */
#define APIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define APIC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define APIC_ESR_ILLEGAL_REGISTER (1u << 7)

/* IA32_APIC_BASE. */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_ENABLE (1ull << 11)

/* An interrupt message on the APIC bus. */
struct apic_msg {
  uint8_t vector;
  uint8_t delivery; /* APIC_DM_* */
  uint8_t dest;     /* an APIC ID (physical) or a logical destination */
  bool logical;
  bool level;       /* trigger mode: level (the TMR bit, an EOI to broadcast) */
};

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

struct lapic {
  uint64_t base_msr;
  uint8_t id;
  uint8_t tpr;
  uint32_t ldr, dfr, svr;
  uint32_t irr[8], isr[8], tmr[8];
  uint32_t esr;         /* what ESR reads: the errors latched by the last write to it */
  uint32_t esr_pending; /* errors seen since */
  uint32_t icr_lo, icr_hi;
  uint32_t lvt[LVT_COUNT];
  bool lint_level[2];
  bool extint_req;      /* an ExtINT message from the IOAPIC waits for its INTA */
  bool nmi_pending;

  /* The timer: at base_ns the count read base_count; it decrements every tick_ns. */
  uint32_t timer_initial;
  uint32_t timer_dcr;
  uint32_t tick_ns;
  uint64_t base_ns;
  uint32_t base_count;
  bool timer_running;
  uint64_t next_ns;      /* the next time the count reaches zero */
  uint64_t last_fire_ns;
  struct timer timer;
  struct timer_list *timers;
  uint64_t (*clock)(void);

  int (*extint_ack)(void *opaque);
  void *extint_opaque;
  void (*eoi)(void *opaque, int vector);
  void *eoi_opaque;
  struct irq_line lint[2];
};

/* Registers the MMIO page at LAPIC_DEFAULT_BASE and leaves the APIC as a BIOS does for an
 * operating system: enabled in IA32_APIC_BASE and in SVR (spurious vector 0xFF), LINT0 ExtINT
 * and LINT1 NMI unmasked (virtual wire mode), everything else as after power-up. */
int lapic_init(struct lapic *s, struct mmio *mmio, struct timer_list *timers);
void lapic_exit(struct lapic *s);
/* The power-up (or INIT) state: APIC software-disabled, every LVT masked, IRR/ISR clear. */
void lapic_reset(struct lapic *s);
/* Replace the clock (a test's); a running timer restarts its count on the new clock. */
void lapic_set_clock(struct lapic *s, uint64_t (*clock)(void));

/* The INTA cycle of an ExtINT interrupt goes to the 8259A: ack() returns its vector. */
void lapic_set_extint_ack(struct lapic *s, int (*ack)(void *opaque), void *opaque);
/* An EOI for a level-triggered interrupt is broadcast to the IOAPIC(s) with its vector. */
void lapic_set_eoi_callback(struct lapic *s, void (*eoi)(void *opaque, int vector),
                            void *opaque);
/* The LINT0 (pin 0) and LINT1 (pin 1) input pins; the level is the pin's (active high). */
const struct irq_line *lapic_lint_line(struct lapic *s, int pin);

/* The CPU side. */
bool lapic_intr_pending(const struct lapic *s);
int lapic_ack(struct lapic *s);
bool lapic_nmi_pending(const struct lapic *s);
void lapic_nmi_ack(struct lapic *s);
uint64_t lapic_base_msr(const struct lapic *s);
/* -EINVAL for a value the CPU refuses with #GP (reserved bits, x2APIC enable). */
int lapic_set_base_msr(struct lapic *s, uint64_t value);

/* A message from the APIC bus; true if this APIC is a destination and accepted it. */
bool lapic_deliver(struct lapic *s, const struct apic_msg *m);
/* The same as a callback for the IOAPIC (opaque is the struct lapic). */
bool lapic_bus_deliver(void *opaque, const struct apic_msg *m);

/* The MMIO callbacks (offset in the 4 KiB page), for a machine that dispatches itself. */
uint32_t lapic_mmio_read(void *opaque, uint32_t offset, int size);
void lapic_mmio_write(void *opaque, uint32_t offset, int size, uint32_t value);

#endif
