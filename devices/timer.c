/* timer.c - device timers (see timer.h): a sorted list, since a PC has a handful. */
#include "devices/timer.h"

#include <time.h>

uint64_t clock_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void timer_init(struct timer *t, timer_fn fn, void *opaque) {
  t->deadline = 0;
  t->armed = false;
  t->fn = fn;
  t->opaque = opaque;
  t->next = 0;
}

void timer_del(struct timer_list *l, struct timer *t) {
  if (!t->armed)
    return;
  for (struct timer **pp = &l->head; *pp; pp = &(*pp)->next) {
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  }
  t->armed = false;
  t->next = 0;
}

void timer_mod(struct timer_list *l, struct timer *t, uint64_t deadline_ns) {
  timer_del(l, t);
  t->deadline = deadline_ns;
  t->armed = true;
  struct timer **pp = &l->head;
  while (*pp && (*pp)->deadline <= deadline_ns)
    pp = &(*pp)->next;
  t->next = *pp;
  *pp = t;
}

int timers_run(struct timer_list *l, uint64_t now) {
  int fired = 0;
  while (l->head && l->head->deadline <= now) {
    struct timer *t = l->head;
    l->head = t->next;
    t->armed = false;
    t->next = 0;
    t->fn(t->opaque); /* may re-arm t */
    fired++;
  }
  return fired;
}

uint64_t timers_next_deadline(const struct timer_list *l) {
  return l->head ? l->head->deadline : UINT64_MAX;
}
