/* user.c - ring 3 under paging: entering user mode with iret, system calls through int 0x80
 * (a DPL 3 trap gate, the ring-0 stack from the TSS) and sysenter/sysexit, the TSS I/O
 * permission bitmap, page protection seen from CPL 3 (error codes with the U bit), and what
 * the sensitive-but-unprivileged instructions show at CPL 3: pushf, popf (IF and IOPL kept),
 * mov r,cs, sgdt, smsw. cli and an unpermitted out raise #GP. And two address spaces that
 * map one user address to different frames, taking turns through system calls that switch
 * CR3, one of them changing its table entry (A clear) or removing it while the other runs:
 * user code sees each space's own frame, the new one, the A bit set by its own access, and
 * #PF for the page removed. Call gates (SDM vol. 3A, 5.8.3-5.8.5): from ring 3 to ring 0 with
 * two parameter dwords copied to the TSS's ring-0 stack, at the same privilege from ring 0,
 * and #GP and #NP for a gate of too high a privilege, a JMP that would raise privilege and a
 * gate not present. */
#include "lib/guest.h"

#define P 0x001u
#define W 0x002u
#define U 0x004u

#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS 0x28

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[2][1024] __attribute__((aligned(4096)));
static uint8_t kernel_only[4096] __attribute__((aligned(4096)));
static uint8_t read_only[4096] __attribute__((aligned(4096)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));
static uint8_t kernel_stack[8192] __attribute__((aligned(16)));
static uint8_t sysenter_stack[4096] __attribute__((aligned(16)));

static struct __attribute__((packed)) {
  uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt;
  uint16_t trap, iomap_base;
  uint8_t iomap[8192 + 1];
} tss __attribute__((aligned(128)));

/* The user address both address spaces map, each to frames of its own. */
#define SHARED_LIN 0x00c00000u
static uint32_t pd2[1024] __attribute__((aligned(4096)));
static uint32_t pt_x[2][1024] __attribute__((aligned(4096)));
static uint32_t frames[3][1024] __attribute__((aligned(4096)));
static int current_space;

static void setup_spaces(void) {
  for (int i = 0; i < 3; i++)
    frames[i][0] = 0xf0f00000u + (uint32_t)i;
  memcpy(pd2, pd, sizeof(pd));
  pt_x[0][0] = (uint32_t)frames[0] | P | W | U;
  pt_x[1][0] = (uint32_t)frames[1] | P | W | U;
  pd[SHARED_LIN >> 22] = (uint32_t)pt_x[0] | P | W | U;
  pd2[SHARED_LIN >> 22] = (uint32_t)pt_x[1] | P | W | U;
}

static void set_pte_of(void *p, uint32_t flags) {
  uint32_t lin = (uint32_t)p;
  pt[lin >> 22][(lin >> 12) & 0x3ff] = (lin & ~0xfffu) | flags;
}

static void setup_paging(void) {
  for (int t = 0; t < 2; t++) {
    for (int i = 0; i < 1024; i++)
      pt[t][i] = ((uint32_t)t << 22) | ((uint32_t)i << 12) | P | W | U;
    pd[t] = (uint32_t)pt[t] | P | W | U;
  }
  set_pte_of(kernel_only, P | W);
  set_pte_of(read_only, P | U);
  __asm__ volatile("mov %0, %%cr3; mov %%cr0, %%eax; or $0x80010000, %%eax; mov %%eax, %%cr0"
                   ::"r"(pd) : "eax", "memory");
}

/* ---- call gates ---- */

#define SEL_GATE 0x30        /* DPL 3, to ring 0 with 2 parameter dwords */
#define SEL_GATE_DPL0 0x38   /* DPL 0 */
#define SEL_GATE_ABSENT 0x40 /* DPL 3, not present */

static void call_gate_set(int index, uint16_t sel, void (*target)(void), int params, int dpl,
                          int present) {
  uint32_t off = (uint32_t)target;
  gdt_set(index, sel | (uint32_t)params << 16 | (off >> 24) << 24,
          (off & 0xffff) | ((off >> 16) & 0xf) << 16,
          (uint8_t)((present ? 0x80 : 0) | dpl << 5 | 0xc), (uint8_t)((off >> 20) & 0xf));
}

/* Ring 0 through a gate: what it ran at, what the CPU pushed, and p0 * 10 + p1. */
uint32_t gate_cs, gate_ss, gate_ret_cs, gate_old_esp, gate_old_ss;
void gate_entry(void);
__asm__(".globl gate_entry\n"
        "gate_entry:\n\t"
        "xor %ecx, %ecx\n\t"
        "mov %cs, %cx\n\t"
        "mov %ecx, gate_cs\n\t"
        "mov %ss, %cx\n\t"
        "mov %ecx, gate_ss\n\t"
        "mov 4(%esp), %ecx\n\t"
        "mov %ecx, gate_ret_cs\n\t"
        "mov 16(%esp), %ecx\n\t"
        "mov %ecx, gate_old_esp\n\t"
        "mov 20(%esp), %ecx\n\t"
        "mov %ecx, gate_old_ss\n\t"
        "mov 8(%esp), %eax\n\t"
        "imul $10, %eax\n\t"
        "add 12(%esp), %eax\n\t"
        "lret $8\n");

static void setup_call_gates(void) {
  call_gate_set(SEL_GATE >> 3, SEL_CODE, gate_entry, 2, 3, 1);
  call_gate_set(SEL_GATE_DPL0 >> 3, SEL_CODE, gate_entry, 2, 0, 1);
  call_gate_set(SEL_GATE_ABSENT >> 3, SEL_CODE, gate_entry, 2, 3, 0);
}

/* lcall through gate `sel` with parameters 7 and 2; ESP before and after. */
#define GATE_CALL(sel, r, before, after)                                                     \
  __asm__ volatile("mov %%esp, %[b]\n\t"                                                   \
                   "push $2\n\t"                                                            \
                   "push $7\n\t"                                                            \
                   "lcall $" #sel ", $0\n\t"                                                \
                   "mov %%esp, %[a]"                                                       \
                   : "=a"(r), [b] "=&r"(before), [a] "=&r"(after)                          \
                   :                                                                       \
                   : "ecx", "memory")

static void kernel_call_gate(void) {
  uint32_t r, before, after;
  GATE_CALL(0x30, r, before, after);
  printf("kernel: call gate at ring 0: %u, ran at cs=%x ss=%x, return cs=%x, esp back: %s\n", r,
         gate_cs, gate_ss, gate_ret_cs, before == after ? "yes" : "no");
}

static void user_call_gates(void) {
  uint32_t r, before, after;
  GATE_CALL(0x33, r, before, after);
  printf("user: call gate to ring 0: %u, ran at cs=%x ss=%x, return cs=%x, caller's ss=%x and "
         "esp %s, esp back: %s\n", r, gate_cs, gate_ss, gate_ret_cs, gate_old_ss,
         gate_old_esp == before - 8 ? "as pushed" : "wrong", before == after ? "yes" : "no");
  FAULT_REPORT("user: call gate of DPL 0", "lcall $0x3b, $0");
  FAULT_REPORT("user: call gate not present", "lcall $0x43, $0");
  FAULT_REPORT("user: jmp through a gate to ring 0", "ljmp $0x33, $0");
}

static void setup_tss(void) {
  tss.ss0 = SEL_DATA;
  tss.esp0 = (uint32_t)(kernel_stack + sizeof(kernel_stack));
  tss.iomap_base = (uint16_t)((uint32_t)tss.iomap - (uint32_t)&tss);
  memset(tss.iomap, 0xff, sizeof(tss.iomap));
  tss.iomap[0xe9 / 8] &= (uint8_t)~(1u << (0xe9 % 8)); /* the debug console only */
  gdt_set(SEL_UCODE >> 3, 0, 0xfffff, 0xfa, 0xc);
  gdt_set(SEL_UDATA >> 3, 0, 0xfffff, 0xf2, 0xc);
  gdt_set(SEL_TSS >> 3, (uint32_t)&tss, sizeof(tss) - 1, 0x89, 0x0);
  __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
}

/* Let int 0x80 in from ring 3: make its gate DPL 3. */
static void open_syscall_gate(void) {
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr;
  __asm__ volatile("sidt %0" : "=m"(idtr));
  uint8_t *gate = (uint8_t *)(idtr.base + 0x80 * 8);
  gate[5] = 0xee;
}

/* ---- the kernel side of system calls ---- */

/* Single-step traps from user code: where each was (user_single_step). */
static uint32_t user_steps[16];
static int n_user_steps;

static void syscall_handler(struct trap_frame *f) {
  if (f->vector == 1 && n_user_steps < 16) {
    user_steps[n_user_steps++] = f->eip; /* a trap: return to the next instruction */
    return;
  }
  if (f->vector != 0x80 && trap_resume) {
    f->eip = trap_resume; /* an expected fault in user code (FAULTING) */
    trap_resume = 0;
    return;
  }
  if (f->vector != 0x80) {
    printf("kernel: unexpected vector %u error %x at %08x\n", f->vector, f->error, f->eip);
    guest_exit(1);
  }
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  switch (f->eax) {
  case 0:
    printf("kernel: exit from user mode, caller cs=%x\n", f->cs);
    guest_exit(0);
  case 1:
    printf("kernel: int 0x80 from cs=%x with ebx=%u, running at cs=%x\n", f->cs, f->ebx, cs);
    f->eax = f->ebx * 2;
    break;
  case 2: /* switch address spaces; ebx 1: first point space 1's entry at frame 2 (A clear),
           * ebx 2: first remove space 1's entry */
    if (f->ebx == 1)
      pt_x[0][0] = (uint32_t)frames[2] | P | W | U;
    else if (f->ebx == 2)
      pt_x[0][0] = 0;
    current_space ^= 1;
    __asm__ volatile("mov %0, %%cr3" ::"r"(current_space ? pd2 : pd) : "memory");
    f->eax = current_space;
    break;
  case 3: /* the A bit of space 1's entry */
    f->eax = (pt_x[0][0] >> 5) & 1;
    break;
  default:
    f->eax = (uint32_t)-1;
  }
}

uint32_t sysenter_count;
void sysenter_entry(void);
__asm__(".globl sysenter_entry\n"
        "sysenter_entry:\n\t"
        "incl sysenter_count\n\t"
        "mov %cs, %eax\n\t"
        "sysexit\n");

static void setup_sysenter(void) {
  __asm__ volatile("wrmsr" ::"c"(0x174), "a"(SEL_CODE), "d"(0));
  __asm__ volatile("wrmsr" ::"c"(0x175), "a"(sysenter_stack + sizeof(sysenter_stack)), "d"(0));
  __asm__ volatile("wrmsr" ::"c"(0x176), "a"(sysenter_entry), "d"(0));
}

/* ---- ring 3 ---- */

static uint32_t user_syscall(uint32_t nr, uint32_t arg) {
  uint32_t r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(arg) : "memory");
  return r;
}

static void two_spaces(void) {
  volatile uint32_t *x = (volatile uint32_t *)SHARED_LIN;
  uint32_t seen[6];
  seen[0] = *x;
  user_syscall(2, 0);
  seen[1] = *x;
  user_syscall(2, 0);
  seen[2] = *x;
  user_syscall(2, 0);
  seen[3] = *x;
  user_syscall(2, 1); /* back to space 1, whose entry now names frame 2 */
  uint32_t a_before = user_syscall(3, 0);
  seen[4] = *x;
  uint32_t a_after = user_syscall(3, 0);
  user_syscall(2, 0);
  seen[5] = *x;
  printf("user: spaces see %08x %08x %08x %08x, after the entry changed %08x (A %u then %u), "
         "space 2 %08x\n", seen[0], seen[1], seen[2], seen[3], seen[4], a_before, a_after,
         seen[5]);
  user_syscall(2, 2); /* back to space 1, whose entry is gone */
  struct site s;
  FAULTING(s, "movl (%[p]), %%eax", : [p] "r"(x) : "eax", "memory");
  print_trap("user: read of the page removed while the other space ran", s.start);
  user_syscall(2, 0);
}
/* TF set by popf at CPL 3: a #DB trap after each instruction from the next one on, the popf
 * that clears TF included. */
extern char us_first[], us_second[], us_clear[], us_end[];
static void user_single_step(void) {
  __asm__ volatile("pushf\n\t"
                   "orl $0x100, (%%esp)\n\t"
                   "popf\n"
                   "us_first: movl $2, %%eax\n"
                   "us_second: addl %%eax, %%eax\n\t"
                   "pushf\n\t"
                   "andl $~0x100, (%%esp)\n"
                   "us_clear: popf\n"
                   "us_end: nop"
                   ::: "eax", "memory", "cc");
  int n = n_user_steps;
  printf("user: %d single-step traps:", n);
  for (int i = 0; i < n; i++)
    printf(" %s", user_steps[i] == (uint32_t)us_second ? "second"
                  : user_steps[i] == (uint32_t)us_clear ? "clear"
                  : user_steps[i] == (uint32_t)us_end   ? "end"
                                                         : "other");
  printf("\n");
}


static void user_main(void) {
  uint16_t cs, ss;
  __asm__ volatile("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));
  printf("user: cs=%x ss=%x\n", cs, ss);

  uint32_t f = read_eflags();
  printf("user: pushf shows IF=%u IOPL=%u\n", (f >> 9) & 1, (f >> 12) & 3);
  __asm__ volatile("pushf; orl $0x3200, (%%esp); popf" ::: "memory", "cc");
  f = read_eflags();
  printf("user: after popf asking for IF=1 IOPL=3: IF=%u IOPL=%u\n", (f >> 9) & 1, (f >> 12) & 3);

  struct site s;
  FAULTING(s, "cli");
  print_trap("user: cli", s.start);
  FAULTING(s, "outb %%al, $0x80", : "a"(0));
  print_trap("user: out to a port the bitmap denies", s.start);
  FAULTING(s, "movl (%[p]), %%eax", : [p] "r"(kernel_only) : "eax", "memory");
  print_trap("user: read of a supervisor page", s.start);
  FAULTING(s, "movl $1, (%[p])", : [p] "r"(read_only) : "memory");
  print_trap("user: write to a read-only page", s.start);
  printf("user: read-only page reads %u\n", *(volatile uint32_t *)read_only);

  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr;
  uint32_t msw = 0;
  __asm__ volatile("sgdt %0; smsw %1" : "=m"(gdtr), "=r"(msw));
  printf("user: sgdt limit %x, smsw %x\n", gdtr.limit, msw & 0xffff);

  printf("user: int 0x80 returned %u\n", user_syscall(1, 21));

  uint32_t kcs;
  __asm__ volatile("mov %%esp, %%ecx\n\t"
                   "lea 1f, %%edx\n\t"
                   "sysenter\n"
                   "1:"
                   : "=a"(kcs)
                   :
                   : "ecx", "edx", "memory");
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  printf("user: sysenter ran at cs=%x (%u entries), back at cs=%x\n", kcs, sysenter_count, cs);
  two_spaces();
  user_call_gates();
  user_single_step();
  user_syscall(0, 0);
}

static void enter_user_mode(void) {
  __asm__ volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%fs; mov %0, %%gs\n\t"
                   "push %0\n\t"
                   "push %1\n\t"
                   "pushf\n\t"
                   "push %2\n\t"
                   "push %3\n\t"
                   "iret"
                   :
                   : "r"(SEL_UDATA), "r"(user_stack + sizeof(user_stack)), "i"(SEL_UCODE),
                     "r"(user_main)
                   : "memory");
}

int main(void) {
  traps_init();
  setup_paging();
  setup_spaces();
  setup_tss();
  open_syscall_gate();
  setup_sysenter();
  setup_call_gates();
  kernel_call_gate();
  trap_hook = syscall_handler;
  printf("kernel: entering ring 3\n");
  enter_user_mode();
  return 1;
}
