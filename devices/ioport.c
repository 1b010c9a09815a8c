/* ioport.c - the port-I/O registry (see ioport.h). */
#include "devices/ioport.h"

#include <errno.h>
#include <string.h>

void ioports_init(struct ioports *io, bool log_unimp, FILE *log) {
  memset(io, 0, sizeof(*io));
  io->log_unimp = log_unimp;
  io->log = log ? log : stderr;
}

int ioports_register(struct ioports *io, uint16_t base, uint32_t len, unsigned flags,
                     const char *name, io_read_fn read, io_write_fn write, void *opaque) {
  if (io->n == IO_MAX_REGIONS)
    return -ENOSPC;
  if (len == 0 || base + len > 65536)
    return -EINVAL;
  for (uint32_t p = base; p < base + len; p++)
    if (io->owner[p])
      return -EBUSY;
  io->regions[io->n] = (struct io_region){base, len, flags, name, read, write, opaque};
  io->n++;
  for (uint32_t p = base; p < base + len; p++)
    io->owner[p] = (uint8_t)io->n;
  return 0;
}

static void report_unimp(struct ioports *io, uint16_t port, int size, bool write, uint32_t v) {
  if (!io->log_unimp || (io->reported[port / 8] & (1u << (port % 8))))
    return;
  io->reported[port / 8] |= (uint8_t)(1u << (port % 8));
  if (write)
    fprintf(io->log, "bt386: unassigned I/O port 0x%04x written (size %d, value 0x%x)\n", port,
            size, v);
  else
    fprintf(io->log, "bt386: unassigned I/O port 0x%04x read (size %d)\n", port, size);
}

/* The region that takes the whole access, or NULL if it must be split or is unassigned. */
static struct io_region *whole(struct ioports *io, uint16_t port, int size) {
  uint8_t o = io->owner[port];
  if (!o)
    return NULL;
  struct io_region *r = &io->regions[o - 1];
  if (size > 1 && ((r->flags & IO_BYTES_ONLY) || (uint32_t)port + (uint32_t)size > r->base + r->len))
    return NULL;
  return r;
}

uint32_t ioports_read(struct ioports *io, uint16_t port, int size) {
  struct io_region *r = whole(io, port, size);
  if (r)
    return r->read ? r->read(r->opaque, (uint16_t)(port - r->base), size)
                   : (size == 4 ? ~0u : (1u << (size * 8)) - 1);
  if (size == 1) {
    report_unimp(io, port, 1, false, 0);
    return 0xff;
  }
  uint32_t v = 0;
  for (int i = 0; i < size; i++)
    v |= ioports_read(io, (uint16_t)(port + i), 1) << (8 * i);
  return v;
}

void ioports_write(struct ioports *io, uint16_t port, int size, uint32_t value) {
  struct io_region *r = whole(io, port, size);
  if (r) {
    if (r->write)
      r->write(r->opaque, (uint16_t)(port - r->base), size, value);
    return;
  }
  if (size == 1) {
    report_unimp(io, port, 1, true, value);
    return;
  }
  for (int i = 0; i < size; i++)
    ioports_write(io, (uint16_t)(port + i), 1, (value >> (8 * i)) & 0xff);
}
