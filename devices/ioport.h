/* ioport.h - the port-I/O registry: devices register a range of ports with one call.
 *
 * A device registers (base, length, read, write, opaque); accesses wider than what a device
 * takes (IO_BYTES_ONLY) are split into byte accesses here. Ports nobody registered read as all
 * ones and ignore writes, as on a PC's ISA bus, and are reported once each with `-d unimp`. */
#ifndef BT386_IOPORT_H
#define BT386_IOPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef uint32_t (*io_read_fn)(void *opaque, uint16_t offset, int size);
typedef void (*io_write_fn)(void *opaque, uint16_t offset, int size, uint32_t value);

#define IO_BYTES_ONLY 1u

struct io_region {
  uint16_t base;
  uint32_t len;
  unsigned flags;
  const char *name;
  io_read_fn read;   /* may be NULL: reads as all ones */
  io_write_fn write; /* may be NULL: writes ignored */
  void *opaque;
};

#define IO_MAX_REGIONS 64

struct ioports {
  struct io_region regions[IO_MAX_REGIONS];
  int n;
  uint8_t owner[65536]; /* region index + 1 per port, 0 = unassigned */
  bool log_unimp;
  FILE *log;
  uint8_t reported[65536 / 8];
};

void ioports_init(struct ioports *io, bool log_unimp, FILE *log);
/* -EBUSY if a port is taken, -ENOSPC if the table is full. */
int ioports_register(struct ioports *io, uint16_t base, uint32_t len, unsigned flags,
                     const char *name, io_read_fn read, io_write_fn write, void *opaque);
uint32_t ioports_read(struct ioports *io, uint16_t port, int size);
void ioports_write(struct ioports *io, uint16_t port, int size, uint32_t value);

#endif
