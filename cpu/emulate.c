/* emulate.c - one guest instruction that touched memory-mapped I/O, done in C.
 *
 * Translated code reaches guest memory through host mappings; device registers have none, so
 * an access to them faults and lands here with the guest state as it was before the
 * instruction. The instruction is decoded again, its memory operand's address computed from
 * the guest registers, and the access performed through the MMIO registry: the forms drivers
 * use for device registers (mov, movzx/movsx, the ALU read-modify-write group, test, xchg,
 * inc/dec/not/neg). Flags come from the host's own instructions, so they are exact. */
#include <Zydis/Zydis.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/emulate.h"
#include "cpu/insn.h"
#include "mmu/mmu.h"

static int gpr_of(ZydisRegister r) {
  switch (ZydisRegisterGetClass(r)) {
  case ZYDIS_REGCLASS_GPR8:
  case ZYDIS_REGCLASS_GPR16:
  case ZYDIS_REGCLASS_GPR32:
    return ZydisRegisterGetId(r);
  default:
    return -1;
  }
}

static bool is_high(ZydisRegister r) {
  return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
         r == ZYDIS_REGISTER_BH;
}

static uint32_t reg_get(const struct cpu *cpu, ZydisRegister r) {
  int n = gpr_of(r);
  switch (ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LEGACY_32, r)) {
  case 8:
    return is_high(r) ? (cpu->regs[n - 4] >> 8) & 0xff : cpu->regs[n] & 0xff;
  case 16:
    return cpu->regs[n] & 0xffff;
  default:
    return cpu->regs[n];
  }
}

static void reg_set(struct cpu *cpu, ZydisRegister r, uint32_t v) {
  int n = gpr_of(r);
  switch (ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LEGACY_32, r)) {
  case 8:
    if (is_high(r))
      cpu->regs[n - 4] = (cpu->regs[n - 4] & ~0xff00u) | (v & 0xff) << 8;
    else
      cpu->regs[n] = (cpu->regs[n] & ~0xffu) | (v & 0xff);
    break;
  case 16:
    cpu->regs[n] = (cpu->regs[n] & ~0xffffu) | (v & 0xffff);
    break;
  default:
    cpu->regs[n] = v;
  }
}

int cpu_segment_of(ZydisRegister r) {
  switch (r) {
  case ZYDIS_REGISTER_ES: return SEG_ES;
  case ZYDIS_REGISTER_CS: return SEG_CS;
  case ZYDIS_REGISTER_SS: return SEG_SS;
  case ZYDIS_REGISTER_FS: return SEG_FS;
  case ZYDIS_REGISTER_GS: return SEG_GS;
  default: return SEG_DS;
  }
}

static uint32_t linear_address(const struct cpu *cpu, const ZydisDecodedInstruction *in,
                               const ZydisDecodedOperand *op) {
  uint32_t ea = (uint32_t)op->mem.disp.value;
  if (op->mem.base != ZYDIS_REGISTER_NONE)
    ea += reg_get(cpu, op->mem.base);
  if (op->mem.index != ZYDIS_REGISTER_NONE)
    ea += reg_get(cpu, op->mem.index) * (op->mem.scale ? op->mem.scale : 1);
  if (in->address_width == 16)
    ea &= 0xffff;
  return cpu->seg[cpu_segment_of(op->mem.segment)].base + ea;
}

/* ---- ALU operations with the host computing the flags ---- */

#define ALU_FLAGS (FL_ARITH)

/* Run `op` on a and b at `width` bits with the guest's CF as input; returns the result and
 * sets *flags to the host's arithmetic flags after it. */
#define ALU_CASE(mn, insn)                                                                    \
  case ZYDIS_MNEMONIC_##mn:                                                                   \
    switch (width) {                                                                          \
    case 8: {                                                                                 \
      uint8_t r8 = (uint8_t)a;                                                                \
      __asm__("push %[f]\n\tpopfq\n\t" insn "b %[b], %[r]\n\tpushfq\n\tpop %[f]"              \
              : [r] "+q"(r8), [f] "+r"(fl)                                                    \
              : [b] "q"((uint8_t)b)                                                           \
              : "cc");                                                                        \
      r = r8;                                                                                 \
      break;                                                                                  \
    }                                                                                         \
    case 16: {                                                                                \
      uint16_t r16 = (uint16_t)a;                                                             \
      __asm__("push %[f]\n\tpopfq\n\t" insn "w %[b], %[r]\n\tpushfq\n\tpop %[f]"              \
              : [r] "+r"(r16), [f] "+r"(fl)                                                   \
              : [b] "r"((uint16_t)b)                                                          \
              : "cc");                                                                        \
      r = r16;                                                                                \
      break;                                                                                  \
    }                                                                                         \
    default:                                                                                  \
      __asm__("push %[f]\n\tpopfq\n\t" insn "l %[b], %[r]\n\tpushfq\n\tpop %[f]"              \
              : [r] "+r"(r), [f] "+r"(fl)                                                     \
              : [b] "r"(b)                                                                    \
              : "cc");                                                                        \
    }                                                                                         \
    break;

static bool alu(ZydisMnemonic mn, int width, uint32_t a, uint32_t b, uint32_t *result,
                uint32_t *eflags) {
  uint64_t fl = (*eflags & ALU_FLAGS) | 0x202;
  uint32_t r = a;
  switch (mn) {
    ALU_CASE(ADD, "add")
    ALU_CASE(ADC, "adc")
    ALU_CASE(SUB, "sub")
    ALU_CASE(SBB, "sbb")
    ALU_CASE(CMP, "cmp")
    ALU_CASE(AND, "and")
    ALU_CASE(TEST, "test")
    ALU_CASE(OR, "or")
    ALU_CASE(XOR, "xor")
  default:
    return false;
  }
  *result = r;
  *eflags = (*eflags & ~ALU_FLAGS) | ((uint32_t)fl & ALU_FLAGS);
  return true;
}

/* not, neg, inc, dec on a memory value (neg is 0 - a; inc and dec keep CF). */
static bool unary(ZydisMnemonic mn, int width, uint32_t a, uint32_t *result, uint32_t *eflags) {
  uint32_t mask = width == 32 ? ~0u : (1u << width) - 1;
  switch (mn) {
  case ZYDIS_MNEMONIC_NOT:
    *result = ~a & mask;
    return true; /* no flags change */
  case ZYDIS_MNEMONIC_INC:
  case ZYDIS_MNEMONIC_DEC:
  case ZYDIS_MNEMONIC_NEG: {
    uint32_t cf = *eflags & FL_CF;
    uint32_t b = mn == ZYDIS_MNEMONIC_NEG ? a : 1;
    uint32_t base = mn == ZYDIS_MNEMONIC_NEG ? 0 : a;
    uint32_t tmp;
    if (!alu(mn == ZYDIS_MNEMONIC_INC ? ZYDIS_MNEMONIC_ADD : ZYDIS_MNEMONIC_SUB, width, base, b,
             &tmp, eflags))
      return false;
    if (mn != ZYDIS_MNEMONIC_NEG)
      *eflags = (*eflags & ~FL_CF) | cf;
    *result = tmp & mask;
    return true;
  }
  default:
    return false;
  }
}

/* ---- the instruction ---- */

static int unsupported(struct cpu *cpu, const ZydisDecodedInstruction *in, uint32_t pa) {
  cpu_stop(cpu, SHUTDOWN_ERROR,
           "memory-mapped I/O at 0x%08x by %s (EIP 0x%08x) is not supported; device registers "
           "are reached with mov and the ALU instructions",
           pa, ZydisMnemonicGetString(in->mnemonic), cpu->eip);
  return -1;
}

int cpu_decode_at_eip(struct cpu *cpu, ZydisDecodedInstruction *in, ZydisDecodedOperand *ops) {
  static ZydisDecoder decoder, decoder16; /* for 32-bit code, and for 16-bit (CS.D = 0) */
  static bool decoder_ready;
  if (!decoder_ready) {
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisDecoderInit(&decoder16, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    decoder_ready = true;
  }
  bool code16 = !(cpu->seg[SEG_CS].attr & SEGA_DB);
  uint8_t bytes[15];
  unsigned user = cpu->cpl == 3 ? MMU_USER : 0;
  memset(bytes, 0, sizeof(bytes));
  /* Fetch what can be read; an instruction is never longer than 15 bytes. */
  unsigned got = 0;
  struct pending_event next_page_fault = {0}; /* the fetch of the next page, if it faulted */
  uint32_t cr2 = cpu->cr2, next_page_cr2 = 0;
  while (got < sizeof(bytes)) {
    unsigned n = PAGE_SIZE - ((cpu->seg[SEG_CS].base + cpu->eip + got) & (PAGE_SIZE - 1));
    if (n > sizeof(bytes) - got)
      n = sizeof(bytes) - got;
    if (!mmu_read(cpu->mmu, cpu, cpu->seg[SEG_CS].base + cpu->eip + got, bytes + got, n,
                  user | MMU_FETCH)) {
      if (got == 0)
        return 0; /* the fetch raised #PF */
      next_page_fault = cpu->pending;
      next_page_cr2 = cpu->cr2;
      cpu->pending.valid = false;
      cpu->cr2 = cr2; /* a fetch ahead that is not needed faults nowhere */
      break;
    }
    got += n;
  }
  ZyanStatus decoded = ZydisDecoderDecodeFull(code16 ? &decoder16 : &decoder, bytes, got, in, ops);
  if (decoded == ZYDIS_STATUS_NO_MORE_DATA && next_page_fault.valid) {
    cpu->pending = next_page_fault; /* the instruction runs into a page it may not fetch */
    cpu->cr2 = next_page_cr2;
    return 0;
  }
  return ZYAN_FAILED(decoded) ? -1 : 1;
}

bool cpu_can_emulate(const struct decoded_insn *d) {
  const ZydisDecodedOperand *mem = NULL, *other = NULL;
  int n_mem = 0;
  for (int i = 0; i < d->in.operand_count_visible; i++) {
    if (d->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d->ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM)
      mem = &d->ops[i], n_mem++;
    else
      other = &d->ops[i];
  }
  if (n_mem != 1 || mem->size > 32 || d->in.operand_count_visible > 2 ||
      (other && other->type != ZYDIS_OPERAND_TYPE_IMMEDIATE &&
       (other->type != ZYDIS_OPERAND_TYPE_REGISTER || gpr_of(other->reg.value) < 0)))
    return false;
  switch (d->in.mnemonic) {
  case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX:
  case ZYDIS_MNEMONIC_XCHG:
    return other != NULL;
  case ZYDIS_MNEMONIC_NOT: case ZYDIS_MNEMONIC_NEG: case ZYDIS_MNEMONIC_INC:
  case ZYDIS_MNEMONIC_DEC:
    return other == NULL;
  case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SUB:
  case ZYDIS_MNEMONIC_SBB: case ZYDIS_MNEMONIC_CMP: case ZYDIS_MNEMONIC_AND:
  case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_XOR:
    return other != NULL;
  default:
    return false;
  }
}

int cpu_emulate_mmio(struct cpu *cpu, const struct mmio_ops *io) {
  struct decoded_insn d;
  int decoded = cpu_decode_at_eip(cpu, &d.in, d.ops);
  if (decoded == 0)
    return 0; /* deliver the fault */
  if (decoded < 0)
    return unsupported(cpu, &d.in, 0);
  return cpu_emulate_mmio_decoded(cpu, io, &d);
}

int cpu_emulate_mmio_decoded(struct cpu *cpu, const struct mmio_ops *io,
                             const struct decoded_insn *d) {
  const ZydisDecodedInstruction in = d->in; /* (a copy: the messages take its address) */
  const ZydisDecodedOperand *ops = d->ops;
  bool code16 = !(cpu->seg[SEG_CS].attr & SEGA_DB);
  unsigned user = cpu->cpl == 3 ? MMU_USER : 0;

  const ZydisDecodedOperand *mem = NULL, *other = NULL;
  for (int i = 0; i < in.operand_count_visible; i++) {
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM)
      mem = &ops[i];
    else
      other = &ops[i];
  }
  if (!mem)
    return unsupported(cpu, &in, 0);
  uint32_t lin = linear_address(cpu, &in, mem);
  int size = mem->size / 8;
  bool reads = mem->actions & ZYDIS_OPERAND_ACTION_MASK_READ;
  bool writes = mem->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
  /* RAM within a page, when an instruction translated as a callout (for touching device
   * memory once, or a page remapped at every use) touches RAM this time: one walk. */
  unsigned access = (writes ? MMU_WRITE : 0) | user;
  bool faulted = false;
  uint8_t *ram =
      size <= 4 ? mmu_linear_span(cpu->mmu, cpu, lin, (unsigned)size, access, &faulted) : NULL;
  if (faulted)
    return 0;
  uint32_t pa = 0;
  if (!ram && !mmu_translate(cpu->mmu, cpu, lin, access, &pa))
    return 0;
  bool device = !ram && mmu_is_mmio(cpu->mmu, pa);
  if ((device && (lin & (PAGE_SIZE - 1)) + (unsigned)size > PAGE_SIZE) || size > 4)
    return unsupported(cpu, &in, pa);

  uint64_t value = 0;
  if (reads && ram)
    memcpy(&value, ram, (size_t)size);
  else if (reads && !device && !mmu_read(cpu->mmu, cpu, lin, &value, (unsigned)size, user))
    return 0;
  if (reads && device && !io->read(io->opaque, pa, size, &value))
    return unsupported(cpu, &in, pa);
  uint32_t v = (uint32_t)value, result = v;
  bool store = false;
  uint32_t other_value = 0;
  if (other)
    other_value = other->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint32_t)other->imm.value.u
                                                               : reg_get(cpu, other->reg.value);
  switch (in.mnemonic) {
  case ZYDIS_MNEMONIC_MOV:
    if (writes) {
      result = other_value;
      store = true;
    } else {
      reg_set(cpu, other->reg.value, v);
    }
    break;
  case ZYDIS_MNEMONIC_MOVZX:
    reg_set(cpu, other->reg.value, v);
    break;
  case ZYDIS_MNEMONIC_MOVSX:
    reg_set(cpu, other->reg.value, size == 1 ? (uint32_t)(int32_t)(int8_t)v
                                             : (uint32_t)(int32_t)(int16_t)v);
    break;
  case ZYDIS_MNEMONIC_XCHG: /* the register is set once the store is done */
    result = other_value;
    store = true;
    break;
  case ZYDIS_MNEMONIC_NOT:
  case ZYDIS_MNEMONIC_NEG:
  case ZYDIS_MNEMONIC_INC:
  case ZYDIS_MNEMONIC_DEC:
    if (!unary(in.mnemonic, size * 8, v, &result, &cpu->eflags))
      return unsupported(cpu, &in, pa);
    store = true;
    break;
  default: {
    /* Two-operand ALU: memory as destination or as source. */
    bool mem_first = mem == &ops[0];
    uint32_t a = mem_first ? v : other_value, b = mem_first ? other_value : v;
    if (!other || !alu(in.mnemonic, size * 8, a, b, &result, &cpu->eflags))
      return unsupported(cpu, &in, pa);
    if (in.mnemonic == ZYDIS_MNEMONIC_CMP || in.mnemonic == ZYDIS_MNEMONIC_TEST)
      break;
    if (mem_first)
      store = true;
    else
      reg_set(cpu, other->reg.value, result);
    break;
  }
  }
  if (store && ram)
    memcpy(ram, &result, (size_t)size);
  else if (store && !device && !mmu_write(cpu->mmu, cpu, lin, &result, (unsigned)size, user))
    return 0;
  if (store && device && !io->write(io->opaque, pa, size, result))
    return unsupported(cpu, &in, pa);
  if (in.mnemonic == ZYDIS_MNEMONIC_XCHG)
    reg_set(cpu, other->reg.value, v);
  cpu->eip += in.length;
  if (code16)
    cpu->eip &= 0xffff; /* IP */
  return device ? 1 : 0;
}

int insn_emulate_mmio(struct cpu *cpu, const struct insn_call *c) {
  cpu->eip = c->eip;
  struct mmio_ops ops = {cpu->env.opaque, cpu->env.mmio_read, cpu->env.mmio_write};
  int r = c->decoded ? cpu_emulate_mmio_decoded(cpu, &ops, c->decoded) : cpu_emulate_mmio(cpu, &ops);
  /* RAM (a page remapped at every use, or RAM where a device was once), done and nothing
   * raised: translated code goes on. A device may want an interrupt taken now: the dispatcher
   * looks. */
  if (r == 0 && !cpu->pending.valid && !cpu->shutdown && cpu->eip == c->next_eip)
    return CO_NEXT;
  return CO_EXIT;
}
