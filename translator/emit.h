/* emit.h - a small x86-64 assembler for the sequences the translator writes itself.
 *
 * Guest instructions are copied, not assembled (translate.c); these helpers only cover the
 * handful of forms the translator needs around them: moves through a segment-prefixed 32-bit
 * address, lea, jumps through the vCPU, and immediates. Register numbers are host encodings
 * (0-15); HR_* names the translator's own. */
#ifndef BT386_EMIT_H
#define BT386_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
  HR_RAX, HR_RCX, HR_RDX, HR_RBX, HR_RSP, HR_RBP, HR_RSI, HR_RDI,
  HR_R8, HR_R9, HR_R10, HR_R11, HR_R12, HR_R13, HR_R14, HR_R15,
};
#define HR_NONE (-1)
#define HR_CPU HR_R15
#define HR_VIEW HR_R12
#define HR_FSBASE HR_R13
#define HR_GSBASE HR_R14

#define PFX_GS 0x65
#define PFX_ADDR32 0x67
#define PFX_OPSIZE 0x66

struct emitter {
  uint8_t *p;
  uint8_t *end;
  bool overflow; /* set when a write would pass end; the caller discards the block */
};

static inline void emit_u8(struct emitter *e, uint8_t v) {
  if (e->p < e->end)
    *e->p++ = v;
  else
    e->overflow = true;
}

static inline void emit_bytes(struct emitter *e, const void *b, int n) {
  if (e->p + n <= e->end) {
    memcpy(e->p, b, n);
    e->p += n;
  } else {
    e->overflow = true;
  }
}

static inline void emit_u32(struct emitter *e, uint32_t v) { emit_bytes(e, &v, 4); }
static inline void emit_u64(struct emitter *e, uint64_t v) { emit_bytes(e, &v, 8); }

/* A memory operand: [base + index*scale + disp], 32- or 64-bit address size, optional GS. */
struct mem {
  int base;  /* HR_* or HR_NONE */
  int index; /* HR_* or HR_NONE (never RSP) */
  int scale; /* 1, 2, 4, 8 */
  int32_t disp;
  bool gs;
  bool addr32;
};

static inline struct mem mem_base(int base, int32_t disp, bool gs) {
  return (struct mem){base, HR_NONE, 1, disp, gs, true};
}

/* A field of struct cpu, through the vCPU pointer (64-bit addressing). */
static inline struct mem cpu_field(int32_t offset) {
  return (struct mem){HR_CPU, HR_NONE, 1, offset, false, false};
}

/* Emit prefixes, REX, opcode, ModRM/SIB/disp for "op reg, mem" (or with reg an opcode
 * extension). opsize16 adds 0x66; rexw sets REX.W; byte_reg forces a REX when reg is 4-7 so
 * that it means SPL..DIL (never wanted here, so it is an error to ask). */
void emit_op_mem(struct emitter *e, bool opsize16, bool rexw, const uint8_t *opc, int nopc,
                 int reg, struct mem m);
/* The same with arbitrary legacy prefixes (placed after GS and 0x67, before REX). */
void emit_op_mem_prefixed(struct emitter *e, const uint8_t *pfx, int npfx, bool rexw,
                          const uint8_t *opc, int nopc, int reg, struct mem m);
/* "op reg, rm" with both registers. */
void emit_op_rr(struct emitter *e, bool opsize16, bool rexw, const uint8_t *opc, int nopc,
                int reg, int rm);

/* mov dst32, [m] / mov [m], src32 (width 1, 2 or 4; 1 and 2 only for HR_R8.. sources/dests). */
void emit_load(struct emitter *e, int width, int dst, struct mem m);
void emit_store(struct emitter *e, int width, struct mem m, int src);
void emit_store_imm(struct emitter *e, int width, struct mem m, uint32_t imm);
/* lea dst, [m] (32-bit destination unless wide). */
void emit_lea(struct emitter *e, bool wide, int dst, struct mem m);
void emit_mov_rr(struct emitter *e, bool wide, int dst, int src);
void emit_mov_imm32(struct emitter *e, int dst, uint32_t imm);
void emit_mov_imm64(struct emitter *e, int dst, uint64_t imm);
/* jmp [r15 + off] */
void emit_jmp_cpu(struct emitter *e, int off);
void emit_jmp_reg(struct emitter *e, int reg);
/* jmp rel32 / jcc rel32 to a host address; returns the address of the rel32 field. */
uint8_t *emit_jmp_rel32(struct emitter *e, const uint8_t *target);
uint8_t *emit_jcc_rel32(struct emitter *e, int cc, const uint8_t *target);
void patch_rel32(uint8_t *field, const uint8_t *target);

#endif
