/* csbase.c - code segments whose base is not zero or whose limit is below 4 GiB. EIP is an
 * offset into CS: a far call there, a near call inside (pushing an offset), reading EIP with
 * call/pop, an indirect jump to an offset, an exception and an interrupt (the saved EIP is an
 * offset; IRET returns to one), an interrupt gate into a based segment, code rewritten while
 * it runs there, and a far return to the flat segment all see offsets, not linear addresses.
 * (Linux's APM and PnP BIOS calls use such segments, Linux 2.0 ran its kernel in one.) A far
 * jump to an offset past the new segment's limit raises #GP(0) at the jump. (The rest of the
 * limit checks are in cslimit.c: QEMU 7.2 does not make them.) */
#include "lib/guest.h"

#define SEL_CODE_B (3 << 3)   /* code, base BASE (not page-aligned) */
#define SEL_CODE_LIM (4 << 3) /* code, base 0, limit lim_end - 1 */
#define BASE 0x1234

uint32_t cs_results[8];
uint16_t cs_seen;
uint32_t fault_site;

/* Runs in SEL_CODE_B: the labels' linear addresses minus BASE are its offsets. */
__asm__(".text\n"
        "based_entry:\n\t"
        "movw %cs, cs_seen\n\t"
        "call based_pc\n"                  /* pushes an offset */
        "based_pc: popl %eax\n\t"
        "movl %eax, cs_results\n\t"
        "call based_sub\n\t"               /* relative: the same for offsets and addresses */
        "movl %eax, cs_results+4\n\t"
        "movl $2f - 0x1234, %eax\n\t"
        "jmp *%eax\n\t"                    /* an indirect jump to an offset */
        "movl $0xbad, cs_results+8\n"
        "2: movl $0x600d, cs_results+8\n\t"
        "based_ud2: ud2\n\t"               /* the handler skips it */
        "int $0x41\n\t"                    /* through a gate into this segment */
        "lret\n"
        "based_sub:\n\t"
        "movl (%esp), %eax\n\t"            /* the return offset */
        "ret\n"
        /* The handler of vector 0x41, in SEL_CODE_B too: what IRET will return to. */
        "based_handler:\n\t"
        "movl (%esp), %eax\n\t"
        "movl %eax, cs_results+12\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl %eax, cs_results+16\n\t"
        "call based_pc2\n"
        "based_pc2: popl %eax\n\t"
        "movl %eax, cs_results+20\n\t"
        "iret\n"
        /* Rewritten between calls: returns its immediate. */
        "based_smc:\n\t"
        "movl $1, %eax\n\t"
        "lret\n"
        /* SEL_CODE_LIM ends here. */
        ".balign 4096\n"
        "lim_end:\n");

extern char based_entry[], based_pc[], based_pc2[], based_ud2[], based_handler[], based_smc[];
extern char lim_end[];

static struct trap_frame seen;

/* #UD in the based segment: note the frame, go on after the ud2 (2 bytes). */
static void skip_ud2(struct trap_frame *f) {
  seen = *f;
  f->eip += 2;
}

int main(void) {
  traps_init();
  gdt_set(SEL_CODE_B >> 3, BASE, 0xfffff, 0x9a, 0xc);
  idt_gate_at(0x41, SEL_CODE_B, (uint32_t)based_handler - BASE);

  trap_hook = skip_ud2;
  far_call((uint32_t)based_entry - BASE, SEL_CODE_B);
  trap_hook = 0;
  printf("in the based segment: cs %x\n", cs_seen);
  printf("call/pop EIP: linear - base %s (%x)\n",
         cs_results[0] == (uint32_t)based_pc - BASE ? "yes" : "no", cs_results[0]);
  printf("return address pushed by a near call: %x\n", cs_results[1]);
  printf("indirect jump to an offset: %x\n", cs_results[2]);
  printf("#UD there: vector %u, cs %x, eip = offset %s\n", seen.vector, seen.cs,
         seen.eip == (uint32_t)based_ud2 - BASE ? "yes" : "no");
  printf("int 0x41 into the based segment: returns to offset %s, cs %x, handler's EIP %s\n",
         cs_results[3] == (uint32_t)based_ud2 + 4 - BASE ? "yes" : "no", cs_results[4],
         cs_results[5] == (uint32_t)based_pc2 - BASE ? "an offset" : "not an offset");
  printf("back in the flat segment\n");

  /* Code rewritten through the flat data segment, then run again in the based one. */
  uint32_t r1, r2;
  static struct far_ptr smc = {0, SEL_CODE_B};
  smc.off = (uint32_t)based_smc - BASE;
  __asm__ volatile("lcall *%1" : "=a"(r1) : "m"(smc) : "memory");
  *(volatile uint32_t *)(based_smc + 1) = 2;
  __asm__ volatile("lcall *%1" : "=a"(r2) : "m"(smc) : "memory");
  printf("rewritten code in the based segment: %u then %u\n", r1, r2);

  /* 4 KiB granular: the limit is lim_end - 1. */
  gdt_set(SEL_CODE_LIM >> 3, 0, ((uint32_t)lim_end >> 12) - 1, 0x9a, 0xc);
  /* A far jump past the limit faults at the jump, in the flat segment. */
  struct site s;
  FAULTING(s, "ljmp $0x20, $lim_end");
  print_trap("ljmp past the limit", s.start);
  printf("cs of the fault: %x\n", last_trap.cs);
  return 0;
}
