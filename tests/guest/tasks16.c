/* tasks16.c - task switches with a 16-bit (80286) TSS (SDM vol. 3A, 7.6): a far call from a
 * 32-bit task into a 16-bit one and its IRET back, twice. The 16-bit task gets IP, FLAGS, the
 * word registers and ES CS SS DS from its TSS (FS and GS null, CR3 unchanged), and when it
 * leaves, they go back into it as words: the second call resumes it after its IRET with the
 * low words of what it left in its registers. */
#include "lib/guest.h"

struct tss32 {
  uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt, iomap;
} __attribute__((packed));

struct tss16 {
  uint16_t link, sp0, ss0, sp1, ss1, sp2, ss2, ip, flags;
  uint16_t ax, cx, dx, bx, sp, bp, si, di;
  uint16_t es, cs, ss, ds, ldt;
} __attribute__((packed));

static struct tss32 tss_a __attribute__((aligned(128)));
static struct tss16 tss_b __attribute__((aligned(64)));

#define SEL_TSS_A 0x18
#define SEL_TSS_B 0x20
#define SEL_CODE_B 0x28 /* 32-bit code whose base is the task's entry: IP 0 reaches it */
#define STACK_B 0x7000  /* SP is a word: the 16-bit task's stack sits below 64 KiB */

volatile uint32_t b_eax, b_ecx, b_esp, b_eflags, b_fs, b_gs, b_cr3, b_runs;
volatile uint16_t b_tr;
void task_b_entry(void);

/* The 16-bit task: it records what it was given, leaves values of its own in EAX and ECX,
 * and returns to the task that called it; called again, it goes on after its IRET. */
__asm__(".text\n"
        ".globl task_b_entry\n"
        "task_b_entry:\n"
        "1: movl %eax, b_eax\n"
        "   movl %ecx, b_ecx\n"
        "   movl %esp, b_esp\n"
        "   pushfl\n"
        "   popl b_eflags\n"
        "   movw %fs, b_fs\n"
        "   movw %gs, b_gs\n"
        "   movl %cr3, %eax\n"
        "   movl %eax, b_cr3\n"
        "   str b_tr\n"
        "   incl b_runs\n"
        "   movl $0x12345678, %eax\n"
        "   movl $0x9abcdef0, %ecx\n"
        "   iret\n"
        "   jmp 1b\n");

static unsigned tss_type(uint16_t sel) {
  uint32_t ar;
  __asm__ volatile("lar %1, %0" : "=r"(ar) : "r"((uint32_t)sel) : "cc");
  return (ar >> 8) & 0xf;
}

static uint32_t eflags_now(void) {
  uint32_t f;
  __asm__ volatile("pushf; pop %0" : "=r"(f));
  return f;
}

static void call_b(void) {
  b_eax = b_ecx = 0;
  __asm__ volatile("lcall $0x20, $0" ::: "eax", "ecx", "edx", "memory");
  uint32_t ts = (read_cr0() >> 3) & 1;
  __asm__ volatile("clts");
  printf("B ran %u time(s): eax %08x ecx %08x esp %08x NT %u fs %x gs %x tr %x, cr3 kept %s\n",
         b_runs, b_eax, b_ecx, b_esp, (b_eflags >> 14) & 1, b_fs & 0xffff, b_gs & 0xffff, b_tr,
         b_cr3 == 0 ? "yes" : "no");
  printf("back in A: NT %u, TS %u, B's TSS: ip %04x ax %04x cx %04x sp %04x flags NT %u, "
         "link %x, B type %x\n", (eflags_now() >> 14) & 1, ts, tss_b.ip, tss_b.ax, tss_b.cx,
         tss_b.sp, (tss_b.flags >> 14) & 1, tss_b.link, tss_type(SEL_TSS_B));
}

int main(void) {
  traps_init();
  memset(&tss_a, 0, sizeof(tss_a));
  tss_a.iomap = (uint32_t)sizeof(tss_a) << 16;
  memset(&tss_b, 0, sizeof(tss_b));
  tss_b.ip = 0;
  tss_b.flags = 0x0002;
  tss_b.ax = 0x1111;
  tss_b.cx = 0x2222;
  tss_b.sp = STACK_B;
  tss_b.cs = SEL_CODE_B;
  tss_b.ss = tss_b.ds = tss_b.es = SEL_DATA;
  gdt_set(SEL_TSS_A >> 3, (uint32_t)&tss_a, sizeof(tss_a) - 1, 0x89, 0x0);
  gdt_set(SEL_TSS_B >> 3, (uint32_t)&tss_b, sizeof(tss_b) - 1, 0x81, 0x0); /* 16-bit TSS */
  gdt_set(SEL_CODE_B >> 3, (uint32_t)task_b_entry, 0xfffff, 0x9a, 0xc);
  __asm__ volatile("ltr %w0" ::"r"(SEL_TSS_A));
  printf("B type before: %x\n", tss_type(SEL_TSS_B));
  call_b();
  call_b();
  return 0;
}
