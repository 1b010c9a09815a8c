/* stack16_jcache.c - one indirect call site reaching the same function with a 16-bit stack
 * segment (SS.B = 0, SP) and then a 32-bit one: translations made for either must not be
 * reused for the other (bt386 keys them apart and keeps them out of its indirect-branch cache). */
#include "lib/guest.h"
#define SEL_DATA16 (3 << 3) /* 16-bit data, base 0, limit 0xffff, B = 0 */
uint32_t saved_esp;
void g(void);
void run(void);
__asm__(".text\n"
        "g:\n\t"
        "pushl %ebx\n\t"
        "popl %ebx\n\t"
        "ret\n"
        "run:\n\t"
        "pushal\n\t"
        "movl %esp, saved_esp\n\t"
        "movw $0x18, %ax\n\t"
        "movw %ax, %ss\n\t"
        "movl $0x7000, %esp\n\t"
        "movl $g, %eax\n\t"
        "call *%eax\n\t"
        "call *%eax\n\t"
        "movw $0x10, %ax\n\t"
        "movw %ax, %ss\n\t"
        "movl saved_esp, %esp\n\t"
        "movl $g, %eax\n\t"
        "call *%eax\n\t"
        "popal\n\t"
        "ret\n");
int main(void) {
  traps_init();
  gdt_set(SEL_DATA16 >> 3, 0, 0xffff, 0x92, 0x0);
  printf("esp %08x\n", (unsigned)__builtin_frame_address(0));
  __asm__ volatile("cli\n\tcall run" ::: "memory");
  printf("g ran on a 32-bit stack again\n");
  return 0;
}
