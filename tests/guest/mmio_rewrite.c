/* mmio_rewrite.c - an instruction that read device memory (the local APIC's version
 * register), at the end of a page, is replaced by ordinary code: the new code runs as code,
 * not as a device access (bt386 remembers device-memory instructions by address and must
 * forget them when their bytes change). */
#include "lib/guest.h"
static uint8_t buf[8192] __attribute__((aligned(4096)));
int main(void) {
  traps_init();
  static const uint8_t first[] = {0xa1, 0x30, 0x00, 0xe0, 0xfe};   /* mov eax, [0xfee00030] */
  static const uint8_t second[] = {0x55, 0x5d, 0x40, 0x40, 0x90}; /* push ebp; pop ebp; inc eax; inc eax; nop */
  uint8_t *at = buf + 4096 - 5;
  for (unsigned i = 0; i < 5; i++) at[i] = first[i];
  buf[4096] = 0xc3; /* ret, on the next page */
  uint32_t v;
  __asm__ volatile("call *%1" : "=a"(v) : "r"(at) : "memory", "cc", "ecx", "edx");
  printf("first: lapic version %08x\n", v);
  for (unsigned i = 0; i < 5; i++) at[i] = second[i];
  __asm__ volatile("movl $3, %%eax\n\tcall *%1" : "=a"(v) : "r"(at) : "memory", "cc", "ecx", "edx");
  printf("second: %u\n", v);
  return 0;
}
