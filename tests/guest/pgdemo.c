/* pgdemo.c - the Popek-Goldberg demonstration kernel: each sensitive instruction (Robin and
 * Irvine's list: pushf, popf, sgdt, sidt, sldt, str, smsw, mov r,cs/ss, push cs, lar, lsl,
 * verr, verw, far call and return, int n, iret) and a few privileged ones for contrast (cli,
 * mov r,cr0), each executed at ring 0 and at ring 3, with what it showed on one line:
 *
 *     R0 pushf: IF=0 IOPL=0
 *
 * Under QEMU (the hardware) and bt386 --virt=bt the lines are the same (a guest test);
 * tools/pgdemo runs it under bt386 --virt=trap-and-emulate as well and tabulates where that
 * differs (docs/pgdemo.md). IF and IOPL are read from the frame an `int` pushes (the monitor
 * builds it from the virtual CPU), since pushf is itself one of the instructions on trial. */
#include "lib/guest.h"

#define P 0x001u
#define W 0x002u
#define U 0x004u

#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS 0x28
#define SEL_LDT 0x38
#define SEL_CODE_A 0x50 /* flat code, DPL 0, accessed: LAR shows the same on every run */
#define SEL_DATA_A 0x58 /* flat data, DPL 0, accessed */

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[2][1024] __attribute__((aligned(4096)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));
static uint8_t kernel_stack[8192] __attribute__((aligned(16)));
static uint64_t ldt[2];

static struct __attribute__((packed)) {
  uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt;
  uint16_t trap, iomap_base;
  uint8_t iomap[8192 + 1];
} tss __attribute__((aligned(128)));

static int ring; /* the ring the rows being printed run at */

#define ROW(name, fmt, ...) printf("R%d " name ": " fmt, ring, ##__VA_ARGS__)

/* ---- set-up (ring 0) ---- */

static void setup(void) {
  traps_init();
  /* The PIC's lines masked: IF may be 1 without a timer interrupt arriving. */
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  for (int t = 0; t < 2; t++) {
    for (int i = 0; i < 1024; i++)
      pt[t][i] = ((uint32_t)t << 22) | ((uint32_t)i << 12) | P | W | U;
    pd[t] = (uint32_t)pt[t] | P | W | U;
  }
  __asm__ volatile("mov %0, %%cr3; mov %%cr0, %%eax; or $0x80010000, %%eax; mov %%eax, %%cr0"
                   ::"r"(pd) : "eax", "memory");
  tss.ss0 = SEL_DATA;
  tss.esp0 = (uint32_t)(kernel_stack + sizeof(kernel_stack));
  tss.iomap_base = (uint16_t)((uint32_t)tss.iomap - (uint32_t)&tss);
  memset(tss.iomap, 0xff, sizeof(tss.iomap));
  tss.iomap[0xe9 / 8] &= (uint8_t)~(1u << (0xe9 % 8)); /* the debug console */
  tss.iomap[0xf4 / 8] &= (uint8_t)~(0xfu << (0xf4 % 8)); /* isa-debug-exit */
  gdt_set(SEL_UCODE >> 3, 0, 0xfffff, 0xfa, 0xc);
  gdt_set(SEL_UDATA >> 3, 0, 0xfffff, 0xf2, 0xc);
  gdt_set(SEL_TSS >> 3, (uint32_t)&tss, sizeof(tss) - 1, 0x89, 0x0);
  gdt_set(SEL_LDT >> 3, (uint32_t)ldt, sizeof(ldt) - 1, 0x82, 0x0);
  gdt_set(SEL_CODE_A >> 3, 0, 0xfffff, 0x9b, 0xc);
  gdt_set(SEL_DATA_A >> 3, 0, 0xfffff, 0x93, 0xc);
  ldt[0] = 0xffff | (uint64_t)0x93 << 40 | (uint64_t)0xcf << 48;
  __asm__ volatile("ltr %w0; lldt %w1" ::"r"(SEL_TSS), "r"(SEL_LDT));
  /* int 0x80 from ring 3. (Not through sidt: under trap-and-emulate that names the
   * monitor's IDT.) */
  idt_gate_dpl(0x80, 3);
}

/* ---- observing ---- */

/* EFLAGS as an `int` delivers them (ring 0: int 0x40, ring 3: int 0x80), and that frame's CS. */
static uint32_t frame_cs;
static uint32_t frame_flags(void) {
  if (ring == 0)
    __asm__ volatile("int $0x40" ::: "memory");
  else
    __asm__ volatile("int $0x80" ::"a"(0) : "memory");
  trap_count = 0;
  frame_cs = last_trap.cs;
  return last_trap.eflags;
}

static const char *if_iopl(uint32_t f) {
  static char b[2][24];
  static int n;
  char *s = b[n++ & 1];
  snprintf(s, 24, "IF=%u IOPL=%u", (f >> 9) & 1, (f >> 12) & 3);
  return s;
}

/* EFLAGS through iret to ring 0: this sets IF and IOPL in every mode (under
 * trap-and-emulate the return to RPL 0 faults at ring 1 and the monitor emulates it; a frame
 * made with push %cs would hold RPL 1 there, and that iret would not trap). */
static void iret_flags(uint32_t flags) {
  __asm__ volatile("pushl %0\n\t"
                   "pushl %1\n\t"
                   "pushl $1f\n\t"
                   "iret\n"
                   "1:"
                   :: "r"(flags), "i"(SEL_CODE) : "memory", "cc");
}

/* "#GP(0018)" for an exception the last FAULTING-style run took, or NULL. */
static const char *fault_text(void) {
  static char b[24];
  if (trap_count == 0)
    return NULL;
  snprintf(b, sizeof(b), "#%s(%04x)", last_trap.vector == 13 ? "GP" : "?", last_trap.error);
  trap_count = 0;
  trap_resume = 0;
  return b;
}

/* Run `insn` with a fault resuming after it; ESI keeps ESP across it (a far return may fault
 * with its frame still pushed). */
#define TRY(insn, ...)                                                                        \
  do {                                                                                         \
    trap_count = 0;                                                                           \
    __asm__ volatile("movl $9999f, trap_resume\n\t"                                           \
                     "mov %%esp, %%esi\n\t" insn "\n"                                         \
                     "9999:\n\t"                                                              \
                     "mov %%esi, %%esp\n\t"                                                   \
                     "movl $0, trap_resume" __VA_ARGS__);                                     \
  } while (0)

uint32_t far_pushed_cs;
void far_callee(void);
__asm__(".text\n"
        "far_callee:\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl %eax, far_pushed_cs\n\t"
        "lret\n");

/* ---- the instructions ---- */

static void test_flags(void) {
  uint32_t f;
  if (ring == 0) {
    __asm__ volatile("cli");
    __asm__ volatile("pushf; pop %0" : "=r"(f));
    ROW("pushf", "%s\n", if_iopl(f));
    __asm__ volatile("push %0; popf" ::"r"(0x3202u) : "cc");
    ROW("popf", "asked IF=1 IOPL=3, got %s\n", if_iopl(frame_flags()));
    iret_flags(0x2);
    iret_flags(0x3202);
    ROW("iret", "to ring 0 asking IF=1 IOPL=3, got %s\n", if_iopl(frame_flags()));
    iret_flags(0x202);
    __asm__ volatile("cli");
    ROW("cli", "%s\n", if_iopl(frame_flags()));
    iret_flags(0x2);
    return;
  }
  __asm__ volatile("pushf; pop %0" : "=r"(f));
  ROW("pushf", "%s\n", if_iopl(f));
  __asm__ volatile("push %0; popf" ::"r"(0x3202u) : "cc");
  ROW("popf", "asked IF=1 IOPL=3, got %s\n", if_iopl(frame_flags()));
  __asm__ volatile("pushl %0\n\t"
                   "pushl %%cs\n\t"
                   "pushl $1f\n\t"
                   "iret\n"
                   "1:"
                   :: "r"(0x3202u) : "memory", "cc");
  ROW("iret", "to ring 3 asking IF=1 IOPL=3, got %s\n", if_iopl(frame_flags()));
  TRY("cli", ::: "esi", "memory");
  const char *t = fault_text();
  ROW("cli", "%s\n", t ? t : "no fault");
}

/* A table base as "ours" when it is the test's own table (lib/traps.c), so that the expected
 * rows do not depend on where the linker put it; any other base in hex. */
static const char *table_base(uint32_t base, const void *ours) {
  static char buf[2][16];
  static int n;
  char *b = buf[n++ & 1];
  if (base == (uint32_t)ours)
    return "ours";
  snprintf(b, sizeof(buf[0]), "%08x", base);
  return b;
}

static void test_tables(void) {
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } g, i;
  __asm__ volatile("sgdt %0; sidt %1" : "=m"(g), "=m"(i));
  ROW("sgdt", "base=%s limit=%04x\n", table_base(g.base, gdt_address()), g.limit);
  ROW("sidt", "base=%s limit=%04x\n", table_base(i.base, idt_address()), i.limit);
  uint16_t ldtr = 0xffff, tr = 0xffff, msw = 0xffff;
  __asm__ volatile("sldt %0; str %1; smsw %2" : "=m"(ldtr), "=m"(tr), "=m"(msw));
  ROW("sldt", "%04x\n", ldtr);
  ROW("str", "%04x\n", tr);
  ROW("smsw", "%04x\n", msw);
  uint32_t cr0 = 0;
  TRY("mov %%cr0, %%eax; mov %%eax, %0", : "=m"(cr0) : : "eax", "esi", "memory");
  const char *t = fault_text();
  if (t)
    ROW("mov r,cr0", "%s\n", t);
  else
    ROW("mov r,cr0", "%08x\n", cr0);
}

static void test_selectors(void) {
  uint32_t cs = 0, ss = 0, pushed = 0;
  __asm__ volatile("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));
  __asm__ volatile("push %%cs; pop %0" : "=r"(pushed));
  ROW("mov r,cs", "%04x\n", cs);
  ROW("mov r,ss", "%04x\n", ss);
  ROW("push cs", "%04x\n", pushed & 0xffff);
}

static void test_descriptors(void) {
  uint32_t ar = 0, limit = 0, zf;
  __asm__ volatile("xor %0, %0; lar %2, %0; setz %b1; movzbl %b1, %1"
                   : "=&r"(ar), "=&q"(zf) : "r"((uint32_t)SEL_CODE_A) : "cc");
  ROW("lar", "sel %04x: ZF=%u access=%08x\n", SEL_CODE_A, zf, ar);
  __asm__ volatile("xor %0, %0; lsl %2, %0; setz %b1; movzbl %b1, %1"
                   : "=&r"(limit), "=&q"(zf) : "r"((uint32_t)SEL_TSS) : "cc");
  ROW("lsl", "sel %04x (TSS): ZF=%u limit=%08x\n", SEL_TSS, zf, limit);
  __asm__ volatile("verr %w1; setz %b0; movzbl %b0, %0" : "=&q"(zf) : "r"(SEL_DATA_A) : "cc");
  ROW("verr", "sel %04x: ZF=%u\n", SEL_DATA_A, zf);
  __asm__ volatile("verw %w1; setz %b0; movzbl %b0, %0" : "=&q"(zf) : "r"(SEL_DATA_A) : "cc");
  ROW("verw", "sel %04x: ZF=%u\n", SEL_DATA_A, zf);
}

static void test_far(void) {
  uint32_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  cs &= 0xfffc;
  uint32_t code = ring == 0 ? SEL_CODE : SEL_UCODE;
  far_pushed_cs = 0;
  struct __attribute__((packed)) { uint32_t off; uint16_t sel; } ptr = {(uint32_t)far_callee,
                                                                          (uint16_t)code};
  __asm__ volatile("lcall *%0" ::"m"(ptr) : "eax", "memory");
  ROW("lcall", "to %04x: pushed cs=%04x\n", code, far_pushed_cs & 0xffff);
  uint32_t sel = cs | 1;
  TRY("pushl %[sel]; pushl $9999f; lret", : : [sel] "r"(sel) : "esi", "memory");
  const char *t = fault_text();
  ROW("lret", "to %04x: %s\n", sel, t ? t : "returned");
  frame_flags();
  ROW("int", "frame cs=%04x\n", frame_cs & 0xffff);
}

static void run_rows(void) {
  test_flags();
  test_tables();
  test_selectors();
  test_descriptors();
  test_far();
}

/* ---- ring 3 ---- */

/* int 0x80 with EAX=1 returns to ring 3 with IF=1 asked for in the frame (the kernel runs
 * with IF=0: the gate cleared it). Other exceptions: resume where TRY said, or stop. */
static void kernel_hook(struct trap_frame *f) {
  if (f->vector == 0x80 && f->eax == 1) {
    f->eflags |= 0x200;
    return;
  }
  if (trap_resume) {
    f->eip = trap_resume;
    trap_resume = 0;
    return;
  }
  if (f->vector >= 32)
    return;
  printf("unexpected exception %u, error code %x, at EIP %08x\n", f->vector, f->error, f->eip);
  guest_exit(0x7e);
}

static void user_main(void) {
  ring = 3;
  run_rows();
  /* Last, the kernel's iret back to ring 3 asking for IF=1 while its own IF is 0. */
  __asm__ volatile("int $0x80" ::"a"(1) : "memory");
  printf("R0 iret up: to ring 3 asking IF=1 (IF=0 in ring 0), ring 3 got %s\n",
         if_iopl(frame_flags()));
  guest_exit(0);
}

int main(void) {
  setup();
  trap_hook = kernel_hook;
  ring = 0;
  run_rows();
  /* Enter ring 3 with IF=0, as IF is here. */
  __asm__ volatile("cli\n\t"
                   "mov %0, %%ds; mov %0, %%es; mov %0, %%fs; mov %0, %%gs\n\t"
                   "push %0\n\t"
                   "push %1\n\t"
                   "push $0x002\n\t"
                   "push %2\n\t"
                   "push %3\n\t"
                   "iret"
                   :
                   : "r"(SEL_UDATA), "r"(user_stack + sizeof(user_stack)), "i"(SEL_UCODE),
                     "r"(user_main)
                   : "memory");
  return 1;
}
