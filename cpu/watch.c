/* watch.c - data breakpoints (SDM vol. 3, 17.2.4-17.2.5): DR0-DR3 with R/Wn 01 (data writes)
 * or 11 (data reads or writes), LENn 1, 2, 4 or 8 bytes at an address aligned to it. They are
 * a trap after the instruction that accessed the range. Translated code touches memory
 * directly, so while one is armed each instruction runs in a block of its own (KEY_WATCH) and
 * the run loop works out, before it runs, which ranges its memory operands (explicit and
 * implicit: stack slots, IRET's frame, bit strings) will touch; a rep string instruction is
 * judged afterwards by the repetitions it made. Accesses the CPU makes for itself (descriptor
 * tables, an exception's frame) are not checked. */
#include <Zydis/Zydis.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/emulate.h"
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
  static const ZydisRegister r8lo[4] = {ZYDIS_REGISTER_AL, ZYDIS_REGISTER_CL, ZYDIS_REGISTER_DL,
                                         ZYDIS_REGISTER_BL};
  memset(ctx, 0, sizeof(*ctx));
  for (int i = 0; i < 8; i++) {
    ctx->values[r32[i]] = cpu->regs[i];
    ctx->values[r16[i]] = cpu->regs[i] & 0xffff;
  }
  for (int i = 0; i < 4; i++)
    ctx->values[r8lo[i]] = cpu->regs[i] & 0xff;
}

/* Instructions whose memory operand touches no memory: hints, and cache and TLB control. */
static bool touches_nothing(ZydisMnemonic m) {
  switch (m) {
  case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_PREFETCHT0: case ZYDIS_MNEMONIC_PREFETCHT1:
  case ZYDIS_MNEMONIC_PREFETCHT2: case ZYDIS_MNEMONIC_PREFETCHNTA: case ZYDIS_MNEMONIC_PREFETCHW:
  case ZYDIS_MNEMONIC_INVLPG: case ZYDIS_MNEMONIC_CLFLUSH: case ZYDIS_MNEMONIC_LEA:
    return true;
  default:
    return false;
  }
}

static bool is_bit_test(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR ||
         m == ZYDIS_MNEMONIC_BTC;
}

static bool is_rep_string(const ZydisDecodedInstruction *in) {
  return in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
}

/* The linear range one memory operand touches, and whether it is written, for an instruction
 * that starts with the registers in ctx (a rep string instruction: over `count` repetitions).
 * False for an operand that touches no memory. */
static bool operand_range(const struct cpu *cpu, const ZydisDecodedInstruction *in,
                          const ZydisDecodedOperand *ops, int i, const ZydisRegisterContext *ctx,
                          uint32_t count, uint32_t *lin, uint64_t *len, bool *write) {
  const ZydisDecodedOperand *op = &ops[i];
  if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM ||
      touches_nothing(in->mnemonic))
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
  if (in->mnemonic == ZYDIS_MNEMONIC_POP && !stack &&
      (op->mem.base == ZYDIS_REGISTER_ESP || op->mem.base == ZYDIS_REGISTER_SP))
    offset += size; /* pop m with an ESP base: the address after the pop */
  if (in->mnemonic == ZYDIS_MNEMONIC_XLAT)
    offset += cpu->regs[R_EAX] & 0xff; /* [EBX + AL]: Zydis leaves AL out */
  if (is_bit_test(in->mnemonic) && i == 0 && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
    /* bt m, r: the register is a signed bit offset from the operand */
    int32_t bit = (int32_t)ctx->values[ops[1].reg.value];
    if (size == 2)
      bit = (int16_t)bit;
    offset += (uint64_t)(int64_t)((bit >> (size == 2 ? 4 : 5)) * (int32_t)size);
  }
  *len = size;
  if (is_rep_string(in)) {
    if (count == 0)
      return false;
    *len = (uint64_t)count * size;
    if (cpu->eflags & FL_DF)
      offset -= (uint64_t)(count - 1) * size;
  }
  if (in->address_width == 16 && !stack)
    offset &= 0xffff;
  *lin = cpu->seg[cpu_segment_of(op->mem.segment)].base + (uint32_t)offset;
  return true;
}

/* IRET reads 3 slots to return to its own level, 5 to an outer one, 9 to virtual-8086 mode,
 * and none for a task return (NT): not the 5 Zydis lists. */
static uint32_t iret_bytes(struct cpu *cpu, unsigned width) {
  if (cpu->eflags & FL_NT)
    return 0;
  uint32_t sp = cpu->seg[SEG_SS].base + cpu->regs[R_ESP];
  uint32_t cs = 0, flags = 0;
  struct pending_event saved = cpu->pending;
  uint32_t cr2 = cpu->cr2;
  bool ok = mmu_read(cpu->mmu, cpu, sp + width, &cs, width, 0) &&
            mmu_read(cpu->mmu, cpu, sp + 2 * width, &flags, width, 0);
  cpu->pending = saved;
  cpu->cr2 = cr2;
  if (!ok)
    return 3 * width;
  if (width == 4 && (flags & FL_VM) && cpu->cpl == 0)
    return 9 * width;
  return ((int)(cs & 3) > cpu->cpl ? 5 : 3) * width;
}

/* What the instruction at CS:EIP is, decoded, with the registers it starts with. */
static struct {
  bool valid, rep;
  ZydisDecodedInstruction in;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  ZydisRegisterContext ctx;
  uint32_t eip, ecx, eflags;
} last;

static uint32_t hits_of(struct cpu *cpu, uint32_t count) {
  struct watch w[4];
  if (!armed(cpu, w))
    return 0;
  uint32_t hits = 0;
  for (int i = 0; i < last.in.operand_count; i++) {
    uint32_t lin;
    uint64_t len;
    bool write;
    if (!operand_range(cpu, &last.in, last.ops, i, &last.ctx, count, &lin, &len, &write))
      continue;
    if (last.in.mnemonic == ZYDIS_MNEMONIC_IRET || last.in.mnemonic == ZYDIS_MNEMONIC_IRETD)
      len = iret_bytes(cpu, last.in.operand_width / 8);
    for (int n = 0; n < 4; n++)
      if (w[n].len && (write || w[n].reads) && overlaps(lin, len, w[n].lo, w[n].len))
        hits |= 1u << n;
  }
  return hits;
}

uint32_t cpu_data_breakpoint_hits(struct cpu *cpu) {
  last.valid = false;
  if (!cpu_has_data_breakpoints(cpu))
    return 0;
  /* A fault fetching it is the instruction's own, raised when it runs. */
  struct pending_event saved = cpu->pending;
  uint32_t cr2 = cpu->cr2;
  int decoded = cpu_decode_at_eip(cpu, &last.in, last.ops);
  cpu->pending = saved;
  cpu->cr2 = cr2;
  if (decoded != 1)
    return 0;
  register_context(cpu, &last.ctx);
  last.valid = true;
  last.rep = is_rep_string(&last.in);
  last.eip = cpu->eip;
  last.ecx = cpu->regs[R_ECX];
  last.eflags = cpu->eflags;
  /* A rep string instruction is judged afterwards, by the repetitions it made. */
  return last.rep ? 0 : hits_of(cpu, 0);
}

/* The first repetition (from 0) of a string operand whose element, starting at a0 and moving
 * by size (down with DF), overlaps [lo, lo + len); count if none of the first count does. */
static uint64_t first_repetition(uint32_t a0, uint32_t size, bool down, uint32_t lo, uint32_t len,
                                 uint64_t count) {
  int64_t d = down ? (int64_t)a0 - ((int64_t)lo + len) : (int64_t)lo - a0 - size;
  uint64_t i = d < 0 ? 0 : (uint64_t)(d / size) + 1;
  if (i >= count)
    return count;
  int64_t a = down ? (int64_t)a0 - (int64_t)(i * size) : (int64_t)a0 + (int64_t)(i * size);
  return a < (int64_t)lo + len && a + size > (int64_t)lo ? i : count;
}

uint32_t cpu_data_breakpoint_rep_limit(struct cpu *cpu) {
  struct watch w[4];
  if (!last.valid || !last.rep || !armed(cpu, w))
    return 0;
  uint32_t mask = last.in.address_width == 16 ? 0xffffu : 0xffffffffu;
  uint64_t count = cpu->regs[R_ECX] & mask, first = count;
  for (int i = 0; i < last.in.operand_count; i++) {
    uint32_t a0;
    uint64_t len;
    bool write;
    if (!operand_range(cpu, &last.in, last.ops, i, &last.ctx, 1, &a0, &len, &write))
      continue;
    for (int n = 0; n < 4; n++)
      if (w[n].len && (write || w[n].reads)) {
        uint64_t k = first_repetition(a0, (uint32_t)len, cpu->eflags & FL_DF, w[n].lo,
                                      w[n].len, first);
        if (k < first)
          first = k;
      }
  }
  return first < count ? (uint32_t)first + 1 : 0;
}

bool cpu_data_breakpoint_rep_condition_ended(const struct cpu *cpu) {
  bool zf = cpu->eflags & FL_ZF;
  return ((last.in.attributes & ZYDIS_ATTRIB_HAS_REPE) && !zf) ||
         ((last.in.attributes & ZYDIS_ATTRIB_HAS_REPNE) && zf);
}

uint32_t cpu_data_breakpoint_rep_count_mask(void) {
  return last.in.address_width == 16 ? 0xffffu : 0xffffffffu;
}

uint32_t cpu_data_breakpoint_rep_hits(struct cpu *cpu) {
  if (!last.valid || !last.rep)
    return 0;
  uint32_t mask = last.in.address_width == 16 ? 0xffffu : 0xffffffffu;
  uint32_t done = (last.ecx - cpu->regs[R_ECX]) & mask;
  /* Judge with the registers it started with. */
  uint32_t eip = cpu->eip, eflags = cpu->eflags;
  cpu->eip = last.eip;
  cpu->eflags = (cpu->eflags & ~FL_DF) | (last.eflags & FL_DF);
  uint32_t hits = hits_of(cpu, done);
  cpu->eip = eip;
  cpu->eflags = eflags;
  return hits;
}
