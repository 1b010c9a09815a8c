/* debugcon.h - QEMU's and Bochs's debug console (port 0xE9) and QEMU's isa-debug-exit. */
#ifndef BT386_DEBUGCON_H
#define BT386_DEBUGCON_H

#include <stdio.h>

#include "cpu/cpu.h"
#include "devices/ioport.h"

struct debugcon {
  FILE *out;
};

struct debug_exit {
  struct cpu *cpu;
  int status; /* what bt386 exits with once the guest wrote here */
};

int debugcon_init(struct debugcon *d, struct ioports *io, FILE *out);
void debugcon_exit(struct debugcon *d);
/* A write of v to iobase ends the VM; bt386 then exits with (v << 1) | 1. */
int debug_exit_init(struct debug_exit *d, struct ioports *io, struct cpu *cpu, uint16_t iobase,
                    int iosize);

#endif
