/* traps.c - a GDT of the test kernels' own and an IDT whose handlers record each exception
 * (vector, error code, EIP) and resume where the test asked (see guest.h). With the GDT
 * loaded, selectors are the same under every loader (QEMU's Multiboot uses other ones). */
#include "guest.h"

#define GDT_ENTRIES 16
#define IDT_ENTRIES 256

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));
static uint64_t idt[IDT_ENTRIES] __attribute__((aligned(8)));

const void *gdt_address(void) { return gdt; }
const void *idt_address(void) { return idt; }
uint16_t kernel_ds; /* read by isr.S through CS */

volatile struct trap_record last_trap;
volatile uint32_t trap_resume;
volatile int trap_count;
void (*volatile trap_hook)(struct trap_frame *f);

struct isr_entry {
  uint32_t vector;
  void (*stub)(void);
};
extern const struct isr_entry isr_table[];

void gdt_set(int index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
  gdt[index] = (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
               (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
               (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

void gdt_init(void) {
  gdt[0] = 0;
  gdt_set(SEL_CODE >> 3, 0, 0xfffff, 0x9a, 0xc);
  gdt_set(SEL_DATA >> 3, 0, 0xfffff, 0x92, 0xc);
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } d = {sizeof(gdt) - 1,
                                                                          (uint32_t)gdt};
  __asm__ volatile("lgdt %0\n\t"
                   "ljmp %1, $1f\n"
                   "1:\n\t"
                   "mov %2, %%ds\n\t"
                   "mov %2, %%es\n\t"
                   "mov %2, %%fs\n\t"
                   "mov %2, %%gs\n\t"
                   "mov %2, %%ss"
                   :
                   : "m"(d), "i"(SEL_CODE), "r"(SEL_DATA)
                   : "memory");
  kernel_ds = SEL_DATA;
}

static void idt_set(int vector, void (*stub)(void), uint16_t cs) {
  uint32_t off = (uint32_t)stub;
  idt[vector] = (uint64_t)(off & 0xffff) | (uint64_t)cs << 16 | (uint64_t)0x8e << 40 |
                (uint64_t)(off >> 16) << 48;
}

void idt_init(void) {
  uint16_t cs, ds;
  __asm__ volatile("mov %%cs, %0; mov %%ds, %1" : "=r"(cs), "=r"(ds));
  kernel_ds = ds;
  for (const struct isr_entry *e = isr_table; e->vector != 0xffffffffu; e++)
    idt_set((int)e->vector, e->stub, cs);
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } d = {sizeof(idt) - 1,
                                                                          (uint32_t)idt};
  __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

void idt_gate_dpl(int vector, int dpl) {
  idt[vector] = (idt[vector] & ~(3ull << 45)) | (uint64_t)(dpl & 3) << 45;
}

void idt_task_gate(int vector, uint16_t tss_sel) {
  idt[vector] = (uint64_t)tss_sel << 16 | (uint64_t)0x85 << 40;
}

void idt_gate_absent(int vector) { idt[vector] &= ~(1ull << 47); }

void idt_gate_at(int vector, uint16_t cs, uint32_t offset) {
  idt_set(vector, (void (*)(void))offset, cs);
}

void idt_gate_access(int vector, uint8_t access) {
  idt[vector] = (idt[vector] & ~(0xffull << 40)) | (uint64_t)access << 40;
}

void far_call(uint32_t offset, uint16_t sel) {
  struct far_ptr target = {offset, sel};
  __asm__ volatile("lcall *%0" : : "m"(target) : "eax", "ecx", "edx", "memory", "cc");
}

uint32_t dr6_take(void) {
  uint32_t dr6;
  __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
  __asm__ volatile("mov %0, %%dr6" ::"r"(0));
  return dr6;
}

void traps_init(void) {
  gdt_init();
  idt_init();
}

/* Exceptions whose saved EIP is the next instruction: returning simply goes on. */
static int is_trap(uint32_t vector) { return vector == 1 || vector == 3 || vector == 4 || vector >= 32; }

void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f) {
  last_trap.vector = f->vector;
  last_trap.error = f->error;
  last_trap.eip = f->eip;
  last_trap.cs = f->cs;
  last_trap.eflags = f->eflags;
  trap_count++;
  if (trap_hook) {
    trap_hook(f);
    return;
  }
  if (trap_resume) {
    f->eip = trap_resume;
    trap_resume = 0;
    return;
  }
  if (is_trap(f->vector))
    return;
  printf("unexpected exception %u, error code %x, at EIP %08x\n", f->vector, f->error, f->eip);
  guest_exit(0x7e);
}

void print_trap(const char *what, uint32_t expected_eip) {
  if (trap_count == 0)
    printf("%s: no exception\n", what);
  else
    printf("%s: %d exception(s), last vector %u error %x at eip %08x%s\n", what, trap_count,
           last_trap.vector, last_trap.error, last_trap.eip,
           last_trap.eip == expected_eip ? "" : " (not the expected EIP)");
  trap_count = 0;
  trap_resume = 0;
}
