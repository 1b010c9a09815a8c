/* emit.c - the translator's small x86-64 assembler (see emit.h). */
#include "translator/emit.h"

#include <stdlib.h>

static int scale_bits(int scale) {
  switch (scale) {
  case 2: return 1;
  case 4: return 2;
  case 8: return 3;
  default: return 0;
  }
}

void emit_op_mem(struct emitter *e, bool opsize16, bool rexw, const uint8_t *opc, int nopc,
                 int reg, struct mem m) {
  static const uint8_t opsize[] = {PFX_OPSIZE};
  emit_op_mem_prefixed(e, opsize, opsize16 ? 1 : 0, rexw, opc, nopc, reg, m);
}

void emit_op_mem_prefixed(struct emitter *e, const uint8_t *pfx, int npfx, bool rexw,
                          const uint8_t *opc, int nopc, int reg, struct mem m) {
  if (m.gs)
    emit_u8(e, PFX_GS);
  if (m.addr32)
    emit_u8(e, PFX_ADDR32);
  emit_bytes(e, pfx, npfx);
  uint8_t rex = 0x40 | (rexw ? 8 : 0) | (reg >= 8 ? 4 : 0) |
                (m.index >= 8 ? 2 : 0) | (m.base >= 8 ? 1 : 0);
  if (rex != 0x40)
    emit_u8(e, rex);
  emit_bytes(e, opc, nopc);

  int r = reg & 7;
  if (m.base == HR_NONE) {
    int idx = m.index == HR_NONE ? 4 : (m.index & 7);
    emit_u8(e, (uint8_t)(0x04 | r << 3));
    emit_u8(e, (uint8_t)(scale_bits(m.scale) << 6 | idx << 3 | 5));
    emit_u32(e, (uint32_t)m.disp);
    return;
  }
  int b = m.base & 7;
  int mod = (m.disp == 0 && b != 5) ? 0 : (m.disp >= -128 && m.disp <= 127) ? 1 : 2;
  bool sib = m.index != HR_NONE || b == 4;
  emit_u8(e, (uint8_t)(mod << 6 | r << 3 | (sib ? 4 : b)));
  if (sib) {
    int idx = m.index == HR_NONE ? 4 : (m.index & 7);
    emit_u8(e, (uint8_t)(scale_bits(m.scale) << 6 | idx << 3 | b));
  }
  if (mod == 1)
    emit_u8(e, (uint8_t)m.disp);
  else if (mod == 2)
    emit_u32(e, (uint32_t)m.disp);
}

void emit_op_rr(struct emitter *e, bool opsize16, bool rexw, const uint8_t *opc, int nopc,
                int reg, int rm) {
  if (opsize16)
    emit_u8(e, PFX_OPSIZE);
  uint8_t rex = 0x40 | (rexw ? 8 : 0) | (reg >= 8 ? 4 : 0) | (rm >= 8 ? 1 : 0);
  if (rex != 0x40)
    emit_u8(e, rex);
  emit_bytes(e, opc, nopc);
  emit_u8(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* Byte and word accesses only ever use r8-r15 here, so no REX changes what AH..BH mean. */
void emit_load(struct emitter *e, int width, int dst, struct mem m) {
  static const uint8_t mov8[] = {0x8a}, mov32[] = {0x8b};
  if (width == 1)
    emit_op_mem(e, false, false, mov8, 1, dst, m);
  else
    emit_op_mem(e, width == 2, false, mov32, 1, dst, m);
}

void emit_store(struct emitter *e, int width, struct mem m, int src) {
  static const uint8_t mov8[] = {0x88}, mov32[] = {0x89};
  if (width == 1)
    emit_op_mem(e, false, false, mov8, 1, src, m);
  else
    emit_op_mem(e, width == 2, false, mov32, 1, src, m);
}

void emit_store_imm(struct emitter *e, int width, struct mem m, uint32_t imm) {
  static const uint8_t mov8[] = {0xc6}, mov32[] = {0xc7};
  if (width == 1) {
    emit_op_mem(e, false, false, mov8, 1, 0, m);
    emit_u8(e, (uint8_t)imm);
  } else if (width == 2) {
    emit_op_mem(e, true, false, mov32, 1, 0, m);
    uint16_t v = (uint16_t)imm;
    emit_bytes(e, &v, 2);
  } else {
    emit_op_mem(e, false, false, mov32, 1, 0, m);
    emit_u32(e, imm);
  }
}

void emit_lea(struct emitter *e, bool wide, int dst, struct mem m) {
  static const uint8_t lea[] = {0x8d};
  m.gs = false;
  emit_op_mem(e, false, wide, lea, 1, dst, m);
}

void emit_mov_rr(struct emitter *e, bool wide, int dst, int src) {
  static const uint8_t mov[] = {0x89};
  emit_op_rr(e, false, wide, mov, 1, src, dst);
}

void emit_mov_imm32(struct emitter *e, int dst, uint32_t imm) {
  if (dst >= 8)
    emit_u8(e, 0x41);
  emit_u8(e, (uint8_t)(0xb8 + (dst & 7)));
  emit_u32(e, imm);
}

void emit_mov_imm64(struct emitter *e, int dst, uint64_t imm) {
  emit_u8(e, (uint8_t)(0x48 | (dst >= 8 ? 1 : 0)));
  emit_u8(e, (uint8_t)(0xb8 + (dst & 7)));
  emit_u64(e, imm);
}

void emit_jmp_cpu(struct emitter *e, int off) {
  static const uint8_t jmp[] = {0xff};
  emit_op_mem(e, false, false, jmp, 1, 4, cpu_field(off));
}

void emit_jmp_reg(struct emitter *e, int reg) {
  static const uint8_t jmp[] = {0xff};
  emit_op_rr(e, false, false, jmp, 1, 4, reg);
}

void patch_rel32(uint8_t *field, const uint8_t *target) {
  int32_t rel = (int32_t)(target - (field + 4));
  memcpy(field, &rel, 4);
}

uint8_t *emit_jmp_rel32(struct emitter *e, const uint8_t *target) {
  emit_u8(e, 0xe9);
  uint8_t *field = e->p;
  emit_u32(e, 0);
  if (!e->overflow)
    patch_rel32(field, target);
  return field;
}

uint8_t *emit_jcc_rel32(struct emitter *e, int cc, const uint8_t *target) {
  emit_u8(e, 0x0f);
  emit_u8(e, (uint8_t)(0x80 | cc));
  uint8_t *field = e->p;
  emit_u32(e, 0);
  if (!e->overflow)
    patch_rel32(field, target);
  return field;
}
