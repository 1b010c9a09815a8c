/* rtc.h - the Motorola MC146818 real-time clock and its 128 bytes of CMOS RAM (index 0x70,
 * data 0x71), as on a PC/AT.
 *
 * The clock starts at the host's time (UTC) and follows the device's clock (clock_ns() unless a
 * test substitutes another with rtc_set_clock()). Registers A-D, BCD or binary and 12- or
 * 24-hour formats, SET, the update-in-progress bit, the periodic, alarm and update-ended
 * interrupts on an irq_line (IRQ8 on a PC); the CMOS bytes that give the memory size are filled
 * in as QEMU does. Bit 7 of port 0x70 is the NMI mask, kept for the machine to read.
 *
 * Usage:
 *   rtc_init(&m->rtc, &m->io, pic_irq_line(&m->pic, 8), below_4g, above_4g, &m->timers); */
#ifndef BT386_RTC_H
#define BT386_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/timer.h"

struct rtc {
  uint8_t cmos[128];
  uint8_t index;
  bool nmi_disabled;
  int64_t origin_ns;  /* a second boundary of the divider chain, on the clock */
  int64_t origin_sec; /* the time (seconds since 1970, UTC) that began at origin_ns */
  bool stopped;       /* divider chain not running: the time stays origin_sec */
  int wday_offset;    /* what the guest's day of the week adds to the true one */
  int64_t checked_ns; /* the flags in register C are up to date to here */
  struct irq_line irq;
  int irq_level;
  struct timer periodic, update;
  struct timer_list *timers;
  uint64_t (*clock)(void);
};

/* Registers 0x70-0x71. ram_below_4g and ram_above_4g size guest RAM for the CMOS bytes
 * 0x15-0x18, 0x30-0x31, 0x34-0x35 and 0x5b-0x5d. irq8 may be NULL. */
int rtc_init(struct rtc *r, struct ioports *io, const struct irq_line *irq8, uint64_t ram_below_4g,
             uint64_t ram_above_4g, struct timer_list *timers);
void rtc_exit(struct rtc *r);
/* Set the clock to unix_seconds (UTC), starting a new second now. */
void rtc_set_time(struct rtc *r, int64_t unix_seconds);
/* Replace the clock (a test's), keeping the time of day. */
void rtc_set_clock(struct rtc *r, uint64_t (*clock)(void));
/* Whether the guest masked NMIs with bit 7 of port 0x70. */
bool rtc_nmi_disabled(const struct rtc *r);

#endif
