/* crtc.h - the CRT controller of a colour text display (the 6845 of the CGA, as the VGA kept
 * it at ports 0x3D4/0x3D5): an index register and the 25 registers it selects, which read back
 * what was written. Kernels that write to the text screen at 0xB8000 themselves (xv6, many
 * teaching kernels) read the cursor's position from registers 0x0E/0x0F and panic on what an
 * empty port returns (0xFFFF, past the screen). There is no display: the screen's memory is
 * RAM that nobody shows. QEMU's default machine has a VGA, which -nodefaults removes; so does
 * bt386's.
 *
 * Usage:
 *   crtc_init(&m->crtc, &m->io); */
#ifndef BT386_CRTC_H
#define BT386_CRTC_H

#include <stdint.h>

#include "devices/ioport.h"

#define CRTC_BASE 0x3d4
#define CRTC_REGISTERS 25 /* the VGA's 0x00-0x18 */
#define CRTC_CURSOR_HIGH 0x0e
#define CRTC_CURSOR_LOW 0x0f

struct crtc {
  uint8_t index;
  uint8_t reg[CRTC_REGISTERS];
};

int crtc_init(struct crtc *c, struct ioports *io);

#endif
