/* segments.c - segmentation as a 32-bit kernel uses it: lgdt and far jumps that reload CS
 * (direct and through memory), far calls and far returns (with an immediate), data segments
 * with non-zero bases in DS and ES (ordinary and string instructions), FS and GS bases for
 * per-CPU data (loads, read-modify-write, push/pop/call through them, AH..BH, a base that
 * wraps around 4 GiB), an SS with a non-zero base, mov from segment registers, lds/les/lfs/
 * lgs/lss in 32- and 16-bit forms, sgdt/sidt, the accessed bit, and an LDT. */
#include "lib/guest.h"

#define SEL_CODE2 (3 << 3)  /* a second flat code segment */
#define SEL_DS_B (4 << 3)   /* data, base = area - 0x1000 */
#define SEL_FS_B (5 << 3)   /* data, base = percpu - 0x2000 */
#define SEL_GS_WRAP (6 << 3) /* data, base = percpu + 0x80000000: offsets wrap */
#define SEL_SS_B (7 << 3)   /* data, base = stack area - 0x3000 */
#define SEL_LDT (8 << 3)    /* the LDT */
#define SEL_FRESH (9 << 3)  /* data, accessed bit clear */
#define LDT_SEL_DATA (0 << 3 | 4) /* LDT entry 0: data, base = area - 0x4000 */

static uint32_t area[64];
static uint32_t percpu[64];
static uint32_t alt_stack[256];
static uint64_t ldt[2];

static void setup(void) {
  traps_init();
  gdt_set(SEL_CODE2 >> 3, 0, 0xfffff, 0x9a, 0xc);
  gdt_set(SEL_DS_B >> 3, (uint32_t)area - 0x1000, 0xfffff, 0x92, 0xc);
  gdt_set(SEL_FS_B >> 3, (uint32_t)percpu - 0x2000, 0xfffff, 0x92, 0xc);
  gdt_set(SEL_GS_WRAP >> 3, (uint32_t)percpu + 0x80000000u, 0xfffff, 0x92, 0xc);
  gdt_set(SEL_SS_B >> 3, (uint32_t)alt_stack - 0x3000, 0xfffff, 0x92, 0xc);
  gdt_set(SEL_LDT >> 3, (uint32_t)ldt, sizeof(ldt) - 1, 0x82, 0x0);
  gdt_set(SEL_FRESH >> 3, 0, 0xfffff, 0x92 & ~1, 0xc);
  uint32_t base = (uint32_t)area - 0x4000;
  ldt[0] = 0xffff | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)0x92 << 40 |
           (uint64_t)0xcf << 48 | (uint64_t)(base >> 24) << 56;
  for (int i = 0; i < 64; i++) {
    area[i] = 0xa000 + (uint32_t)i;
    percpu[i] = 0xc000 + (uint32_t)i;
  }
}

static uint16_t read_cs(void) {
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  return cs;
}

/* ---- far transfers ---- */

struct __attribute__((packed)) {
  uint32_t off;
  uint16_t sel;
} far_ptr; /* named in asm */

uint32_t far_called_cs;
/* far_callee: records CS, returns with lret; far_callee_pop8: lret $8 */
__asm__(".text\n"
        "far_callee:\n\t"
        "movw %cs, far_called_cs\n\t"
        "movl 4(%esp), %eax\n\t"
        "lret\n"
        "far_callee_pop8:\n\t"
        "movl 8(%esp), %eax\n\t"
        "addl 12(%esp), %eax\n\t"
        "lret $8\n");

static void far_transfers(void) {
  uint16_t cs1, cs2;
  __asm__ volatile("ljmp %[s], $1f\n"
                   "1: movw %%cs, %[c1]\n\t"
                   "ljmp %[s0], $2f\n"
                   "2: movw %%cs, %[c2]"
                   : [c1] "=r"(cs1), [c2] "=r"(cs2)
                   : [s] "i"(SEL_CODE2), [s0] "i"(SEL_CODE));
  printf("ljmp: cs %x, back %x\n", cs1, cs2);
  far_ptr.sel = SEL_CODE2;
  __asm__ volatile("movl $1f, far_ptr\n\t"
                   "ljmp *far_ptr\n"
                   "1: movw %%cs, %[c1]\n\t"
                   "ljmp %[s0], $2f\n"
                   "2:"
                   : [c1] "=r"(cs1)
                   : [s0] "i"(SEL_CODE)
                   : "memory");
  printf("ljmp through memory: cs %x\n", cs1);
  uint32_t r, d;
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "lcall %[s], $far_callee\n\t"
                   "subl %%esp, %%edx"
                   : "=a"(r), "=d"(d)
                   : [s] "i"(SEL_CODE2)
                   : "memory");
  printf("lcall: callee cs %x, saw cs %x pushed, esp change %d, cs now %x\n", far_called_cs,
         r & 0xffff,
         (int)d, read_cs());
  far_ptr.sel = SEL_CODE;
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "pushl $40\n\t"
                   "pushl $2\n\t"
                   "movl $far_callee_pop8, far_ptr\n\t"
                   "lcall *far_ptr\n\t"
                   "subl %%esp, %%edx"
                   : "=a"(r), "=d"(d)
                   :
                   : "memory");
  printf("lcall through memory, lret 8: %u, esp change %d\n", r, (int)d);
}

/* ---- data segment bases ---- */

uint32_t seg_results[8]; /* written through SS (flat) while DS has another base */

static void ds_es_bases(void) {
  uint32_t *r = seg_results;
  __asm__ volatile("pushl %%ds\n\t"
                   "pushl %%es\n\t"
                   "pushl %[sel]\n\t"
                   "popl %%ds\n\t"
                   "movl 0x1004, %%eax\n\t"       /* area[1], absolute through DS */
                   "movl %%eax, %%ss:seg_results\n\t"
                   "movl $0x1008, %%ebx\n\t"
                   "addl $0x100, (%%ebx)\n\t"    /* area[2] */
                   "movl 4(%%ebx), %%eax\n\t"     /* area[3] */
                   "movl %%eax, %%ss:seg_results+4\n\t"
                   "movl %%ds, %%ecx\n\t"
                   "movw %%cx, %%es\n\t"
                   "movl $0x1010, %%edi\n\t"
                   "movl $0x5555, %%eax\n\t"
                   "stosl\n\t"                   /* area[4], ES base */
                   "movl $0x1000, %%esi\n\t"
                   "movl $0x1020, %%edi\n\t"
                   "movl $3, %%ecx\n\t"
                   "rep movsl\n\t"               /* area[8..10] = area[0..2] */
                   "movl $0x1000, %%edi\n\t"
                   "movl $0xa002, %%eax\n\t"
                   "movl $20, %%ecx\n\t"
                   "repne scasl\n\t"             /* finds nothing: area[2] changed */
                   "movl %%ecx, %%ss:seg_results+8\n\t"
                   "popl %%es\n\t"
                   "popl %%ds"
                   :
                   : [sel] "i"(SEL_DS_B)
                   : "eax", "ebx", "ecx", "esi", "edi", "memory", "cc");
  printf("ds base: load %x, add, load %x, stos, movs, scas ecx %u; area %08x\n", r[0], r[1],
         r[2], crc32_update(0, area, sizeof(area)));
}

uint32_t fs_func_result;
static void fs_func(void) { fs_func_result = 0x7777; }

static void fs_gs_bases(void) {
  uint32_t *r = seg_results;
  percpu[5] = (uint32_t)fs_func;
  __asm__ volatile("pushl %[fs]\n\t"
                   "popl %%fs\n\t"
                   "pushl %[gs]\n\t"
                   "popl %%gs\n\t"
                   "movl %%fs:0x2004, %%eax\n\t"       /* percpu[1] */
                   "movl %%eax, seg_results\n\t"
                   "addl $0x10, %%fs:0x2008\n\t"        /* percpu[2] */
                   "movl $0x200c, %%ebx\n\t"
                   "incl %%fs:(%%ebx)\n\t"             /* percpu[3] */
                   "movl $2, %%ecx\n\t"
                   "movl %%fs:0x2004(,%%ecx,4), %%eax\n\t" /* percpu[3] */
                   "movl %%eax, seg_results+4\n\t"
                   "pushl %%fs:0x2010\n\t"             /* percpu[4] */
                   "popl %%gs:0x80000018\n\t"          /* percpu[6], wrapping GS */
                   "movl %%gs:0x7fffe000(%%ebx), %%eax\n\t" /* percpu[3] */
                   "movl %%eax, seg_results+8\n\t"
                   "movl $0x1234, %%eax\n\t"
                   "movb %%ah, %%fs:0x1c(%%ebx)\n\t"    /* byte 0 of percpu[10] */
                   "movb %%fs:0x2000, %%ah\n\t"         /* byte 0 of percpu[0] */
                   "movl %%eax, seg_results+12\n\t"
                   "call *%%fs:0x2014\n\t"             /* percpu[5] = fs_func */
                   "movl $0xc007, %%edx\n\t"
                   "xchgl %%edx, %%fs:0x201c\n\t"       /* percpu[7] */
                   "movl $0xc008, %%eax\n\t"
                   "movl $0x88, %%edx\n\t"
                   "lock cmpxchgl %%edx, %%gs:0x80000020\n\t" /* percpu[8] */
                   "pushl %[flat]\n\t"
                   "popl %%fs\n\t"
                   "pushl %[flat]\n\t"
                   "popl %%gs"
                   :
                   : [fs] "i"(SEL_FS_B), [gs] "i"(SEL_GS_WRAP), [flat] "i"(SEL_DATA)
                   : "eax", "ebx", "ecx", "edx", "memory", "cc");
  printf("fs/gs bases: %x %x %x ah-byte %x, call through fs: %x; percpu", r[0], r[1], r[2],
         r[3], fs_func_result);
  for (int i = 0; i < 12; i++)
    printf(" %x", percpu[i]);
  printf("\n");
}

/* SS with a base: ESP is an offset; push, pop, call and ret go through it. */
struct __attribute__((packed)) far_stack {
  uint32_t esp;
  uint16_t ss;
};
struct far_stack ss_alt = {0x3000 + sizeof(alt_stack), SEL_SS_B}, ss_saved;

static void ss_base(void) {
  uint32_t r1, r2, top;
  __asm__ volatile("movl %%esp, ss_saved\n\t"
                   "movw %%ss, ss_saved+4\n\t"
                   "lss ss_alt, %%esp\n\t"
                   "pushl $0x1111\n\t"
                   "pushl $0x2222\n\t"
                   "call 1f\n\t"
                   "jmp 2f\n"
                   "1: movl 4(%%esp), %%eax\n\t"      /* 0x2222 */
                   "ret\n"
                   "2: popl %%ecx\n\t"
                   "movl %%esp, %%edx\n\t"
                   "lss ss_saved, %%esp"
                   : "=a"(r1), "=c"(r2), "=d"(top)
                   :
                   : "memory");
  printf("ss base: call/ret and pops %x %x, esp %x, stack top word %x\n", r1, r2, top,
         alt_stack[255]);
}

/* ---- reading and loading segment registers ---- */

static void segment_moves(void) {
  uint32_t r = 0xffffffff;
  uint16_t m = 0xeeee;
  __asm__ volatile("movl %%ds, %0" : "+r"(r));
  __asm__ volatile("movw %%cs, %0" : "=m"(m));
  printf("mov eax, ds: %x; mov [m], cs: %x\n", r, m);
  static struct __attribute__((packed)) {
    uint32_t off;
    uint16_t sel;
  } p32 = {0x12345678, SEL_FS_B};
  static struct __attribute__((packed)) {
    uint16_t off;
    uint16_t sel;
  } p16 = {0x9abc, SEL_DS_B};
  uint32_t a = 0, b = 0xffffffff, c = 0;
  uint16_t fs, es, gs;
  __asm__ volatile("lfsl %[p32], %[a]\n\t"
                   "lesw %[p16], %w[b]\n\t"
                   "lgsl %[p32], %[c]\n\t"
                   "movw %%fs, %[fs]\n\t"
                   "movw %%es, %[es]\n\t"
                   "movw %%gs, %[gs]\n\t"
                   "movw %w[flat], %%fs\n\t"
                   "movw %w[flat], %%gs\n\t"
                   "movw %w[flat], %%es"
                   : [a] "+&r"(a), [b] "+&r"(b), [c] "+&r"(c), [fs] "=m"(fs), [es] "=m"(es),
                     [gs] "=m"(gs)
                   : [p32] "m"(p32), [p16] "m"(p16), [flat] "r"(SEL_DATA)
                   : "memory");
  printf("lfs %x fs %x, les16 %x es %x, lgs %x gs %x\n", a, fs, b, es, c, gs);
}

static void tables(void) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint32_t base;
  } g, i;
  __asm__ volatile("sgdt %0\n\tsidt %1" : "=m"(g), "=m"(i));
  printf("sgdt limit %x, sidt limit %x\n", g.limit, i.limit);
  uint64_t *gdt = (uint64_t *)g.base;
  printf("fresh descriptor accessed bit: %u", (unsigned)(gdt[SEL_FRESH >> 3] >> 40) & 1);
  __asm__ volatile("movw %w0, %%es\n\tmovw %w1, %%es" : : "r"(SEL_FRESH), "r"(SEL_DATA));
  printf(", after loading it: %u\n", (unsigned)(gdt[SEL_FRESH >> 3] >> 40) & 1);
}

static void local_descriptors(void) {
  uint32_t v;
  uint16_t ldtr;
  __asm__ volatile("lldt %w[l]\n\t"
                   "sldt %[ldtr]\n\t"
                   "pushl %%ds\n\t"
                   "movw %w[s], %%ds\n\t"
                   "movl 0x4010, %[v]\n\t"      /* area[4] through the LDT segment */
                   "popl %%ds"
                   : [v] "=r"(v), [ldtr] "=m"(ldtr)
                   : [l] "r"(SEL_LDT), [s] "r"(LDT_SEL_DATA)
                   : "memory");
  printf("lldt %x, sldt %x, ds from the LDT: %x\n", SEL_LDT, ldtr, v);
  struct site s;
  __asm__ volatile("lldt %w0" : : "r"(0));
  FAULTING(s, "movw %w[s], %%ds", : [s] "r"(LDT_SEL_DATA));
  print_trap("ds <- LDT selector with no LDT", s.start);
}

int main(void) {
  setup();
  far_transfers();
  ds_es_bases();
  fs_gs_bases();
  ss_base();
  segment_moves();
  tables();
  local_descriptors();
  return 0;
}
