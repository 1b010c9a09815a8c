/* smc.c - self-modifying code, which x86 makes coherent without any flush: an instruction
 * written and then executed; an immediate patched in a loop; an instruction patched later in
 * the same basic block (and the very next one, also by a string instruction run in C); code copied with rep movsb and run; code
 * patched through another segment's base (another linear address); an instruction that
 * straddles a page boundary patched on its second page; and a chained block's target
 * rewritten. Each prints what the code computed after the change. */
#include "lib/guest.h"

static uint8_t code[3 * 4096] __attribute__((aligned(4096)));
#define SEL_ALIAS (3 << 3) /* data segment whose base is code - 0x10000 */

typedef uint32_t (*fn0)(void);

/* mov eax, imm32; ret */
static void emit_mov_ret(uint8_t *p, uint32_t imm) {
  p[0] = 0xb8;
  memcpy(p + 1, &imm, 4);
  p[5] = 0xc3;
}

static void write_then_run(void) {
  fn0 f = (fn0)code;
  emit_mov_ret(code, 0x11111111);
  uint32_t a = f();
  emit_mov_ret(code, 0x22222222);
  uint32_t b = f();
  code[0] = 0x90; /* nop; then the old mov's bytes from offset 1 */
  code[1] = 0xb8;
  uint32_t imm = 0x33333333;
  memcpy(code + 2, &imm, 4);
  code[6] = 0xc3;
  uint32_t c = f();
  printf("written code returns %x, rewritten %x, shifted %x\n", a, b, c);
}

/* add eax, imm32 patched each time round a loop that calls it */
static void patch_in_loop(void) {
  uint8_t *p = code + 64;
  p[0] = 0x05; /* add eax, imm32 */
  p[5] = 0xc3;
  uint32_t sum = 0;
  for (uint32_t i = 0; i < 2000; i++) {
    memcpy(p + 1, &i, 4);
    uint32_t r;
    __asm__ volatile("call *%2" : "=a"(r) : "a"(sum), "r"(p) : "memory", "cc");
    sum = r;
  }
  printf("immediate patched 2000 times: sum %u\n", sum);
}

/* The loop body patches its own immediate: each pass adds the previous pass's count. */
static void loop_patches_itself(void) {
  uint32_t r;
  __asm__ volatile("movl $0, %%eax\n\t"
                   "movl $50, %%ecx\n"
                   "1: .byte 0x05\n\t"                /* add eax, imm32: the immediate at 1b+1 */
                   ".long 0\n\t"
                   "movl %%ecx, 1b+1\n\t"
                   "loop 1b"
                   : "=a"(r)
                   :
                   : "ecx", "memory", "cc");
  printf("loop patching its own immediate: %u\n", r);
}

/* Later in the same block: the store changes an instruction the block has not run yet,
 * and then the very next instruction (nop -> inc eax). Run twice: the patches stay. */
static void __attribute__((noinline)) patch_ahead(uint32_t imm, uint32_t *a, uint32_t *b) {
  __asm__ volatile("movl %[imm], 1f+1\n\t"        /* imm32 of the mov below */
                   "nop\n\t"
                   "nop\n"
                   "1: movl $0x0, %%eax\n\t"
                   "movb $0x40, 2f\n"               /* the next instruction */
                   "2: nop\n\t"
                   "movl %%eax, %%edx"
                   : "=a"(*a), "=d"(*b)
                   : [imm] "r"(imm)
                   : "memory");
}

static void same_block(void) {
  uint32_t a, b;
  patch_ahead(0x2a, &a, &b);
  printf("patched later in the same block: %x, with the next instruction: %x\n", a, b);
  patch_ahead(0x50, &a, &b);
  printf("second time: %x %x\n", a, b);
}

/* A string instruction through a segment override (fs, base 0: bt386 runs it in C) copies
 * new bytes over the instruction right after it in the same block: the new one runs. */
static void __attribute__((noinline)) patch_next_by_string(uint32_t imm, uint32_t *a) {
  uint8_t bytes[5] = {0xb8};
  memcpy(bytes + 1, &imm, 4);
  const uint8_t *src = bytes;
  uint32_t n = sizeof(bytes);
  __asm__ volatile("movl $1f, %%edi\n\t"
                   "fs rep movsb\n"
                   "1: movl $0x0, %%eax"
                   : "=a"(*a), "+S"(src), "+c"(n)
                   :
                   : "edi", "memory");
}

static void next_by_string(void) {
  uint32_t a, b;
  patch_next_by_string(0x61, &a);
  patch_next_by_string(0x62, &b);
  printf("the next instruction rewritten by fs: rep movsb: %x, then %x\n", a, b);
}

/* An instruction that overwrites its own first byte with ret: it completes as decoded; the
 * next call returns at once. */
uint32_t __attribute__((noinline)) self_destruct(uint32_t x);
__asm__(".text\n"
        "self_destruct:\n"
        "1: movb $0xc3, 1b\n\t"
        "movl $1, %eax\n\t"
        "ret\n");

static void own_bytes(void) {
  uint32_t a, b;
  __asm__ volatile("call self_destruct" : "=a"(a) : "a"(7) : "memory");
  __asm__ volatile("call self_destruct" : "=a"(b) : "a"(7) : "memory");
  printf("an instruction that overwrites itself: %u, then %u\n", a, b);
}

/* rep movsb copies a routine; it is run, then overwritten by another copy and run again. */
static void copied_code(void) {
  static const uint8_t add_one[] = {0x8b, 0x44, 0x24, 0x04, 0x40, 0xc3};  /* mov eax,[esp+4]; inc eax; ret */
  static const uint8_t twice[] = {0x8b, 0x44, 0x24, 0x04, 0x01, 0xc0, 0xc3}; /* ...; add eax,eax; ret */
  uint8_t *dst = code + 128;
  uint32_t (*f)(uint32_t) = (uint32_t(*)(uint32_t))dst;
  uint32_t r[2];
  for (int k = 0; k < 2; k++) {
    const uint8_t *src = k ? twice : add_one;
    uint32_t n = k ? sizeof(twice) : sizeof(add_one);
    uint8_t *d = dst;
    __asm__ volatile("rep movsb" : "+S"(src), "+D"(d), "+c"(n) : : "memory");
    r[k] = f(20);
  }
  printf("code copied with rep movsb: %u, recopied: %u\n", r[0], r[1]);
}

/* The same bytes written through a segment with another base. */
static void through_alias(void) {
  gdt_set(SEL_ALIAS >> 3, (uint32_t)code - 0x10000, 0xfffff, 0x92, 0xc);
  fn0 f = (fn0)(code + 256);
  emit_mov_ret(code + 256, 0x1234);
  uint32_t a = f();
  uint32_t v = 0x5678;
  __asm__ volatile("movw %w1, %%fs\n\t"
                   "movl %0, %%fs:0x10101\n\t"   /* code + 256 + 1: the immediate */
                   "movw %w2, %%fs"
                   :
                   : "r"(v), "r"(SEL_ALIAS), "r"(SEL_DATA)
                   : "memory");
  uint32_t b = f();
  printf("patched through another segment: %x then %x\n", a, b);
}

/* mov eax, imm32 whose immediate's last two bytes are on the next page. */
static void across_pages(void) {
  uint8_t *p = code + 4096 - 3;
  fn0 f = (fn0)p;
  emit_mov_ret(p, 0xaabbccdd);
  uint32_t a = f();
  code[4096] = 0x11;
  code[4097] = 0x22; /* the second page only */
  uint32_t b = f();
  printf("instruction across a page boundary: %x, second page patched: %x\n", a, b);
}

/* A block that jumps to another (a chainable direct jump); the target is then rewritten. */
static void chained_target(void) {
  uint8_t *p = code + 2 * 4096 + 100, *t = code + 2 * 4096 + 200;
  p[0] = 0xe9; /* jmp rel32 to t */
  int32_t rel = (int32_t)(t - (p + 5));
  memcpy(p + 1, &rel, 4);
  emit_mov_ret(t, 1);
  fn0 f = (fn0)p;
  uint32_t sum = 0;
  for (uint32_t i = 0; i < 100; i++) {
    sum += f();
    if (i == 50)
      emit_mov_ret(t, 1000);
  }
  printf("jump target rewritten after 51 calls: %u\n", sum);
}

int main(void) {
  traps_init();
  write_then_run();
  patch_in_loop();
  loop_patches_itself();
  same_block();
  next_by_string();
  own_bytes();
  copied_code();
  through_alias();
  across_pages();
  chained_target();
  return 0;
}
