/* indirect.c - control flow whose target is data: calls through function pointers (one call
 * site, many targets), a switch that gcc compiles to a jump table, computed goto, indirect
 * jumps and calls through registers and memory, deep and mutual recursion on a large stack,
 * returns that do not match their calls (push/ret as a jump, a setjmp/longjmp out of deep
 * recursion), which an indirect-branch or return cache must not get wrong. */
#include "lib/guest.h"

/* ---- function pointers ---- */

static uint32_t __attribute__((noinline)) f_add(uint32_t a, uint32_t b) { return a + b; }
static uint32_t __attribute__((noinline)) f_sub(uint32_t a, uint32_t b) { return a - b; }
static uint32_t __attribute__((noinline)) f_mul(uint32_t a, uint32_t b) { return a * b; }
static uint32_t __attribute__((noinline)) f_xor(uint32_t a, uint32_t b) { return a ^ b; }
static uint32_t __attribute__((noinline)) f_rot(uint32_t a, uint32_t b) {
  return a << (b & 31) | a >> ((32 - b) & 31);
}

typedef uint32_t (*binop)(uint32_t, uint32_t);
static binop volatile ops[5] = {f_add, f_sub, f_mul, f_xor, f_rot};

static void function_pointers(void) {
  uint32_t acc = 1;
  for (uint32_t i = 0; i < 100000; i++)
    acc = ops[(i * 7 + (acc >> 3)) % 5](acc, i) + 1;
  printf("function pointers: %08x\n", acc);
}

/* ---- jump tables ---- */

static uint32_t __attribute__((noinline)) dispatch(uint32_t op, uint32_t x) {
  switch (op) {
  case 0: return x + 1;
  case 1: return x * 3;
  case 2: return x ^ 0x5a5a;
  case 3: return x >> 1;
  case 4: return x << 2;
  case 5: return ~x;
  case 6: return x - 7;
  case 7: return x * x;
  case 8: return x | 0x100;
  case 9: return x & 0xff00ff;
  case 10: return x + 0x12345;
  case 11: return x / 3;
  case 12: return x % 1000;
  case 13: return -x;
  case 14: return x >> 7 | x << 25;
  case 15: return x + (x >> 16);
  default: return 0;
  }
}

static void jump_table(void) {
  uint32_t x = 12345;
  for (uint32_t i = 0; i < 50000; i++)
    x = dispatch((x ^ i) & 15, x) + i;
  printf("switch jump table: %08x\n", x);
}

static void computed_goto(void) {
  static void *const program[] = {&&inc, &&dbl, &&inc, &&sq, &&dbl, &&dec, &&done};
  uint32_t v = 3, rounds = 0;
  int pc = 0;
again:
  pc = 0;
  goto *program[pc];
inc:
  v++;
  goto *program[++pc];
dbl:
  v *= 2;
  goto *program[++pc];
sq:
  v = v * v % 100003;
  goto *program[++pc];
dec:
  v--;
  goto *program[++pc];
done:
  if (++rounds < 1000)
    goto again;
  printf("computed goto: %u\n", v);
}

/* indirect jmp/call through a register, memory with SIB, and push+ret used as a jump */
static void indirect_forms(void) {
  static const uint32_t targets[3] = {0, 0, 0};
  uint32_t r = 0;
  (void)targets;
  __asm__ volatile("movl $1f, %%eax\n\t"
                   "jmp *%%eax\n\t"
                   "orl $1, %[r]\n"
                   "1: movl $2f, %%ecx\n\t"
                   "pushl %%ecx\n\t"
                   "movl %%esp, %%ebx\n\t"
                   "movl $0, %%esi\n\t"
                   "jmp *(%%ebx,%%esi,4)\n\t"
                   "orl $2, %[r]\n"
                   "2: addl $4, %%esp\n\t"
                   "pushl $3f\n\t"
                   "ret\n\t"                   /* a jump, not a return */
                   "orl $4, %[r]\n"
                   "3: call 4f\n\t"
                   "orl $8, %[r]\n"             /* skipped: 4 returns elsewhere */
                   "4: addl $4, %%esp\n\t"       /* drop the return address */
                   "orl $16, %[r]"
                   : [r] "+r"(r)
                   :
                   : "eax", "ebx", "ecx", "esi", "memory");
  printf("indirect jmp forms: %x\n", r);
}

/* ---- recursion ---- */

static uint32_t __attribute__((noinline)) fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static uint32_t __attribute__((noinline)) ack(uint32_t m, uint32_t n) {
  if (m == 0)
    return n + 1;
  if (n == 0)
    return ack(m - 1, 1);
  return ack(m - 1, ack(m, n - 1));
}

static int __attribute__((noinline)) is_odd(uint32_t n);
static int __attribute__((noinline)) is_even(uint32_t n) { return n == 0 ? 1 : is_odd(n - 1); }
static int __attribute__((noinline)) is_odd(uint32_t n) { return n == 0 ? 0 : is_even(n - 1); }

static uint32_t __attribute__((noinline)) depth_sum(uint32_t n) {
  volatile uint32_t local = n; /* keeps a real frame */
  return n == 0 ? 0 : local + depth_sum(n - 1);
}

/* ---- setjmp/longjmp: a return far up the stack ---- */

struct jmpbuf {
  uint32_t ebx, esi, edi, ebp, esp, eip;
};
int my_setjmp(struct jmpbuf *b);
void my_longjmp(struct jmpbuf *b, int v); /* does not return */
__asm__(".text\n"
        "my_setjmp:\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl %ebx, 0(%eax)\n\t"
        "movl %esi, 4(%eax)\n\t"
        "movl %edi, 8(%eax)\n\t"
        "movl %ebp, 12(%eax)\n\t"
        "leal 4(%esp), %ecx\n\t"
        "movl %ecx, 16(%eax)\n\t"
        "movl (%esp), %ecx\n\t"
        "movl %ecx, 20(%eax)\n\t"
        "xorl %eax, %eax\n\t"
        "ret\n"
        "my_longjmp:\n\t"
        "movl 4(%esp), %edx\n\t"
        "movl 8(%esp), %eax\n\t"
        "movl 0(%edx), %ebx\n\t"
        "movl 4(%edx), %esi\n\t"
        "movl 8(%edx), %edi\n\t"
        "movl 12(%edx), %ebp\n\t"
        "movl 16(%edx), %esp\n\t"
        "jmp *20(%edx)\n");

static struct jmpbuf jb;

static uint32_t __attribute__((noinline)) dive(uint32_t n) {
  if (n == 0) {
    my_longjmp(&jb, 42);
    return 0;
  }
  return dive(n - 1) + n; /* not a tail call: every level has a frame */
}

static void long_jumps(void) {
  int total = 0;
  for (int round = 0; round < 100; round++) {
    volatile int v = my_setjmp(&jb);
    if (v == 0)
      dive((uint32_t)round * 10);
    total += v;
  }
  printf("longjmp out of recursion 100 times: %d\n", total);
}

/* The recursion runs on a stack of its own: the boot stack is 64 KiB. */
static uint8_t big_stack[4 << 20] __attribute__((aligned(16)));
uint32_t saved_esp_rec;

static void recursion(void) {
  printf("fib(24) = %u\n", fib(24));
  printf("ack(2, 300) = %u, ack(3, 5) = %u\n", ack(2, 300), ack(3, 5));
  printf("is_even(30001) = %d\n", is_even(30001));
  printf("depth_sum(50000) = %u\n", depth_sum(50000));
  long_jumps();
}

static void on_big_stack(void (*fn)(void)) {
  __asm__ volatile("movl %%esp, saved_esp_rec\n\t"
                   "movl %0, %%esp\n\t"
                   "call *%1\n\t"
                   "movl saved_esp_rec, %%esp"
                   :
                   : "r"(big_stack + sizeof(big_stack)), "r"(fn)
                   : "eax", "ecx", "edx", "memory");
}

int main(void) {
  function_pointers();
  jump_table();
  computed_goto();
  indirect_forms();
  on_big_stack(recursion);
  return 0;
}
