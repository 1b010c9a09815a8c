/* nanobench.c - the cost of single virtualization-sensitive operations, in the spirit of
 * Adams and Agesen (ASPLOS 2006, table 2): a Multiboot kernel that times each operation with
 * rdtsc over many repetitions and prints TSC cycles per operation. Run under bt386 and QEMU by
 * tools/nanobench/run.sh. Not a test: the numbers are measurements. */
#include "lib/guest.h"

#define P 0x001u
#define W 0x002u
#define U 0x004u
#define A 0x020u
#define D 0x040u
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS 0x28
#define REPS 100000
#define FAULT_BASE 0x40000000u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pd2[1024] __attribute__((aligned(4096)));
static uint32_t pt[2][1024] __attribute__((aligned(4096)));
static uint32_t fault_pt[1024] __attribute__((aligned(4096)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));
static uint8_t kernel_stack[8192] __attribute__((aligned(16)));
static uint8_t frame[4096] __attribute__((aligned(4096)));
static uint8_t frame2[4096] __attribute__((aligned(4096)));
static struct __attribute__((packed)) {
  uint32_t link, esp0, ss0, rest[22];
  uint16_t trap, iomap_base;
} tss __attribute__((aligned(128)));

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}

static void report(const char *what, uint64_t cycles, uint32_t reps) {
  uint32_t per = (uint32_t)(cycles / reps);
  uint32_t tenths = (uint32_t)((cycles * 10 / reps) % 10);
  printf("%s: %u.%u cycles\n", what, per, tenths);
}

/* ---- operations at CPL 0 ---- */

static void __attribute__((noinline)) empty(void) { __asm__ volatile(""); }

static void bench_kernel_ops(void) {
  uint64_t t;
  t = rdtsc();
  for (int i = 0; i < REPS; i++)
    __asm__ volatile("inb $0x80, %%al" ::: "eax");
  report("in from a port", rdtsc() - t, REPS);

  t = rdtsc();
  for (int i = 0; i < REPS; i++)
    __asm__ volatile("cli; sti" ::: "memory");
  report("cli; sti", rdtsc() - t, REPS);
  __asm__ volatile("cli"); /* as it was: a BIOS may have left a timer running */

  t = rdtsc();
  for (int i = 0; i < REPS; i++)
    __asm__ volatile("pushf; popf" ::: "memory", "cc");
  report("pushf; popf", rdtsc() - t, REPS);

  t = rdtsc();
  for (int i = 0; i < REPS; i++)
    empty();
  report("call; ret", rdtsc() - t, REPS);

  uint32_t cr3 = (uint32_t)pd;
  t = rdtsc();
  for (int i = 0; i < REPS / 10; i++)
    __asm__ volatile("mov %0, %%cr3" ::"r"((i & 1) ? (uint32_t)pd2 : cr3) : "memory");
  report("mov cr3", rdtsc() - t, REPS / 10);
  __asm__ volatile("mov %0, %%cr3" ::"r"(cr3) : "memory");

  volatile uint32_t *pte = &fault_pt[0];
  t = rdtsc();
  for (int i = 0; i < REPS / 10; i++) {
    *pte = (uint32_t)frame | P | W | A | D; /* as a kernel writes its own PTEs */
    __asm__ volatile("invlpg (%0)" ::"r"(FAULT_BASE) : "memory");
    (void)*(volatile uint32_t *)FAULT_BASE;
  }
  report("PTE write + invlpg + touch", rdtsc() - t, REPS / 10);

  t = rdtsc();
  for (int i = 0; i < REPS / 10; i++) { /* a new frame each time, as copy-on-write does */
    *pte = (uint32_t)((i & 1) ? frame2 : frame) | P | W | A | D;
    __asm__ volatile("invlpg (%0)" ::"r"(FAULT_BASE) : "memory");
    (void)*(volatile uint32_t *)FAULT_BASE;
  }
  report("PTE write (new frame) + invlpg + touch", rdtsc() - t, REPS / 10);
}

/* Demand-zero faults: the handler maps the page and the access is retried. */
static uint32_t faults;
static void demand_zero(struct trap_frame *f) {
  if (f->vector == 14) {
    uint32_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    fault_pt[(cr2 >> 12) & 0x3ff] = (uint32_t)frame | P | W;
    faults++;
    return;
  }
  if (f->vector == 0) { /* #DE: skip the 2-byte div */
    f->eip += 2;
    return;
  }
  if (f->vector == 0x80) {
    f->eax = f->eax + 1;
    return;
  }
  printf("unexpected vector %u at %08x\n", f->vector, f->eip);
  guest_exit(1);
}

static void bench_faults(void) {
  uint32_t n = 1000;
  uint64_t t = rdtsc();
  for (uint32_t i = 0; i < n; i++) {
    fault_pt[i] = 0;
    __asm__ volatile("invlpg (%0)" ::"r"(FAULT_BASE + i * 4096) : "memory");
    *(volatile uint32_t *)(FAULT_BASE + i * 4096) = i;
  }
  report("page fault (demand zero)", rdtsc() - t, n);

  t = rdtsc();
  for (int i = 0; i < REPS / 10; i++)
    __asm__ volatile("xor %%edx, %%edx; mov $1, %%eax; xor %%ecx, %%ecx; div %%ecx"
                     ::: "eax", "ecx", "edx", "cc");
  report("divide error (#DE)", rdtsc() - t, REPS / 10);
}

/* ---- a system call from ring 3 ---- */

static uint64_t syscall_cycles;
static void user_main(void) {
  uint32_t v = 0;
  uint64_t t = rdtsc();
  for (int i = 0; i < REPS; i++)
    __asm__ volatile("int $0x80" : "+a"(v) : : "memory");
  syscall_cycles = rdtsc() - t;
  __asm__ volatile("int $0x81"); /* back to the kernel for good */
}

static void back_to_kernel(struct trap_frame *f);

static void enter_user_mode(void) {
  __asm__ volatile("push %0\n\tpush %1\n\tpushf\n\tpush %2\n\tpush %3\n\tiret"
                   :
                   : "r"(SEL_UDATA), "r"(user_stack + sizeof(user_stack)), "i"(SEL_UCODE),
                     "r"(user_main)
                   : "memory");
}

static void setup(void) {
  traps_init();
  outb(0x21, 0xff); /* mask every IRQ: a BIOS may have left the PIT running */
  outb(0xa1, 0xff);
  for (int t = 0; t < 2; t++) {
    for (int i = 0; i < 1024; i++)
      pt[t][i] = ((uint32_t)t << 22) | ((uint32_t)i << 12) | P | W | U;
    pd[t] = (uint32_t)pt[t] | P | W | U;
  }
  pd[FAULT_BASE >> 22] = (uint32_t)fault_pt | P | W;
  memcpy(pd2, pd, sizeof(pd));
  __asm__ volatile("mov %0, %%cr3; mov %%cr0, %%eax; or $0x80000000, %%eax; mov %%eax, %%cr0"
                   ::"r"(pd) : "eax", "memory");
  tss.ss0 = SEL_DATA;
  tss.esp0 = (uint32_t)(kernel_stack + sizeof(kernel_stack));
  tss.iomap_base = sizeof(tss);
  gdt_set(SEL_UCODE >> 3, 0, 0xfffff, 0xfa, 0xc);
  gdt_set(SEL_UDATA >> 3, 0, 0xfffff, 0xf2, 0xc);
  gdt_set(SEL_TSS >> 3, (uint32_t)&tss, sizeof(tss) - 1, 0x89, 0x0);
  __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr;
  __asm__ volatile("sidt %0" : "=m"(idtr));
  ((uint8_t *)(idtr.base + 0x80 * 8))[5] = 0xee; /* int 0x80 from ring 3 */
  trap_hook = demand_zero;
}

int main(void) {
  setup();
  bench_kernel_ops();
  bench_faults();
  trap_hook = back_to_kernel;
  enter_user_mode();
  return 1;
}

static void back_to_kernel(struct trap_frame *f) {
  if (f->vector == 0x80) {
    f->eax++;
    return;
  }
  report("syscall round trip (int 0x80)", syscall_cycles, REPS);
  printf("done\n");
  guest_exit(0);
}
