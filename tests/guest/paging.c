/* paging.c - 32-bit paging as the SDM describes it (vol. 3, chapter 4): accessed and dirty
 * bits, demand paging from the #PF handler, CR0.WP, page-fault error codes and CR2, aliases,
 * invlpg, CR3 switches between two address spaces, 4 MiB pages (CR4.PSE), global pages
 * (CR4.PGE) and their flush by toggling PGE, and self-modifying code written through an alias
 * of the page it runs from; the A bit of a code page reached through an indirect call after a
 * flush. */
#include "lib/guest.h"

#define P 0x001u
#define W 0x002u
#define U 0x004u
#define A 0x020u
#define D 0x040u
#define PS 0x080u

#define FRAMES 0x00400000u /* physical frames for the tests: 4 MiB up */
#define TEST_BASE 0x40000000u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pd2[1024] __attribute__((aligned(4096)));
static uint32_t low_pt[2][1024] __attribute__((aligned(4096)));
static uint32_t test_pt[1024] __attribute__((aligned(4096)));
static uint32_t test_pt2[1024] __attribute__((aligned(4096)));
static uint32_t next_frame = FRAMES;

static uint32_t frame(void) {
  uint32_t f = next_frame;
  next_frame += 4096;
  memset((void *)f, 0, 4096); /* identity-mapped below 8 MiB */
  return f;
}

static uint32_t *pte_of(uint32_t lin) { return &test_pt[(lin >> 12) & 0x3ff]; }

/* Page-table writes must reach memory before the accesses they govern: the compiler does not
 * know the MMU reads them. */
static void set_pte(uint32_t *pte, uint32_t value) {
  *(volatile uint32_t *)pte = value;
  __asm__ volatile("" ::: "memory");
}

/* ...and the CPU's A and D updates are read after the accesses that made them. */
static uint32_t get_pte(const uint32_t *pte) {
  __asm__ volatile("" ::: "memory");
  return *(volatile const uint32_t *)pte;
}


static const char *ad(uint32_t e) { return (e & A) ? ((e & D) ? "A D" : "A -") : ((e & D) ? "- D" : "- -"); }

static void enable_paging(void) {
  for (int t = 0; t < 2; t++)
    for (int i = 0; i < 1024; i++)
      low_pt[t][i] = ((uint32_t)t << 22) | ((uint32_t)i << 12) | P | W;
  pd[0] = (uint32_t)low_pt[0] | P | W;
  pd[1] = (uint32_t)low_pt[1] | P | W;
  pd[TEST_BASE >> 22] = (uint32_t)test_pt | P | W;
  write_cr3((uint32_t)pd);
  write_cr0(read_cr0() | 0x80000000u);
  printf("paging on, pd A bit after first use: %s\n", (get_pte(&pd[0]) & A) ? "set" : "clear");
}

static void accessed_dirty(void) {
  uint32_t lin = TEST_BASE;
  set_pte(pte_of(lin), frame() | P | W);
  printf("fresh pte: %s\n", ad(get_pte(pte_of(lin))));
  volatile uint32_t *p = (volatile uint32_t *)lin;
  (void)*p;
  printf("after read: %s\n", ad(get_pte(pte_of(lin))));
  *p = 7;
  printf("after write: %s\n", ad(get_pte(pte_of(lin))));
  /* Clearing A and D needs a flush for the CPU to notice, as with a real TLB. */
  set_pte(pte_of(lin), *pte_of(lin) & ~(A | D));
  invlpg(lin);
  *p = 8;
  printf("cleared, flushed, written: %s, value %u\n", ad(get_pte(pte_of(lin))), *p);
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
  set_pte(pte_of(cr2), frame() | P | W | (f->error & 2 ? D : 0));
  demand_faults++;
}

static void demand_paging(void) {
  trap_hook = demand_pager;
  volatile uint32_t *w = (volatile uint32_t *)(TEST_BASE + 0x1000);
  volatile uint32_t *r = (volatile uint32_t *)(TEST_BASE + 0x2ff8);
  *w = 0x12345678;
  uint32_t v = *r;
  printf("demand: wrote %08x, read fresh %08x, faults %d\n", *w, v, demand_faults);
  trap_hook = 0;
}

static void write_protect(void) {
  uint32_t lin = TEST_BASE + 0x3000;
  set_pte(pte_of(lin), frame() | P); /* read-only */
  volatile uint32_t *p = (volatile uint32_t *)lin;
  *p = 1; /* CR0.WP clear: supervisor writes ignore R/W */
  printf("WP=0 write to read-only page: %u, %s\n", *p, ad(get_pte(pte_of(lin))));
  write_cr0(read_cr0() | 0x10000u);
  struct site s;
  FAULTING(s, "movl $2, (%[p])", : [p] "r"(p) : "memory");
  print_trap("WP=1 write to read-only page", s.start);
  printf("cr2=%08x value still %u\n", read_cr2(), *p);
  write_cr0(read_cr0() & ~0x10000u);

  FAULTING(s, "movl (%[p]), %%eax", : [p] "r"(TEST_BASE + 0x3ff000) : "eax", "memory");
  print_trap("read of a not-present page", s.start);
  printf("cr2=%08x\n", read_cr2());
}

static void aliases_and_invlpg(void) {
  uint32_t a = TEST_BASE + 0x4000, b = TEST_BASE + 0x5000;
  uint32_t f1 = frame(), f2 = frame();
  set_pte(pte_of(a), f1 | P | W);
  set_pte(pte_of(b), f1 | P | W);
  *(volatile uint32_t *)a = 0xaaaa5555;
  printf("alias reads %08x\n", *(volatile uint32_t *)b);
  *(volatile uint32_t *)f2 = 0x22222222;
  set_pte(pte_of(b), f2 | P | W);
  invlpg(b);
  printf("after remap and invlpg: %08x (other alias %08x)\n", *(volatile uint32_t *)b,
         *(volatile uint32_t *)a);
}

static void address_spaces(void) {
  uint32_t lin = TEST_BASE + 0x6000;
  uint32_t f1 = frame(), f2 = frame();
  *(volatile uint32_t *)f1 = 0x11111111;
  *(volatile uint32_t *)f2 = 0x22222222;
  memcpy(pd2, pd, sizeof(pd));
  memcpy(test_pt2, test_pt, sizeof(test_pt));
  pd2[TEST_BASE >> 22] = (uint32_t)test_pt2 | P | W;
  set_pte(&test_pt[(lin >> 12) & 0x3ff], f1 | P | W);
  set_pte(&test_pt2[(lin >> 12) & 0x3ff], f2 | P | W);
  write_cr3((uint32_t)pd);
  uint32_t in1 = *(volatile uint32_t *)lin;
  write_cr3((uint32_t)pd2);
  uint32_t in2 = *(volatile uint32_t *)lin;
  *(volatile uint32_t *)lin = 0x33333333;
  write_cr3((uint32_t)pd);
  printf("address space 1 sees %08x, 2 sees %08x, 1 again %08x, frame 2 now %08x\n", in1, in2,
         *(volatile uint32_t *)lin, *(volatile uint32_t *)f2);
}

static void large_pages(void) {
  uint32_t big = 0x80000000u;
  write_cr4(0x10); /* PSE */
  set_pte(&pd[big >> 22], FRAMES | P | W | PS);
  write_cr3((uint32_t)pd);
  volatile uint32_t *p = (volatile uint32_t *)(big + 0x1000);
  uint32_t seen = *p;
  printf("4 MiB page: reads %08x (frame holds %08x), pde %s\n", seen,
         *(volatile uint32_t *)(FRAMES + 0x1000), ad(get_pte(&pd[big >> 22])));
  *p = 0x4444;
  printf("after write: pde %s, frame %08x\n", ad(get_pte(&pd[big >> 22])),
         *(volatile uint32_t *)(FRAMES + 0x1000));
}

/* mov $imm, %eax; ret */
static void put_function(volatile uint8_t *at, uint32_t value) {
  at[0] = 0xb8;
  for (int i = 0; i < 4; i++)
    at[1 + i] = (uint8_t)(value >> (8 * i));
  at[5] = 0xc3;
}

static void code_through_alias(void) {
  uint32_t code = TEST_BASE + 0x7000, alias = TEST_BASE + 0x8000;
  uint32_t f = frame();
  set_pte(pte_of(code), f | P | W);
  set_pte(pte_of(alias), f | P | W);
  put_function((volatile uint8_t *)code, 1);
  uint32_t (*fn)(void) = (uint32_t(*)(void))code;
  uint32_t first = fn();
  put_function((volatile uint8_t *)alias, 2);
  uint32_t second = fn();
  put_function((volatile uint8_t *)code, 3);
  uint32_t third = fn();
  printf("code rewritten through an alias: %u %u %u\n", first, second, third);
}

/* Two processes: 16 private pages each at the same linear addresses, written in turn, then one
 * process's table changed while the other runs (no invlpg: a mov cr3 flushes), then a global
 * page remapped in both tables and invalidated with invlpg while the second runs: the first
 * must see the new frame too, as invlpg drops global TLB entries whatever the CR3. */
#define PROC_PAGES 16
static void processes(void) {
  uint32_t base = TEST_BASE + 0x20000, g = TEST_BASE + 0x40000;
  uint32_t first = (base >> 12) & 0x3ff;
  memcpy(pd2, pd, sizeof(pd));
  memcpy(test_pt2, test_pt, sizeof(test_pt));
  pd2[TEST_BASE >> 22] = (uint32_t)test_pt2 | P | W;
  for (int i = 0; i < PROC_PAGES; i++) {
    set_pte(&test_pt[first + i], frame() | P | W);
    set_pte(&test_pt2[first + i], frame() | P | W);
  }
  volatile uint32_t *page[PROC_PAGES];
  for (int i = 0; i < PROC_PAGES; i++)
    page[i] = (volatile uint32_t *)(base + 0x1000u * (uint32_t)i);
  write_cr3((uint32_t)pd);
  for (int i = 0; i < PROC_PAGES; i++)
    *page[i] = 0xa0000000u + (uint32_t)i;
  write_cr3((uint32_t)pd2);
  for (int i = 0; i < PROC_PAGES; i++)
    *page[i] = 0xb0000000u + (uint32_t)i;
  int ok1 = 0, ok2 = 0;
  write_cr3((uint32_t)pd);
  for (int i = 0; i < PROC_PAGES; i++)
    ok1 += *page[i] == 0xa0000000u + (uint32_t)i;
  write_cr3((uint32_t)pd2);
  for (int i = 0; i < PROC_PAGES; i++)
    ok2 += *page[i] == 0xb0000000u + (uint32_t)i;
  uint32_t fc = frame();
  *(volatile uint32_t *)fc = 0xc3c3c3c3;
  set_pte(&test_pt[first + 3], fc | P | W); /* process 1's table, while process 2 runs */
  write_cr3((uint32_t)pd);
  uint32_t changed = *page[3];
  printf("processes: %d and %d of %d pages kept apart, page 3 after its table changed: %08x\n",
         ok1, ok2, PROC_PAGES, changed);

  uint32_t g1 = frame(), g2 = frame(), gi = (g >> 12) & 0x3ff;
  *(volatile uint32_t *)g1 = 0x61616161;
  *(volatile uint32_t *)g2 = 0x62626262;
  write_cr4(0x90); /* PSE, PGE */
  set_pte(&test_pt[gi], g1 | P | W | 0x100);
  set_pte(&test_pt2[gi], g1 | P | W | 0x100);
  invlpg(g);
  uint32_t in1 = *(volatile uint32_t *)g, sum = 0;
  for (int i = 0; i < PROC_PAGES; i++) /* each process uses its own pages again */
    sum += *page[i];
  write_cr3((uint32_t)pd2);
  uint32_t in2 = *(volatile uint32_t *)g;
  for (int i = 0; i < PROC_PAGES; i++)
    sum += *page[i];
  set_pte(&test_pt[gi], g2 | P | W | 0x100);
  set_pte(&test_pt2[gi], g2 | P | W | 0x100);
  invlpg(g);
  write_cr3((uint32_t)pd);
  printf("global page: %08x, in process 2 %08x, after invlpg there, in process 1 %08x "
         "(private pages sum %08x)\n", in1, in2, *(volatile uint32_t *)g, sum);
  write_cr4(0x10);
}

/* Global pages, 4 KiB and 4 MiB, remapped without invlpg and flushed the way Linux flushes
 * global entries (__native_flush_tlb_global: CR4.PGE off and on again): the new frames are
 * seen, a page made read-only faults on a write (CR0.WP set), a page left alone still reads. */
static void global_flush(void) {
  uint32_t g = TEST_BASE + 0xa000, ro = TEST_BASE + 0xb000, keep = TEST_BASE + 0xc000;
  /* The 4 MiB page maps physical 0, then 4 MiB (both identity-mapped below 8 MiB): the word
   * at big + probe is big_probe, then the word 4 MiB above it. */
  static volatile uint32_t big_probe = 0xa4a4a4a4;
  uint32_t big = 0x80400000u, big_a = 0, big_b = FRAMES, probe = (uint32_t)&big_probe;
  uint32_t g1 = frame(), g2 = frame(), fro = frame(), fkeep = frame();
  *(volatile uint32_t *)g1 = 0x71717171;
  *(volatile uint32_t *)g2 = 0x72727272;
  *(volatile uint32_t *)fkeep = 0x73737373;
  *(volatile uint32_t *)(big_b + probe) = 0xb4b4b4b4;
  write_cr4(0x90); /* PSE, PGE */
  write_cr0(read_cr0() | 0x10000u); /* WP */
  set_pte(pte_of(g), g1 | P | W | 0x100);
  set_pte(pte_of(ro), fro | P | W | 0x100);
  set_pte(pte_of(keep), fkeep | P | W | 0x100);
  set_pte(&pd[big >> 22], big_a | P | W | PS | 0x100);
  write_cr3((uint32_t)pd);
  uint32_t before = *(volatile uint32_t *)g, big_before = *(volatile uint32_t *)(big + probe);
  *(volatile uint32_t *)ro = 5; /* mapped writable and dirty */
  set_pte(pte_of(g), g2 | P | W | 0x100);
  set_pte(pte_of(ro), fro | P | 0x100);
  set_pte(&pd[big >> 22], big_b | P | W | PS | 0x100);
  write_cr4(0x10);
  write_cr4(0x90);
  printf("global flush: %08x -> %08x, 4 MiB %08x -> %08x, kept %08x\n", before,
         *(volatile uint32_t *)g, big_before, *(volatile uint32_t *)(big + probe),
         *(volatile uint32_t *)keep);
  struct site s;
  FAULTING(s, "movl $6, (%[p])", : [p] "r"(ro) : "memory");
  print_trap("write to a page made read-only, after the flush", s.start);
  printf("cr2=%08x value still %u\n", read_cr2(), *(volatile uint32_t *)ro);
  write_cr0(read_cr0() & ~0x10000u);
  write_cr4(0x10);
}

/* An indirect call, the same site each time (bt386 caches its targets by linear address). */
static __attribute__((noinline)) uint32_t call_at(uint32_t lin) {
  uint32_t sum = 0;
  for (int i = 0; i < 3; i++)
    sum = ((uint32_t(*)(void))lin)();
  return sum;
}

/* Code whose page is remapped to another frame: after invlpg, and across mov cr3 with global
 * pages enabled, the same linear address runs the new frame's code. The code is written
 * through the identity map only, so the linear page is never read or written as data. */
static void code_remapped(void) {
  uint32_t lin = TEST_BASE + 0x9000;
  uint32_t fa = frame(), fb = frame();
  put_function((volatile uint8_t *)fa, 0xa);
  put_function((volatile uint8_t *)fb, 0xb);
  write_cr4(0x90); /* PSE, PGE */
  set_pte(pte_of(lin), fa | P | W);
  invlpg(lin);
  uint32_t first = call_at(lin);
  set_pte(pte_of(lin), fb | P | W);
  invlpg(lin);
  uint32_t after_invlpg = call_at(lin);
  memcpy(pd2, pd, sizeof(pd));
  memcpy(test_pt2, test_pt, sizeof(test_pt));
  pd2[TEST_BASE >> 22] = (uint32_t)test_pt2 | P | W;
  set_pte(&test_pt2[(lin >> 12) & 0x3ff], fa | P | W);
  write_cr3((uint32_t)pd2);
  uint32_t space2 = call_at(lin);
  write_cr3((uint32_t)pd);
  uint32_t space1 = call_at(lin);
  write_cr3((uint32_t)pd2);
  uint32_t space2_again = call_at(lin);
  write_cr3((uint32_t)pd);
  printf("code remapped: %x, after invlpg %x, space 2 %x, space 1 %x, space 2 %x\n", first,
         after_invlpg, space2, space1, space2_again);
}

/* The A bit of a code page: set by the fetch that follows a TLB flush, as by any other access
 * (SDM vol. 3A, 4.8), however the code is reached: by a call through the same indirect site
 * as before the flush (bt386's indirect-branch cache), after a CR3 reload and after invlpg. */
static void code_accessed_bit(void) {
  uint32_t lin = TEST_BASE + 0xa000;
  uint32_t f = frame();
  put_function((volatile uint8_t *)f, 0xc);
  set_pte(pte_of(lin), f | P | W);
  invlpg(lin);
  uint32_t ran = call_at(lin);
  const char *first = ad(get_pte(pte_of(lin)));
  set_pte(pte_of(lin), get_pte(pte_of(lin)) & ~A);
  write_cr3(read_cr3());
  ran += call_at(lin);
  const char *after_reload = ad(get_pte(pte_of(lin)));
  set_pte(pte_of(lin), get_pte(pte_of(lin)) & ~A);
  invlpg(lin);
  ran += call_at(lin);
  const char *after_invlpg = ad(get_pte(pte_of(lin)));
  printf("code page A/D: first call %s, cleared and CR3 reloaded %s, cleared and invlpg %s "
         "(sum %x)\n", first, after_reload, after_invlpg, ran);
}

int main(void) {
  traps_init();
  enable_paging();
  accessed_dirty();
  demand_paging();
  write_protect();
  aliases_and_invlpg();
  address_spaces();
  large_pages();
  code_through_alias();
  processes();
  code_remapped();
  code_accessed_bit();
  global_flush();
  printf("done\n");
  return 0;
}
