/* bytecode.c - a switch-dispatched stack machine running a loop of small byte-code
 * instructions: one indirect jump through a table per virtual instruction, the way simple
 * interpreters work. The program runs n million iterations of a loop that mixes an LCG, a
 * shift-xor hash and a data-dependent branch into a global checksum. */
#include "bench.h"

#ifndef BENCH_N
#define BENCH_N 24
#endif

const char bench_name[] = "bytecode";

enum op {
  OP_HALT, OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_MUL, OP_XOR, OP_AND, OP_SHL, OP_SHR,
  OP_DUP, OP_DROP, OP_SWAP, OP_LT, OP_JZ, OP_JMP, OP_INC, OP_OVER,
};

/* Locals: 0 = i, 1 = limit, 2 = x, 3 = acc, 4 = odd counter */
static const int32_t program[] = {
    /* 0 */ OP_PUSH, 0, OP_STORE, 0,
    /* 4 loop: if !(i < limit) goto end */
    OP_LOAD, 0, OP_LOAD, 1, OP_LT, OP_JZ, 60,
    /* 11: x = x * 1103515245 + 12345 */
    OP_LOAD, 2, OP_PUSH, 1103515245, OP_MUL, OP_PUSH, 12345, OP_ADD, OP_STORE, 2,
    /* 21: acc = (acc ^ (x >> 7)) + (acc << 3) */
    OP_LOAD, 3, OP_DUP, OP_LOAD, 2, OP_PUSH, 7, OP_SHR, OP_XOR, OP_SWAP, OP_PUSH, 3, OP_SHL,
    OP_ADD, OP_STORE, 3,
    /* 37: if (x & 0x100) odd++ */
    OP_LOAD, 2, OP_PUSH, 0x100, OP_AND, OP_JZ, 49, OP_LOAD, 4, OP_INC, OP_STORE, 4,
    /* 49: i++ ; goto loop */
    OP_LOAD, 0, OP_INC, OP_STORE, 0, OP_JMP, 4,
    /* 56: unreachable padding */
    OP_HALT, OP_HALT, OP_HALT, OP_HALT,
    /* 60 end: acc ^ odd */
    OP_LOAD, 3, OP_LOAD, 4, OP_XOR, OP_HALT,
};

static uint32_t run(const int32_t *code, uint32_t *locals) {
  uint32_t stack[64];
  int sp = 0, pc = 0;
  for (;;) {
    int32_t op = code[pc++];
    switch (op) {
    case OP_HALT: return stack[sp - 1];
    case OP_PUSH: stack[sp++] = (uint32_t)code[pc++]; break;
    case OP_LOAD: stack[sp++] = locals[code[pc++]]; break;
    case OP_STORE: locals[code[pc++]] = stack[--sp]; break;
    case OP_ADD: sp--; stack[sp - 1] += stack[sp]; break;
    case OP_SUB: sp--; stack[sp - 1] -= stack[sp]; break;
    case OP_MUL: sp--; stack[sp - 1] *= stack[sp]; break;
    case OP_XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
    case OP_AND: sp--; stack[sp - 1] &= stack[sp]; break;
    case OP_SHL: sp--; stack[sp - 1] <<= stack[sp] & 31; break;
    case OP_SHR: sp--; stack[sp - 1] >>= stack[sp] & 31; break;
    case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
    case OP_DROP: sp--; break;
    case OP_SWAP: { uint32_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; break; }
    case OP_LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
    case OP_JZ: { int32_t t = code[pc++]; if (!stack[--sp]) pc = t; break; }
    case OP_JMP: pc = code[pc]; break;
    case OP_INC: stack[sp - 1]++; break;
    case OP_OVER: stack[sp] = stack[sp - 2]; sp++; break;
    default: return 0xdeadu;
    }
  }
}

uint32_t bench(uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t r = 0; r < n; r++) {
    uint32_t locals[8] = {0, 1000000, r, 0x12345u, 0, 0, 0, 0};
    h = bench_mix(h, run(program, locals));
  }
  return h;
}
