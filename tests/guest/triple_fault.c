/* triple_fault.c - an exception with no usable IDT: delivering #UD raises #GP, delivering
 * that raises a second #GP (a double fault), and delivering #DF fails too: the CPU shuts
 * down. QEMU (-no-reboot) then exits with status 0, bt386 with status 3 and a message saying
 * so (compare.sh accepts exactly that pair for kernels named triple_fault*). Nothing after
 * the fault may run. */
#include "lib/guest.h"

int main(void) {
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } none = {0, 0};
  printf("loading an empty IDT\n");
  __asm__ volatile("lidt %0" : : "m"(none));
  printf("executing ud2\n");
  __asm__ volatile("ud2");
  printf("still running after the triple fault\n");
  return 1;
}
