/* code16.c - 16-bit protected-mode code (a code segment with D = 0, SDM vol. 3, 3.4.5):
 * operands are 16-bit and addresses 16-bit unless an 0x66 or 0x67 prefix says otherwise;
 * near calls and returns push and pop 16-bit IPs; 16-bit addressing ([bx+si+disp]) through a
 * data segment with a base; a jump table through a register; loop on CX; pushf/popf of
 * FLAGS; a 16-bit far call and return (lcallw/lretw) inside the segment, directly and through
 * a 16-bit call gate; an interrupt through a 16-bit interrupt gate (a word frame, iretw); an
 * interrupt from
 * 16-bit code through a 32-bit gate, which returns to it with iretd; and a 32-bit far return
 * (lretl) to the 32-bit caller. The same code under QEMU must leave the same registers. */
#include "lib/guest.h"

#define SEL_CODE16 (3 << 3) /* 16-bit code, base code16_start, limit 0xffff */
#define SEL_DATA16 (4 << 3) /* data, base data16, limit 0xffff */
#define SEL_GATE16 (5 << 3) /* a 16-bit call gate to SEL_CODE16:c16_far */

uint16_t data16[64] __attribute__((aligned(16))) = {1, 2, 3, 4, 5, 6, 7, 8};
uint32_t out[8];
uint32_t int_seen_cs, int_seen_eip;

__asm__(".text\n"
        ".balign 16\n"
        "code16_start:\n"
        ".code16\n"
        "c16_entry:\n\t"
        "pushw %es\n\t"                      /* the caller's (C code uses ES) */
        "movw $0x1234, %ax\n\t"
        "movl $0x89abcdef, %ecx\n\t"
        "addw %ax, %cx\n\t"                  /* 16-bit add: the upper half of ECX stays */
        "pushl %ecx\n\t"
        "movw %ds, %dx\n\t"
        "movw $0x20, %bx\n\t"
        "movw %bx, %es\n\t"                  /* SEL_DATA16 */
        "movw $4, %bx\n\t"
        "movw $2, %si\n\t"
        "movw %es:2(%bx,%si), %dx\n\t"       /* data16[4] = 5 */
        "call c16_sub\n\t"                   /* pushes a 16-bit IP */
        "movw $(c16_case1 - code16_start), %di\n\t"
        "jmp *%di\n\t"
        "movw $0xbad, %dx\n"
        "c16_case1:\n\t"
        "movw $5, %cx\n\t"
        "xorw %si, %si\n"
        "1: addw %cx, %si\n\t"
        "loop 1b\n\t"                         /* CX: 5 + 4 + 3 + 2 + 1 */
        "pushfw\n\t"
        "popw %di\n\t"
        "andw $0x8d5, %di\n\t"                /* the arithmetic flags after loop's last add */
        "lcallw $0x18, $(c16_far - code16_start)\n\t"
        "lcallw $0x28, $0\n\t"               /* through the 16-bit call gate: c16_far again */
        "int $0x41\n\t"                       /* a 32-bit gate; iretd comes back here */
        "int $0x42\n\t"                       /* a 16-bit gate into this segment: iretw */
        "popl %ecx\n\t"
        "popw %es\n\t"
        "lretl\n"                            /* to the 32-bit caller */
        "c16_sub:\n\t"
        "incw %ax\n\t"
        "movw (%esp), %bp\n\t"               /* the return IP on the stack (0x67: ESP) */
        "ret\n"
        "c16_int42:\n\t"
        "addw $0x10, %ax\n\t"
        "movw (%esp), %bx\n\t"               /* the IP the 16-bit gate pushed */
        "iretw\n"
        "c16_far:\n\t"
        "addw $0x100, %ax\n\t"
        "lretw\n"
        /* Strings through a based data segment, 16-bit multiply and divide, enter/leave. */
        "c16_more:\n\t"
        "pushw %ds\n\t"
        "pushw %es\n\t"
        "movw $0x20, %ax\n\t"
        "movw %ax, %ds\n\t"
        "movw %ax, %es\n\t"
        "xorw %si, %si\n\t"
        "movw $32, %di\n\t"
        "movw $4, %cx\n\t"
        "cld\n\t"
        "rep movsw\n\t"                    /* data16[0..3] -> data16[16..19] */
        "movw $1000, %ax\n\t"
        "movw $300, %bx\n\t"
        "mulw %bx\n\t"                     /* DX:AX = 300000 */
        "movw $7, %bx\n\t"
        "divw %bx\n\t"                     /* AX = 42857, DX = 1 */
        "sgdtl %es:64\n\t"                  /* the GDTR, to put back */
        "lgdtw %es:72\n\t"                  /* 16-bit operand size: a 24-bit base */
        "sgdtl %es:80\n\t"
        "lgdtl %es:64\n\t"
        "enter $8, $0\n\t"
        "movw %sp, %bx\n\t"
        "movw %bp, %cx\n\t"
        "subw %bx, %cx\n\t"               /* BP - SP = 8 */
        "leave\n\t"
        "popw %es\n\t"
        "popw %ds\n\t"
        "lretl\n"
        ".code32\n"
        "c16_end:\n");

extern char code16_start[], c16_entry[], c16_sub[], c16_far[], c16_int42[], c16_more[],
    c16_end[];

void int41_handler(void);
__asm__(".text\n"
        "int41_handler:\n\t"
        "pushl %eax\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl %eax, int_seen_eip\n\t"
        "movl 8(%esp), %eax\n\t"
        "movl %eax, int_seen_cs\n\t"
        "popl %eax\n\t"
        "iret\n");

int main(void) {
  traps_init();
  gdt_set(SEL_CODE16 >> 3, (uint32_t)code16_start, 0xffff, 0x9a, 0x0);
  gdt_set(SEL_DATA16 >> 3, (uint32_t)data16, 0xffff, 0x92, 0x0);
  /* A call gate in segment-descriptor clothes: offset 15:0 as the limit, the selector (and
   * no parameters) as the base, type 4 (16-bit call gate), DPL 0, present. */
  gdt_set(SEL_GATE16 >> 3, SEL_CODE16, (uint32_t)c16_far - (uint32_t)code16_start, 0x84, 0);
  idt_gate_at(0x41, SEL_CODE, (uint32_t)int41_handler);
  idt_gate_at(0x42, SEL_CODE16, (uint32_t)c16_int42 - (uint32_t)code16_start);
  idt_gate_access(0x42, 0x86); /* a 16-bit interrupt gate */
  static struct __attribute__((packed)) {
    uint32_t off;
    uint16_t sel;
  } target;
  target.off = (uint32_t)c16_entry - (uint32_t)code16_start;
  target.sel = SEL_CODE16;
  uint32_t a, c, d, si, di;
  __asm__ volatile("pushl %%ebp\n\t"
                   "pushl %%ebx\n\t"
                   "lcall *%6\n\t"
                   "movl %%ebp, out\n\t"
                   "popl %%ebx\n\t"
                   "popl %%ebp"
                   : "=a"(a), "=c"(c), "=d"(d), "=S"(si), "=D"(di), "=m"(out[0])
                   : "m"(target)
                   : "memory", "cc");
  printf("ax %04x (0x1234, +1 in a near call, +0x100 in a far call and one through a 16-bit "
         "call gate, +0x10 in a 16-bit interrupt gate)\n", a & 0xffff);
  printf("ecx %08x (16-bit add kept the upper half)\n", c);
  printf("dx %04x (es:[bx+si+2])\n", d & 0xffff);
  printf("si %04x (loop on cx), flags after it %04x\n", si & 0xffff, di & 0xffff);
  printf("return IP the near call pushed: %s\n",
         (out[0] & 0xffff) > (uint32_t)c16_entry - (uint32_t)code16_start &&
                 (out[0] & 0xffff) < (uint32_t)c16_sub - (uint32_t)code16_start
             ? "an offset in the segment"
             : "wrong");
  printf("int 0x41 from 16-bit code: cs %x, eip %s\n", int_seen_cs,
         int_seen_eip < (uint32_t)c16_end - (uint32_t)code16_start ? "an offset" : "wrong");
  target.off = (uint32_t)c16_more - (uint32_t)code16_start;
  static const uint8_t bogus_gdtr[6] = {0x34, 0x12, 0x56, 0x34, 0x12, 0xab};
  memcpy((uint8_t *)data16 + 72, bogus_gdtr, 6);
  __asm__ volatile("pushl %%ebp\n\t"
                   "pushl %%ebx\n\t"
                   "lcall *%4\n\t"
                   "popl %%ebx\n\t"
                   "popl %%ebp"
                   : "=a"(a), "=c"(c), "=d"(d), "=D"(di)
                   : "m"(target)
                   : "esi", "memory", "cc");
  printf("rep movsw: %u %u %u %u, di %04x\n", data16[16], data16[17], data16[18], data16[19],
         di & 0xffff);
  printf("mul/div: ax %u dx %u; enter 8: bp - sp = %u\n", a & 0xffff, d & 0xffff, c & 0xffff);
  uint32_t base;
  memcpy(&base, (uint8_t *)data16 + 82, 4);
  printf("lgdtw of base 0xab123456: GDTR base %08x\n", base);
  return 0;
}
