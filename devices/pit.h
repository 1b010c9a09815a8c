/* pit.h - the Intel 8254 programmable interval timer at 0x40-0x43, and the PC's port 0x61
 * (channel 2 gate and output, speaker enable, the DRAM refresh toggle).
 *
 * Guest time follows host time: each counter derives from the device's clock (clock_ns() unless
 * a test substitutes another with pit_set_clock()) at 1.193182 MHz. Channel 0's OUT drives an
 * irq_line (IRQ0 on a PC) through a timer of the machine's timer_list that fires at OUT's
 * transitions; ticks missed while the timer was late are merged into one edge. Channel 1 has
 * no output; channel 2's output and gate are reached through port 0x61.
 *
 * Usage:
 *   pit_init(&m->pit, &m->io, pic_irq_line(&m->pic, 0), &m->timers); */
#ifndef BT386_PIT_H
#define BT386_PIT_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/timer.h"

#define PIT_HZ 1193182u

struct pit_channel {
  uint8_t mode;      /* 0-5 */
  uint8_t rw;        /* 1 = LSB, 2 = MSB, 3 = LSB then MSB */
  bool bcd;
  uint32_t cr;       /* the count register: the count last written, 1..65536 (10000 in BCD) */
  uint32_t n;        /* the count of the counting element's current cycle */
  uint64_t base;     /* the tick at which the current cycle started */
  uint64_t frozen_d; /* ticks counted before the gate stopped the count */
  uint32_t idle;     /* what the counting element reads while it is not counting */
  bool loaded;       /* a count was written since the control word */
  bool triggered;    /* modes 1 and 5: a gate edge started the count */
  bool frozen;       /* gate low in mode 0, 2, 3 or 4 */
  bool gate;
  bool pending;      /* modes 2 and 3: cr is loaded at pending_tick, the end of the cycle */
  uint64_t pending_tick;
  bool null_count;
  bool write_msb;    /* the next count byte written is the MSB */
  uint8_t write_lsb;
  bool read_msb;     /* the next unlatched count byte read is the MSB */
  uint16_t latch;    /* a latched count, as read */
  uint8_t latch_bytes;
  bool status_latched;
  uint8_t status;
};

struct pit {
  struct pit_channel ch[3];
  uint8_t port61; /* bits 0-3 as last written */
  struct irq_line irq;
  int irq_level;
  uint64_t irq_checked; /* the tick up to which channel 0's edges were delivered */
  struct timer irq_timer;
  struct timer_list *timers;
  uint64_t (*clock)(void);
};

/* Registers 0x40-0x43 and 0x61. The counters start as a BIOS leaves them: mode 3 with a count
 * of 65536 (18.2 Hz), channel 2's gate low. irq0 may be NULL. */
int pit_init(struct pit *p, struct ioports *io, const struct irq_line *irq0,
             struct timer_list *timers);
void pit_exit(struct pit *p);
/* Replace the clock (a test's) and restart the counters from their initial state on it. */
void pit_set_clock(struct pit *p, uint64_t (*clock)(void));

#endif
