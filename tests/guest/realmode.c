/* realmode.c - leaving protected mode for real mode and coming back (SDM vol. 3, 9.9): a far
 * jump to a 16-bit code segment, CR0.PE cleared there, a far jump that loads CS as in real
 * mode (base = selector * 16), real-mode segment loads, a software interrupt through the
 * interrupt vector table (FLAGS, CS and IP pushed as words) and IRET back, a far call and
 * return, LEAVE on the 16-bit stack (SP from BP, whatever EBP's upper half), IRET with NT set
 * (ignored in real mode), then CR0.PE set again and a far jump to the 32-bit code segment.
 * The real-mode code
 * is copied below 1 MiB (0x8000) first, where a real-mode CS reaches it. */
#include "lib/guest.h"

#define SEL_CODE16 (3 << 3) /* 16-bit code, base 0x8000, limit 0xffff */
#define SEL_DATA16 (4 << 3) /* 16-bit data, base 0, limit 0xffff */
#define LOW_CODE 0x8000u
#define RESULTS 0x9000u     /* real-mode words the test prints */

uint32_t saved_esp;
struct __attribute__((packed)) dtr {
  uint16_t limit;
  uint32_t base;
} saved_idt, real_idt = {0x3ff, 0};

/* Position-independent 16-bit code, run at LOW_CODE: offsets are from rm_start. */
__asm__(".text\n"
        "rm_start:\n"
        ".code16\n\t"
        "movw $0x20, %ax\n\t"                       /* SEL_DATA16: 16-bit segments */
        "movw %ax, %ds\n\t"
        "movw %ax, %es\n\t"
        "movw %ax, %ss\n\t"
        "movl $0x7000, %esp\n\t"
        "movl %cr0, %eax\n\t"
        "andb $0xfe, %al\n\t"
        "movl %eax, %cr0\n\t"                       /* real mode from here */
        "ljmp $0x0800, $(rm_real - rm_start)\n"
        "rm_real:\n\t"
        "xorw %ax, %ax\n\t"
        "movw %ax, %ds\n\t"
        "movw %ax, %ss\n\t"
        "movw $0x0900, %ax\n\t"
        "movw %ax, %es\n\t"                         /* ES:0 = RESULTS */
        "movw %cs, %es:0\n\t"                       /* CS as real mode loaded it */
        "movl $0x00010000, %ebp\n\t"               /* EBP's upper half is not BP's */
        "pushw %bp\n\t"
        "movw %sp, %bp\n\t"
        "subw $4, %sp\n\t"
        "leave\n\t"                                /* SP <- BP with a 16-bit stack */
        "movw %sp, %es:10\n\t"
        "pushfw\n\t"
        "popw %ax\n\t"
        "orw $0x4000, %ax\n\t"
        "pushw %ax\n\t"
        "popfw\n\t"                                /* NT set: real-mode IRET ignores it */
        "movw $(rm_int - rm_start), 0x140\n\t"      /* vector 0x50 in the IVT at 0 */
        "movw $0x0800, 0x142\n\t"
        "lidtw %cs:(rm_idt - rm_start)\n\t"
        "movw $5, %bx\n\t"
        "int $0x50\n\t"                             /* BX *= 3, CS saved */
        "movw %bx, %es:2\n\t"
        "lcall $0x0800, $(rm_far - rm_start)\n\t"   /* BX += 100 */
        "movw %bx, %es:4\n\t"
        "pushfw\n\t"
        "popw %ax\n\t"
        "movw %ax, %es:8\n\t"
        "movl %cr0, %eax\n\t"
        "orb $1, %al\n\t"
        "movl %eax, %cr0\n\t"                       /* protected mode again */
        "ljmpl $0x08, $rm_back\n"
        "rm_int:\n\t"
        "movw %bx, %ax\n\t"
        "addw %ax, %bx\n\t"
        "addw %ax, %bx\n\t"
        "movw %sp, %bp\n\t"
        "movw 2(%bp), %ax\n\t"                      /* the CS the interrupt pushed */
        "movw %ax, %es:6\n\t"
        "iret\n"
        "rm_far:\n\t"
        "addw $100, %bx\n\t"
        "lret\n"
        "rm_idt: .word 0x3ff\n\t"
        ".long 0\n"
        ".code32\n"
        "rm_end:\n"
        "rm_back:\n\t"
        "movl $0x10, %eax\n\t"
        "movw %ax, %ds\n\t"
        "movw %ax, %es\n\t"
        "movw %ax, %ss\n\t"
        "movw %ax, %fs\n\t"
        "movw %ax, %gs\n\t"
        "movl saved_esp, %esp\n\t"
        "lidt saved_idt\n\t"
        "popal\n\t"
        "ret\n");

extern char rm_start[], rm_end[];
void enter_real_mode(void);
__asm__(".text\n"
        "enter_real_mode:\n\t"
        "pushal\n\t"
        "movl %esp, saved_esp\n\t"
        "sidt saved_idt\n\t"
        "ljmp $0x18, $0\n");                        /* SEL_CODE16:0 = rm_start at LOW_CODE */

int main(void) {
  traps_init();
  memcpy((void *)LOW_CODE, rm_start, (size_t)(rm_end - rm_start));
  gdt_set(SEL_CODE16 >> 3, LOW_CODE, 0xffff, 0x9a, 0x0);
  gdt_set(SEL_DATA16 >> 3, 0, 0xffff, 0x92, 0x0);
  __asm__ volatile("cli\n\t"
                   "call enter_real_mode" ::: "memory");
  volatile uint16_t *r = (volatile uint16_t *)RESULTS;
  printf("real-mode CS %04x, int 0x50: bx %u, pushed CS %04x; far call: bx %u; flags %04x\n",
         r[0], r[1], r[3], r[2], r[4] & 0x4fd5);
  printf("back in protected mode, sp after leave %04x\n", r[5]);
  return 0;
}
