/* tasks.c - hardware task switches (SDM vol. 3A, 7.3) with 32-bit TSSs: a far call to a TSS
 * and the IRET back (NT and the back link), a far jump through a task gate in the GDT and a
 * far jump back (busy bits), INT through a task gate in the IDT, and a double fault delivered
 * to a task of its own with its error code on that task's stack, as Linux handles #DF. Each
 * switch sets CR0.TS. */
#include "lib/guest.h"

struct tss {
  uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt, iomap;
} __attribute__((packed));

static struct tss tss_a, tss_b, tss_c, tss_d, tss_df __attribute__((aligned(128)));
static uint8_t stacks[4][4096] __attribute__((aligned(16)));

#define SEL_TSS_A 0x18
#define SEL_TSS_B 0x20
#define SEL_TSS_C 0x28
#define SEL_GATE_C 0x30 /* a task gate in the GDT */
#define SEL_TSS_D 0x38
#define SEL_TSS_DF 0x40

static uint32_t eflags_now(void) {
  uint32_t f;
  __asm__ volatile("pushf; pop %0" : "=r"(f));
  return f;
}

static uint16_t tr_now(void) {
  uint16_t tr;
  __asm__ volatile("str %0" : "=r"(tr));
  return tr;
}

/* The TSS descriptor's type: 9 available, B busy. */
static unsigned tss_type(uint16_t sel) {
  uint32_t ar;
  __asm__ volatile("lar %1, %0" : "=r"(ar) : "r"((uint32_t)sel) : "cc");
  return (ar >> 8) & 0xf;
}

static unsigned ts_bit(void) {
  unsigned ts = (read_cr0() >> 3) & 1;
  __asm__ volatile("clts");
  return ts;
}

static void tss_init(struct tss *t, void (*entry)(void), uint8_t *stack) {
  memset(t, 0, sizeof(*t));
  t->eip = (uint32_t)entry;
  t->eflags = 0x2;
  t->esp = (uint32_t)(stack + 4096);
  t->cs = SEL_CODE;
  t->ss = t->ds = t->es = t->fs = t->gs = SEL_DATA;
  t->iomap = (uint32_t)sizeof(*t) << 16; /* no I/O bitmap */
}

static void tss_descriptor(int index, struct tss *t) {
  gdt_set(index, (uint32_t)t, sizeof(*t) - 1, 0x89, 0x0);
}

/* Task B: entered by a far call, returns with IRET; each call resumes after its IRET. */
static uint32_t b_nt, b_tr, b_link, b_runs;
static void task_b(void) {
  for (;;) {
    b_nt = (eflags_now() >> 14) & 1;
    b_tr = tr_now();
    b_link = tss_b.link;
    b_runs++;
    __asm__ volatile("iret");
  }
}

/* Task C: entered by a far jump through a task gate, jumps back to A. */
static uint32_t c_nt, c_tr, c_a_type, c_c_type;
static void task_c(void) {
  c_nt = (eflags_now() >> 14) & 1;
  c_tr = tr_now();
  c_a_type = tss_type(SEL_TSS_A);
  c_c_type = tss_type(SEL_TSS_C);
  __asm__ volatile("ljmp $0x18, $0");
}

/* Task D: entered by INT 0x41 through a task gate in the IDT. */
static uint32_t d_nt, d_link;
static void task_d(void) {
  for (;;) {
    d_nt = (eflags_now() >> 14) & 1;
    d_link = tss_d.link;
    __asm__ volatile("iret");
  }
}

/* The double-fault task: the error code is on its stack. */
uint32_t df_error;
void task_df_main(void);
void task_df_entry(void);
__asm__(".globl task_df_entry\n"
        "task_df_entry:\n\t"
        "pop %eax\n\t"
        "mov %eax, df_error\n\t"
        "jmp task_df_main\n");
void task_df_main(void) {
  printf("double fault task: error code %u, tr %x, back link %x, NT %u, A busy: %s\n", df_error,
         tr_now(), tss_df.link, (eflags_now() >> 14) & 1,
         tss_type(SEL_TSS_A) == 0xb ? "yes" : "no");
  printf("done\n");
  guest_exit(0);
}

int main(void) {
  traps_init();
  tss_init(&tss_a, 0, stacks[0]); /* A is the running task: its state is saved into it */
  tss_init(&tss_b, task_b, stacks[0]);
  tss_init(&tss_c, task_c, stacks[1]);
  tss_init(&tss_d, task_d, stacks[2]);
  tss_init(&tss_df, task_df_entry, stacks[3]);
  tss_descriptor(SEL_TSS_A >> 3, &tss_a);
  tss_descriptor(SEL_TSS_B >> 3, &tss_b);
  tss_descriptor(SEL_TSS_C >> 3, &tss_c);
  gdt_set(SEL_GATE_C >> 3, SEL_TSS_C, 0, 0x85, 0x0);
  tss_descriptor(SEL_TSS_D >> 3, &tss_d);
  tss_descriptor(SEL_TSS_DF >> 3, &tss_df);
  __asm__ volatile("ltr %w0" ::"r"(SEL_TSS_A));
  printf("A: tr %x, A busy: %s\n", tr_now(), tss_type(SEL_TSS_A) == 0xb ? "yes" : "no");

  uint32_t eax = 0x1234;
  __asm__ volatile("lcall $0x20, $0" : "+a"(eax) :: "ecx", "edx", "memory");
  printf("call to B: B saw NT %u, tr %x, back link %x; A: NT %u, TS %u, eax kept %x, "
         "B busy: %s\n", b_nt, b_tr, b_link, (eflags_now() >> 14) & 1, ts_bit(), eax,
         tss_type(SEL_TSS_B) == 0xb ? "yes" : "no");
  __asm__ volatile("lcall $0x20, $0" ::: "eax", "ecx", "edx", "memory");
  printf("called B again: runs %u, TS %u\n", b_runs, ts_bit());
  /* The TS a task switch sets makes the next x87 instruction fault (#NM), as a lazy kernel
   * wants. */
  __asm__ volatile("lcall $0x20, $0" ::: "eax", "ecx", "edx", "memory");
  FAULT_REPORT("fld1 after a task switch", "fld1");
  printf("TS %u\n", ts_bit());

  __asm__ volatile("ljmp $0x30, $0" ::: "eax", "ecx", "edx", "memory");
  printf("jump to C through a gate: C saw NT %u, tr %x, A type %x, C type %x; back: tr %x, "
         "C type %x, TS %u\n", c_nt, c_tr, c_a_type, c_c_type, tr_now(), tss_type(SEL_TSS_C),
         ts_bit());

  idt_task_gate(0x41, SEL_TSS_D);
  __asm__ volatile("int $0x41" ::: "eax", "ecx", "edx", "memory");
  printf("int 0x41 to D: D saw NT %u, back link %x; A: tr %x, D type %x, TS %u\n", d_nt,
         d_link, tr_now(), tss_type(SEL_TSS_D), ts_bit());

  /* #GP whose gate is not present: #NP while delivering it, a double fault. */
  idt_task_gate(8, SEL_TSS_DF);
  idt_gate_absent(13);
  __asm__ volatile("mov %0, %%ds" ::"r"(0x1000) : "memory");
  printf("no double fault\n");
  return 1;
}
