/* debugcon.c - port 0xE9 prints each byte written to it; a read returns 0xE9 (as in QEMU and
 * Bochs, so a guest can probe for it). isa-debug-exit stops the VM with a status the guest
 * chooses, which is how test kernels report their result. */
#include "devices/debugcon.h"

static uint32_t debugcon_read(void *opaque, uint16_t offset, int size) {
  (void)opaque, (void)offset, (void)size;
  return 0xe9;
}

static void debugcon_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)offset, (void)size;
  struct debugcon *d = opaque;
  fputc((int)(value & 0xff), d->out);
  if ((value & 0xff) == '\n')
    fflush(d->out);
}

int debugcon_init(struct debugcon *d, struct ioports *io, FILE *out) {
  d->out = out;
  return ioports_register(io, 0xe9, 1, 0, "debugcon", debugcon_read, debugcon_write, d);
}

void debugcon_exit(struct debugcon *d) { fflush(d->out); }

static void debug_exit_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)offset, (void)size;
  struct debug_exit *d = opaque;
  d->status = (int)((value << 1) | 1);
  cpu_stop(d->cpu, SHUTDOWN_EXIT, "guest wrote 0x%x to isa-debug-exit", value);
}

int debug_exit_init(struct debug_exit *d, struct ioports *io, struct cpu *cpu, uint16_t iobase,
                    int iosize) {
  d->cpu = cpu;
  d->status = 0;
  return ioports_register(io, iobase, (uint32_t)iosize, 0, "isa-debug-exit", NULL,
                          debug_exit_write, d);
}
