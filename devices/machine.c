/* machine.c - bringing the virtual PC up and down, in an explicit order. */
#include "devices/machine.h"

#include <stdlib.h>
#include <string.h>

void machine_config_default(struct machine_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->ram_bytes = 128ull << 20;
  tc_config_default(&cfg->tc);
  cfg->log = stderr;
  cfg->debugcon = stdout;
  cfg->debug_exit_port = 0xf4;
  cfg->debug_exit_size = 4;
}

static uint32_t cpu_io_read(void *opaque, uint16_t port, int size) {
  return ioports_read(opaque, port, size);
}

static void cpu_io_write(void *opaque, uint16_t port, int size, uint32_t value) {
  ioports_write(opaque, port, size, value);
}

enum { STAGE_NONE, STAGE_MMU, STAGE_DEVICES, STAGE_TC };

int machine_init(struct machine *m, const struct machine_config *cfg) {
  memset(m, 0, sizeof(*m));
  m->cfg = *cfg;
  int err = mmu_init(&m->mmu, cfg->ram_bytes);
  if (err)
    return err;
  m->stage = STAGE_MMU;
  m->mmu.log_unassigned = cfg->log_unimp;

  m->cpu.mmu = &m->mmu;
  m->cpu.env = (struct cpu_env){.opaque = &m->io, .io_read = cpu_io_read, .io_write = cpu_io_write};
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

  err = tc_init(&m->tc, &m->cpu, &m->mmu, &cfg->tc);
  if (err) {
    machine_exit(m);
    return err;
  }
  m->stage = STAGE_TC;
  tc_set_logging(m->tc, cfg->log_in_asm, cfg->log_out_asm, cfg->log);
  return 0;
}

void machine_exit(struct machine *m) {
  if (m->stage >= STAGE_TC)
    tc_exit(m->tc);
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
  case SHUTDOWN_TRIPLE_FAULT:
    fprintf(stderr, "bt386: the guest stopped: %s\n", m->cpu.shutdown_msg);
    return 3;
  default:
    fprintf(stderr, "bt386: the guest stopped: %s\n", m->cpu.shutdown_msg);
    return 1;
  }
}
