/* machine.c - bringing the virtual PC up and down, in an explicit order. */
#include "devices/machine.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

void machine_config_default(struct machine_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->ram_bytes = 128ull << 20;
  tc_config_default(&cfg->tc);
  cfg->log = stderr;
  cfg->debugcon = stdout;
  cfg->debug_exit_port = 0xf4;
  cfg->debug_exit_size = 4;
  cfg->serial.kind = CHARDEV_STDIO;
}

/* ---- what the CPU asks of the machine (struct cpu_env) ---- */

static uint32_t cpu_io_read(void *opaque, uint16_t port, int size) {
  struct machine *m = opaque;
  return ioports_read(&m->io, port, size);
}

static void cpu_io_write(void *opaque, uint16_t port, int size, uint32_t value) {
  struct machine *m = opaque;
  ioports_write(&m->io, port, size, value);
}

static bool cpu_mmio_read(void *opaque, uint32_t pa, int size, uint64_t *value) {
  struct machine *m = opaque;
  return mmio_read(&m->mmio, pa, size, value);
}

static bool cpu_mmio_write(void *opaque, uint32_t pa, int size, uint64_t value) {
  struct machine *m = opaque;
  return mmio_write(&m->mmio, pa, size, value);
}

static bool mmu_is_device(void *opaque, uint32_t pa) {
  struct machine *m = opaque;
  return mmio_find(&m->mmio, pa) != NULL;
}

static bool cpu_intr_pending(void *opaque) {
  struct machine *m = opaque;
  return pic_intr(&m->pic);
}

static int cpu_intr_ack(void *opaque) {
  struct machine *m = opaque;
  return pic_ack(&m->pic);
}

static uint64_t cpu_next_deadline(void *opaque) {
  struct machine *m = opaque;
  return timers_next_deadline(&m->timers);
}

static void ticker_arm(struct machine *m);

/* Between blocks: take serial input, fire the device timers that are due, re-arm the
 * ticker. */
static void cpu_service(void *opaque) {
  struct machine *m = opaque;
  if (m->has_com1)
    uart_poll(&m->com1);
  timers_run(&m->timers, clock_ns());
  ticker_arm(m);
}

/* ---- the ticker: a thread that kicks the vCPU when the next device timer is due ---- */

static void ticker_arm(struct machine *m) {
  uint64_t deadline = timers_next_deadline(&m->timers);
  if (deadline == m->ticker.armed)
    return;
  m->ticker.armed = deadline;
  struct itimerspec its = {{0, 0}, {0, 0}};
  if (deadline != UINT64_MAX) {
    its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
    its.it_value.tv_nsec = (long)(deadline % 1000000000u);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
      its.it_value.tv_nsec = 1; /* zero would disarm it */
  }
  timerfd_settime(m->ticker.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void *ticker_main(void *opaque) {
  struct machine *m = opaque;
  for (;;) {
    uint64_t expirations;
    ssize_t n = read(m->ticker.fd, &expirations, sizeof(expirations));
    if (!__atomic_load_n(&m->ticker.running, __ATOMIC_ACQUIRE))
      return NULL;
    if (n == (ssize_t)sizeof(expirations))
      bt_kick(m->tc);
  }
}

static int ticker_start(struct machine *m) {
  m->ticker.armed = UINT64_MAX;
  m->ticker.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (m->ticker.fd < 0)
    return -errno;
  m->ticker.running = true;
  pthread_t t;
  int err = pthread_create(&t, NULL, ticker_main, m);
  if (err) {
    close(m->ticker.fd);
    m->ticker.running = false;
    return -err;
  }
  m->ticker.thread = (unsigned long)t;
  return 0;
}

static void ticker_stop(struct machine *m) {
  if (!m->ticker.running)
    return;
  __atomic_store_n(&m->ticker.running, false, __ATOMIC_RELEASE);
  struct itimerspec now = {{0, 0}, {0, 1}};
  timerfd_settime(m->ticker.fd, 0, &now, NULL);
  pthread_join((pthread_t)m->ticker.thread, NULL);
  close(m->ticker.fd);
}

/* ---- bring-up ---- */

/* The PIC's INTR output changes on the vCPU thread (device timers, I/O): the run loop looks at
 * it after each, so nothing needs kicking here. */
static void intr_changed(void *opaque, bool level) {
  (void)opaque, (void)level;
}

/* The serial backend's reader thread has input for the guest. */
static void serial_kick(void *opaque) {
  struct machine *m = opaque;
  if (m->tc)
    bt_kick(m->tc);
}

/* Ctrl-A x on the console: stop the VM as QEMU does. */
static void serial_quit(void *opaque) {
  struct machine *m = opaque;
  m->debug_exit.status = 0;
  cpu_stop(&m->cpu, SHUTDOWN_EXIT, "quit from the console (Ctrl-A x)");
}

static int serial_init(struct machine *m) {
  if (m->cfg.serial.kind == CHARDEV_NONE)
    return 0;
  int err = chardev_init(&m->serial, &m->cfg.serial);
  if (err) {
    fprintf(stderr, "bt386: cannot open the serial console's backend: %s\n", strerror(-err));
    return err;
  }
  err = uart_init(&m->com1, &m->io, UART_COM1_BASE, *pic_irq_line(&m->pic, UART_COM1_IRQ),
                  &m->timers, &m->serial);
  if (err) {
    chardev_exit(&m->serial);
    return err;
  }
  chardev_set_host(&m->serial, &(struct chardev_host){serial_kick, serial_quit, m});
  m->has_com1 = true;
  return 0;
}

/* The keyboard controller's reset line (and port 0x92's): a reboot. */
static void guest_reset(void *opaque) {
  struct machine *m = opaque;
  cpu_stop(&m->cpu, SHUTDOWN_RESET, "the guest asked for a reset");
}

/* A20 is always on: bt386 runs protected-mode guests, whose memory above 1 MiB must not wrap. */
static void guest_a20(void *opaque, bool on) { (void)opaque, (void)on; }

/* The PC platform, in dependency order: the PIC first (others raise its lines). */
static int platform_init(struct machine *m) {
  int err = pic_init(&m->pic, &m->io);
  if (err)
    return err;
  pic_set_intr_callback(&m->pic, intr_changed, m);
  uint64_t ram = m->mmu.ram_size;
  if (!err)
    err = pit_init(&m->pit, &m->io, pic_irq_line(&m->pic, 0), &m->timers);
  if (!err)
    err = rtc_init(&m->rtc, &m->io, pic_irq_line(&m->pic, 8), ram, 0, &m->timers);
  if (!err)
    err = i8042_init(&m->kbc, &m->io, pic_irq_line(&m->pic, 1), pic_irq_line(&m->pic, 12));
  if (!err) {
    i8042_set_callbacks(&m->kbc, guest_reset, guest_a20, m);
    err = port80_init(&m->port80, &m->io);
  }
  if (!err)
    err = serial_init(m);
  return err;
}

static void platform_exit(struct machine *m) {
  if (m->has_com1) {
    uart_exit(&m->com1);
    chardev_exit(&m->serial);
    m->has_com1 = false;
  }
  port80_exit(&m->port80);
  i8042_exit(&m->kbc);
  rtc_exit(&m->rtc);
  pit_exit(&m->pit);
  pic_exit(&m->pic);
}

enum { STAGE_NONE, STAGE_MMU, STAGE_DEVICES, STAGE_PLATFORM, STAGE_TC, STAGE_TICKER };

int machine_init(struct machine *m, const struct machine_config *cfg) {
  memset(m, 0, sizeof(*m));
  m->cfg = *cfg;
  int err = mmu_init(&m->mmu, cfg->ram_bytes);
  if (err)
    return err;
  m->stage = STAGE_MMU;
  m->mmu.log_unassigned = cfg->log_unimp;

  m->cpu.mmu = &m->mmu;
  m->cpu.env = (struct cpu_env){
      .opaque = m,
      .io_read = cpu_io_read,
      .io_write = cpu_io_write,
      .service = cpu_service,
      .intr_pending = cpu_intr_pending,
      .intr_ack = cpu_intr_ack,
      .next_deadline = cpu_next_deadline,
      .mmio_read = cpu_mmio_read,
      .mmio_write = cpu_mmio_write,
  };
  mmio_init(&m->mmio);
  m->mmu.is_mmio = mmu_is_device;
  m->mmu.is_mmio_opaque = m;
  cpu_reset_protected_flat(&m->cpu);

  ioports_init(&m->io, cfg->log_unimp, cfg->log);
  err = debugcon_init(&m->debugcon, &m->io, cfg->debugcon);
  if (!err)
    err = debug_exit_init(&m->debug_exit, &m->io, &m->cpu, cfg->debug_exit_port,
                          cfg->debug_exit_size);
  if (err) {
    fprintf(stderr, "bt386: cannot place the debug devices' I/O ports\n");
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_DEVICES;

  err = platform_init(m);
  if (err) {
    fprintf(stderr, "bt386: cannot set up the PC platform's devices: %s\n", strerror(-err));
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_PLATFORM;

  err = tc_init(&m->tc, &m->cpu, &m->mmu, &cfg->tc);
  if (err) {
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_TC;
  tc_set_logging(m->tc, cfg->log_in_asm, cfg->log_out_asm, cfg->log);

  err = ticker_start(m);
  if (err) {
    fprintf(stderr, "bt386: cannot start the timer thread: %s\n", strerror(-err));
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_TICKER;
  return 0;
}

void machine_exit(struct machine *m) {
  if (m->stage >= STAGE_TICKER)
    ticker_stop(m);
  if (m->stage >= STAGE_TC)
    tc_exit(m->tc);
  if (m->stage >= STAGE_PLATFORM)
    platform_exit(m);
  if (m->stage >= STAGE_DEVICES)
    debugcon_exit(&m->debugcon);
  if (m->stage >= STAGE_MMU)
    mmu_exit(&m->mmu);
  m->stage = STAGE_NONE;
}

int machine_run(struct machine *m) {
  int why = bt_run(m->tc);
  debugcon_exit(&m->debugcon);
  switch (why) {
  case SHUTDOWN_EXIT:
    return m->debug_exit.status;
  case SHUTDOWN_HALTED:
    fprintf(m->cfg.log, "bt386: %s\n", m->cpu.shutdown_msg);
    return 0;
  case SHUTDOWN_RESET:
    if (!m->cfg.no_reboot)
      return MACHINE_REBOOT;
    return 0; /* -no-reboot: as QEMU, a reset ends the VM */
  case SHUTDOWN_TRIPLE_FAULT:
    if (m->cfg.no_reboot) {
      fprintf(stderr, "bt386: the guest stopped: %s\n", m->cpu.shutdown_msg);
      return 3;
    }
    fprintf(stderr, "bt386: %s; resetting the machine\n", m->cpu.shutdown_msg);
    return MACHINE_REBOOT;
  default:
    fprintf(stderr, "bt386: the guest stopped: %s\n", m->cpu.shutdown_msg);
    return 1;
  }
}
