/* emulate.h - guest instructions done in C rather than translated (memory-mapped I/O). */
#ifndef BT386_EMULATE_H
#define BT386_EMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

/* How the emulator reaches device registers by guest physical address. */
struct mmio_ops {
  void *opaque;
  bool (*read)(void *opaque, uint32_t pa, int size, uint64_t *value);
  bool (*write)(void *opaque, uint32_t pa, int size, uint64_t value);
};

/* Emulate the instruction at cpu->eip, whose memory operand is device memory. On success EIP
 * moves past it; an exception it raises is left in cpu->pending (returns 0 either way). An
 * instruction form devices are not accessed with stops the VM with a message (-1). */
int cpu_emulate_mmio(struct cpu *cpu, const struct mmio_ops *io);

#endif
