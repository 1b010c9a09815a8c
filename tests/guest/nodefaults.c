/* nodefaults.c - run with -nodefaults (compare.sh gives it to QEMU and bt386 alike), the PC has
 * no COM1: its registers read as all ones (an open bus) and its scratch register keeps
 * nothing. */
#include "lib/guest.h"

#define COM1 0x3f8

int main(void) {
  outb(COM1 + 7, 0x5a); /* scratch */
  uint8_t scratch = inb(COM1 + 7), lsr = inb(COM1 + 5), iir = inb(COM1 + 2);
  printf("COM1 scratch after writing 5a: %02x, LSR %02x, IIR %02x\n", scratch, lsr, iir);
  return 0;
}
