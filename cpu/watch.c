/* watch.c - data breakpoints (SDM vol. 3, 17.2.4-17.2.5): DR0-DR3 with R/Wn 01 (data writes)
 * or 11 (data reads or writes), LENn 1, 2, 4 or 8 bytes at an address aligned to it. They are
 * a trap after the instruction that accessed the range. Translated code touches memory
 * directly, so while one is armed each instruction runs in a block of its own (KEY_WATCH) and
 * the run loop works out, before it runs, which ranges its memory operands (explicit and
 * implicit: stack slots, string elements for every repetition) will touch. Accesses the CPU
 * makes for itself (descriptor tables, an exception's frame) are not checked. */
#include <Zydis/Zydis.h>
#include <string.h>

#include "cpu/cpu.h"
#include "mmu/mmu.h"

struct watch {
  uint32_t lo, len;
  bool reads; /* R/W 11: reads too */
};

/* The armed data breakpoints, by number; their count. */
static int armed(const struct cpu *cpu, struct watch w[4]) {
  int n = 0;
  for (int i = 0; i < 4; i++) {
    unsigned enable = (cpu->dr[7] >> (2 * i)) & 3;
    unsigned rw = (cpu->dr[7] >> (DR7_RW_SHIFT + 4 * i)) & 3;
    unsigned len = (cpu->dr[7] >> (DR7_RW_SHIFT + 2 + 4 * i)) & 3;
    static const uint32_t bytes[4] = {1, 2, 8, 4};
    if (!enable || (rw != 1 && rw != 3)) {
      w[i].len = 0;
      continue;
    }
    w[i].len = bytes[len];
    w[i].lo = cpu->dr[i] & ~(w[i].len - 1);
    w[i].reads = rw == 3;
    n++;
  }
  return n;
}

bool cpu_has_data_breakpoints(const struct cpu *cpu) {
  if (!(cpu->dr[7] & 0xffu)) /* every lookup asks: no breakpoint enabled is the usual answer */
    return false;
  struct watch w[4];
  return armed(cpu, w) > 0;
}

static bool overlaps(uint32_t a, uint64_t alen, uint32_t b, uint32_t blen) {
  return (uint64_t)a < (uint64_t)b + blen && (uint64_t)b < (uint64_t)a + alen;
}

static void register_context(const struct cpu *cpu, ZydisRegisterContext *ctx) {
  static const ZydisRegister r32[8] = {ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EDX,
                                       ZYDIS_REGISTER_EBX, ZYDIS_REGISTER_ESP, ZYDIS_REGISTER_EBP,
                                       ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EDI};
  static const ZydisRegister r16[8] = {ZYDIS_REGISTER_AX, ZYDIS_REGISTER_CX, ZYDIS_REGISTER_DX,
                                       ZYDIS_REGISTER_BX, ZYDIS_REGISTER_SP, ZYDIS_REGISTER_BP,
                                       ZYDIS_REGISTER_SI, ZYDIS_REGISTER_DI};
  memset(ctx, 0, sizeof(*ctx));
  for (int i = 0; i < 8; i++) {
    ctx->values[r32[i]] = cpu->regs[i];
    ctx->values[r16[i]] = cpu->regs[i] & 0xffff;
  }
}

static int segment_of(ZydisRegister r) {
  switch (r) {
  case ZYDIS_REGISTER_ES: return SEG_ES;
  case ZYDIS_REGISTER_CS: return SEG_CS;
  case ZYDIS_REGISTER_SS: return SEG_SS;
  case ZYDIS_REGISTER_FS: return SEG_FS;
  case ZYDIS_REGISTER_GS: return SEG_GS;
  default: return SEG_DS;
  }
}

/* The linear range one memory operand touches, and whether it is written. False for an
 * operand that touches no memory (lea's, a hint's). */
static bool operand_range(const struct cpu *cpu, const ZydisDecodedInstruction *in,
                          const ZydisDecodedOperand *op, const ZydisRegisterContext *ctx,
                          uint32_t *lin, uint64_t *len, bool *write) {
  if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
    return false;
  ZyanU64 offset;
  if (ZYAN_FAILED(ZydisCalcAbsoluteAddressEx(in, op, cpu->eip, ctx, &offset)))
    return false;
  uint32_t size = op->size / 8 ? op->size / 8 : 1;
  bool stack = op->visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN &&
               (op->mem.base == ZYDIS_REGISTER_ESP || op->mem.base == ZYDIS_REGISTER_SP);
  *write = op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
  if (stack && *write)
    offset -= size; /* a push writes below ESP */
  *len = size;
  if (in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) {
    uint32_t count = in->address_width == 16 ? cpu->regs[R_ECX] & 0xffff : cpu->regs[R_ECX];
    if (count == 0)
      return false;
    *len = (uint64_t)count * size;
    if (cpu->eflags & FL_DF)
      offset -= (uint64_t)(count - 1) * size;
  }
  if (in->address_width == 16)
    offset &= 0xffff;
  *lin = cpu->seg[segment_of(op->mem.segment)].base + (uint32_t)offset;
  return true;
}

uint32_t cpu_data_breakpoint_hits(struct cpu *cpu) {
  static ZydisDecoder decoder, decoder16;
  static bool ready;
  if (!ready) {
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisDecoderInit(&decoder16, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    ready = true;
  }
  struct watch w[4];
  if (!armed(cpu, w))
    return 0;
  /* The instruction's bytes, as far as they can be fetched without a fault (a fault is the
   * instruction's own, raised when it runs). */
  uint8_t bytes[15];
  unsigned got = 0, user = cpu->cpl == 3 ? MMU_USER : 0;
  struct pending_event saved = cpu->pending;
  uint32_t cr2 = cpu->cr2;
  while (got < sizeof(bytes)) {
    uint32_t lin = cpu->seg[SEG_CS].base + cpu->eip + got;
    unsigned n = PAGE_SIZE - (lin & (PAGE_SIZE - 1));
    if (n > sizeof(bytes) - got)
      n = sizeof(bytes) - got;
    if (!mmu_read(cpu->mmu, cpu, lin, bytes + got, n, user | MMU_FETCH))
      break;
    got += n;
  }
  cpu->pending = saved;
  cpu->cr2 = cr2;
  ZydisDecodedInstruction in;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  bool code16 = !(cpu->seg[SEG_CS].attr & SEGA_DB);
  if (ZYAN_FAILED(ZydisDecoderDecodeFull(code16 ? &decoder16 : &decoder, bytes, got, &in, ops)))
    return 0;
  ZydisRegisterContext ctx;
  register_context(cpu, &ctx);
  uint32_t hits = 0;
  for (int i = 0; i < in.operand_count; i++) {
    uint32_t lin;
    uint64_t len;
    bool write;
    if (!operand_range(cpu, &in, &ops[i], &ctx, &lin, &len, &write))
      continue;
    for (int n = 0; n < 4; n++)
      if (w[n].len && (write || w[n].reads) && overlaps(lin, len, w[n].lo, w[n].len))
        hits |= 1u << n;
  }
  return hits;
}
