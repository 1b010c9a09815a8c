/* stack.c - instructions that use the stack, which 64-bit mode encodes differently: push and
 * pop of registers, immediates, memory (ESP-relative addresses: push [esp+4] reads before the
 * decrement, pop [esp+4] writes after the increment), push esp / pop esp, 16-bit pushes and
 * pops, segment registers, pusha/popa, pushf/popf (every flag a CPL-0 popf can change), call
 * and ret (direct, register, memory, ret imm16, call-to-next for the EIP), enter with nesting
 * levels 0-3 and leave, in 32- and 16-bit forms. ESP prints relative to where it started. */
#include "lib/guest.h"

static uint32_t slots[16];

/* ---- push and pop ---- */

uint32_t push_results[6];

static void pushes(void) {
  uint32_t *r = push_results;
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "pushl $-5\n\t"        /* 6a fb: sign-extended */
                   "pushl $0x12345678\n\t"
                   "pushl %[m]\n\t"
                   "pushl %%esp\n\t"      /* the value before the push */
                   "movl %%esp, %%eax\n\t"
                   "subl %%edx, %%eax\n\t"
                   "movl %%eax, push_results\n\t"
                   "popl %%eax\n\t"
                   "subl %%edx, %%eax\n\t"
                   "movl %%eax, push_results+4\n\t"
                   "popl push_results+8\n\t"
                   "popl push_results+12\n\t"
                   "popl push_results+16\n\t"
                   "movl %%esp, %%eax\n\t"
                   "subl %%edx, %%eax\n\t"
                   "movl %%eax, push_results+20"
                   :
                   : [m] "m"(slots[3])
                   : "eax", "edx", "memory");
  printf("push imm8 %x, imm32 %x, mem %x, esp %d: esp %d, after pops %d\n", r[4], r[3], r[2],
         (int)r[1], (int)r[0], (int)r[5]);

  /* push [esp+4] reads before ESP moves; pop [esp+4] writes after it has moved */
  uint32_t a, b, c;
  __asm__ volatile("pushl $0x1111\n\t"
                   "pushl $0x2222\n\t"
                   "pushl 4(%%esp)\n\t"   /* pushes 0x1111 */
                   "popl %[a]\n\t"
                   "pushl $0x3333\n\t"
                   "popl 4(%%esp)\n\t"    /* stores 0x3333 over 0x1111 */
                   "popl %[b]\n\t"
                   "popl %[c]"
                   : [a] "=r"(a), [b] "=r"(b), [c] "=r"(c)
                   :
                   : "memory");
  printf("push [esp+4] %x, after pop [esp+4]: %x %x\n", a, b, c);

  /* pop esp loads ESP from the stack, no increment after */
  uint32_t e;
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "leal -64(%%esp), %%eax\n\t"
                   "pushl %%eax\n\t"
                   "popl %%esp\n\t"
                   "movl %%esp, %[e]\n\t"
                   "subl %%edx, %[e]\n\t"
                   "movl %%edx, %%esp"
                   : [e] "=r"(e)
                   :
                   : "eax", "edx", "memory");
  printf("pop esp: esp %d\n", (int)e);

  /* 16-bit pushes and pops */
  uint32_t w1 = 0xaaaaaaaa, w2 = 0xbbbbbbbb, w3 = 0xcccccccc, dw;
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "pushw $-2\n\t"
                   "pushw $0x1234\n\t"
                   "pushw %w[m]\n\t"
                   "pushw %[mem]\n\t"
                   "movl %%esp, %[dw]\n\t"
                   "subl %%edx, %[dw]\n\t"
                   "popw %w[w1]\n\t"
                   "popw %w[w2]\n\t"
                   "popw %w[w3]\n\t"
                   "popw %[out]\n\t"
                   : [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [dw] "=&r"(dw),
                     [out] "=m"(slots[5])
                   : [m] "r"(0x5678), [mem] "m"(slots[4])
                   : "edx", "memory");
  printf("16-bit: esp %d, popped %x %x %x %x\n", (int)dw, w1, w2, w3, slots[5]);
}

static void segment_pushes(void) {
  uint32_t v32, v16, d;
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "pushl $0xffffffff\n\t"
                   "addl $4, %%esp\n\t"
                   "pushl %%ds\n\t"        /* newer CPUs write 16 bits here: look at those */
                   "popl %[v32]\n\t"
                   "pushw %%fs\n\t"
                   "popw %w[v16]\n\t"
                   "pushl %%es\n\t"
                   "popl %%gs\n\t"
                   "movl %%esp, %[d]\n\t"
                   "subl %%edx, %[d]"
                   : [v32] "=&r"(v32), [v16] "=&r"(v16), [d] "=&r"(d)
                   : "[v16]"(0x55550000)
                   : "edx", "memory");
  uint16_t gs;
  __asm__ volatile("mov %%gs, %0" : "=r"(gs));
  printf("push ds %x, pushw fs %x, pop gs <- es: %x, esp %d\n", v32 & 0xffff, v16, gs, (int)d);
}

uint32_t pusha_results[8];

static void push_pop_all(void) {
  uint32_t *r = pusha_results;
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "movl $0x100, %%eax\n\t"
                   "movl $0x101, %%ecx\n\t"
                   "movl $0x103, %%ebx\n\t"
                   "movl $0x106, %%esi\n\t"
                   "movl $0x107, %%edi\n\t"
                   "pushl %%ebp\n\t"
                   "movl $0x105, %%ebp\n\t"
                   "pushal\n\t"
                   "movl 28(%%esp), %%eax\n\t" /* EAX slot */
                   "movl %%eax, pusha_results\n\t"
                   "movl 12(%%esp), %%eax\n\t" /* ESP slot: before pusha */
                   "subl %%edx, %%eax\n\t"
                   "movl %%eax, pusha_results+4\n\t"
                   "movl 0(%%esp), %%eax\n\t"  /* EDI slot */
                   "movl %%eax, pusha_results+8\n\t"
                   "movl $0xdead, 12(%%esp)\n\t" /* popa skips the ESP slot */
                   "movl $0x200, 16(%%esp)\n\t"  /* new EBX */
                   "popal\n\t"
                   "movl %%ebx, pusha_results+12\n\t"
                   "movl %%ebp, pusha_results+16\n\t"
                   "movl %%esp, %%eax\n\t"
                   "subl %%edx, %%eax\n\t"
                   "movl %%eax, pusha_results+20\n\t"
                   "movl %%ecx, pusha_results+24\n\t"
                   "popl %%ebp"
                   :
                   :
                   : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory");
  printf("pushal: eax %x esp %d edi %x; popal: ebx %x ebp %x esp %d ecx %x\n", r[0], (int)r[1],
         r[2], r[3], r[4], (int)r[5], r[6]);
  /* 16-bit: pushaw writes 8 words, popaw reads them back */
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "movl $0xaaaa1111, %%eax\n\t"
                   "movl $0xbbbb2222, %%ebx\n\t"
                   "pushaw\n\t"
                   "movl %%esp, %%ecx\n\t"
                   "subl %%edx, %%ecx\n\t"
                   "movl %%ecx, pusha_results\n\t"
                   "movw $0x3333, 14(%%esp)\n\t" /* AX slot */
                   "movl $0, %%eax\n\t"
                   "popaw\n\t"
                   "movl %%eax, pusha_results+4\n\t"
                   "movl %%ebx, pusha_results+8"
                   :
                   :
                   : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory");
  printf("pushaw: esp %d; popaw: eax %x ebx %x\n", (int)r[0], r[1], r[2]);
}

/* ---- flags ---- */

static uint32_t popf_pushf(uint32_t v) {
  uint32_t r;
  __asm__ volatile("pushf\n\t"
                   "pushl %1\n\t"
                   "popf\n\t"
                   "pushf\n\t"
                   "popl %0\n\t"
                   "popf"
                   : "=r"(r)
                   : "r"(v)
                   : "cc");
  return r;
}

static void flags(void) {
  /* everything but TF and IF (no single steps, no interrupts), RF, VM, VIF, VIP */
  static const uint32_t tries[] = {0, 0x00000fd5, 0x00007000, 0x00040000, 0x00200000,
                                   0x00247fd5 & ~0x300u, 0xffffffff & ~0x300u & ~0x4000u};
  for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
    printf("popf %08x -> pushf %08x\n", tries[i], popf_pushf(tries[i]));
  uint32_t w;
  __asm__ volatile("pushf\n\t"
                   "pushw $0x08d5\n\t" /* 16-bit popf: OF, DF, SF, ZF, AF, PF, CF */
                   "popfw\n\t"
                   "pushfw\n\t"
                   "popw %w0\n\t"
                   "popf"
                   : "=r"(w)
                   : "0"(0xeeee0000)
                   : "cc");
  printf("popfw 08d5 -> pushfw %x\n", w);
  /* DF set through popf steers a string instruction */
  char buf[4] = "abc", *p = buf + 2;
  __asm__ volatile("pushf\n\t"
                   "pushl $0x402\n\t"
                   "popf\n\t"
                   "movb $'x', %%al\n\t"
                   "stosb\n\t"
                   "stosb\n\t"
                   "popf"
                   : "+D"(p)
                   :
                   : "eax", "cc", "memory");
  printf("std via popf: %s, edi %d\n", buf, (int)(p - buf));
}

/* ---- call and ret ---- */

/* callee_stdcall(a, b) returns a - b and pops its arguments; callee_ret16 pops 16 bytes */
__asm__(".text\n"
        "callee_stdcall:\n\t"
        "movl 4(%esp), %eax\n\t"
        "subl 8(%esp), %eax\n\t"
        "ret $8\n\t"
        "callee_ret16:\n\t"
        "movl $7, %eax\n\t"
        "ret $0x10\n");

static void calls(void) {
  uint32_t r, d, pc, here;
  /* ret imm16 pops the arguments */
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "pushl $10\n\t"
                   "pushl $52\n\t"
                   "call callee_stdcall\n\t"
                   "movl %%esp, %[d]\n\t"
                   "subl %%edx, %[d]"
                   : "=a"(r), [d] "=&r"(d)
                   :
                   : "ecx", "edx", "memory");
  printf("stdcall 52-10 = %u, esp %d\n", r, (int)d);
  __asm__ volatile("movl %%esp, %%edx\n\t"
                   "subl $16, %%esp\n\t"
                   "call callee_ret16\n\t"
                   "movl %%esp, %[d]\n\t"
                   "subl %%edx, %[d]"
                   : "=a"(r), [d] "=&r"(d)
                   :
                   : "ecx", "edx", "memory");
  printf("ret 0x10: %u, esp %d\n", r, (int)d);
  /* call to the next instruction pushes its guest address (position-independent code) */
  __asm__ volatile("call 1f\n"
                   "1: popl %0\n\t"
                   "movl $1b, %1"
                   : "=r"(pc), "=r"(here));
  printf("call/pop EIP: %s\n", pc == here ? "the guest address" : "wrong");
  /* call through a register and through memory; the return address they push */
  static void *target;
  uint32_t ret1, ret2, want1, want2;
  target = &&landing;
  __asm__ volatile("jmp 2f\n"
                   "3: popl %[r]\n\t"
                   "pushl %[r]\n\t"
                   "ret\n"
                   "2: movl $3b, %%eax\n\t"
                   "call *%%eax\n"
                   "4: movl %[r], %[r1]\n\t"
                   "movl $4b, %[w1]\n\t"
                   "movl $3b, %[t]\n\t"
                   "call *%[t]\n"
                   "5: movl $5b, %[w2]"
                   : [r] "=&r"(ret2), [r1] "=&r"(ret1), [w1] "=&r"(want1), [w2] "=&r"(want2),
                     [t] "=m"(target)
                   :
                   : "eax", "memory");
  printf("call reg returns to %s, call mem returns to %s\n", ret1 == want1 ? "next" : "wrong",
         ret2 == want2 ? "next" : "wrong");
landing:
  return;
}

/* ---- enter and leave ---- */

/* enter $12, $level with a chain of fake frame pointers above EBP; results[] gets ESP and
 * EBP after it (relative), the frame's first words, and EBP/ESP after leave (relative). */
uint32_t enter_results[8];
#define ENTER(level)                                                                         \
  do {                                                                                       \
    __asm__ volatile("pushl %%ebp\n\t"                                                       \
                     "movl %%esp, %%edx\n\t"                                                 \
                     "leal -100(%%esp), %%ebp\n\t"                                           \
                     "movl $0xf1, -104(%%edx)\n\t"                                           \
                     "movl $0xf2, -108(%%edx)\n\t"                                           \
                     "movl $0xf3, -112(%%edx)\n\t"                                           \
                     "enter $12, $" #level "\n\t"                                            \
                     "movl %%esp, %%eax\n\t"                                                 \
                     "subl %%edx, %%eax\n\t"                                                 \
                     "movl %%eax, enter_results\n\t"                                         \
                     "movl %%ebp, %%eax\n\t"                                                 \
                     "subl %%edx, %%eax\n\t"                                                 \
                     "movl %%eax, enter_results+4\n\t"                                       \
                     "movl -4(%%ebp), %%eax\n\t"                                             \
                     "movl %%eax, enter_results+8\n\t"                                       \
                     "movl -8(%%ebp), %%eax\n\t"                                             \
                     "movl %%eax, enter_results+12\n\t"                                      \
                     "movl -12(%%ebp), %%eax\n\t"                                            \
                     "movl %%eax, enter_results+16\n\t"                                      \
                     "leave\n\t"                                                             \
                     "subl %%edx, %%ebp\n\t"                                                 \
                     "movl %%ebp, enter_results+20\n\t"                                      \
                     "movl %%esp, %%eax\n\t"                                                 \
                     "subl %%edx, %%eax\n\t"                                                 \
                     "movl %%eax, enter_results+24\n\t"                                      \
                     "movl %%edx, %%esp\n\t"                                                 \
                     "popl %%ebp"                                                            \
                     :                                                                       \
                     :                                                                       \
                     : "eax", "edx", "memory");                                              \
    uint32_t *r = enter_results;                                                             \
    printf("enter 12, %d: esp %d ebp %d, frame", level, (int)r[0], (int)r[1]);              \
    for (int k = 0; k < level; k++) /* the rest is uninitialized locals */                  \
      printf(" %x", r[2 + k]);                                                               \
    printf("; leave: ebp %d esp %d\n", (int)r[5], (int)r[6]);                              \
  } while (0)

static void enter_leave(void) {
  ENTER(0);
  ENTER(1);
  ENTER(2);
  ENTER(3);
  uint32_t d, b;
  __asm__ volatile("pushl %%ebp\n\t"
                   "movl %%esp, %%edx\n\t"
                   "movl $0x77770000, %%ebp\n\t"
                   "enterw $6, $0\n\t"
                   "movl %%esp, %[d]\n\t"
                   "subl %%edx, %[d]\n\t"
                   "movl %%ebp, %[b]\n\t"
                   "leavew\n\t"
                   "movl %%edx, %%esp\n\t"
                   "popl %%ebp"
                   : [d] "=&r"(d), [b] "=&r"(b)
                   :
                   : "edx", "memory");
  printf("enterw 6, 0: esp %d, bp %x\n", (int)d, b & 0xffff);
}

int main(void) {
  traps_init();
  for (int i = 0; i < 16; i++)
    slots[i] = 0x1000 + (uint32_t)i;
  pushes();
  segment_pushes();
  push_pop_all();
  flags();
  calls();
  enter_leave();
  return 0;
}
