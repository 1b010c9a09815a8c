/* fxsave.c - what fxsave writes outside 64-bit mode: the 288 bytes of the legacy x87/SSE
 * state with XMM0-7, and nothing in the XMM8-15 slots or the rest of the 512-byte area (a
 * 64-bit host's fxsave fills those with its own registers). (The last-instruction pointer
 * fields would hold guest addresses too, but QEMU leaves them zero, so they are not compared.) */
#include "lib/guest.h"

static uint8_t area[512] __attribute__((aligned(16)));

int main(void) {
  uint32_t cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  cr4 |= 0x600;
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
  static const double one = 1.0;
  memset(area, 0x5a, sizeof(area));
  __asm__ volatile("fninit\n\t"
                   "fldl %[one]\n\t"
                   "fxsave %[area]"
                   : [area] "=m"(area)
                   : [one] "m"(one));
  int written = 0;
  for (int i = 288; i < 512; i++)
    if (area[i] != 0x5a)
      written++;
  printf("fxsave wrote %d of the bytes 288-511\n", written);
  return 0;
}
