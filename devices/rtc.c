/* rtc.c - the MC146818 real-time clock and CMOS RAM (see rtc.h).
 *
 * Nothing ticks between accesses: the time is origin_sec plus the whole seconds of the clock
 * since origin_ns, and the flags of register C are brought up to date from the divider phase
 * whenever they are looked at. Timers run only for what the guest enabled: one at each periodic
 * tap while PIE is set, one at the next second (UIE) or alarm (AIE) boundary.
 *
 * The update cycle is taken to end at each second boundary, when the registers change and UF
 * is set; UIP reads 1 for the 1984 us of the update cycle plus the 244 us before it. Writing a
 * time register with SET clear takes effect at once, keeping the divider phase; clearing SET
 * does the same with everything written meanwhile. Releasing the divider from reset (DV 11x ->
 * 010) starts it half a second before the next update, as the datasheet says. The square-wave
 * output (SQWE), daylight saving (DSE) and the upper 128 bytes of PIIX4 CMOS are not modelled;
 * the century byte is 0x32, as on the PC/AT. */
#include "devices/rtc.h"

#include <string.h>
#include <time.h>

enum {
  REG_SEC = 0x00, REG_ALARM_SEC = 0x01, REG_MIN = 0x02, REG_ALARM_MIN = 0x03, REG_HOUR = 0x04,
  REG_ALARM_HOUR = 0x05, REG_WDAY = 0x06, REG_MDAY = 0x07, REG_MON = 0x08, REG_YEAR = 0x09,
  REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, REG_CENTURY = 0x32,
};

enum { A_UIP = 0x80, A_DV = 0x70, A_RS = 0x0f, DV_RUN = 0x20 };
enum { B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_DM_BINARY = 0x04, B_24H = 0x02 };
enum { C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10 };

#define NS 1000000000ll
#define DIVIDER_HZ 32768
#define UIP_NS 2228000 /* 244 us before the update cycle + 1984 us of it */
#define NEVER INT64_MAX

struct rtc_tm {
  int sec, min, hour, wday, mday, mon, year; /* wday 1 = Sunday, mon 1-12, year in full */
};

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }
static int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

static int64_t now_ns(const struct rtc *r) { return (int64_t)r->clock(); }

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static struct rtc_tm breakdown(const struct rtc *r, int64_t t) {
  struct rtc_tm tm;
  int64_t days = floor_div(t, 86400), tod = t - days * 86400, year;
  tm.sec = (int)(tod % 60);
  tm.min = (int)(tod / 60 % 60);
  tm.hour = (int)(tod / 3600);
  civil_from_days(days, &year, &tm.mon, &tm.mday);
  tm.year = (int)year;
  tm.wday = (int)floor_mod(days + 4 + r->wday_offset, 7) + 1; /* 1970-01-01 was a Thursday */
  return tm;
}

static bool binary(const struct rtc *r) { return r->cmos[REG_B] & B_DM_BINARY; }

static uint8_t encode(const struct rtc *r, int v) {
  return (uint8_t)(binary(r) ? v : (v / 10) << 4 | v % 10);
}

static int decode(const struct rtc *r, uint8_t v) {
  return binary(r) ? v : (v >> 4) * 10 + (v & 0xf);
}

static uint8_t encode_hour(const struct rtc *r, int h) {
  if (r->cmos[REG_B] & B_24H)
    return encode(r, h);
  int h12 = h % 12 ? h % 12 : 12;
  return (uint8_t)(encode(r, h12) | (h >= 12 ? 0x80 : 0));
}

static int decode_hour(const struct rtc *r, uint8_t v) {
  if (r->cmos[REG_B] & B_24H)
    return decode(r, v);
  return decode(r, v & 0x7f) % 12 + (v & 0x80 ? 12 : 0);
}

static bool running(const struct rtc *r) { return (r->cmos[REG_A] & A_DV) == DV_RUN; }
static bool updating(const struct rtc *r) { return running(r) && !(r->cmos[REG_B] & B_SET); }

static int64_t time_at(const struct rtc *r, int64_t ns) {
  if (r->stopped)
    return r->origin_sec;
  return r->origin_sec + floor_div(ns - r->origin_ns, NS);
}

/* The instant at which the time becomes t. */
static int64_t ns_of(const struct rtc *r, int64_t t) { return r->origin_ns + (t - r->origin_sec) * NS; }

/* Make time_at(now) return t without moving the divider phase. */
static void set_time_keeping_phase(struct rtc *r, int64_t now, int64_t t) {
  r->origin_sec = r->stopped ? t : t - floor_div(now - r->origin_ns, NS);
}

/* The periodic interrupt's period in cycles of the 32.768 kHz time base, or 0 if off. */
static int64_t period_cycles(const struct rtc *r) {
  int rs = r->cmos[REG_A] & A_RS;
  if (!rs)
    return 0;
  return rs <= 2 ? 1ll << (rs + 6) : 1ll << (rs - 1);
}

static int64_t cycles_at(const struct rtc *r, int64_t ns) {
  __int128 c = (__int128)(ns - r->origin_ns) * DIVIDER_HZ;
  return (int64_t)(c >= 0 ? c / NS : -((-c + NS - 1) / NS));
}

static int64_t ns_of_cycle(const struct rtc *r, int64_t cycle) {
  return r->origin_ns + (int64_t)(((__int128)cycle * NS + DIVIDER_HZ - 1) / DIVIDER_HZ);
}

static bool alarm_matches(const struct rtc *r, int reg, int v) {
  uint8_t a = r->cmos[reg];
  if ((a & 0xc0) == 0xc0)
    return true; /* "don't care" */
  return (reg == REG_ALARM_HOUR ? decode_hour(r, a) : decode(r, a)) == v;
}

/* The first second after t at which the alarm registers match the time, or NEVER. */
static int64_t next_alarm(const struct rtc *r, int64_t t) {
  int64_t day = floor_div(t, 86400), tod = t - day * 86400;
  int ch = (int)(tod / 3600), cm = (int)(tod / 60 % 60), cs = (int)(tod % 60);
  for (int d = 0; d < 2; d++, ch = cm = 0, cs = -1) {
    for (int h = ch; h < 24; h++) {
      if (!alarm_matches(r, REG_ALARM_HOUR, h))
        continue;
      for (int m = h == ch ? cm : 0; m < 60; m++) {
        if (!alarm_matches(r, REG_ALARM_MIN, m))
          continue;
        for (int s = h == ch && m == cm ? cs + 1 : 0; s < 60; s++)
          if (alarm_matches(r, REG_ALARM_SEC, s))
            return (day + d) * 86400 + h * 3600 + m * 60 + s;
      }
    }
  }
  return NEVER;
}

static void update_irq(struct rtc *r) {
  uint8_t c = r->cmos[REG_C] & (C_PF | C_AF | C_UF);
  if (c & r->cmos[REG_B] & (B_PIE | B_AIE | B_UIE))
    c |= C_IRQF;
  r->cmos[REG_C] = c;
  int level = (c & C_IRQF) != 0;
  if (level != r->irq_level) {
    r->irq_level = level;
    irq_set(&r->irq, level);
  }
}

/* Set the flags of everything that happened since checked_ns, up to now. */
static void sync_flags(struct rtc *r, int64_t now) {
  int64_t then = r->checked_ns;
  if (now <= then)
    return;
  if (running(r)) {
    int64_t p = period_cycles(r);
    if (p && floor_div(cycles_at(r, then), p) < floor_div(cycles_at(r, now), p))
      r->cmos[REG_C] |= C_PF;
    if (!(r->cmos[REG_B] & B_SET)) {
      int64_t t0 = time_at(r, then), t1 = time_at(r, now);
      if (t0 < t1)
        r->cmos[REG_C] |= C_UF;
      if (t0 < t1 && next_alarm(r, t0) <= t1)
        r->cmos[REG_C] |= C_AF;
    }
  }
  r->checked_ns = now;
  update_irq(r);
}

/* Arm the timers for what the guest enabled. */
static void rearm(struct rtc *r, int64_t now) {
  uint8_t b = r->cmos[REG_B];
  int64_t p = period_cycles(r);
  if (running(r) && p && (b & B_PIE))
    timer_mod(r->timers, &r->periodic,
              (uint64_t)ns_of_cycle(r, (floor_div(cycles_at(r, now), p) + 1) * p));
  else
    timer_del(r->timers, &r->periodic);

  int64_t next = NEVER;
  if (updating(r) && (b & B_UIE))
    next = time_at(r, now) + 1;
  else if (updating(r) && (b & B_AIE))
    next = next_alarm(r, time_at(r, now));
  if (next != NEVER)
    timer_mod(r->timers, &r->update, (uint64_t)ns_of(r, next));
  else
    timer_del(r->timers, &r->update);
}

static void timer_fired(void *opaque) {
  struct rtc *r = opaque;
  int64_t now = now_ns(r);
  sync_flags(r, now);
  rearm(r, now);
}

/* Time register i as the time t reads in the current format. */
static uint8_t time_field(const struct rtc *r, uint8_t i, int64_t t) {
  struct rtc_tm tm = breakdown(r, t);
  switch (i) {
  case REG_SEC:
    return encode(r, tm.sec);
  case REG_MIN:
    return encode(r, tm.min);
  case REG_HOUR:
    return encode_hour(r, tm.hour);
  case REG_WDAY:
    return encode(r, tm.wday);
  case REG_MDAY:
    return encode(r, tm.mday);
  case REG_MON:
    return encode(r, tm.mon);
  case REG_YEAR:
    return encode(r, tm.year % 100);
  default: /* REG_CENTURY */
    return encode(r, tm.year / 100);
  }
}

static const uint8_t time_regs[] = {REG_SEC,  REG_MIN, REG_HOUR, REG_WDAY,
                                    REG_MDAY, REG_MON, REG_YEAR, REG_CENTURY};

/* Copy the running time into the time registers (entering SET, or before a field is written). */
static void store_time(struct rtc *r, int64_t t) {
  for (unsigned k = 0; k < sizeof(time_regs); k++)
    r->cmos[time_regs[k]] = time_field(r, time_regs[k], t);
}

/* The time the time registers hold; remembers the day of the week they give. */
static int64_t load_time(struct rtc *r) {
  int century = decode(r, r->cmos[REG_CENTURY]);
  int year = (century ? century : 20) * 100 + decode(r, r->cmos[REG_YEAR]);
  int mon = decode(r, r->cmos[REG_MON]), mday = decode(r, r->cmos[REG_MDAY]);
  mon = mon < 1 ? 1 : mon > 12 ? 12 : mon;
  int64_t days = days_from_civil(year, mon, mday < 1 ? 1 : mday);
  int true_wday = (int)floor_mod(days + 4, 7) + 1;
  r->wday_offset = (int)floor_mod(decode(r, r->cmos[REG_WDAY]) - true_wday, 7);
  return days * 86400 + decode_hour(r, r->cmos[REG_HOUR]) * 3600 +
         decode(r, r->cmos[REG_MIN]) * 60 + decode(r, r->cmos[REG_SEC]);
}

static bool is_time_reg(uint8_t i) { return memchr(time_regs, i, sizeof(time_regs)) != NULL; }

static uint8_t read_time_reg(struct rtc *r, uint8_t i, int64_t now) {
  if (r->cmos[REG_B] & B_SET)
    return r->cmos[i];
  return time_field(r, i, time_at(r, now));
}

static void write_time_reg(struct rtc *r, uint8_t i, uint8_t v, int64_t now) {
  if (r->cmos[REG_B] & B_SET) {
    r->cmos[i] = v;
    return;
  }
  sync_flags(r, now);
  store_time(r, time_at(r, now));
  r->cmos[i] = v;
  set_time_keeping_phase(r, now, load_time(r));
  rearm(r, now);
}

static void write_a(struct rtc *r, uint8_t v, int64_t now) {
  sync_flags(r, now);
  bool was_running = running(r);
  int64_t t = time_at(r, now);
  r->cmos[REG_A] = v & ~A_UIP;
  if (was_running && !running(r)) {
    r->origin_sec = t;
    r->stopped = true;
  } else if (!was_running && running(r)) {
    r->origin_ns = now - NS / 2; /* the first update comes 500 ms later */
    r->origin_sec = t;
    r->stopped = false;
  }
  rearm(r, now);
}

static void write_b(struct rtc *r, uint8_t v, int64_t now) {
  sync_flags(r, now);
  uint8_t old = r->cmos[REG_B];
  if (v & B_SET) {
    v &= ~B_UIE; /* as the datasheet's SET does; the update is aborted anyway */
    if (!(old & B_SET))
      store_time(r, time_at(r, now));
  }
  r->cmos[REG_B] = v;
  if ((old & B_SET) && !(v & B_SET))
    set_time_keeping_phase(r, now, load_time(r));
  update_irq(r);
  rearm(r, now);
}

static uint8_t read_reg(struct rtc *r, uint8_t i) {
  int64_t now = now_ns(r);
  if (is_time_reg(i))
    return read_time_reg(r, i, now);
  switch (i) {
  case REG_A: {
    uint8_t a = r->cmos[REG_A];
    if (updating(r) && floor_mod(now - r->origin_ns, NS) >= NS - UIP_NS)
      a |= A_UIP;
    return a;
  }
  case REG_C: {
    sync_flags(r, now);
    uint8_t c = r->cmos[REG_C];
    r->cmos[REG_C] = 0;
    update_irq(r);
    return c;
  }
  case REG_D:
    return 0x80; /* valid RAM and time: the battery is good */
  default:
    return r->cmos[i];
  }
}

static void write_reg(struct rtc *r, uint8_t i, uint8_t v) {
  int64_t now = now_ns(r);
  if (is_time_reg(i)) {
    write_time_reg(r, i, v, now);
    return;
  }
  switch (i) {
  case REG_A:
    write_a(r, v, now);
    break;
  case REG_B:
    write_b(r, v, now);
    break;
  case REG_C:
  case REG_D:
    break; /* read-only */
  case REG_ALARM_SEC:
  case REG_ALARM_MIN:
  case REG_ALARM_HOUR:
    sync_flags(r, now);
    r->cmos[i] = v;
    rearm(r, now);
    break;
  default:
    r->cmos[i] = v;
    break;
  }
}

static uint32_t rtc_read(void *opaque, uint16_t offset, int size) {
  (void)size;
  struct rtc *r = opaque;
  if (offset == 0)
    return 0xff; /* the index register is write-only */
  return read_reg(r, r->index);
}

static void rtc_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)size;
  struct rtc *r = opaque;
  if (offset == 0) {
    r->index = value & 0x7f;
    r->nmi_disabled = value & 0x80;
  } else {
    write_reg(r, r->index, (uint8_t)value);
  }
}

static void put16(struct rtc *r, uint8_t i, uint32_t v) {
  r->cmos[i] = (uint8_t)v;
  r->cmos[i + 1] = (uint8_t)(v >> 8);
}

/* The memory size bytes, as QEMU fills them in: base memory (KiB), extended memory above 1 MiB
 * (KiB, at most 65535; also at 0x30), memory above 16 MiB and above 4 GiB (64 KiB units). */
static void set_memory_size(struct rtc *r, uint64_t below_4g, uint64_t above_4g) {
  put16(r, 0x15, 640);
  uint64_t ext = below_4g > (1u << 20) ? (below_4g >> 10) - 1024 : 0;
  ext = ext > 65535 ? 65535 : ext;
  put16(r, 0x17, (uint32_t)ext);
  put16(r, 0x30, (uint32_t)ext);
  uint64_t above16 = below_4g > (16u << 20) ? (below_4g - (16u << 20)) >> 16 : 0;
  above16 = above16 > 65535 ? 65535 : above16;
  put16(r, 0x34, (uint32_t)above16);
  uint64_t high = above_4g >> 16;
  r->cmos[0x5b] = (uint8_t)high;
  r->cmos[0x5c] = (uint8_t)(high >> 8);
  r->cmos[0x5d] = (uint8_t)(high >> 16);
}

int rtc_init(struct rtc *r, struct ioports *io, const struct irq_line *irq8, uint64_t ram_below_4g,
             uint64_t ram_above_4g, struct timer_list *timers) {
  memset(r, 0, sizeof(*r));
  if (irq8)
    r->irq = *irq8;
  r->timers = timers;
  r->clock = clock_ns;
  timer_init(&r->periodic, timer_fired, r);
  timer_init(&r->update, timer_fired, r);
  r->cmos[REG_A] = DV_RUN | 0x06; /* 32.768 kHz, 1024 Hz periodic rate */
  r->cmos[REG_B] = B_24H;
  r->cmos[REG_D] = 0x80;
  set_memory_size(r, ram_below_4g, ram_above_4g);

  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  int64_t now = now_ns(r);
  r->origin_sec = wall.tv_sec;
  r->origin_ns = now - wall.tv_nsec; /* second boundaries where the host has them */
  r->checked_ns = now;
  return ioports_register(io, 0x70, 2, IO_BYTES_ONLY, "rtc", rtc_read, rtc_write, r);
}

void rtc_exit(struct rtc *r) {
  timer_del(r->timers, &r->periodic);
  timer_del(r->timers, &r->update);
}

void rtc_set_time(struct rtc *r, int64_t unix_seconds) {
  int64_t now = now_ns(r);
  sync_flags(r, now);
  r->origin_ns = now;
  r->origin_sec = unix_seconds;
  r->wday_offset = 0;
  rearm(r, now);
}

void rtc_set_clock(struct rtc *r, uint64_t (*clock)(void)) {
  int64_t t = time_at(r, now_ns(r));
  r->clock = clock;
  int64_t now = now_ns(r);
  r->origin_ns = now;
  r->origin_sec = t;
  r->checked_ns = now;
  rearm(r, now);
}

bool rtc_nmi_disabled(const struct rtc *r) { return r->nmi_disabled; }
