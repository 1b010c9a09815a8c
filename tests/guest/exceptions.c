/* exceptions.c - exceptions and software interrupts delivered through the IDT: #DE, #UD, #BP,
 * #OF, #BR, int n, and the #GP/#NP/#SS a segment load raises with its error code. Checks the
 * vector, the error code, the EIP pushed (the faulting instruction for faults, the next one
 * for traps) and that a fault leaves the registers as they were before the instruction. */
#include "lib/guest.h"

#define SEL_NOT_PRESENT (3 << 3)
#define SEL_EXEC_ONLY (4 << 3)
#define SEL_READ_ONLY (5 << 3)
#define SEL_SS_NOT_PRESENT (6 << 3)
#define SEL_DPL3_DATA (7 << 3)
#define SEL_SYSTEM (8 << 3)
#define SEL_PAST_LIMIT 0x80 /* index 16: the GDT has 16 entries */

static void divide_errors(void) {
  struct site s;
  uint32_t a = 1234, d = 0;
  FAULTING(s, "divl %[z]", , "+a"(a), "+d"(d) : [z] "r"(0) : "cc");
  print_trap("div by zero", s.start);
  printf("  eax %u edx %u (unchanged)\n", a, d);
  a = 0x80000000u, d = 0xffffffffu;
  FAULTING(s, "idivl %[m1]", , "+a"(a), "+d"(d) : [m1] "r"(-1) : "cc");
  print_trap("idiv INT_MIN / -1", s.start);
  a = 0x1000;
  FAULTING(s, "divb %b[two]", , "+a"(a) : [two] "q"(2) : "cc");
  print_trap("divb quotient too large", s.start);
  printf("  ax %x\n", a);
  a = 0x0102;
  FAULTING(s, "aam $0", , "+a"(a) : : "cc");
  print_trap("aam 0", s.start);
}

static void invalid_opcodes(void) {
  struct site s;
  FAULTING(s, "ud2");
  print_trap("ud2", s.start);
  FAULTING(s, ".byte 0x0f, 0xff, 0xc0"); /* ud0 */
  print_trap("ud0", s.start);
  FAULTING(s, ".byte 0xf0, 0x01, 0xd8", : : "cc"); /* lock add eax, ebx */
  print_trap("lock on a register operand", s.start);
  FAULTING(s, ".byte 0x8e, 0xc8"); /* mov cs, ax */
  print_trap("mov to cs", s.start);
  FAULTING(s, ".byte 0x0f, 0xc7, 0xc8"); /* cmpxchg8b with a register operand */
  print_trap("cmpxchg8b eax", s.start);
  FAULTING(s, ".byte 0x8d, 0xc0"); /* lea eax, eax */
  print_trap("lea with a register source", s.start);
  FAULTING(s, "syscall");
  print_trap("syscall", s.start);
}

static void traps(void) {
  struct site s;
  FAULTING(s, "int3");
  print_trap("int3", s.next);
  FAULTING(s, ".byte 0xcd, 0x03"); /* int $3, the two-byte form */
  print_trap("int 3", s.next);
  FAULTING(s, "movl $0x7fffffff, %%eax; addl $1, %%eax; into", : : "eax", "cc");
  print_trap("into with OF set", s.next);
  FAULTING(s, "xorl %%eax, %%eax; into", : : "eax", "cc");
  print_trap("into with OF clear", s.next);
  FAULTING(s, "int $0x40");
  print_trap("int 0x40", s.next);
  printf("  saved cs %x, eflags IF %u\n", last_trap.cs, (last_trap.eflags >> 9) & 1);
}

static void bound(void) {
  static int32_t b32[2] = {-5, 10};
  static int16_t b16[2] = {100, 200};
  struct site s;
  int32_t v = 10;
  FAULTING(s, "boundl %[v], %[b]", : [v] "r"(v), [b] "m"(b32));
  print_trap("bound 10 in [-5,10]", s.start);
  v = -6;
  FAULTING(s, "boundl %[v], %[b]", : [v] "r"(v), [b] "m"(b32));
  print_trap("bound -6 in [-5,10]", s.start);
  v = 11;
  FAULTING(s, "boundl %[v], %[b]", : [v] "r"(v), [b] "m"(b32));
  print_trap("bound 11 in [-5,10]", s.start);
  v = 0x10000 + 150; /* 16-bit: only the low word counts */
  FAULTING(s, "boundw %w[v], %[b]", : [v] "r"(v), [b] "m"(b16));
  print_trap("boundw 150 in [100,200]", s.start);
  v = 201;
  FAULTING(s, "boundw %w[v], %[b]", : [v] "r"(v), [b] "m"(b16));
  print_trap("boundw 201 in [100,200]", s.start);
}

/* int 0x80 as a system call: EAX = EBX + ECX, the result in EAX. */
static void syscall_hook(struct trap_frame *f) {
  if (f->vector == 0x80)
    f->eax = f->ebx + f->ecx;
}

static void int_n(void) {
  uint32_t a = 99, b = 40, c = 2;
  trap_hook = syscall_hook;
  __asm__ volatile("int $0x80" : "+a"(a) : "b"(b), "c"(c) : "memory");
  trap_hook = 0;
  printf("int 0x80: eax %u after %d interrupt(s)\n", a, trap_count);
  trap_count = 0;
  struct site s;
  FAULTING(s, "int $0x41"); /* no gate: #NP, error code 0x41 * 8 + 2 (IDT) */
  print_trap("int 0x41 (gate not present)", s.start);
}

static void segment_setup(void) {
  gdt_set(SEL_NOT_PRESENT >> 3, 0, 0xfffff, 0x12, 0xc);
  gdt_set(SEL_EXEC_ONLY >> 3, 0, 0xfffff, 0x98, 0xc);
  gdt_set(SEL_READ_ONLY >> 3, 0, 0xfffff, 0x90, 0xc);
  gdt_set(SEL_SS_NOT_PRESENT >> 3, 0, 0xfffff, 0x12, 0xc);
  gdt_set(SEL_DPL3_DATA >> 3, 0, 0xfffff, 0xf2, 0xc);
  gdt_set(SEL_SYSTEM >> 3, 0x1000, 0x67, 0x89, 0x0); /* an available 32-bit TSS */
}

#define LOAD_SEG(what, seg, sel)                                                             \
  do {                                                                                       \
    FAULTING(s, "movw %w[v], %%" seg, : [v] "r"(sel));                                       \
    print_trap(what, s.start);                                                               \
  } while (0)

static void segment_loads(void) {
  struct site s;
  segment_setup();
  LOAD_SEG("ds <- past the GDT limit", "ds", SEL_PAST_LIMIT);
  LOAD_SEG("es <- not present", "es", SEL_NOT_PRESENT);
  LOAD_SEG("fs <- execute-only code", "fs", SEL_EXEC_ONLY);
  LOAD_SEG("gs <- a TSS descriptor", "gs", SEL_SYSTEM);
  LOAD_SEG("ds <- DPL 3 data, RPL 3", "ds", SEL_DPL3_DATA | 3);
  LOAD_SEG("ds <- DPL 0 data, RPL 3", "ds", SEL_DATA | 3);
  LOAD_SEG("ss <- null", "ss", 0);
  LOAD_SEG("ss <- code", "ss", SEL_CODE);
  LOAD_SEG("ss <- read-only data", "ss", SEL_READ_ONLY);
  LOAD_SEG("ss <- RPL 3", "ss", SEL_DATA | 3);
  LOAD_SEG("ss <- DPL 3", "ss", SEL_DPL3_DATA);
  LOAD_SEG("ss <- not present", "ss", SEL_SS_NOT_PRESENT);
  LOAD_SEG("es <- null (allowed)", "es", 0);
  LOAD_SEG("es <- read-only data (allowed)", "es", SEL_READ_ONLY);
  LOAD_SEG("ds <- readable code (allowed)", "ds", SEL_CODE);
  __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(SEL_DATA));

  /* pop and lds fault with ESP and the destination register unchanged */
  uint32_t before, after, at;
  __asm__ volatile("movl %%esp, %[b]\n\t"
                   "pushl %[v]\n\t"
                   "movl $1f, trap_resume\n\t"
                   "movl $2f, %[at]\n"
                   "2: popl %%ds\n"
                   "1: movl %%esp, %[a]\n\t"
                   "addl $4, %%esp"
                   : [b] "=&r"(before), [a] "=&r"(after), [at] "=&r"(at)
                   : [v] "i"(SEL_PAST_LIMIT)
                   : "memory");
  print_trap("pop ds <- past the GDT limit", at);
  printf("  esp %s\n", after == before - 4 ? "unchanged" : "changed");
  static struct __attribute__((packed)) { uint32_t off; uint16_t sel; } far = {0x1234, SEL_NOT_PRESENT};
  uint32_t ebx = 77;
  FAULTING(s, "ldsl %[p], %[r]", , [r] "+r"(ebx) : [p] "m"(far));
  print_trap("lds <- not present", s.start);
  printf("  ebx %u\n", ebx);
  uint16_t ds;
  __asm__ volatile("mov %%ds, %0" : "=r"(ds));
  printf("ds after the faults: %x\n", ds);
}

int main(void) {
  traps_init();
  divide_errors();
  invalid_opcodes();
  traps();
  bound();
  int_n();
  segment_loads();
  return 0;
}
