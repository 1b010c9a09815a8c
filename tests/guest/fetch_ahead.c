/* fetch_ahead.c - code that ends just before a page that is not present: running it takes no
 * fault and leaves CR2 alone (a CPU fetching ahead into the next page must not report it);
 * an instruction that does run into that page faults there, with CR2 the page's first byte. */
#include "lib/guest.h"

static uint8_t frame[4096] __attribute__((aligned(4096)));

static uint32_t call_at(uint32_t lin) {
  uint32_t v = 0;
  __asm__ volatile("movl $1f, trap_resume\n\t"
                   "movl %%esp, %%esi\n\t"
                   "call *%1\n"
                   "1: movl %%esi, %%esp"
                   : "+a"(v)
                   : "r"(lin)
                   : "ecx", "edx", "esi", "memory", "cc");
  return v;
}

int main(void) {
  traps_init();
  window_paging_on();
  /* mov $7, %eax; ret in the last 6 bytes of the page */
  static const uint8_t code[] = {0xb8, 7, 0, 0, 0, 0xc3};
  for (unsigned i = 0; i < sizeof(code); i++)
    frame[4096 - sizeof(code) + i] = code[i];
  window_map(WINDOW_BASE, frame);
  window_map(WINDOW_BASE + 4096, 0);
  __asm__ volatile("mov %0, %%cr2" ::"r"(0x1234u));
  uint32_t v = call_at(WINDOW_BASE + 4096 - sizeof(code));
  printf("code up to the page's end: returned %u, cr2 %08x\n", v, read_cr2());
  print_trap("  exceptions", 0);
  /* mov $imm32, %eax across the boundary: its last byte is on the missing page. */
  static const uint8_t across[] = {0xb8, 1, 2, 3};
  for (unsigned i = 0; i < sizeof(across); i++)
    frame[4096 - sizeof(across) + i] = across[i];
  v = call_at(WINDOW_BASE + 4096 - 4);
  printf("an instruction across into the missing page: cr2 %08x\n", read_cr2());
  print_trap("  exceptions", WINDOW_BASE + 4096 - 4);
  return 0;
}
