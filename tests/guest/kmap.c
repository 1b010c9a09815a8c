/* kmap.c - a kernel's temporary-mapping window, as Linux's kmap_local uses for highmem pages
 * and page tables: one global linear page whose PTE names another frame for each use (set without a
 * flush, as the entry was not present), written and read through it, then cleared and flushed
 * with invlpg. The same instruction sites reach a new frame each round: plain stores and loads,
 * a read-modify-write, rep stos, rep movs in and out of the window (forwards and backwards), a
 * locked bit operation. Every frame is then checked through the identity map; the window's A
 * and D bits are read after loads only and after stores; and the sites that ran so many rounds
 * meet the window cleared (#PF, error 0, CR2) and read-only (#PF, error 3), as on the first
 * round. (bt386 stops mapping such a page after a few rounds and does these instructions in C:
 * the results must not change.) */
#include "lib/guest.h"

#define P 0x001u
#define W 0x002u
#define A 0x020u
#define D 0x040u
#define G 0x100u /* global, as a kernel's own mappings are */

#define FRAMES 0x00400000u /* frames for the rounds: 4 MiB up, identity-mapped below 8 MiB */
#define WINDOW WINDOW_BASE
#define ROUNDS 24
#define WORDS 1024

static uint32_t source[WORDS] __attribute__((aligned(4096)));
static uint32_t copied[WORDS] __attribute__((aligned(4096)));

static void set_window(uint32_t pte) {
  *window_entry(WINDOW) = pte;
  __asm__ volatile("" ::: "memory");
}

static uint32_t window_pte(void) {
  __asm__ volatile("" ::: "memory");
  return *window_entry(WINDOW);
}

static void unmap_window(void) {
  set_window(0);
  invlpg(WINDOW);
}

static uint32_t frame_of(int round) { return FRAMES + (uint32_t)round * 4096u; }

/* The sites, each one instruction used every round; the first instruction of each is the
 * one that touches the window (the fault tests expect it there). */
void site_load(void), site_store_ends(void), site_add(void), site_stos(void);
void site_movs(void), site_movs_backwards(void), site_bts(void);
__asm__(".globl site_load, site_store_ends, site_add, site_stos, site_movs\n"
        ".globl site_movs_backwards, site_bts\n"
        "site_load:           movl (%eax), %eax; ret\n"         /* eax: address */
        "site_store_ends:     movl %edx, (%eax); movl %edx, 4092(%eax); ret\n"
        "site_add:            addl %edx, (%eax); ret\n"
        "site_stos:           rep stosl; ret\n"                 /* edi, ecx, eax; DF clear */
        "site_movs:           rep movsl; ret\n"                 /* edi, esi, ecx */
        "site_movs_backwards: std; rep movsl; cld; ret\n"
        "site_bts:            lock btsl $5, 8(%eax); ret\n");

static uint32_t load_at(uint32_t offset) {
  uint32_t v = WINDOW + offset;
  __asm__ volatile("call site_load" : "+a"(v) : : "memory");
  return v;
}

static void store_ends(uint32_t v) {
  __asm__ volatile("call site_store_ends" ::"a"(WINDOW), "d"(v) : "memory");
}

static void add_at(uint32_t offset, uint32_t v) {
  __asm__ volatile("call site_add" ::"a"(WINDOW + offset), "d"(v) : "memory", "cc");
}

static void fill_middle(uint32_t v) {
  uint32_t p = WINDOW + 4, n = WORDS - 2;
  __asm__ volatile("cld; call site_stos" : "+D"(p), "+c"(n) : "a"(v) : "memory");
}

static void copy_in(uint32_t words) {
  uint32_t to = WINDOW + 16, from = (uint32_t)source;
  __asm__ volatile("cld; call site_movs" : "+D"(to), "+S"(from), "+c"(words) : : "memory");
}

static void copy_out_backwards(uint32_t words) {
  uint32_t to = (uint32_t)(copied + words - 1), from = WINDOW + 16 + (words - 1) * 4;
  __asm__ volatile("call site_movs_backwards" : "+D"(to), "+S"(from), "+c"(words) : : "memory");
}

static void set_bit_locked(void) {
  __asm__ volatile("call site_bts" ::"a"(WINDOW) : "memory", "cc");
}

/* Call a site that should fault: the handler resumes after the call, whose return address is
 * still on the stack then. */
#define FAULTING_CALL(site, ...)                                                             \
  __asm__ volatile("movl $9999f, trap_resume\n\t"                                          \
                   "call " site "\n\t"                                                      \
                   "jmp 7777f\n"                                                            \
                   "9999: addl $4, %%esp\n"                                                 \
                   "7777:" __VA_ARGS__)

static void fault_report(const char *what, void (*site)(void)) {
  printf("%s: cr2 %08x\n", what, read_cr2());
  print_trap(what, (uint32_t)site);
}

static void enable_paging(void) {
  window_paging_on();
  write_cr4(read_cr4() | 0x80u);       /* PGE */
  write_cr0(read_cr0() | 0x80010000u); /* PG, WP */
}

static const char *ad(uint32_t e) {
  return (e & A) ? ((e & D) ? "A D" : "A -") : ((e & D) ? "- D" : "- -");
}

static void round_trip(int round) {
  set_window(frame_of(round) | P | W | G);
  uint32_t before = load_at(0); /* the frame's old contents: zero */
  const char *after_load = ad(window_pte());
  store_ends(0x1000u + (uint32_t)round);
  fill_middle(0xa5a50000u + (uint32_t)round);
  copy_in(64);
  add_at(4092, 7);
  set_bit_locked();
  copy_out_backwards(64);
  uint32_t first = load_at(0), last = load_at(4092);
  if (round == 0 || round == ROUNDS - 1)
    printf("round %d: read %x first, A/D %s after loads, %s after stores; first %x, last %x\n",
           round, before, after_load, ad(window_pte()), first, last);
  unmap_window();
}

/* Every frame through the identity map, and the copies taken out of the window. */
static void check_frames(void) {
  uint32_t bad = 0, crc = 0;
  for (int r = 0; r < ROUNDS; r++) {
    const uint32_t *f = (const uint32_t *)frame_of(r);
    for (int i = 0; i < WORDS; i++) {
      uint32_t want = i == 0 ? 0x1000u + (uint32_t)r
                      : i == WORDS - 1 ? 0x1000u + (uint32_t)r + 7
                      : i >= 4 && i < 4 + 64 ? source[i - 4]
                                             : 0xa5a50000u + (uint32_t)r;
      if (i == 2)
        want |= 1u << 5;
      if (f[i] != want)
        bad++;
    }
    crc = crc32_update(crc, f, 4096);
  }
  printf("frames: %u words differ from what was written, crc %08x\n", bad, crc);
  printf("copied out: %s\n", memcmp(copied, source, 64 * 4) == 0 ? "as copied in" : "different");
}

int main(void) {
  traps_init();
  enable_paging();
  for (int i = 0; i < WORDS; i++)
    source[i] = 0x5eed0000u + (uint32_t)i * 0x01010101u;
  for (int r = 0; r < ROUNDS; r++)
    round_trip(r);
  check_frames();

  /* The same sites with the window cleared: not present. */
  FAULTING_CALL("site_load", : : "a"(WINDOW) : "memory");
  fault_report("load with the window cleared", site_load);
  FAULTING_CALL("site_store_ends", : : "a"(WINDOW), "d"(1) : "memory");
  fault_report("store with the window cleared", site_store_ends);
  uint32_t p = WINDOW + 4, n = 8;
  FAULTING_CALL("site_stos", : "+D"(p), "+c"(n) : "a"(2) : "memory");
  fault_report("rep stos with the window cleared", site_stos);
  printf("rep stos stopped with edi %08x ecx %u\n", p, n);

  /* ... and read-only (CR0.WP): loads go through, stores fault. */
  set_window(frame_of(0) | P | G);
  printf("read-only window: word 0 %x\n", load_at(0));
  FAULTING_CALL("site_add", : : "a"(WINDOW + 4092), "d"(1) : "memory", "cc");
  fault_report("add with the window read-only", site_add);
  uint32_t to = WINDOW + 16, from = (uint32_t)source;
  n = 8;
  FAULTING_CALL("site_movs", : "+D"(to), "+S"(from), "+c"(n) : : "memory");
  fault_report("rep movs into the window read-only", site_movs);
  printf("rep movs stopped with edi %08x ecx %u\n", to, n);
  unmap_window();
  printf("done\n");
  return 0;
}
