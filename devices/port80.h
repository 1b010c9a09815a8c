/* port80.h - port 0x80, the POST diagnostic port: firmware writes progress codes there and
 * Linux writes to it as an I/O delay. Writes are kept (for a debugger to look at) and have no
 * other effect; reads return all ones, as from an empty ISA port.
 *
 * Usage:
 *   port80_init(&m->port80, &m->io); */
#ifndef BT386_PORT80_H
#define BT386_PORT80_H

#include <stdint.h>

#include "devices/ioport.h"

struct port80 {
  uint8_t last;        /* the last code written */
  uint64_t writes;     /* how many writes */
};

int port80_init(struct port80 *p, struct ioports *io);
void port80_exit(struct port80 *p);

#endif
