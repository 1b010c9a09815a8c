/* port80.c - the POST diagnostic port 0x80 (see port80.h). */
#include "devices/port80.h"

#include <string.h>

static uint32_t port80_read(void *opaque, uint16_t offset, int size) {
  (void)opaque, (void)offset;
  return size == 4 ? ~0u : (1u << (size * 8)) - 1;
}

static void port80_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)offset, (void)size;
  struct port80 *p = opaque;
  p->last = (uint8_t)value;
  p->writes++;
}

int port80_init(struct port80 *p, struct ioports *io) {
  memset(p, 0, sizeof(*p));
  return ioports_register(io, 0x80, 1, 0, "post", port80_read, port80_write, p);
}

void port80_exit(struct port80 *p) { (void)p; }
