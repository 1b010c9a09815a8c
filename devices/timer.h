/* timer.h - device timers on the host's monotonic clock.
 *
 * Guest time follows host time: devices read clock_ns() and arm timers for absolute
 * deadlines on it. The machine fires due timers from the vCPU thread (between blocks, or when
 * a halted CPU wakes), so a callback may raise interrupt lines without locking. */
#ifndef BT386_TIMER_H
#define BT386_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*timer_fn)(void *opaque);

struct timer {
  uint64_t deadline; /* clock_ns() value; valid while armed */
  bool armed;
  timer_fn fn;
  void *opaque;
  struct timer *next;
};

struct timer_list {
  struct timer *head; /* armed timers, earliest first */
};

uint64_t clock_ns(void);

void timer_init(struct timer *t, timer_fn fn, void *opaque);
/* Arm (or re-arm) t to fire at deadline_ns. */
void timer_mod(struct timer_list *l, struct timer *t, uint64_t deadline_ns);
void timer_del(struct timer_list *l, struct timer *t);
/* Fire every timer whose deadline is <= now; returns how many fired. */
int timers_run(struct timer_list *l, uint64_t now);
/* The earliest deadline, or UINT64_MAX if none is armed. */
uint64_t timers_next_deadline(const struct timer_list *l);

#endif
