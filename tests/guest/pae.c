/* pae.c - PAE paging as the SDM describes it (vol. 3, 4.4): four PDPTEs, 64-bit directory and
 * table entries, 2 MiB pages, accessed and dirty bits set in the low dword and nothing else
 * changed, page-fault error codes (the RSVD bit for reserved bits: bit 63 without NX, bits
 * 62:36 above MAXPHYADDR, bits 20:13 of a 2 MiB page), CR0.WP, invlpg, CR3 switches, global
 * pages and their flush by toggling CR4.PGE, and a switch from PAE to 32-bit paging and back
 * with paging off in between.
 *
 * Built with -DSDM_ONLY it tests what QEMU 7.2 does differently from the SDM, against
 * pae_sdm.expected: the error code of a reserved-bit fault (QEMU leaves out P, which the SDM
 * says is always set with RSVD, as Linux's "error_code(0x0009) - reserved bit violation"
 * reports show), PDPTEs never getting an A bit (QEMU sets bit 5, reserved there), PDPTEs with
 * reserved bits making mov cr3 raise #GP(0), and the PDPTEs being the ones loaded with CR3. */
#include "lib/guest.h"

#define P 0x001ull
#define W 0x002ull
#define U 0x004ull
#define A 0x020ull
#define D 0x040ull
#define PS 0x080ull
#define G 0x100ull
#define AVL 0xe00ull /* bits 11:9, the software's own */
#define XD (1ull << 63)

#define CR0_WP 0x10000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define CR4_PGE 0x80u

#define FRAMES 0x00800000u     /* physical frames for the tests: 8 MiB up */
#define TEST_BASE 0x40000000u  /* 4 KiB pages: PDPTE 1, its directory's entry 0 */
#define BIG_BASE 0x80000000u   /* 2 MiB pages: PDPTE 2 */

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pdpt_b[4] __attribute__((aligned(32)));
static uint64_t low_pd[512] __attribute__((aligned(4096)));
static uint64_t low_pt[512] __attribute__((aligned(4096)));
static uint64_t test_pd[512] __attribute__((aligned(4096)));
static uint64_t test_pt[512] __attribute__((aligned(4096)));
static uint64_t big_pd[512] __attribute__((aligned(4096)));
static uint32_t next_frame = FRAMES;

static uint32_t frame(void) {
  uint32_t f = next_frame;
  next_frame += 4096;
  memset((void *)f, 0, 4096); /* identity-mapped below 16 MiB */
  return f;
}

static uint64_t *pte_of(uint32_t lin) { return &test_pt[(lin >> 12) & 0x1ff]; }

/* Table writes reach memory before the accesses they govern, and the CPU's A and D updates
 * are read after the accesses that made them: the compiler does not know the MMU. */
static void set_entry(uint64_t *e, uint64_t v) {
  ((volatile uint32_t *)e)[1] = (uint32_t)(v >> 32);
  ((volatile uint32_t *)e)[0] = (uint32_t)v;
  __asm__ volatile("" ::: "memory");
}

static uint64_t get_entry(const uint64_t *e) {
  __asm__ volatile("" ::: "memory");
  return (uint64_t)((volatile const uint32_t *)e)[1] << 32 | ((volatile const uint32_t *)e)[0];
}

static void print_entry(const char *what, const uint64_t *e) {
  uint64_t v = get_entry(e);
  printf("%s: %08x_%08x (%s %s)\n", what, (uint32_t)(v >> 32), (uint32_t)v, v & A ? "A" : "-",
         v & D ? "D" : "-");
}


static uint32_t cpuid1_edx(void) {
  uint32_t a = 1, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return d;
}

/* The first 2 MiB in 4 KiB pages, 2-16 MiB in 2 MiB pages: the test's code and data, the
 * tables and the frames, all at their physical addresses. */
static void enable_pae_paging(void) {
  for (uint32_t i = 0; i < 512; i++)
    low_pt[i] = (uint64_t)i << 12 | P | W;
  low_pd[0] = (uint32_t)low_pt | P | W;
  for (uint32_t i = 1; i < 8; i++)
    low_pd[i] = (uint64_t)i << 21 | P | W | PS;
  test_pd[0] = (uint32_t)test_pt | P | W;
  pdpt[0] = (uint32_t)low_pd | P;
  pdpt[1] = (uint32_t)test_pd | P;
  pdpt[2] = (uint32_t)big_pd | P;
  write_cr3((uint32_t)pdpt);
  write_cr4(CR4_PAE);
  write_cr0(read_cr0() | CR0_PG);
  printf("CPUID.1:EDX.PAE %u, PAE paging on\n", (cpuid1_edx() >> 6) & 1);
  printf("pde of the low 2 MiB: flags %03x\n", (uint32_t)get_entry(&low_pd[0]) & 0xfff);
  print_entry("pde of a 2 MiB page in use", &low_pd[1]);
}

/* A task switch to a task with another CR3 loads that address space's PDPTEs; the IRET back
 * loads the first task's (CR3 is not saved in the old TSS, so it is set there beforehand). */
struct tss {
  uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt, iomap;
} __attribute__((packed));

static struct tss tss_a, tss_b __attribute__((aligned(128)));
static uint8_t task_b_stack[4096] __attribute__((aligned(16)));
static volatile uint32_t task_b_saw, task_b_cr3;

static void task_b(void) {
  for (;;) {
    task_b_saw = *(volatile uint32_t *)(TEST_BASE + 0x6000);
    task_b_cr3 = read_cr3();
    __asm__ volatile("iret");
  }
}

static void tss_init(struct tss *t, void (*entry)(void), uint32_t cr3) {
  memset(t, 0, sizeof(*t));
  t->cr3 = cr3;
  t->eip = (uint32_t)entry;
  t->eflags = 0x2;
  t->esp = (uint32_t)(task_b_stack + sizeof task_b_stack);
  t->cs = SEL_CODE;
  t->ss = t->ds = t->es = t->fs = t->gs = SEL_DATA;
  t->iomap = (uint32_t)sizeof(*t) << 16;
}

#ifdef SDM_ONLY
/* What the last exception was, and whether it came from the instruction at expected. */
static void print_fault(const char *what, uint32_t expected) {
  if (trap_count == 0)
    printf("%s: no exception\n", what);
  else
    printf("%s: vector %u error %x, at the faulting instruction %s\n", what, last_trap.vector,
           last_trap.error, last_trap.eip == expected ? "yes" : "no");
  trap_count = 0;
  trap_resume = 0;
}

/* A present entry with a reserved bit set faults with P and RSVD in the error code, for a read
 * or a write, and gets no A bit; a not-present one is not looked at further. */
static void reserved_bits(void) {
  uint32_t lin = TEST_BASE + 0x3000, f = frame();
  struct site s;
  const struct {
    const char *what;
    uint64_t pte;
  } cases[] = {
      {"pte with bit 63 (XD, no NX)", f | P | W | XD},
      {"pte with bit 40 (above MAXPHYADDR)", f | P | W | 1ull << 40},
      {"pte with bit 36", f | P | W | 1ull << 36},
      {"not-present pte with bit 63", f | XD},
  };
  char what[80];
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    set_entry(pte_of(lin), cases[i].pte);
    invlpg(lin);
    FAULTING(s, "movl (%[p]), %%eax", : [p] "r"(lin) : "eax", "memory");
    snprintf(what, sizeof what, "%s, read", cases[i].what);
    print_fault(what, s.start);
    FAULTING(s, "movl $1, (%[p])", : [p] "r"(lin) : "memory");
    snprintf(what, sizeof what, "%s, write", cases[i].what);
    print_fault(what, s.start);
    printf("cr2=%08x\n", read_cr2());
    print_entry("  entry afterwards", pte_of(lin));
  }
  set_entry(&big_pd[3], (FRAMES + 0x600000) | P | W | PS | 1u << 13);
  FAULTING(s, "movl (%[p]), %%eax", : [p] "r"(BIG_BASE + 0x600000) : "eax", "memory");
  print_fault("2 MiB pde with bit 13 set, read", s.start);
  printf("cr2=%08x\n", read_cr2());
  set_entry(&big_pd[3], 0);
  set_entry(pte_of(lin), f | P | W);
  invlpg(lin);
}

/* A PDPTE with a reserved bit set makes the mov to CR3 that would load it raise #GP(0), and
 * CR3 keeps its value; a PDPTE changed in memory is not used until CR3 is loaded again. */
static void pdptes(void) {
  printf("pdpte 0 after use: flags %03x\n", (uint32_t)get_entry(&pdpt[0]) & 0xfff);
  memcpy(pdpt_b, pdpt, sizeof pdpt);
  struct site s;
  const uint64_t bad[] = {1ull << 1, 1ull << 5, 1ull << 8, 1ull << 36, XD};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pdpt_b[3] = (uint32_t)big_pd | P | bad[i];
    FAULTING(s, "mov %[v], %%cr3", : [v] "r"((uint32_t)pdpt_b) : "memory");
    char what[80];
    snprintf(what, sizeof what, "mov cr3, pdpte 3 with bit %u", 63 - __builtin_clzll(bad[i]));
    print_fault(what, s.start);
    printf("cr3 is the old one: %s\n", read_cr3() == (uint32_t)pdpt ? "yes" : "no");
  }
  pdpt_b[3] = (uint32_t)big_pd; /* not present: its reserved bits are not looked at */
  pdpt_b[3] |= 1ull << 5;
  write_cr3((uint32_t)pdpt_b);
  printf("a not-present pdpte with bit 5 set loads: cr3 %s\n",
         read_cr3() == (uint32_t)pdpt_b ? "changed" : "unchanged");
  /* pdpt_b[2] maps BIG_BASE; take it away in memory only. */
  uint32_t probe = BIG_BASE + 0x1234;
  set_entry(&big_pd[0], (FRAMES + 0x200000) | P | W | PS);
  *(volatile uint32_t *)(FRAMES + 0x200000 + 0x1234) = 0x2b2b2b2b;
  set_entry(&pdpt_b[2], 0);
  invlpg(probe);
  struct site t;
  uint32_t v = 0;
  FAULTING(t, "movl (%[p]), %[v]", , [v] "=r"(v) : [p] "r"(probe) : "memory");
  print_fault("pdpte 2 cleared in memory, page flushed, read", t.start);
  printf("read %08x\n", v);
  write_cr3((uint32_t)pdpt_b);
  FAULTING(t, "movl (%[p]), %[v]", , [v] "=r"(v) : [p] "r"(probe) : "memory");
  print_fault("after mov cr3, read", t.start);
  printf("cr2=%08x\n", read_cr2());
  write_cr3((uint32_t)pdpt);
}

static void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t)hi << 32 | lo;
}

/* mov $imm, %eax; ret */
static void put_function(uint32_t frame_pa, uint32_t value) {
  volatile uint8_t *at = (volatile uint8_t *)frame_pa;
  at[0] = 0xb8;
  for (int i = 0; i < 4; i++)
    at[1 + i] = (uint8_t)(value >> (8 * i));
  at[5] = 0xc3;
}

/* Call the function at lin, the same indirect call site each time (bt386 caches its targets). */
static uint32_t call_at(uint32_t lin) {
  uint32_t (*volatile fn)(void) = (uint32_t(*)(void))lin;
  return fn();
}

/* A fetch fault at the target comes after the call has pushed its return address (the fault
 * is at the target's EIP), so ESP is put back after the call either way. */
static void call_and_report(const char *what, uint32_t lin) {
  uint32_t got = 0;
  __asm__ volatile("movl $1f, trap_resume\n\t"
                   "movl %%esp, %%esi\n\t"
                   "call *%[lin]\n"
                   "1: movl %%esi, %%esp"
                   : "=a"(got)
                   : [lin] "r"(lin)
                   : "ecx", "edx", "esi", "memory");
  if (trap_count)
    print_fault(what, lin);
  else
    printf("%s: returned %x\n", what, got);
  trap_count = 0;
  trap_resume = 0;
}

/* Execute-disable (4.6): with IA32_EFER.NXE, bit 63 of a PAE entry at either level forbids
 * instruction fetches from the page (#PF with P and I/D), not reads; every fetch fault then
 * has I/D in its error code. Translations made while a page could be executed do not outlive
 * an XD bit and its invlpg. */
static void execute_disable(void) {
  uint32_t e = 0, d = 0, b, c;
  e = 0x80000001;
  __asm__ volatile("cpuid" : "+a"(e), "=b"(b), "=c"(c), "=d"(d));
  printf("CPUID.80000001H:EDX.NX %u\n", (d >> 20) & 1);
  uint32_t code = TEST_BASE + 0x8000, f = frame();
  put_function(f, 0x1234);
  set_entry(pte_of(code), f | P | W);
  invlpg(code);
  call_and_report("NXE clear, XD clear: call", code);
  set_entry(pte_of(code), f | P | W | XD);
  invlpg(code);
  call_and_report("NXE clear, XD set: call", code);
  printf("cr2=%08x\n", read_cr2());
  wrmsr(0xc0000080, 0x800);
  printf("EFER after setting NXE: %x\n", (uint32_t)rdmsr(0xc0000080));
  call_and_report("NXE set, XD set: call", code);
  printf("cr2=%08x, a read of the page: %08x\n", read_cr2(), *(volatile uint32_t *)code);
  set_entry(pte_of(code), f | P | W);
  invlpg(code);
  call_and_report("XD cleared, invlpg: call", code);
  call_and_report("and again", code);
  set_entry(pte_of(code), f | P | W | XD);
  invlpg(code);
  call_and_report("XD set again, invlpg: call", code);
  set_entry(pte_of(code), f | W);
  invlpg(code);
  call_and_report("not present: call", code);
  set_entry(pte_of(code), f | P | W);
  invlpg(code);
  /* XD in the directory entry covers the 2 MiB its table maps. */
  set_entry(&test_pd[0], get_entry(&test_pd[0]) | XD);
  write_cr3((uint32_t)pdpt);
  call_and_report("XD in the pde: call", code);
  set_entry(&test_pd[0], get_entry(&test_pd[0]) & ~XD);
  write_cr3((uint32_t)pdpt);
  call_and_report("pde XD cleared, mov cr3: call", code);
  printf("call through a pointer: %x\n", call_at(code));
  /* A 2 MiB page with XD. */
  put_function(FRAMES + 0x600000 + 0x40, 0x5678);
  set_entry(&big_pd[3], (FRAMES + 0x600000) | P | W | PS | XD);
  invlpg(BIG_BASE + 0x600000);
  call_and_report("2 MiB page with XD: call", BIG_BASE + 0x600040);
  struct site s;
  FAULTING(s, "wrmsr", : "c"(0xc0000080), "a"(0x801), "d"(0));
  print_fault("wrmsr EFER with SCE (no SYSCALL here)", s.start);
  FAULTING(s, "wrmsr", : "c"(0x277), "a"(0x00000002), "d"(0));
  print_fault("wrmsr IA32_PAT with entry 0 = 2 (reserved)", s.start);
  wrmsr(0xc0000080, 0);
  set_entry(pte_of(code), f | P | W | XD);
  invlpg(code);
  uint32_t v = 0;
  FAULTING(s, "movl (%[p]), %[v]", , [v] "=r"(v) : [p] "r"(code) : "memory");
  print_fault("NXE clear again: a read of a page with XD", s.start);
  set_entry(pte_of(code), f | P | W);
  invlpg(code);
  /* A task switch to a task whose PDPT has a reserved bit set: #GP(0) before the switch,
   * in the old task (TR and CR3 unchanged), as a mov to CR3 would. */
  static uint64_t bad_pdpt[4] __attribute__((aligned(32)));
  memcpy(bad_pdpt, pdpt, sizeof bad_pdpt);
  bad_pdpt[3] = (uint32_t)big_pd | P | 1ull << 2;
  tss_init(&tss_a, 0, (uint32_t)pdpt);
  tss_init(&tss_b, task_b, (uint32_t)bad_pdpt);
  gdt_set(3, (uint32_t)&tss_a, sizeof(struct tss) - 1, 0x89, 0);
  gdt_set(4, (uint32_t)&tss_b, sizeof(struct tss) - 1, 0x89, 0);
  __asm__ volatile("ltr %w0" ::"r"(0x18));
  FAULTING(s, "lcall $0x20, $0", : : "eax", "ecx", "edx", "memory");
  print_fault("task switch to a PDPT with bit 2 set", s.start);
  uint16_t tr;
  __asm__ volatile("str %0" : "=r"(tr));
  printf("tr %x, cr3 is the old one: %s, task B ran: %s\n", tr,
         read_cr3() == (uint32_t)pdpt ? "yes" : "no", task_b_cr3 ? "yes" : "no");
  /* A page table past RAM: unassigned memory reads as all ones on a PC, an entry that is
   * present with reserved bits set. */
  set_entry(&big_pd[4], 0x20000000u | P | W);
  FAULTING(s, "movl (%[p]), %[v]", , [v] "=r"(v) : [p] "r"(BIG_BASE + 0x800000) : "memory");
  print_fault("a page table past RAM (all ones), read", s.start);
  set_entry(&big_pd[4], 0);
}

/* A direct call to 0x4000e000 (the global page below). */
__attribute__((noinline)) static void direct_call_report(const char *what) {
  uint32_t got = 0;
  __asm__ volatile("movl $1f, trap_resume\n\t"
                   "movl %%esp, %%esi\n\t"
                   "call 0x4000e000\n"
                   "1: movl %%esi, %%esp"
                   : "=a"(got)
                   :
                   : "ecx", "edx", "esi", "memory");
  if (trap_count)
    print_fault(what, 0x4000e000);
  else
    printf("%s: returned %x\n", what, got);
  trap_count = 0;
  trap_resume = 0;
}

/* Execute-disable after invlpg, where translations could outlive it: a PTE that gains XD with
 * A and D kept (as Linux's set_memory_nx writes it; the views keep such an entry for data), an
 * instruction that runs into a page that becomes XD or not present, a direct call chained into
 * a global page, and code that makes its own page XD (INVLPG serializes: the next instruction
 * faults). */
static void nx_after_invlpg(void) {
  wrmsr(0xc0000080, 0x800);
  uint32_t c1 = TEST_BASE + 0xb800, f1 = frame();
  put_function(f1 + 0x800, 0x1111);
  set_entry(pte_of(c1), f1 | P | W | A | D);
  invlpg(c1);
  printf("kept A/D: a read %08x\n", *(volatile uint32_t *)c1);
  call_and_report("kept A/D: call", c1);
  call_and_report("kept A/D: again", c1);
  set_entry(pte_of(c1), f1 | P | W | A | D | XD);
  invlpg(c1);
  call_and_report("kept A/D: XD set, invlpg: call", c1);
  printf("cr2=%08x\n", read_cr2());
  /* mov eax, 0x22 across the page boundary, then ret. */
  uint32_t c2 = TEST_BASE + 0xc000, f2a = frame(), f2b = frame();
  set_entry(pte_of(c2), f2a | P | W);
  set_entry(pte_of(c2 + 0x1000), f2b | P | W);
  invlpg(c2);
  invlpg(c2 + 0x1000);
  volatile uint8_t *a = (volatile uint8_t *)f2a, *b = (volatile uint8_t *)f2b;
  a[0xffe] = 0xb8;
  a[0xfff] = 0x22;
  b[0] = 0x22;
  b[1] = 0;
  b[2] = 0;
  b[3] = 0xc3;
  call_and_report("across a page: call", c2 + 0xffe);
  call_and_report("across a page: again", c2 + 0xffe);
  set_entry(pte_of(c2 + 0x1000), f2b | P | W | XD);
  invlpg(c2 + 0x1000);
  call_and_report("across a page: second page XD, invlpg: call", c2 + 0xffe);
  printf("cr2=%08x eip=%08x\n", read_cr2(), last_trap.eip);
  set_entry(pte_of(c2 + 0x1000), f2b | W);
  invlpg(c2 + 0x1000);
  call_and_report("across a page: second page not present, invlpg: call", c2 + 0xffe);
  printf("cr2=%08x\n", read_cr2());
  write_cr4(CR4_PAE | CR4_PGE);
  uint32_t c3 = TEST_BASE + 0xe000, f3 = frame();
  put_function(f3, 0x3333);
  set_entry(pte_of(c3), f3 | P | W | A | D | G);
  invlpg(c3);
  printf("global: a read %08x\n", *(volatile uint32_t *)c3);
  direct_call_report("global: direct call");
  direct_call_report("global: again");
  direct_call_report("global: again");
  set_entry(pte_of(c3), f3 | P | W | A | D | G | XD);
  invlpg(c3);
  direct_call_report("global: XD set, invlpg: direct call");
  printf("cr2=%08x\n", read_cr2());
  /* mov [edx], ecx (XD into the PTE's high dword); invlpg [eax]; mov eax, 0x4444; ret */
  uint32_t c4 = TEST_BASE + 0xf000, f4 = frame();
  volatile uint8_t *q = (volatile uint8_t *)f4;
  const uint8_t code4[] = {0x89, 0x0a, 0x0f, 0x01, 0x38, 0xb8, 0x44, 0x44, 0, 0, 0xc3};
  for (unsigned i = 0; i < sizeof code4; i++) q[i] = code4[i];
  set_entry(pte_of(c4), f4 | P | W | A | D);
  invlpg(c4);
  uint32_t got = 0;
  __asm__ volatile("movl $1f, trap_resume\n\t"
                   "movl %%esp, %%esi\n\t"
                   "call *%%eax\n"
                   "1: movl %%esi, %%esp"
                   : "=a"(got)
                   : "a"(c4), "c"(0x80000000u), "d"((uint32_t)pte_of(c4) + 4)
                   : "esi", "memory");
  if (trap_count)
    print_fault("own page made XD, invlpg", c4 + 5);
  else
    printf("own page made XD, invlpg: returned %x\n", got);
  write_cr4(CR4_PAE);
  wrmsr(0xc0000080, 0);
}

#else
static uint64_t test_pd_b[512] __attribute__((aligned(4096)));
static uint64_t test_pt_b[512] __attribute__((aligned(4096)));
static uint32_t legacy_pd[1024] __attribute__((aligned(4096)));

static void accessed_dirty(void) {
  uint32_t lin = TEST_BASE;
  set_entry(pte_of(lin), frame() | P | W | AVL);
  print_entry("fresh pte", pte_of(lin));
  volatile uint32_t *p = (volatile uint32_t *)lin;
  (void)*p;
  print_entry("after a read", pte_of(lin));
  *p = 7;
  print_entry("after a write", pte_of(lin));
  print_entry("its pde", &test_pd[0]);
  set_entry(pte_of(lin), get_entry(pte_of(lin)) & ~(A | D));
  invlpg(lin);
  *p = 8;
  print_entry("cleared, flushed, written", pte_of(lin));
}

/* Demand paging: the #PF handler maps a fresh frame and the access is retried. */
static int demand_faults;
static void demand_pager(struct trap_frame *f) {
  if (f->vector != 14) {
    printf("unexpected vector %u at %08x\n", f->vector, f->eip);
    guest_exit(1);
  }
  uint32_t cr2 = read_cr2();
  printf("#PF cr2=%08x error=%x -> map a frame\n", cr2, f->error);
  set_entry(pte_of(cr2), frame() | P | W);
  demand_faults++;
}

static void demand_paging(void) {
  trap_hook = demand_pager;
  volatile uint32_t *w = (volatile uint32_t *)(TEST_BASE + 0x1000);
  volatile uint32_t *r = (volatile uint32_t *)(TEST_BASE + 0x1ff000);
  *w = 0x12345678;
  uint32_t v = *r;
  printf("demand: wrote %08x, read fresh %08x, faults %d\n", *w, v, demand_faults);
  trap_hook = 0;
}

static void write_protect(void) {
  uint32_t lin = TEST_BASE + 0x2000;
  set_entry(pte_of(lin), frame() | P); /* read-only */
  volatile uint32_t *p = (volatile uint32_t *)lin;
  *p = 1; /* CR0.WP clear: supervisor writes ignore R/W */
  printf("WP=0 write to a read-only page: %u\n", *p);
  write_cr0(read_cr0() | CR0_WP);
  struct site s;
  FAULTING(s, "movl $2, (%[p])", : [p] "r"(p) : "memory");
  print_trap("WP=1 write to a read-only page", s.start);
  printf("cr2=%08x value still %u\n", read_cr2(), *p);
  write_cr0(read_cr0() & ~CR0_WP);
}

static void large_pages(void) {
  uint32_t big = BIG_BASE;
  *(volatile uint32_t *)(FRAMES + 0x200000 + 0x1234) = 0x2b2b2b2b;
  set_entry(&big_pd[0], (FRAMES + 0x200000) | P | W | PS);
  volatile uint32_t *p = (volatile uint32_t *)(big + 0x1234);
  uint32_t seen = *p;
  printf("2 MiB page reads %08x\n", seen);
  print_entry("its pde", &big_pd[0]);
  *p = 0x4444;
  print_entry("after a write", &big_pd[0]);
  printf("the frame holds %08x; the page's last word is at %08x\n",
         *(volatile uint32_t *)(FRAMES + 0x200000 + 0x1234),
         (uint32_t)(uintptr_t)(big + 0x1ffffc));
  /* Another 2 MiB page next to it, and a 4 KiB table behind the third. */
  set_entry(&big_pd[1], (FRAMES + 0x400000) | P | W | PS);
  *(volatile uint32_t *)(big + 0x200000) = 0x5555;
  printf("second 2 MiB page: frame holds %08x\n", *(volatile uint32_t *)(FRAMES + 0x400000));
}

static void address_spaces(void) {
  uint32_t lin = TEST_BASE + 0x6000;
  uint32_t f1 = frame(), f2 = frame();
  *(volatile uint32_t *)f1 = 0x11111111;
  *(volatile uint32_t *)f2 = 0x22222222;
  memcpy(pdpt_b, pdpt, sizeof pdpt);
  memcpy(test_pd_b, test_pd, sizeof test_pd);
  memcpy(test_pt_b, test_pt, sizeof test_pt);
  pdpt_b[1] = (uint32_t)test_pd_b | P;
  test_pd_b[0] = (uint32_t)test_pt_b | P | W;
  set_entry(pte_of(lin), f1 | P | W);
  set_entry(&test_pt_b[(lin >> 12) & 0x1ff], f2 | P | W);
  write_cr3((uint32_t)pdpt);
  uint32_t in1 = *(volatile uint32_t *)lin;
  write_cr3((uint32_t)pdpt_b);
  uint32_t in2 = *(volatile uint32_t *)lin;
  *(volatile uint32_t *)lin = 0x33333333;
  write_cr3((uint32_t)pdpt);
  printf("address space 1 sees %08x, 2 sees %08x, 1 again %08x, frame 2 now %08x\n", in1, in2,
         *(volatile uint32_t *)lin, *(volatile uint32_t *)f2);
}

/* With PAT (CPUID.1:EDX[16]), bit 7 of a PTE and bit 12 of a 2 MiB page's PDE pick a PAT
 * entry instead of being reserved; IA32_PAT starts as the SDM's power-up value. A frame past
 * RAM behind a read-only PTE is still read-only (CR0.WP), and gets A but not D from a read. */
static void pat_and_unassigned(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x277));
  printf("CPUID.1:EDX.PAT %u, IA32_PAT %08x_%08x\n", (cpuid1_edx() >> 16) & 1, hi, lo);
  uint32_t lin = TEST_BASE + 0x9000, f = frame();
  *(volatile uint32_t *)f = 0x7a7a7a7a;
  set_entry(pte_of(lin), f | P | W | 0x80);
  invlpg(lin);
  printf("pte with bit 7 (PAT): reads %08x\n", *(volatile uint32_t *)lin);
  *(volatile uint32_t *)(FRAMES + 0x600000 + 0x10) = 0x6b6b6b6b;
  set_entry(&big_pd[3], (FRAMES + 0x600000) | P | W | PS | 0x1000);
  printf("2 MiB pde with bit 12 (PAT): reads %08x\n",
         *(volatile uint32_t *)(BIG_BASE + 0x600000 + 0x10));
  set_entry(&big_pd[3], 0);
  invlpg(BIG_BASE + 0x600000);

  uint32_t past_ram = TEST_BASE + 0xa000;
  set_entry(pte_of(past_ram), 0x20000000u | P); /* 512 MiB: no RAM there */
  invlpg(past_ram);
  uint32_t v = *(volatile uint32_t *)past_ram;
  print_entry("read-only pte, frame past RAM, after a read", pte_of(past_ram));
  write_cr0(read_cr0() | CR0_WP);
  struct site s;
  FAULTING(s, "movl $1, (%[p])", : [p] "r"(past_ram) : "memory");
  print_trap("write to it with WP set", s.start);
  write_cr0(read_cr0() & ~CR0_WP);
  set_entry(pte_of(past_ram), 0x20000000u | P | W);
  invlpg(past_ram);
  (void)*(volatile uint32_t *)past_ram;
  *(volatile uint32_t *)past_ram = 5;
  print_entry("writable pte, frame past RAM, after a write", pte_of(past_ram));
  (void)v;
}

static void task_switch(void) {
  tss_init(&tss_a, 0, (uint32_t)pdpt);
  tss_init(&tss_b, task_b, (uint32_t)pdpt_b);
  gdt_set(3, (uint32_t)&tss_a, sizeof(struct tss) - 1, 0x89, 0);
  gdt_set(4, (uint32_t)&tss_b, sizeof(struct tss) - 1, 0x89, 0);
  __asm__ volatile("ltr %w0" ::"r"(0x18));
  __asm__ volatile("lcall $0x20, $0" ::: "eax", "ecx", "edx", "memory");
  printf("task with the second PDPT read %08x (cr3 %s); back: %08x (cr3 %s)\n", task_b_saw,
         task_b_cr3 == (uint32_t)pdpt_b ? "its own" : "wrong",
         *(volatile uint32_t *)(TEST_BASE + 0x6000), read_cr3() == (uint32_t)pdpt ? "ours" : "wrong");
}

static void remap_and_invlpg(void) {
  uint32_t a = TEST_BASE + 0x4000, b = TEST_BASE + 0x5000;
  uint32_t f1 = frame(), f2 = frame();
  set_entry(pte_of(a), f1 | P | W);
  set_entry(pte_of(b), f1 | P | W);
  *(volatile uint32_t *)a = 0xaaaa5555;
  printf("alias reads %08x\n", *(volatile uint32_t *)b);
  *(volatile uint32_t *)f2 = 0x22222222;
  set_entry(pte_of(b), f2 | P | W);
  invlpg(b);
  printf("after remap and invlpg: %08x (other alias %08x)\n", *(volatile uint32_t *)b,
         *(volatile uint32_t *)a);
}

/* A global 4 KiB page and a global 2 MiB page remapped without invlpg survive a CR3 load and
 * go with a toggle of CR4.PGE. */
static void global_pages(void) {
  uint32_t g = TEST_BASE + 0x7000, big = BIG_BASE + 0x400000;
  uint32_t g1 = frame(), g2 = frame();
  *(volatile uint32_t *)g1 = 0x71717171;
  *(volatile uint32_t *)g2 = 0x72727272;
  *(volatile uint32_t *)(FRAMES + 0x600000) = 0x81818181;
  write_cr4(CR4_PAE | CR4_PGE);
  set_entry(pte_of(g), g1 | P | W | G);
  set_entry(&big_pd[2], FRAMES | P | W | PS | G);
  *(volatile uint32_t *)FRAMES = 0x80808080;
  uint32_t before = *(volatile uint32_t *)g, big_before = *(volatile uint32_t *)big;
  set_entry(pte_of(g), g2 | P | W | G);
  set_entry(&big_pd[2], (FRAMES + 0x600000) | P | W | PS | G);
  write_cr4(CR4_PAE);
  write_cr4(CR4_PAE | CR4_PGE);
  printf("global pages: %08x -> %08x, 2 MiB %08x -> %08x\n", before, *(volatile uint32_t *)g,
         big_before, *(volatile uint32_t *)big);
  write_cr4(CR4_PAE);
}

/* Paging off, CR4.PAE clear, a 32-bit page directory (4 MiB pages, identity), paging on; then
 * back to PAE paging the same way: what was mapped with PAE is mapped again. */
static void switch_modes(void) {
  for (uint32_t i = 0; i < 4; i++)
    legacy_pd[i] = i << 22 | P | W | PS;
  legacy_pd[TEST_BASE >> 22] = (FRAMES + 0x400000) | P | W | PS;
  write_cr0(read_cr0() & ~CR0_PG);
  write_cr4(CR4_PSE);
  write_cr3((uint32_t)legacy_pd);
  write_cr0(read_cr0() | CR0_PG);
  printf("32-bit paging: test base reads %08x (the second 2 MiB page's frame)\n",
         *(volatile uint32_t *)TEST_BASE);
  write_cr0(read_cr0() & ~CR0_PG);
  write_cr4(CR4_PAE);
  write_cr3((uint32_t)pdpt);
  write_cr0(read_cr0() | CR0_PG);
  printf("PAE paging again: test base reads %08x, cr3 %08x\n", *(volatile uint32_t *)TEST_BASE,
         read_cr3());
}

#endif

int main(void) {
  traps_init();
  enable_pae_paging();
#ifdef SDM_ONLY
  reserved_bits();
  pdptes();
  execute_disable();
  nx_after_invlpg();
#else
  accessed_dirty();
  demand_paging();
  write_protect();
  large_pages();
  address_spaces();
  task_switch();
  remap_and_invlpg();
  pat_and_unassigned();
  global_pages();
  switch_modes();
#endif
  printf("done\n");
  return 0;
}
