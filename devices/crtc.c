/* crtc.c - the colour text display's CRT controller registers (see crtc.h). */
#include "devices/crtc.h"

#include <string.h>

static uint32_t crtc_read(void *opaque, uint16_t offset, int size) {
  (void)size;
  struct crtc *c = opaque;
  if (offset == 0)
    return c->index;
  return c->index < CRTC_REGISTERS ? c->reg[c->index] : 0xff; /* no register there */
}

static void crtc_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)size;
  struct crtc *c = opaque;
  if (offset == 0)
    c->index = (uint8_t)value;
  else if (c->index < CRTC_REGISTERS)
    c->reg[c->index] = (uint8_t)value;
}

int crtc_init(struct crtc *c, struct ioports *io) {
  memset(c, 0, sizeof(*c)); /* the cursor at the top left */
  return ioports_register(io, CRTC_BASE, 2, IO_BYTES_ONLY, "crtc", crtc_read, crtc_write, c);
}
