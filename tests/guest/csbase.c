/* csbase.c - a code segment whose base is not zero: EIP is an offset into it, so a far jump
 * there, a near call inside (pushing an offset), reading EIP with call/pop, an indirect jump
 * to an offset, and a far return back to the flat segment all see offsets, not linear
 * addresses. (Linux's APM and PnP BIOS calls use such segments.) */
#include "lib/guest.h"

#define SEL_CODE_B (3 << 3) /* code, base 0x1000 */
#define BASE 0x1000

uint32_t cs_results[4];
uint16_t cs_seen;

/* Runs in SEL_CODE_B: the labels' linear addresses minus BASE are its offsets. */
__asm__(".text\n"
        "based_entry:\n\t"
        "movw %cs, cs_seen\n\t"
        "call based_pc\n"                  /* pushes an offset */
        "based_pc: popl %eax\n\t"
        "movl %eax, cs_results\n\t"
        "call based_sub\n\t"               /* relative: the same for offsets and addresses */
        "movl %eax, cs_results+4\n\t"
        "movl $2f - 0x1000, %eax\n\t"
        "jmp *%eax\n\t"                    /* an indirect jump to an offset */
        "movl $0xbad, cs_results+8\n"
        "2: movl $0x600d, cs_results+8\n\t"
        "lret\n"
        "based_sub:\n\t"
        "movl (%esp), %eax\n\t"            /* the return offset */
        "ret\n");

extern char based_entry[], based_pc[];

int main(void) {
  traps_init();
  gdt_set(SEL_CODE_B >> 3, BASE, 0xfffff, 0x9a, 0xc);
  static struct __attribute__((packed)) {
    uint32_t off;
    uint16_t sel;
  } target;
  target.off = (uint32_t)based_entry - BASE;
  target.sel = SEL_CODE_B;
  __asm__ volatile("lcall *%0" : : "m"(target) : "eax", "memory");
  printf("in the based segment: cs %x\n", cs_seen);
  printf("call/pop EIP: linear - base %s (%x)\n",
         cs_results[0] == (uint32_t)based_pc - BASE ? "yes" : "no", cs_results[0]);
  printf("return address pushed by a near call: %x\n", cs_results[1]);
  printf("indirect jump to an offset: %x\n", cs_results[2]);
  printf("back in the flat segment\n");
  return 0;
}
