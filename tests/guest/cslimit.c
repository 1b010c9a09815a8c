/* cslimit.c - a code segment's limit (SDM vol. 3, 5.3 and 6.15; vol. 2, JMP, Jcc, CALL, RET,
 * IRET, INT n): code that runs up to the limit raises #GP(0) at the first instruction that
 * does not fit, whole or in part; a near branch, call or return to past the limit raises
 * #GP(0) at the branch, before it pushes or pops anything; IRET, a far return and an
 * interrupt gate to past the new segment's limit raise #GP(0) at the instruction. The same
 * bytes run on through the flat segment, before and after.
 *
 * QEMU 7.2 makes none of these checks but the far jump's (csbase.c has that), so this kernel
 * is compared with cslimit.expected, written from the SDM, instead of with QEMU. It prints no
 * addresses, only whether each fault was where the SDM puts it. */
#include "lib/guest.h"

#define SEL_CODE_LIM (3 << 3)  /* code, base 0, limit lim_end - 1 */
#define SEL_CODE_LIM2 (4 << 3) /* code, base 0, limit lim2_end - 1 (page-aligned) */

volatile uint32_t lim_count;
uint32_t fault_site, esp_before;

/* Each piece of code runs up to the end of a page, where a limited segment ends, or branches
 * past it. lim_ret is where the #GP handler resumes: a far return to the flat caller. */
__asm__(".text\n"
        "lim_ret: lret\n"
        "lim_ret_pop: addl $4, %esp\n\t"    /* after ret's fault: its target is still there */
        "lret\n"
        /* Branches from below SEL_CODE_LIM's limit to past it. */
        "br_jmp: jmp lim_far_target\n"
        "br_jcc: xorl %eax, %eax\n"
        "br_jcc_insn: jz lim_far_target\n"
        "br_call: movl %esp, esp_before\n"
        "br_call_insn: call lim_far_target\n"
        "br_ind: movl $lim_far_target, %eax\n"
        "br_ind_insn: jmp *%eax\n"
        "br_ret: pushl $lim_far_target\n\t"
        "movl %esp, esp_before\n"
        "br_ret_insn: ret\n\t"
        ".balign 4096\n\t"
        ".fill 4096 - 6 - 7, 1, 0xcc\n"
        "br_loop: movl $2, %ecx\n"         /* 5 bytes */
        "br_loop_insn: loop lim_far_target\n" /* 2 bytes */
        "lim_fall:\n\t"
        "incl lim_count\n"                 /* 6 bytes: ends at the limit */
        "lim_end:\n\t"
        "incl lim_count\n\t"               /* past the limit */
        "lret\n"
        "lim_far_target: lret\n\t"
        ".balign 4096\n\t"
        ".fill 4096 - 4, 1, 0xcc\n"
        "lim_straddle:\n\t"
        "incl lim_count\n\t"               /* 6 bytes: 2 of them past SEL_CODE_LIM2's limit */
        "lret\n\t"
        ".set lim2_end, lim_straddle + 4\n");

extern char lim_ret[], lim_ret_pop[], lim_fall[], lim_end[], lim_straddle[], lim2_end[];
extern char br_jmp[], br_jcc[], br_jcc_insn[], br_call[], br_call_insn[], br_ind[],
    br_ind_insn[], br_ret[], br_ret_insn[], br_loop[], br_loop_insn[], lim_far_target[];

static struct trap_frame seen;
static uint32_t resume_at; /* lim_ret, or lim_ret_pop */

/* #GP in a limited segment: note the frame, resume at its lret back to the flat caller. */
static void gp_to_lret(struct trap_frame *f) {
  seen = *f;
  f->eip = resume_at;
}

/* ESP when the fault was raised: above isr.S's vector and the CPU's error code, EIP, CS and
 * EFLAGS (no privilege change). */
static uint32_t esp_at_fault(void) { return seen.esp0 + 20; }

/* The last exception, as print_trap but without addresses. */
static void report_trap(const char *what, uint32_t expected_eip) {
  printf("%s: %d exception(s), vector %u error %x cs %x, at the instruction the SDM names %s\n",
         what, trap_count, last_trap.vector, last_trap.error, last_trap.cs,
         last_trap.eip == expected_eip ? "yes" : "no");
  trap_count = 0;
  trap_resume = 0;
}

static void report(const char *what, uint32_t fault_at) {
  printf("%s: %u increments, vector %u error %x cs %x, at the instruction the SDM names %s\n",
         what, lim_count, seen.vector, seen.error, seen.cs, seen.eip == fault_at ? "yes" : "no");
}

static void run_limited(const char *what, uint32_t entry, uint16_t sel, uint32_t fault_at) {
  lim_count = 0;
  seen.vector = seen.error = seen.cs = seen.eip = 0;
  trap_hook = gp_to_lret;
  resume_at = entry == (uint32_t)br_ret ? (uint32_t)lim_ret_pop : (uint32_t)lim_ret;
  far_call(entry, sel);
  trap_hook = 0;
  trap_count = 0;
  report(what, fault_at);
}

int main(void) {
  traps_init();
  /* 4 KiB granular: each limit is the label - 1. */
  gdt_set(SEL_CODE_LIM >> 3, 0, ((uint32_t)lim_end >> 12) - 1, 0x9a, 0xc);
  gdt_set(SEL_CODE_LIM2 >> 3, 0, ((uint32_t)lim2_end >> 12) - 1, 0x9a, 0xc);

  lim_count = 0;
  far_call((uint32_t)lim_fall, SEL_CODE);
  printf("flat segment: %u increments\n", lim_count);
  run_limited("up to the limit", (uint32_t)lim_fall, SEL_CODE_LIM, (uint32_t)lim_end);
  run_limited("across the limit", (uint32_t)lim_straddle, SEL_CODE_LIM2, (uint32_t)lim_straddle);
  lim_count = 0;
  far_call((uint32_t)lim_fall, SEL_CODE);
  printf("flat segment again: %u increments\n", lim_count);

  /* Near branches to past the limit (lim_far_target, past lim_end). */
  far_call((uint32_t)br_jmp, SEL_CODE);
  printf("flat segment: jmp to lim_far_target returns\n");
  run_limited("jmp rel", (uint32_t)br_jmp, SEL_CODE_LIM, (uint32_t)br_jmp);
  run_limited("jz taken", (uint32_t)br_jcc, SEL_CODE_LIM, (uint32_t)br_jcc_insn);
  run_limited("call rel", (uint32_t)br_call, SEL_CODE_LIM, (uint32_t)br_call_insn);
  printf("call rel: nothing pushed at the fault %s\n", esp_at_fault() == esp_before ? "yes" : "no");
  run_limited("jmp reg", (uint32_t)br_ind, SEL_CODE_LIM, (uint32_t)br_ind_insn);
  run_limited("ret", (uint32_t)br_ret, SEL_CODE_LIM, (uint32_t)br_ret_insn);
  printf("ret: nothing popped at the fault %s\n", esp_at_fault() == esp_before ? "yes" : "no");
  run_limited("loop taken", (uint32_t)br_loop, SEL_CODE_LIM, (uint32_t)br_loop_insn);
  printf("loop: ecx at the fault %u (not counted down)\n", seen.ecx);

  /* IRET, a far return and an interrupt gate to past SEL_CODE_LIM's limit: #GP(0) at the
   * instruction, in the flat segment. */
  __asm__ volatile("movl $1f, fault_site\n\t"
                   "movl $2f, trap_resume\n\t"
                   "pushfl\n\t"
                   "pushl %0\n\t"
                   "pushl $lim_end + 16\n"
                   "1: iret\n"
                   "2: addl $12, %%esp"
                   :: "i"(SEL_CODE_LIM) : "memory");
  report_trap("iret past the limit", fault_site);
  __asm__ volatile("movl $1f, fault_site\n\t"
                   "movl $2f, trap_resume\n\t"
                   "pushl %0\n\t"
                   "pushl $lim_end\n"
                   "1: lret\n"
                   "2: addl $8, %%esp"
                   :: "i"(SEL_CODE_LIM) : "memory");
  report_trap("lret to the limit", fault_site);
  idt_gate_at(0x42, SEL_CODE_LIM, (uint32_t)lim_end + 32);
  struct site s;
  FAULTING(s, "int $0x42");
  report_trap("int to a gate past its segment's limit", s.start);
  return 0;
}
