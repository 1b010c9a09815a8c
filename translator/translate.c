/* translate.c - one guest basic block into host code.
 *
 * Each guest instruction is decoded with Zydis (32-bit legacy mode) and handled in one of
 * four ways (see translator.h for the register assignment):
 *
 *   copied       no memory operand and the same meaning in 64-bit mode: the guest bytes,
 *                unchanged (add eax, ebx; imul; cmovcc; x87 and SSE on registers...)
 *   re-addressed a memory operand: the same opcode with 0x67 (32-bit addresses that wrap at
 *                4 GiB), 0x65 in kernel code (the kernel view), and a segment base register
 *                added when the segment is FS, GS or not flat. `mov eax, [esp+8]` in guest
 *                kernel code becomes `mov eax, gs:[esp+8]` (65 67 8b 44 24 08).
 *   rewritten    a short host sequence for what 64-bit mode lacks or encodes differently:
 *                push/pop/call/ret/enter/leave/pusha/popa/pushf/popf, inc/dec r32, branches
 *                (block exits), string instructions in kernel code, cli/sti.
 *   called out   a jump to the callout stub with a struct insn_call (cpu/insn.h): I/O,
 *                descriptor tables, segment loads, control registers, interrupts, BCD.
 *
 * Every rewritten sequence does its faulting access before it changes guest state, so the
 * state the fault handler sees is the state before the instruction. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/emulate.h"
#include "cpu/insn.h"
#include "mmu/mmu.h"
#include "translator/emit.h"
#include "translator/tc.h"

#define MAX_BLOCK_INSNS_LIMIT 512
#define MAX_HOST_PER_INSN 512 /* the longest sequence one guest instruction becomes (fxsave) */

struct pending_exit {
  uint8_t *field;
  uint32_t target;
  bool dispatch; /* through the dispatcher, never chained (it must check for interrupts) */
  bool past_limit; /* a branch to past CS's limit: #GP(0) at the branch (from_eip) instead */
  uint32_t from_eip;
};

struct xlate {
  struct tcache *tc;
  struct cpu *cpu;
  struct emitter e;
  uint8_t *start;
  uint32_t key;
  bool kernel;      /* memory operands go through the kernel view (GS) */
  bool flat;        /* DS, ES, SS have base 0 */
  bool slow_string; /* string instructions through insn_string */
  bool te;          /* --virt=trap-and-emulate: callouts as at ring 1 (cpu/deprivileged.c) */
  uint32_t block_eip;
  uint32_t cs_base, cs_limit; /* CS's: EIP is an offset, code is fetched at base + EIP */
  uint32_t page[2];
  uint32_t eip, next_eip;
  uint32_t guest_len;  /* of the instruction in guest code (bytes[] may be re-encoded) */
  bool ip16;           /* a near branch's target wraps at 64 KiB (16-bit operand size) */
  uint8_t bytes[16];
  ZydisDecodedInstruction in;
  ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
  bool ended;
  bool shadow_open;    /* the previous instruction was sti: this one runs in its shadow */
  bool dispatch_exits; /* exits of this instruction go through the dispatcher */
  int n_exits;
  struct pending_exit exits[2];
  int n_insns;
  /* last: translate_block clears what precedes; two entries per instruction at most */
  struct insn_map map[2 * MAX_BLOCK_INSNS_LIMIT];
};

/* ---- operands ---- */

static int gpr(ZydisRegister r) {
  switch (ZydisRegisterGetClass(r)) {
  case ZYDIS_REGCLASS_GPR8:
  case ZYDIS_REGCLASS_GPR16:
  case ZYDIS_REGCLASS_GPR32:
    return ZydisRegisterGetId(r);
  default:
    return HR_NONE;
  }
}

static int seg_index(ZydisRegister r) {
  switch (r) {
  case ZYDIS_REGISTER_ES: return SEG_ES;
  case ZYDIS_REGISTER_CS: return SEG_CS;
  case ZYDIS_REGISTER_SS: return SEG_SS;
  case ZYDIS_REGISTER_DS: return SEG_DS;
  case ZYDIS_REGISTER_FS: return SEG_FS;
  case ZYDIS_REGISTER_GS: return SEG_GS;
  default: return -1;
  }
}

static bool is_high_byte(ZydisRegister r) {
  return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
         r == ZYDIS_REGISTER_BH;
}

static const ZydisDecodedOperand *find_mem(struct xlate *x) {
  for (int i = 0; i < x->in.operand_count; i++)
    if (x->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
        x->op[i].visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
      return &x->op[i];
  return NULL;
}

static int width_bytes(struct xlate *x) { return x->in.operand_width / 8; }

/* Load a segment base from struct cpu into r9 (non-flat DS/ES/SS/CS). */
static int seg_base_reg(struct xlate *x, int seg) {
  if (seg == SEG_FS)
    return HR_FSBASE;
  if (seg == SEG_GS)
    return HR_GSBASE;
  if (x->flat)
    return HR_NONE;
  emit_load(&x->e, 4, HR_R9, cpu_field((int32_t)offsetof(struct cpu, seg[seg].base)));
  return HR_R9;
}

/* The host operand for a guest memory operand: the same base, index and displacement with
 * 32-bit address size, the GS prefix in kernel code, and the segment base added as a register
 * when it is not zero. May emit set-up code that uses r8 and r9. `esp_adjust` is added when the
 * base is ESP (pop [esp+n] addresses with the incremented ESP). */
static struct mem host_mem(struct xlate *x, const ZydisDecodedOperand *op, bool agen,
                           int32_t esp_adjust) {
  struct mem m = {gpr(op->mem.base), gpr(op->mem.index), op->mem.scale ? op->mem.scale : 1,
                  (int32_t)op->mem.disp.value, x->kernel && !agen, true};
  if (m.base == HR_RSP)
    m.disp += esp_adjust;
  if (x->in.address_width == 16) {
    /* 16-bit addressing wraps at 64 KiB: the low 16 bits of the 32-bit sum are the same. */
    emit_lea(&x->e, false, HR_R8, (struct mem){m.base, m.index, 1, m.disp, false, true});
    static const uint8_t movzx16[] = {0x0f, 0xb7};
    emit_op_rr(&x->e, false, false, movzx16, 2, HR_R8, HR_R8);
    m.base = HR_R8;
    m.index = HR_NONE;
    m.scale = 1;
    m.disp = 0;
  }
  if (agen)
    return m;
  int sb = seg_base_reg(x, seg_index(op->mem.segment));
  if (sb == HR_NONE)
    return m;
  if (m.base != HR_NONE && m.index != HR_NONE) {
    emit_lea(&x->e, false, HR_R8, m);
    m = (struct mem){HR_R8, HR_NONE, 1, 0, m.gs, true};
  }
  if (m.base == HR_NONE) {
    m.base = sb;
  } else {
    m.index = sb;
    m.scale = 1;
  }
  return m;
}

/* The guest linear address of a memory operand into r8d (for callouts). */
static void ea_to_r8(struct xlate *x, const ZydisDecodedOperand *op) {
  struct mem m = host_mem(x, op, false, 0);
  emit_lea(&x->e, false, HR_R8, m);
}

/* ---- exits ---- */

/* Leave for target: the next instruction, or a branch's target (exit_taken). */
static void exit_jmp(struct xlate *x, uint32_t target) {
  uint8_t *field = emit_jmp_rel32(&x->e, x->e.p);
  x->exits[x->n_exits++] = (struct pending_exit){field, target, x->dispatch_exits, false, 0};
}

/* A branch to past CS's limit faults at the branch, not at its target (SDM vol. 2, JMP and
 * Jcc): its exit raises #GP(0) there (finish_exits). Falling through past the limit faults at
 * the next instruction, as the dispatcher's lookup of it does. */
static void note_taken(struct xlate *x) {
  struct pending_exit *pe = &x->exits[x->n_exits - 1];
  pe->past_limit = pe->target > x->cs_limit;
  pe->from_eip = x->eip;
}

static void exit_taken(struct xlate *x, uint32_t target) {
  exit_jmp(x, target);
  note_taken(x);
}

static void exit_jcc(struct xlate *x, int cc, uint32_t target) {
  uint8_t *field = emit_jcc_rel32(&x->e, cc, x->e.p);
  x->exits[x->n_exits++] = (struct pending_exit){field, target, x->dispatch_exits, false, 0};
  note_taken(x);
}

/* Interrupt polls (abi.h): a load from a page a kick makes inaccessible. */
static void emit_poll(struct xlate *x, int offset) {
  const uint8_t *page = x->tc->code + offset;
  emit_u8(&x->e, 0x44), emit_u8(&x->e, 0x8a), emit_u8(&x->e, 0x05); /* mov r8b, [rip+rel32] */
  int32_t rel = (int32_t)(page - (x->e.p + 4));
  emit_u32(&x->e, (uint32_t)rel);
}

static void record_position(struct xlate *x, uint32_t eip);

/* After an inline popf (r10 = its TF bit << 4): a load from the single-step guard that faults
 * when TF was set, so that the next instruction runs single-stepped (abi.h). */
static void emit_step_guard(struct xlate *x) {
  const uint8_t *guard = x->tc->code + STEP_GUARD_OFFSET;
  emit_u8(&x->e, 0x4c), emit_u8(&x->e, 0x8d), emit_u8(&x->e, 0x1d); /* lea r11, [rip+rel32] */
  int32_t rel = (int32_t)(guard - (x->e.p + 4));
  emit_u32(&x->e, (uint32_t)rel);
  static const uint8_t load[] = {0x47, 0x8a, 0x1c, 0x13}; /* mov r11b, [r11 + r10] */
  emit_bytes(&x->e, load, sizeof(load));
}

/* After an instruction that may have set IF: take a waiting interrupt before the next one. */
static void poll_pending_before(struct xlate *x, uint32_t next_eip) {
  record_position(x, next_eip);
  emit_poll(x, POLL_PENDING_OFFSET);
}

/* Jump straight to the translation of the guest EIP in r8d if the indirect-branch cache has
 * it; fall through otherwise. The probe keeps guest flags with lahf/seto in AH/AL, EAX saved
 * in r9. In an sti's shadow (unless_irq_armed) it also falls through when an interrupt waits
 * for IF (cpu->irq_armed), so that the dispatcher takes it right after this instruction; the
 * target block's entry poll only sees kicks. */
/* Guest flags kept in AH/AL (EAX in r9) around a compare, and put back. */
static const uint8_t save_flags[] = {
    0x49, 0x89, 0xc1, /* mov r9, rax */
    0x9f,             /* lahf */
    0x0f, 0x90, 0xc0, /* seto al */
};
static const uint8_t restore_flags[] = {
    0x04, 0x7f,       /* add al, 0x7f (restores OF) */
    0x9e,             /* sahf */
    0x4c, 0x89, 0xc8, /* mov rax, r9 */
};

static void emit_jcache_probe(struct xlate *x, bool unless_irq_armed) {
  struct emitter *e = &x->e;
  uint8_t armed[] = {
      0x41, 0x80, 0xbf, CPU_IRQ_ARMED, 0, 0, 0, 0x00, /* cmp byte [r15 + CPU_IRQ_ARMED], 0 */
      0x75, 0,                                        /* jne miss */
  };
  static const uint8_t probe[] = {
      0x45, 0x89, 0xc2,                         /* mov r10d, r8d */
      0x41, 0x81, 0xe2, 0, 0, 0, 0,             /* and r10d, JC_SIZE-1 */
      0x4d, 0x8b, 0x5f, CPU_JCACHE,             /* mov r11, [r15 + CPU_JCACHE] */
      0x47, 0x3b, 0x04, 0x93,                   /* cmp r8d, [r11 + r10*4] */
      0x75, 0x11,                               /* jne miss */
      0x4f, 0x8b, 0x94, 0xd3, 0, 0, 0, 0,       /* mov r10, [r11 + r10*8 + JC_SIZE*4] */
      0x04, 0x7f,                               /* add al, 0x7f (restores OF) */
      0x9e,                                     /* sahf */
      0x4c, 0x89, 0xc8,                         /* mov rax, r9 */
      0x41, 0xff, 0xe2,                         /* jmp r10 */
      0x04, 0x7f,                               /* miss: add al, 0x7f */
      0x9e,                                     /* sahf */
      0x4c, 0x89, 0xc8,                         /* mov rax, r9 */
  };
  armed[9] = (uint8_t)(sizeof(probe) - 6); /* miss: the last 6 bytes */
  emit_bytes(e, save_flags, sizeof(save_flags));
  if (unless_irq_armed)
    emit_bytes(e, armed, sizeof(armed));
  uint8_t *at = e->p;
  emit_bytes(e, probe, sizeof(probe));
  if (!e->overflow) {
    uint32_t mask = JC_SIZE - 1, hosts = JC_SIZE * 4;
    memcpy(at + 6, &mask, 4);
    memcpy(at + 24, &hosts, 4);
  }
}

/* Leave through the dispatcher to the guest EIP in r8d, probing the indirect-branch cache
 * first. */
static void exit_indirect(struct xlate *x) {
  struct emitter *e = &x->e;
  if (x->tc->cfg.count_indirect) {
    /* ++counter without touching flags: load, lea +1, store (64-bit addresses) */
    static const uint8_t load[] = {0x8b}, store[] = {0x89};
    struct mem counter = {HR_R10, HR_NONE, 1, 0, false, false};
    emit_mov_imm64(e, HR_R10, (uint64_t)(uintptr_t)&x->tc->stats.indirect_executed);
    emit_op_mem(e, false, true, load, 1, HR_R9, counter);
    emit_lea(e, true, HR_R9, (struct mem){HR_R9, HR_NONE, 1, 1, false, false});
    emit_op_mem(e, false, true, store, 1, HR_R9, counter);
  }
  if (x->tc->cfg.jcache) {
    if (x->tc->cfg.count_indirect)
      tc_emit_count(e, &x->tc->stats.jc_ind_probes);
    emit_jcache_probe(x, x->dispatch_exits);
    if (x->tc->cfg.count_indirect)
      tc_emit_count(e, &x->tc->stats.jc_ind_misses);
  }
  emit_mov_rr(e, false, HR_R9, HR_R8);
  emit_mov_imm32(e, HR_R10, 0);
  emit_jmp_cpu(e, CPU_STUB_EXIT);
  x->ended = true;
}

/* ---- callouts ---- */

static struct insn_call *callout(struct xlate *x, insn_fn fn) {
  if (x->te)
    fn = insn_deprivileged(fn);
  struct insn_call *c = tc_meta_alloc(x->tc, sizeof(*c));
  if (!c) {
    x->e.overflow = true;
    static struct insn_call dummy;
    return &dummy;
  }
  memset(c, 0, sizeof(*c));
  c->fn = fn;
  c->eip = x->eip;
  c->next_eip = x->next_eip;
  c->mnemonic = (uint16_t)x->in.mnemonic;
  c->width = (uint8_t)width_bytes(x);
  c->reg = c->reg2 = INSN_OPERAND_NONE;
  emit_mov_imm64(&x->e, HR_R10, (uint64_t)(uintptr_t)c);
  emit_jmp_cpu(&x->e, CPU_STUB_CALLOUT);
  c->resume = x->e.p;
  return c;
}

/* A callout after which the guest always continues through the dispatcher. */
static struct insn_call *callout_final(struct xlate *x, insn_fn fn) {
  struct insn_call *c = callout(x, fn);
  x->ended = true;
  return c;
}

/* End the block after a callout that may either go on or leave: going on means the next
 * instruction, through a chainable exit. */
static void end_after(struct xlate *x) {
  exit_jmp(x, x->next_eip);
  x->ended = true;
}

static void raise_ud(struct xlate *x) { callout_final(x, insn_raise_ud); }
static void unsupported(struct xlate *x) { callout_final(x, insn_unsupported); }

/* ---- copying guest instructions ---- */

static void copy_insn(struct xlate *x) { emit_bytes(&x->e, x->bytes, x->in.length); }

/* The guest's prefixes the host instruction keeps: not segment overrides or 0x67 (the host
 * adds its own), and each byte once. The host adds up to three bytes (GS, 0x67, REX), so a
 * guest instruction padded with repeated prefixes would pass the 15-byte limit (#GP). */
static int guest_prefixes(struct xlate *x, uint8_t *out, bool drop_rep) {
  int n = 0;
  for (int i = 0; i < x->in.raw.prefix_count; i++) {
    uint8_t p = x->in.raw.prefixes[i].value;
    bool seg = p == 0x26 || p == 0x2e || p == 0x36 || p == 0x3e || p == 0x64 || p == 0x65;
    if (seg || p == 0x67 || (drop_rep && (p == 0xf2 || p == 0xf3)) || memchr(out, p, (size_t)n))
      continue;
    out[n++] = p;
  }
  return n;
}

/* Where the bytes after ModRM/SIB/displacement (the immediates) begin. */
static int after_ea(struct xlate *x) {
  if (x->in.raw.disp.size)
    return x->in.raw.disp.offset + x->in.raw.disp.size / 8;
  if (x->in.attributes & ZYDIS_ATTRIB_HAS_SIB)
    return x->in.raw.sib.offset + 1;
  return x->in.raw.modrm.offset + 1;
}

/* Guest registers an instruction names, explicitly or implicitly. */
static unsigned regs_used(struct xlate *x) {
  unsigned used = 1u << R_ESP | 1u << R_EAX;
  for (int i = 0; i < x->in.operand_count; i++) {
    const ZydisDecodedOperand *o = &x->op[i];
    if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && gpr(o->reg.value) != HR_NONE) {
      int r = gpr(o->reg.value);
      used |= 1u << (is_high_byte(o->reg.value) ? r - 4 : r);
    }
  }
  return used | 1u << R_EBP;
}

/* Re-encode the guest instruction (ModRM form) with host memory operand m. */
static void emit_with_mem(struct xlate *x, struct mem m, const uint8_t *opcode_override) {
  uint8_t pfx[16];
  /* F2/F3 mean nothing to one-byte opcodes with a memory operand (HLE hints at most; strings
   * go elsewhere), and the host would read F3 0F BC/BD as TZCNT/LZCNT. */
  bool drop_rep = x->in.mnemonic == ZYDIS_MNEMONIC_BSF || x->in.mnemonic == ZYDIS_MNEMONIC_BSR ||
                  x->in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT;
  int npfx = guest_prefixes(x, pfx, drop_rep);
  int opc_start = x->in.raw.prefix_count;
  int opc_len = x->in.raw.modrm.offset - opc_start;
  const uint8_t *opc = opcode_override ? opcode_override : x->bytes + opc_start;
  bool needs_rex = m.base >= 8 || m.index >= 8;
  bool reg_is_high = false;
  for (int i = 0; i < x->in.operand_count; i++)
    if (x->op[i].encoding == ZYDIS_OPERAND_ENCODING_MODRM_REG && is_high_byte(x->op[i].reg.value))
      reg_is_high = true;
  int tail = after_ea(x);
  if (needs_rex && reg_is_high) {
    /* A REX prefix would turn AH..BH into SPL..DIL: put the address in a guest register
     * the instruction does not use, keeping its value in r9 (the fault handler knows). */
    emit_lea(&x->e, false, HR_R8, m);
    unsigned used = regs_used(x);
    int b = R_ECX;
    while (b < 8 && (used & (1u << b)))
      b++;
    if (b == 8) {
      unsupported(x);
      return;
    }
    emit_mov_rr(&x->e, true, HR_R9, b);
    emit_mov_rr(&x->e, false, b, HR_R8);
    x->map[x->n_insns - 1].fixup = FIXUP_RESTORE_REG;
    x->map[x->n_insns - 1].reg = (uint8_t)b;
    m = (struct mem){b, HR_NONE, 1, 0, m.gs, true};
    emit_op_mem_prefixed(&x->e, pfx, npfx, false, opc, opc_len, x->in.raw.modrm.reg, m);
    emit_bytes(&x->e, x->bytes + tail, x->in.length - tail);
    emit_mov_rr(&x->e, true, b, HR_R9);
    return;
  }
  emit_op_mem_prefixed(&x->e, pfx, npfx, false, opc, opc_len, x->in.raw.modrm.reg, m);
  emit_bytes(&x->e, x->bytes + tail, x->in.length - tail);
}

/* mov with a moffs operand (A0-A3) as its ModRM form, so the segment base can be added. */
static void translate_moffs(struct xlate *x, const ZydisDecodedOperand *mem) {
  static const uint8_t modrm_opcode[4] = {0x8a, 0x8b, 0x88, 0x89};
  uint8_t opc = modrm_opcode[x->in.opcode - 0xa0];
  struct mem m = host_mem(x, mem, false, 0);
  uint8_t pfx[16];
  int npfx = guest_prefixes(x, pfx, false);
  emit_op_mem_prefixed(&x->e, pfx, npfx, false, &opc, 1, R_EAX, m);
}

static void translate_memory_insn(struct xlate *x, const ZydisDecodedOperand *mem) {
  if (mem->encoding == ZYDIS_OPERAND_ENCODING_DISP16_32_64) {
    translate_moffs(x, mem);
    return;
  }
  bool agen = mem->mem.type == ZYDIS_MEMOP_TYPE_AGEN;
  struct mem m = host_mem(x, mem, agen, 0);
  if (x->in.opcode == 0x82 && x->in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT) {
    static const uint8_t op80 = 0x80; /* 0x82 is 0x80's alias, gone in 64-bit mode */
    emit_with_mem(x, m, &op80);
    return;
  }
  emit_with_mem(x, m, NULL);
}

/* An instruction with an implicit DS:[EBX+AL] or DS:[EDI] operand: prefix it. */
static void translate_implicit_mem(struct xlate *x) {
  const ZydisDecodedOperand *mem = NULL;
  for (int i = 0; i < x->in.operand_count; i++)
    if (x->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
      mem = &x->op[i];
  int seg = mem ? seg_index(mem->mem.segment) : SEG_DS;
  if (!x->flat || seg == SEG_FS || seg == SEG_GS || x->in.address_width == 16) {
    unsupported(x);
    return;
  }
  uint8_t pfx[16];
  int npfx = guest_prefixes(x, pfx, false);
  if (x->kernel)
    emit_u8(&x->e, PFX_GS);
  emit_u8(&x->e, PFX_ADDR32);
  emit_bytes(&x->e, pfx, npfx);
  emit_bytes(&x->e, x->bytes + x->in.raw.prefix_count, x->in.length - x->in.raw.prefix_count);
}

/* Register-only instructions whose encoding 64-bit mode reassigned. */
static void translate_register_insn(struct xlate *x) {
  uint8_t op = x->in.opcode;
  if (x->in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && op >= 0x40 && op <= 0x4f) {
    static const uint8_t ff[] = {0xff}; /* inc/dec r32 is FF /0, FF /1 (0x40-0x4f are REX) */
    emit_op_rr(&x->e, x->in.operand_width == 16, false, ff, 1, op >= 0x48 ? 1 : 0, op & 7);
    return;
  }
  if (x->in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && op == 0x82) {
    uint8_t b[16];
    memcpy(b, x->bytes, x->in.length);
    b[x->in.raw.prefix_count] = 0x80;
    emit_bytes(&x->e, b, x->in.length);
    return;
  }
  if (x->in.mnemonic == ZYDIS_MNEMONIC_BSF || x->in.mnemonic == ZYDIS_MNEMONIC_BSR) {
    /* The host reads F3 0F BC/BD as TZCNT/LZCNT; for the guest (a P6) it is BSF/BSR. */
    uint8_t pfx[16];
    int npfx = guest_prefixes(x, pfx, true);
    emit_bytes(&x->e, pfx, npfx);
    emit_bytes(&x->e, x->bytes + x->in.raw.prefix_count, x->in.length - x->in.raw.prefix_count);
    return;
  }
  copy_insn(x);
}

/* div/idiv by a register: test the divisor for zero first, without touching the flags
 * (jrcxz), so that a divide error is a callout and not a host SIGFPE (~13 us here). A zero
 * divisor leaves the guest's ECX restored and raises #DE at the div; the flags stay as they
 * were, as they must when the instruction faults. Memory divisors, and the quotient
 * overflow of a non-zero divisor, still reach #DE through the host fault.
 *
 *      mov r9, rcx ; mov/movzx ecx, divisor ; jrcxz zero ; mov rcx, r9 ; jmp div
 *   zero: mov rcx, r9 ; callout insn_raise_de
 *   div:  div divisor */
static void translate_divide(struct xlate *x) {
  struct emitter *e = &x->e;
  uint8_t rm = x->in.raw.modrm.rm;
  emit_mov_rr(e, true, HR_R9, HR_RCX);
  if (x->op[0].size == 8)
    emit_bytes(e, (uint8_t[]){0x0f, 0xb6, (uint8_t)(0xc8 | rm)}, 3); /* movzx ecx, r8 */
  else if (x->op[0].size == 16)
    emit_bytes(e, (uint8_t[]){0x0f, 0xb7, (uint8_t)(0xc8 | rm)}, 3); /* movzx ecx, r16 */
  else
    emit_bytes(e, (uint8_t[]){0x8b, (uint8_t)(0xc8 | rm)}, 2); /* mov ecx, r32 */
  emit_u8(e, 0xe3); /* jrcxz zero */
  uint8_t *to_zero = e->p;
  emit_u8(e, 0);
  emit_mov_rr(e, true, HR_RCX, HR_R9);
  emit_u8(e, 0xeb); /* jmp div */
  uint8_t *to_div = e->p;
  emit_u8(e, 0);
  *to_zero = (uint8_t)(e->p - to_zero - 1);
  emit_mov_rr(e, true, HR_RCX, HR_R9);
  callout(x, insn_raise_de);
  *to_div = (uint8_t)(e->p - to_div - 1);
  copy_insn(x);
}

/* ---- the stack ---- */


/* SS:[ESP + disp] */
static struct mem stack_mem(struct xlate *x, int32_t disp) {
  struct mem m = {HR_RSP, HR_NONE, 1, disp, x->kernel, true};
  int sb = seg_base_reg(x, SEG_SS);
  if (sb != HR_NONE)
    m.index = sb;
  return m;
}

static void adjust_esp(struct xlate *x, int32_t by) {
  emit_lea(&x->e, false, HR_RSP, mem_base(HR_RSP, by, false));
}

static void translate_push(struct xlate *x) {
  const ZydisDecodedOperand *src = &x->op[0];
  int w = width_bytes(x);
  if (src->type == ZYDIS_OPERAND_TYPE_REGISTER && seg_index(src->reg.value) >= 0) {
    int seg = seg_index(src->reg.value);
    if (x->te) {
      callout(x, insn_push_seg)->seg = (uint8_t)seg; /* the selector ring 1 would show */
      return;
    }
    /* The virtual CPU's selector, zero-extended to a 32-bit push (insn_push_seg's store). */
    static const uint8_t movzx16[] = {0x0f, 0xb7};
    emit_op_mem(&x->e, false, false, movzx16, 2, HR_R10,
                cpu_field((int32_t)offsetof(struct cpu, seg[seg].sel)));
    emit_store(&x->e, w, stack_mem(x, -w), HR_R10);
    adjust_esp(x, -w);
    return;
  }
  if (src->type == ZYDIS_OPERAND_TYPE_REGISTER) {
    emit_store(&x->e, w, stack_mem(x, -w), gpr(src->reg.value));
  } else if (src->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    emit_store_imm(&x->e, w, stack_mem(x, -w), (uint32_t)src->imm.value.u);
  } else {
    emit_load(&x->e, w, HR_R10, host_mem(x, src, false, 0));
    emit_store(&x->e, w, stack_mem(x, -w), HR_R10);
  }
  adjust_esp(x, -w);
}

static void translate_pop(struct xlate *x) {
  const ZydisDecodedOperand *dst = &x->op[0];
  int w = width_bytes(x);
  if (dst->type == ZYDIS_OPERAND_TYPE_REGISTER && seg_index(dst->reg.value) >= 0) {
    if (seg_index(dst->reg.value) == SEG_CS) {
      raise_ud(x);
      return;
    }
    callout(x, insn_pop_seg)->seg = (uint8_t)seg_index(dst->reg.value);
    if (seg_index(dst->reg.value) == SEG_SS)
      end_after(x); /* the dispatcher handles the interrupt shadow */
    return;
  }
  if (dst->type == ZYDIS_OPERAND_TYPE_REGISTER) {
    int r = gpr(dst->reg.value);
    emit_load(&x->e, w, r, stack_mem(x, 0));
    if (r != R_ESP)
      adjust_esp(x, w);
    return;
  }
  emit_load(&x->e, w, HR_R10, stack_mem(x, 0));
  emit_store(&x->e, w, host_mem(x, dst, false, w), HR_R10);
  adjust_esp(x, w);
}

static const int pusha_order[8] = {R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI};

static void translate_pusha(struct xlate *x) {
  int w = width_bytes(x);
  for (int i = 0; i < 8; i++)
    emit_store(&x->e, w, stack_mem(x, -(i + 1) * w), pusha_order[i]);
  adjust_esp(x, -8 * w);
}

static void translate_popa(struct xlate *x) {
  int w = width_bytes(x);
  /* Touch the highest slot first: once both ends load, every slot between does too. */
  emit_load(&x->e, w, HR_R10, stack_mem(x, 7 * w));
  for (int i = 7; i >= 1; i--) {
    int r = pusha_order[i];
    if (r != R_ESP)
      emit_load(&x->e, w, r, stack_mem(x, (7 - i) * w));
  }
  if (w == 2) {
    static const uint8_t mov[] = {0x89};
    emit_op_rr(&x->e, true, false, mov, 1, HR_R10, R_EAX);
  } else {
    emit_mov_rr(&x->e, false, R_EAX, HR_R10);
  }
  adjust_esp(x, 8 * w);
}

/* pushf: host arithmetic flags (pushfq on a scratch stack in struct cpu) plus the virtual
 * system flags, assembled with lea so the guest's flags stay as they are. */
static void translate_pushf(struct xlate *x) {
  struct emitter *e = &x->e;
  int w = width_bytes(x);
  if (x->te) {
    callout(x, insn_pushf_deprivileged); /* the real IF and IOPL */
    return;
  }
  emit_mov_rr(e, true, HR_R9, HR_RSP);
  emit_lea(e, true, HR_RSP, cpu_field(CPU_FLAGS_STACK));
  emit_u8(e, 0x9c);                 /* pushfq */
  emit_u8(e, 0x41), emit_u8(e, 0x58); /* pop r8 */
  emit_mov_rr(e, true, HR_RSP, HR_R9);
  emit_load(e, 4, HR_R9, cpu_field(CPU_VSYS));
  emit_lea(e, false, HR_R8, (struct mem){HR_R8, HR_R9, 1, -0x200, false, false});
  emit_load(e, 4, HR_R9, cpu_field(CPU_VIF));
  emit_lea(e, false, HR_R8, (struct mem){HR_R8, HR_R9, 1, 0, false, false});
  emit_store(e, w, stack_mem(x, -w), HR_R8);
  adjust_esp(x, -w);
}

/* popf at CPL 0: every flag is the guest's to set, and the old ones are dead, so the split
 * into host RFLAGS, vif and vsys may use flag-changing instructions. */
static void translate_popf(struct xlate *x) {
  struct emitter *e = &x->e;
  if ((x->key & KEY_CPL_MASK) != 0 || width_bytes(x) != 4 || x->te) {
    callout(x, insn_popf);
    return;
  }
  static const uint8_t and_r9[] = {0x41, 0x81, 0xe1}, and_r8[] = {0x41, 0x81, 0xe0},
                       or_r8[] = {0x41, 0x81, 0xc8};
  emit_load(e, 4, HR_R8, stack_mem(x, 0));
  adjust_esp(x, 4);
  emit_mov_rr(e, false, HR_R9, HR_R8);
  emit_bytes(e, and_r9, 3), emit_u32(e, FL_IF);
  emit_store(e, 4, cpu_field(CPU_VIF), HR_R9);
  emit_mov_rr(e, false, HR_R9, HR_R8);
  emit_bytes(e, and_r9, 3), emit_u32(e, FL_TF | FL_IOPL | FL_NT | FL_AC | FL_ID);
  emit_store(e, 4, cpu_field(CPU_VSYS), HR_R9);
  static const uint8_t tf_offset[] = {
      0x45, 0x89, 0xc2,                         /* mov r10d, r8d */
      0x41, 0x81, 0xe2, 0x00, 0x01, 0x00, 0x00, /* and r10d, FL_TF */
      0x41, 0xc1, 0xe2, 0x04,                   /* shl r10d, 4: 0 or the guard's second page */
  };
  _Static_assert(FL_TF << 4 == 4096, "TF selects the step guard's second page");
  emit_bytes(e, tf_offset, sizeof(tf_offset));
  emit_bytes(e, and_r8, 3), emit_u32(e, FL_HOST);
  emit_bytes(e, or_r8, 3), emit_u32(e, 0x202);
  emit_mov_rr(e, true, HR_R9, HR_RSP);
  emit_lea(e, true, HR_RSP, cpu_field(CPU_FLAGS_STACK));
  emit_u8(e, 0x41), emit_u8(e, 0x50); /* push r8 */
  emit_u8(e, 0x9d);                   /* popfq */
  emit_mov_rr(e, true, HR_RSP, HR_R9);
  poll_pending_before(x, x->next_eip);
  emit_step_guard(x);
}

/* cli/sti at CPL 0 are one store to cpu->vif. An sti opens an interrupt shadow: the next
 * instruction runs before any interrupt, then a poll takes what waited (translate_block). */
static void translate_cli_sti(struct xlate *x) {
  if ((x->key & KEY_CPL_MASK) != 0) {
    callout(x, insn_cli_sti);
    if (x->in.mnemonic == ZYDIS_MNEMONIC_STI)
      x->ended = true; /* the callout leaves through the dispatcher, which runs the shadow */
    return;
  }
  bool sti = x->in.mnemonic == ZYDIS_MNEMONIC_STI;
  emit_store_imm(&x->e, 4, cpu_field(CPU_VIF),
                 sti ? FL_IF : 0);
  x->shadow_open = sti;
}

static void translate_enter(struct xlate *x) {
  uint32_t size = (uint32_t)x->op[0].imm.value.u & 0xffff;
  uint32_t level = (uint32_t)x->op[1].imm.value.u & 31;
  if (level != 0 || width_bytes(x) != 4) {
    struct insn_call *c = callout(x, insn_enter_nested);
    c->imm = size;
    c->imm2 = level;
    return;
  }
  emit_store(&x->e, 4, stack_mem(x, -4), R_EBP);
  emit_lea(&x->e, false, R_EBP, mem_base(HR_RSP, -4, false));
  adjust_esp(x, -4 - (int32_t)size);
}

static void translate_leave(struct xlate *x) {
  if (x->key & KEY_STACK16) { /* SP and BP, not ESP and EBP */
    callout(x, insn_leave_stack16);
    return;
  }
  int w = width_bytes(x);
  struct mem m = {R_EBP, HR_NONE, 1, 0, x->kernel, true};
  int sb = seg_base_reg(x, SEG_SS);
  if (sb != HR_NONE)
    m.index = sb;
  emit_load(&x->e, w, HR_R8, m);
  emit_lea(&x->e, false, HR_RSP, mem_base(R_EBP, w, false));
  if (w == 2) {
    static const uint8_t mov[] = {0x89};
    emit_op_rr(&x->e, true, false, mov, 1, HR_R8, R_EBP);
  } else {
    emit_mov_rr(&x->e, false, R_EBP, HR_R8);
  }
}

/* ---- control transfers ---- */

/* A relative branch's target: the displacement from the guest instruction's end (in 16-bit
 * code its re-encoding may be longer). */
static uint32_t branch_target(struct xlate *x) {
  uint64_t target = 0;
  ZydisCalcAbsoluteAddress(&x->in, &x->op[0], x->next_eip - x->in.length, &target);
  if (x->in.operand_width == 16 || x->ip16)
    target &= 0xffff;
  return (uint32_t)target;
}

static bool is_far(struct xlate *x) { return x->in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR; }

static void far_operand(struct xlate *x, struct insn_call *c, const ZydisDecodedOperand *o) {
  if (o->type == ZYDIS_OPERAND_TYPE_POINTER) {
    c->imm = o->ptr.offset;
    c->imm2 = o->ptr.segment;
  } else {
    c->mem = 1;
  }
}

static void far_transfer(struct xlate *x, insn_fn fn) {
  const ZydisDecodedOperand *o = &x->op[0];
  if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
    ea_to_r8(x, o);
  far_operand(x, callout_final(x, fn), o);
}

/* The target of an indirect jmp/call into r8d. */
static void load_target(struct xlate *x, const ZydisDecodedOperand *o) {
  int w = width_bytes(x);
  if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
    if (w == 2) {
      static const uint8_t movzx16[] = {0x0f, 0xb7};
      emit_op_rr(&x->e, false, false, movzx16, 2, HR_R8, gpr(o->reg.value));
    } else {
      emit_mov_rr(&x->e, false, HR_R8, gpr(o->reg.value));
    }
  } else if (w == 2) {
    static const uint8_t movzx16[] = {0x0f, 0xb7};
    emit_op_mem(&x->e, false, false, movzx16, 2, HR_R8, host_mem(x, o, false, 0));
  } else {
    emit_load(&x->e, 4, HR_R8, host_mem(x, o, false, 0));
  }
}

/* In a segment with a limit: #GP(0) at this instruction, before it changes anything, if the
 * target in r8d lies past the limit. Guest flags are kept in AH/AL around the compare. */
static void check_target_limit(struct xlate *x) {
  if (x->cs_limit == UINT32_MAX)
    return;
  struct emitter *e = &x->e;
  emit_bytes(e, save_flags, sizeof(save_flags));
  emit_u8(e, 0x41), emit_u8(e, 0x81), emit_u8(e, 0xf8), emit_u32(e, x->cs_limit); /* cmp r8d */
  emit_u8(e, 0x76); /* jbe within */
  uint8_t *rel = e->p;
  emit_u8(e, 0);
  emit_bytes(e, restore_flags, sizeof(restore_flags));
  callout(x, insn_raise_gp0); /* does not come back */
  if (!e->overflow)
    *rel = (uint8_t)(e->p - rel - 1);
  emit_bytes(e, restore_flags, sizeof(restore_flags));
}

static void translate_jmp(struct xlate *x) {
  const ZydisDecodedOperand *o = &x->op[0];
  if (is_far(x)) {
    far_transfer(x, insn_jmp_far);
  } else if (o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    exit_taken(x, branch_target(x));
    x->ended = true;
  } else {
    load_target(x, o);
    check_target_limit(x);
    exit_indirect(x);
  }
}

static void translate_call(struct xlate *x) {
  const ZydisDecodedOperand *o = &x->op[0];
  int w = width_bytes(x);
  if (is_far(x)) {
    far_transfer(x, insn_call_far);
    return;
  }
  bool direct = o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
  if (direct && branch_target(x) > x->cs_limit) {
    callout_final(x, insn_raise_gp0); /* before anything is pushed */
    return;
  }
  if (!direct) {
    load_target(x, o);
    check_target_limit(x);
  }
  emit_store_imm(&x->e, w, stack_mem(x, -w), x->next_eip);
  adjust_esp(x, -w);
  if (direct) {
    exit_jmp(x, branch_target(x));
    x->ended = true;
  } else {
    exit_indirect(x);
  }
}

static void translate_ret(struct xlate *x) {
  uint32_t imm = 0;
  for (int i = 0; i < x->in.operand_count; i++)
    if (x->op[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
      imm = (uint32_t)x->op[i].imm.value.u & 0xffff;
  if (is_far(x)) {
    callout_final(x, insn_ret_far)->imm = imm;
    return;
  }
  int w = width_bytes(x);
  if (w == 2) {
    static const uint8_t movzx16[] = {0x0f, 0xb7};
    emit_op_mem(&x->e, false, false, movzx16, 2, HR_R8, stack_mem(x, 0));
  } else {
    emit_load(&x->e, 4, HR_R8, stack_mem(x, 0));
  }
  check_target_limit(x);
  adjust_esp(x, w + (int32_t)imm);
  exit_indirect(x);
}

static void translate_jcc(struct xlate *x) {
  exit_jcc(x, x->in.opcode & 0xf, branch_target(x)); /* (0f 8x and 7x: the same low nibble) */
  exit_jmp(x, x->next_eip);
  x->ended = true;
}

/* jcxz/loop/loope/loopne with CX (address-size prefix): the host's ECX form on CX
 * zero-extended (it decides the same), then ECX's upper half back on both paths, flags kept. */
static void translate_loop16(struct xlate *x) {
  static const uint8_t movzx_ecx_cx[] = {0x0f, 0xb7, 0xc9}, mov_r9w_cx[] = {0x66, 0x41, 0x89, 0xc9};
  emit_mov_rr(&x->e, false, HR_R9, R_ECX);
  emit_bytes(&x->e, movzx_ecx_cx, sizeof(movzx_ecx_cx));
  emit_u8(&x->e, PFX_ADDR32);
  emit_u8(&x->e, x->in.opcode); /* e0-e3 */
  uint8_t *rel = x->e.p;
  emit_u8(&x->e, 0);
  for (int taken = 0; taken < 2; taken++) {
    if (taken && !x->e.overflow)
      *rel = (uint8_t)(x->e.p - rel - 1);
    emit_bytes(&x->e, mov_r9w_cx, sizeof(mov_r9w_cx));
    emit_mov_rr(&x->e, false, R_ECX, HR_R9);
    if (taken)
      exit_taken(x, branch_target(x));
    else
      exit_jmp(x, x->next_eip);
  }
  x->ended = true;
}

/* jecxz/loop/loope/loopne: the host's own instruction (0x67: ECX) around two exits. */
static void translate_loop(struct xlate *x) {
  if (x->in.opcode != 0xe3 && branch_target(x) > x->cs_limit) {
    /* The host's loop would count down before the exit could raise #GP: decide in C. */
    struct insn_call *c = callout_final(x, insn_loop_past_limit);
    c->imm = x->in.opcode;
    c->imm2 = x->in.address_width;
    return;
  }
  if (x->in.address_width == 16) {
    translate_loop16(x);
    return;
  }
  emit_u8(&x->e, PFX_ADDR32);
  emit_u8(&x->e, x->in.opcode); /* e0-e3 */
  emit_u8(&x->e, 5);            /* taken: skip the fall-through jmp */
  exit_jmp(x, x->next_eip);
  exit_taken(x, branch_target(x));
  x->ended = true;
}

/* ---- string instructions ---- */

static bool is_string_opcode(struct xlate *x) {
  uint8_t op = x->in.opcode;
  return x->in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && ((op >= 0xa4 && op <= 0xa7) ||
                                                        (op >= 0xaa && op <= 0xaf));
}

static int string_source_seg(struct xlate *x) {
  for (int i = 0; i < x->in.operand_count; i++) {
    const ZydisDecodedOperand *o = &x->op[i];
    if (o->type == ZYDIS_OPERAND_TYPE_MEMORY && o->mem.base != ZYDIS_REGISTER_EDI &&
        o->mem.base != ZYDIS_REGISTER_DI)
      return seg_index(o->mem.segment);
  }
  return SEG_DS;
}

static uint8_t rep_prefix(struct xlate *x) {
  if (x->in.attributes & ZYDIS_ATTRIB_HAS_REPNE)
    return 0xf2;
  if (x->in.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
    return 0xf3;
  return 0;
}

static void translate_string(struct xlate *x) {
  uint8_t op = x->in.opcode;
  int src_seg = string_source_seg(x);
  bool uses_si = op <= 0xa7 || op == 0xac || op == 0xad;
  bool uses_di = op != 0xac && op != 0xad;
  bool plain_source = !uses_si || src_seg == SEG_DS || src_seg == SEG_SS || src_seg == SEG_ES ||
                      src_seg == SEG_CS;
  if (x->slow_string || !x->flat || !plain_source || x->in.address_width == 16) {
    struct insn_call *c = callout(x, insn_string);
    c->rep = rep_prefix(x);
    c->seg = (uint8_t)src_seg;
    c->addr16 = x->in.address_width == 16;
    c->width = (op & 1) ? (uint8_t)width_bytes(x) : 1;
    return;
  }
  uint8_t pfx[16];
  int npfx = guest_prefixes(x, pfx, false);
  const uint8_t *opc = x->bytes + x->in.raw.prefix_count;
  if (!x->kernel) {
    /* User view at host 0: ES:EDI with 32-bit addressing is exactly right. */
    emit_u8(&x->e, PFX_ADDR32);
    emit_bytes(&x->e, pfx, npfx);
    emit_u8(&x->e, *opc);
    return;
  }
  /* Kernel view: 64-bit addressing with ESI/EDI biased by the view base (r12); ES cannot be
   * overridden in 64-bit mode. A wrap past 4 GiB lands in the guard and takes the slow path. */
  x->map[x->n_insns - 1].fixup = FIXUP_STRING_BIAS;
  if (uses_si)
    emit_lea(&x->e, true, R_ESI, (struct mem){R_ESI, HR_VIEW, 1, 0, false, false});
  if (uses_di)
    emit_lea(&x->e, true, R_EDI, (struct mem){R_EDI, HR_VIEW, 1, 0, false, false});
  emit_bytes(&x->e, pfx, npfx);
  emit_u8(&x->e, *opc);
  if (uses_si)
    emit_mov_rr(&x->e, false, R_ESI, R_ESI);
  if (uses_di)
    emit_mov_rr(&x->e, false, R_EDI, R_EDI);
}

/* ---- sensitive instructions ---- */

/* rdtsc at CPL 0 (where CR4.TSD does not matter): the host's TSC plus cpu->tsc_offset into
 * EDX:EAX, combined and split through the exit_r8 slot so that no flag changes.
 *
 *      rdtsc ; mov [exit_r8], eax ; mov [exit_r8 + 4], edx ; mov r9, [exit_r8]
 *      mov r10, [tsc_offset] ; lea r9, [r9 + r10] ; mov [exit_r8], r9
 *      mov eax, [exit_r8] ; mov edx, [exit_r8 + 4] */
static void translate_rdtsc(struct xlate *x) {
  struct emitter *e = &x->e;
  if ((x->key & KEY_CPL_MASK) != 0 || x->te) {
    callout(x, insn_rdtsc);
    return;
  }
  static const uint8_t mov64_load[] = {0x8b}, mov64_store[] = {0x89};
  struct mem lo = cpu_field(CPU_EXIT_R8), hi = cpu_field(CPU_EXIT_R8 + 4);
  emit_bytes(e, (uint8_t[]){0x0f, 0x31}, 2); /* rdtsc */
  emit_store(e, 4, lo, R_EAX);
  emit_store(e, 4, hi, R_EDX);
  emit_op_mem(e, false, true, mov64_load, 1, HR_R9, lo);
  emit_op_mem(e, false, true, mov64_load, 1, HR_R10, cpu_field((int32_t)offsetof(struct cpu, tsc_offset)));
  emit_lea(e, true, HR_R9, (struct mem){HR_R9, HR_R10, 1, 0, false, false});
  emit_op_mem(e, false, true, mov64_store, 1, HR_R9, lo);
  emit_load(e, 4, R_EAX, lo);
  emit_load(e, 4, R_EDX, hi);
}

static void translate_in_out(struct xlate *x, bool is_in) {
  const ZydisDecodedOperand *data = &x->op[is_in ? 0 : 1];
  const ZydisDecodedOperand *port = &x->op[is_in ? 1 : 0];
  struct insn_call *c = callout(x, is_in ? insn_in : insn_out);
  c->width = (uint8_t)(data->size / 8);
  if (port->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
    c->imm = (uint32_t)port->imm.value.u;
  else
    c->reg = R_EDX;
}

static void translate_ins_outs(struct xlate *x, bool is_in) {
  struct insn_call *c = callout(x, is_in ? insn_ins : insn_outs);
  c->rep = rep_prefix(x);
  c->seg = (uint8_t)(is_in ? SEG_ES : string_source_seg(x));
  c->addr16 = x->in.address_width == 16;
  c->width = (x->in.opcode & 1) ? (uint8_t)width_bytes(x) : 1;
}

static int reg_class(const ZydisDecodedOperand *o) {
  return o->type == ZYDIS_OPERAND_TYPE_REGISTER ? (int)ZydisRegisterGetClass(o->reg.value) : -1;
}

static void translate_mov_special(struct xlate *x) {
  const ZydisDecodedOperand *d = &x->op[0], *s = &x->op[1];
  if (reg_class(d) == ZYDIS_REGCLASS_CONTROL) {
    struct insn_call *c = callout_final(x, insn_mov_to_cr);
    c->imm = (uint32_t)(d->reg.value - ZYDIS_REGISTER_CR0);
    c->reg = (uint8_t)gpr(s->reg.value);
  } else if (reg_class(s) == ZYDIS_REGCLASS_CONTROL) {
    struct insn_call *c = callout(x, insn_mov_from_cr);
    c->imm = (uint32_t)(s->reg.value - ZYDIS_REGISTER_CR0);
    c->reg = (uint8_t)gpr(d->reg.value);
  } else if (reg_class(d) == ZYDIS_REGCLASS_DEBUG || reg_class(s) == ZYDIS_REGCLASS_DEBUG) {
    struct insn_call *c = callout(x, insn_mov_dr);
    bool to_dr = reg_class(d) == ZYDIS_REGCLASS_DEBUG;
    c->imm = (uint32_t)((to_dr ? d : s)->reg.value - ZYDIS_REGISTER_DR0);
    c->reg = (uint8_t)gpr((to_dr ? s : d)->reg.value);
    c->reg2 = to_dr;
  } else if (reg_class(d) == ZYDIS_REGCLASS_SEGMENT) {
    int seg = seg_index(d->reg.value);
    if (seg == SEG_CS) {
      raise_ud(x);
      return;
    }
    if (s->type == ZYDIS_OPERAND_TYPE_MEMORY)
      ea_to_r8(x, s);
    struct insn_call *c = callout(x, insn_mov_to_seg);
    c->seg = (uint8_t)seg;
    if (s->type == ZYDIS_OPERAND_TYPE_MEMORY)
      c->mem = 1;
    else
      c->reg = (uint8_t)gpr(s->reg.value);
    if (seg == SEG_SS)
      end_after(x);
  } else {
    if (d->type == ZYDIS_OPERAND_TYPE_MEMORY)
      ea_to_r8(x, d);
    struct insn_call *c = callout(x, insn_mov_from_seg);
    c->seg = (uint8_t)seg_index(s->reg.value);
    if (d->type == ZYDIS_OPERAND_TYPE_MEMORY)
      c->mem = 1;
    else
      c->reg = (uint8_t)gpr(d->reg.value);
  }
}

static bool is_special_mov(struct xlate *x) {
  for (int i = 0; i < 2; i++) {
    int cls = reg_class(&x->op[i]);
    if (cls == ZYDIS_REGCLASS_CONTROL || cls == ZYDIS_REGCLASS_DEBUG ||
        cls == ZYDIS_REGCLASS_SEGMENT)
      return true;
  }
  return false;
}

/* A callout whose operand may be a register or memory (linear address passed in r8). */
static struct insn_call *callout_rm(struct xlate *x, insn_fn fn, const ZydisDecodedOperand *o,
                                    bool final) {
  if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
    ea_to_r8(x, o);
  struct insn_call *c = final ? callout_final(x, fn) : callout(x, fn);
  if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
    c->mem = 1;
  else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER)
    c->reg2 = (uint8_t)gpr(o->reg.value);
  return c;
}

static void translate_load_far_pointer(struct xlate *x) {
  static const struct { ZydisMnemonic m; int seg; } segs[] = {
      {ZYDIS_MNEMONIC_LES, SEG_ES}, {ZYDIS_MNEMONIC_LDS, SEG_DS}, {ZYDIS_MNEMONIC_LSS, SEG_SS},
      {ZYDIS_MNEMONIC_LFS, SEG_FS}, {ZYDIS_MNEMONIC_LGS, SEG_GS},
  };
  int seg = SEG_DS;
  for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
    if (segs[i].m == x->in.mnemonic)
      seg = segs[i].seg;
  ea_to_r8(x, &x->op[1]);
  struct insn_call *c = callout(x, insn_load_far_pointer);
  c->mem = 1;
  c->seg = (uint8_t)seg;
  c->reg = (uint8_t)gpr(x->op[0].reg.value);
  if (seg == SEG_SS)
    end_after(x);
}

/* ---- fxsave ----
 *
 * The host's fxsave runs in 64-bit mode: without REX.W it writes the 32-bit layout, but also
 * stores XMM8-15 (host state) at bytes 288-415, which a 32-bit CPU leaves alone, and its own
 * instruction and data pointers. So it saves into cpu->fxsave_image, and translated code copies
 * bytes 0-287 to the guest's area in ascending 16-byte stores through XMM8-15 (scratch: guest
 * code cannot name them, the monitor keeps nothing in them). The first guest access is then a
 * write of the area's first bytes, as on a 32-bit CPU: a misaligned area raises #GP there
 * (movdqa), a missing page #PF with the write bit, and a fault leaves the guest's registers
 * as they were. On the way, FIP, FCS, FDP and FDS (bytes 8-23) become 0, as QEMU stores them:
 * the host's are host addresses (or 0 where the host records them only with an exception
 * pending), and the guest EIP of the last x87 instruction is not tracked (it would cost a
 * store per x87 instruction). FOP stays the host's: the guest's own opcode where the host
 * records it. MXCSR_MASK keeps its low 16 bits (an AMD host also sets bit 17, MM, which a P6
 * does not have). About 40 host instructions, some 400 bytes.
 *
 * fxrstor stays the host's own (re-addressed, translate_mxcsr_load): besides the 32-bit image
 * it loads XMM8-15 from bytes 288-415, which only fills scratch registers, and so reads those
 * bytes too; that can fault where a 32-bit CPU might not only if the area's last part is
 * unmapped. */
static void translate_fxsave(struct xlate *x, const ZydisDecodedOperand *mem) {
  struct emitter *e = &x->e;
  static const uint8_t fxsave_op[] = {0x0f, 0xae}, movdqa_load[] = {0x0f, 0x6f},
                       movdqa_store[] = {0x0f, 0x7f}, pfx66[] = {0x66};
  const int32_t image = (int32_t)offsetof(struct cpu, fxsave_image);
  struct mem m = host_mem(x, mem, false, 0);
  emit_op_mem(e, false, false, fxsave_op, 2, 0, cpu_field(image));
  for (int first = 0; first < 18; first += 8) {
    int n = 18 - first < 8 ? 18 - first : 8;
    for (int i = 0; i < n; i++)
      emit_op_mem_prefixed(e, pfx66, 1, false, movdqa_load, 2, 8 + i,
                           cpu_field(image + 16 * (first + i)));
    if (first == 0) {
      /* bytes 0-15 in xmm8: FCW FSW FTW FOP | FIP FCS; keep the low half (movq xmm8, xmm8) */
      static const uint8_t keep_low[] = {0xf3, 0x45, 0x0f, 0x7e, 0xc0};
      /* bytes 16-31 in xmm9: FDP FDS | MXCSR MXCSR_MASK; clear the low half, then the mask's
       * high word: psrldq xmm9, 8; pslldq xmm9, 8; mov r10d, 0; pinsrw xmm9, r10d, 7 */
      static const uint8_t shift_out[] = {0x66, 0x41, 0x0f, 0x73, 0xd9, 8,
                                          0x66, 0x41, 0x0f, 0x73, 0xf9, 8};
      static const uint8_t insert[] = {0x66, 0x45, 0x0f, 0xc4, 0xca, 7};
      emit_bytes(e, keep_low, sizeof(keep_low));
      emit_bytes(e, shift_out, sizeof(shift_out));
      emit_mov_imm32(e, HR_R10, 0);
      emit_bytes(e, insert, sizeof(insert));
    }
    for (int i = 0; i < n; i++) {
      struct mem to = m;
      to.disp = (int32_t)((uint32_t)m.disp + 16u * (uint32_t)(first + i));
      emit_op_mem_prefixed(e, pfx66, 1, false, movdqa_store, 2, 8 + i, to);
    }
  }
}

/* ---- fnstenv, fnsave ----
 *
 * The host's own instruction (re-addressed) writes the environment in the guest's area: in
 * 64-bit mode without REX.W its layout is the 32-bit protected-mode one (28 bytes, or 14 with
 * 0x66; fnsave adds the 80 bytes of registers), but FIP and FDP are the low halves of host
 * addresses (translated code, the host address of the last operand) and FCS/FDS the host's
 * selectors. Four (32-bit) or two (16-bit) immediate stores after it zero them, as the fxsave
 * sequence does: FIP (offset 12, 16-bit form 6), FCS (16, 8), FDP (20, 10), FDS (24, 12). The
 * stores leave the reserved high words (the host's, 0xffff on the hosts seen) and FOP (bits
 * 16-26 of the dword at 16: the guest's own opcode) alone. The first guest access is the
 * host instruction's, so #PF comes as before with nothing changed; the stores rewrite bytes
 * it has just written, so they do not fault. Flag-free, r8/r9 (an address in them) kept.
 * (fwait, the 9B of fstenv/fsave, is decoded apart and copied.) fldenv and frstor stay the
 * host's: the FIP/FCS/FDP/FDS they load only go back out through these and fxsave. */
static void translate_fpu_env_store(struct xlate *x, const ZydisDecodedOperand *mem) {
  struct mem m = host_mem(x, mem, false, 0);
  emit_with_mem(x, m, NULL);
  bool form16 = mem->size == 14 * 8 || mem->size == 94 * 8;
  static const struct { uint8_t off, width; } fields32[] = {{12, 4}, {16, 2}, {20, 4}, {24, 2}},
                                                fields16[] = {{6, 4}, {10, 4}};
  const int n = form16 ? 2 : 4;
  for (int i = 0; i < n; i++) {
    struct mem to = m;
    unsigned off = form16 ? fields16[i].off : fields32[i].off;
    to.disp = (int32_t)((uint32_t)m.disp + off);
    emit_store_imm(&x->e, form16 ? fields16[i].width : fields32[i].width, to, 0);
  }
}

/* fxrstor and ldmxcsr: a P6 raises #GP(0) for any of MXCSR bits 16-31 set. The host does too,
 * through a host fault, except for bit 17 on AMD hosts (MM, misaligned SSE mode), which it
 * would take. So the high word of the new MXCSR is tested first, flag-free (jrcxz), with
 * the guest's RCX in r11 (host_mem may address with r8 and r9):
 *
 *      mov r11, rcx ; movzx ecx, word [mxcsr + 2] ; jrcxz ok ; mov rcx, r11 ; callout #GP(0)
 *   ok: mov rcx, r11 ; the instruction */
static void translate_mxcsr_load(struct xlate *x, const ZydisDecodedOperand *mem) {
  struct emitter *e = &x->e;
  static const uint8_t movzx16[] = {0x0f, 0xb7};
  struct mem m = host_mem(x, mem, false, 0);
  struct mem high = m;
  high.disp = (int32_t)((uint32_t)m.disp + (x->in.mnemonic == ZYDIS_MNEMONIC_FXRSTOR ? 26u : 2u));
  emit_mov_rr(e, true, HR_R11, HR_RCX);
  emit_op_mem(e, false, false, movzx16, 2, HR_RCX, high);
  emit_u8(e, 0xe3); /* jrcxz ok */
  uint8_t *to_ok = e->p;
  emit_u8(e, 0);
  emit_mov_rr(e, true, HR_RCX, HR_R11);
  callout(x, insn_raise_gp0);
  if (!e->overflow)
    *to_ok = (uint8_t)(e->p - to_ok - 1);
  emit_mov_rr(e, true, HR_RCX, HR_R11);
  emit_with_mem(x, m, NULL);
}

/* ISA extensions of the CPU bt386 presents (cpu.c's CPUID): anything else is #UD. */
static bool isa_allowed(struct xlate *x) {
  switch (x->in.meta.isa_ext) {
  case ZYDIS_ISA_EXT_BASE:
  case ZYDIS_ISA_EXT_X87:
  case ZYDIS_ISA_EXT_MMX:
  case ZYDIS_ISA_EXT_SSE:
  case ZYDIS_ISA_EXT_SSE2:
  case ZYDIS_ISA_EXT_CLFSH:
  case ZYDIS_ISA_EXT_PAUSE:
    return x->in.encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY;
  default:
    return false;
  }
}

static void translate_system(struct xlate *x) {
  const ZydisDecodedOperand *o0 = &x->op[0];
  switch (x->in.mnemonic) {
  case ZYDIS_MNEMONIC_LGDT:
  case ZYDIS_MNEMONIC_LIDT:
    callout_rm(x, insn_lgdt_lidt, o0, false);
    break;
  case ZYDIS_MNEMONIC_SGDT:
  case ZYDIS_MNEMONIC_SIDT:
    callout_rm(x, insn_sgdt_sidt, o0, false);
    break;
  case ZYDIS_MNEMONIC_SMSW: {
    struct insn_call *c = callout_rm(x, insn_smsw, o0, false);
    c->reg = c->reg2;
    break;
  }
  case ZYDIS_MNEMONIC_LMSW:
    callout_rm(x, insn_lmsw, o0, true);
    break;
  case ZYDIS_MNEMONIC_SLDT:
  case ZYDIS_MNEMONIC_STR:
    callout_rm(x, insn_sldt_str, o0, false);
    break;
  case ZYDIS_MNEMONIC_LLDT:
  case ZYDIS_MNEMONIC_LTR:
    callout_rm(x, insn_lldt_ltr, o0, false);
    break;
  case ZYDIS_MNEMONIC_VERR:
  case ZYDIS_MNEMONIC_VERW:
    callout_rm(x, insn_check_descriptor, o0, false);
    break;
  case ZYDIS_MNEMONIC_LAR:
  case ZYDIS_MNEMONIC_LSL: {
    struct insn_call *c = callout_rm(x, insn_check_descriptor, &x->op[1], false);
    c->reg = (uint8_t)gpr(o0->reg.value);
    break;
  }
  case ZYDIS_MNEMONIC_INVLPG:
    ea_to_r8(x, o0);
    callout(x, insn_invlpg);
    break;
  case ZYDIS_MNEMONIC_SYSENTER:
    callout_final(x, insn_sysenter);
    break;
  case ZYDIS_MNEMONIC_SYSEXIT:
    callout_final(x, insn_sysexit);
    break;
  default:
    unsupported(x);
    break;
  }
}

/* ---- one instruction ---- */

/* Instructions on XMM registers, and ldmxcsr/stmxcsr, raise #UD while CR4.OSFXSR is clear. */
static bool needs_osfxsr(struct xlate *x) {
  if (x->in.mnemonic == ZYDIS_MNEMONIC_LDMXCSR || x->in.mnemonic == ZYDIS_MNEMONIC_STMXCSR)
    return true;
  for (int i = 0; i < x->in.operand_count; i++)
    if (reg_class(&x->op[i]) == ZYDIS_REGCLASS_XMM)
      return true;
  return false;
}

/* Which of the FPU's, MMX's or SSE's state an instruction uses, for CR0.EM and CR0.TS (SDM
 * vol. 3A, 2.5 and table 2-2; 13.1.3). fxsave and fxrstor count as x87 instructions (#NM
 * with EM); the SSE instructions that touch no such state (fences, prefetches, movnti) are
 * not affected. */
enum fpu_use { FPU_NONE, FPU_X87, FPU_WAIT, FPU_MMX, FPU_SSE };

static enum fpu_use fpu_use_of(struct xlate *x) {
  if (x->in.mnemonic == ZYDIS_MNEMONIC_FWAIT)
    return FPU_WAIT;
  if (x->in.meta.isa_set == ZYDIS_ISA_SET_FXSAVE)
    return FPU_X87;
  switch (x->in.meta.isa_ext) {
  case ZYDIS_ISA_EXT_X87: return FPU_X87;
  case ZYDIS_ISA_EXT_MMX: return FPU_MMX;
  case ZYDIS_ISA_EXT_SSE:
  case ZYDIS_ISA_EXT_SSE2:
    if (needs_osfxsr(x))
      return FPU_SSE;
    for (int i = 0; i < x->in.operand_count; i++)
      if (reg_class(&x->op[i]) == ZYDIS_REGCLASS_MMX)
        return FPU_MMX;
    return FPU_NONE;
  default: return FPU_NONE;
  }
}

/* An instruction that faults before doing anything, whatever its operands: one that is not
 * valid here (#UD), or whose unit CR0 or CR4 turns off. #UD comes first (EM for MMX and
 * SSE, OSFXSR), then #NM (TS; EM for x87; WAIT only with TS and MP). True if it was so. */
static bool raise_if_unusable(struct xlate *x) {
  enum fpu_use use = fpu_use_of(x);
  bool mmx_or_sse = use == FPU_MMX || use == FPU_SSE;
  if (x->in.mnemonic == ZYDIS_MNEMONIC_INVALID || !isa_allowed(x) ||
      ((x->key & KEY_FPU_EM) && mmx_or_sse) || ((x->key & KEY_NO_SSE) && needs_osfxsr(x))) {
    raise_ud(x);
    return true;
  }
  bool ts = (x->key & KEY_FPU_TS) && use != FPU_NONE &&
            (use != FPU_WAIT || !(x->key & KEY_WAIT_GO));
  if (ts || ((x->key & KEY_FPU_EM) && use == FPU_X87)) {
    callout_final(x, insn_raise_nm);
    return true;
  }
  return false;
}

/* An instruction that touched device memory before: a callout to the emulator, which gets
 * the decoding made here (32-bit code: 16-bit code is decoded again as 32-bit to translate). */
static void mmio_callout(struct xlate *x) {
  struct insn_call *c = callout(x, insn_emulate_mmio); /* (leaves when a device was reached) */
  if (x->key & KEY_CODE16)
    return;
  struct decoded_insn *d = tc_meta_alloc(x->tc, sizeof(*d));
  if (!d)
    return; /* (the emulator decodes it itself then) */
  d->in = x->in;
  memcpy(d->ops, x->op, sizeof(d->ops));
  c->decoded = d;
}

static void translate_insn(struct xlate *x) {
  ZydisMnemonic mn = x->in.mnemonic;
  if (is_string_opcode(x)) {
    translate_string(x);
    return;
  }
  switch (mn) {
  case ZYDIS_MNEMONIC_JMP: translate_jmp(x); return;
  case ZYDIS_MNEMONIC_CALL: translate_call(x); return;
  case ZYDIS_MNEMONIC_RET: translate_ret(x); return;
  case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JL:
  case ZYDIS_MNEMONIC_JLE: case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_JNBE:
  case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JNLE: case ZYDIS_MNEMONIC_JNO:
  case ZYDIS_MNEMONIC_JNP: case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JNZ:
  case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JS: case ZYDIS_MNEMONIC_JZ:
    translate_jcc(x);
    return;
  case ZYDIS_MNEMONIC_JCXZ: case ZYDIS_MNEMONIC_JECXZ: case ZYDIS_MNEMONIC_LOOP:
  case ZYDIS_MNEMONIC_LOOPE: case ZYDIS_MNEMONIC_LOOPNE:
    translate_loop(x);
    return;
  case ZYDIS_MNEMONIC_DIV: case ZYDIS_MNEMONIC_IDIV:
    if (x->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
      translate_divide(x);
      return;
    }
    break;
  case ZYDIS_MNEMONIC_PUSH: translate_push(x); return;
  case ZYDIS_MNEMONIC_POP: translate_pop(x); return;
  case ZYDIS_MNEMONIC_PUSHA: case ZYDIS_MNEMONIC_PUSHAD: translate_pusha(x); return;
  case ZYDIS_MNEMONIC_POPA: case ZYDIS_MNEMONIC_POPAD: translate_popa(x); return;
  case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: translate_pushf(x); return;
  case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: translate_popf(x); return;
  case ZYDIS_MNEMONIC_ENTER: translate_enter(x); return;
  case ZYDIS_MNEMONIC_LEAVE: translate_leave(x); return;
  case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_STI: translate_cli_sti(x); return;
  case ZYDIS_MNEMONIC_IN: translate_in_out(x, true); return;
  case ZYDIS_MNEMONIC_OUT: translate_in_out(x, false); return;
  case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    translate_ins_outs(x, true);
    return;
  case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
    translate_ins_outs(x, false);
    return;
  case ZYDIS_MNEMONIC_HLT: callout_final(x, insn_hlt); return;
  case ZYDIS_MNEMONIC_INT: callout_final(x, insn_int)->imm = (uint32_t)x->op[0].imm.value.u & 0xff; return;
  case ZYDIS_MNEMONIC_INT3: callout_final(x, insn_int)->imm = EXC_BP; return;
  case ZYDIS_MNEMONIC_INT1: callout_final(x, insn_int)->imm = EXC_DB; return;
  case ZYDIS_MNEMONIC_INTO: callout(x, insn_into); end_after(x); return;
  case ZYDIS_MNEMONIC_IRETD:
  case ZYDIS_MNEMONIC_IRET: callout_final(x, insn_iret); return; /* IRET: a 16-bit frame */
  case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2: raise_ud(x); return;
  case ZYDIS_MNEMONIC_CPUID: callout(x, insn_cpuid); return;
  case ZYDIS_MNEMONIC_RDTSC: translate_rdtsc(x); return;
  case ZYDIS_MNEMONIC_RDMSR: callout(x, insn_rdmsr); return;
  case ZYDIS_MNEMONIC_WRMSR: callout(x, insn_wrmsr); return;
  case ZYDIS_MNEMONIC_CLTS: /* CR0.TS is in the key: a block goes on only if it was clear */
    callout(x, insn_clts);
    end_after(x);
    return;
  case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVD: callout(x, insn_nop_privileged); return;
  case ZYDIS_MNEMONIC_DAA: case ZYDIS_MNEMONIC_DAS: case ZYDIS_MNEMONIC_AAA:
  case ZYDIS_MNEMONIC_AAS:
    callout(x, insn_bcd);
    return;
  case ZYDIS_MNEMONIC_AAM: case ZYDIS_MNEMONIC_AAD:
    callout(x, insn_bcd)->imm = (uint32_t)x->op[0].imm.value.u & 0xff;
    return;
  case ZYDIS_MNEMONIC_SALC: callout(x, insn_salc); return;
  case ZYDIS_MNEMONIC_BOUND: {
    ea_to_r8(x, &x->op[1]);
    struct insn_call *c = callout(x, insn_bound);
    c->reg = (uint8_t)gpr(x->op[0].reg.value);
    c->mem = 1;
    return;
  }
  case ZYDIS_MNEMONIC_ARPL: {
    struct insn_call *c = callout_rm(x, insn_arpl, &x->op[0], false);
    c->reg = (uint8_t)gpr(x->op[1].reg.value);
    return;
  }
  case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LSS:
  case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS:
    translate_load_far_pointer(x);
    return;
  case ZYDIS_MNEMONIC_MOV:
    if (is_special_mov(x)) {
      translate_mov_special(x);
      return;
    }
    break;
  case ZYDIS_MNEMONIC_FXSAVE:
    if (find_mem(x)) {
      translate_fxsave(x, find_mem(x));
      return;
    }
    break;
  case ZYDIS_MNEMONIC_FNSTENV:
  case ZYDIS_MNEMONIC_FNSAVE:
    if (find_mem(x)) {
      translate_fpu_env_store(x, find_mem(x));
      return;
    }
    break;
  case ZYDIS_MNEMONIC_FXRSTOR:
  case ZYDIS_MNEMONIC_LDMXCSR:
    if (find_mem(x)) {
      translate_mxcsr_load(x, find_mem(x));
      return;
    }
    break;
  case ZYDIS_MNEMONIC_XLAT:
  case ZYDIS_MNEMONIC_MASKMOVQ:
  case ZYDIS_MNEMONIC_MASKMOVDQU:
    translate_implicit_mem(x);
    return;
  case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT: case ZYDIS_MNEMONIC_SGDT:
  case ZYDIS_MNEMONIC_SIDT: case ZYDIS_MNEMONIC_SMSW: case ZYDIS_MNEMONIC_LMSW:
  case ZYDIS_MNEMONIC_SLDT: case ZYDIS_MNEMONIC_STR: case ZYDIS_MNEMONIC_LLDT:
  case ZYDIS_MNEMONIC_LTR: case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW:
  case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_INVLPG:
  case ZYDIS_MNEMONIC_SYSENTER: case ZYDIS_MNEMONIC_SYSEXIT: case ZYDIS_MNEMONIC_RDPMC:
    translate_system(x);
    return;
  case ZYDIS_MNEMONIC_SYSCALL: case ZYDIS_MNEMONIC_SYSRET:
    raise_ud(x);
    return;
  default:
    break;
  }
  const ZydisDecodedOperand *mem = find_mem(x);
  if (mem)
    translate_memory_insn(x, mem);
  else
    translate_register_insn(x);
}

/* ---- fetching guest code ---- */

/* 16-bit code (CS.D = 0): decode the instruction as 16-bit code, encode the same instruction
 * for 32-bit code with Zydis's encoder (which turns the operand- and address-size defaults
 * into 0x66 and 0x67 prefixes: `mov ax, [bx]` is 8b 07 there and 66 67 8b 07 here) and decode
 * that, so that the rest of the translator sees 32-bit code that does the same. guest_len
 * keeps the guest's length, and branch_target measures from its end. An instruction the
 * encoder cannot express stops the VM with a message that names it. */
static ZyanStatus decode16(struct xlate *x, int got) {
  ZydisDecodedInstruction in16;
  ZydisDecodedOperand ops16[ZYDIS_MAX_OPERAND_COUNT];
  ZyanStatus st = ZydisDecoderDecodeFull(&x->tc->decoder16, x->bytes, (ZyanUSize)got, &in16, ops16);
  if (ZYAN_FAILED(st))
    return st;
  x->guest_len = in16.length;
  x->ip16 = in16.operand_width == 16;
  ZydisEncoderRequest req;
  uint8_t b[ZYDIS_MAX_INSTRUCTION_LENGTH];
  ZyanUSize len = sizeof(b);
  if (ZYAN_FAILED(ZydisEncoderDecodedInstructionToEncoderRequest(&in16, ops16,
                                                                  in16.operand_count_visible,
                                                                  &req)) ||
      (req.machine_mode = ZYDIS_MACHINE_MODE_LEGACY_32,
       ZYAN_FAILED(ZydisEncoderEncodeInstruction(&req, b, &len))) ||
      ZYAN_FAILED(ZydisDecoderDecodeFull(&x->tc->decoder, b, len, &x->in, x->op))) {
    cpu_stop(x->cpu, SHUTDOWN_ERROR,
             "16-bit code: %s at EIP 0x%08x cannot be translated (no 32-bit encoding of it)",
             ZydisMnemonicGetString(in16.mnemonic), x->eip);
    return ZYAN_STATUS_FAILED;
  }
  memcpy(x->bytes, b, len);
  /* LGDT/LIDT/SGDT/SIDT keep a 16-bit operand size (a 24-bit base) that the encoder does not
   * spell with 0x66: the callout reads the width from here. */
  if (in16.mnemonic == ZYDIS_MNEMONIC_LGDT || in16.mnemonic == ZYDIS_MNEMONIC_LIDT ||
      in16.mnemonic == ZYDIS_MNEMONIC_SGDT || in16.mnemonic == ZYDIS_MNEMONIC_SIDT)
    x->in.operand_width = in16.operand_width;
  return ZYAN_STATUS_SUCCESS;
}

/* Read up to `want` bytes of guest code at eip; fewer at an unmapped page. Returns the number
 * of bytes read, with the physical pages touched in pages[]. */
static int fetch(struct xlate *x, uint32_t eip, uint8_t *buf, int want, uint32_t pages[2],
                 bool first) {
  struct cpu *cpu = x->cpu;
  unsigned access = MMU_FETCH | (cpu->cpl == 3 ? MMU_USER : 0);
  int got = 0;
  for (int part = 0; part < 2 && got < want; part++) {
    uint32_t lin = eip + (uint32_t)got;
    uint32_t pa;
    struct pending_event saved = cpu->pending;
    uint32_t saved_cr2 = cpu->cr2;
    if (!mmu_translate(x->tc->mmu, cpu, lin, access, &pa)) {
      if (!(first && got == 0)) { /* only a fault on the first byte is the guest's */
        cpu->pending = saved;
        cpu->cr2 = saved_cr2;
      }
      return got;
    }
    int n = (int)(PAGE_SIZE - (lin & (PAGE_SIZE - 1)));
    if (n > want - got)
      n = want - got;
    uint8_t *host = mmu_phys_ptr(x->tc->mmu, pa, (uint64_t)n);
    if (!host)
      return got;
    memcpy(buf + got, host, (size_t)n);
    pages[part] = pa >> PAGE_SHIFT;
    got += n;
  }
  return got;
}

static void record_insn(struct xlate *x) {
  struct insn_map *m = &x->map[x->n_insns++];
  m->host_off = (uint32_t)(x->e.p - x->start);
  m->guest_off = (uint16_t)(x->eip - x->block_eip);
  m->fixup = FIXUP_NONE;
  m->reg = 0;
}

/* A map entry for a point between instructions (a poll before the instruction at eip). */
static void record_position(struct xlate *x, uint32_t eip) {
  struct insn_map *m = &x->map[x->n_insns++];
  m->host_off = (uint32_t)(x->e.p - x->start);
  m->guest_off = (uint16_t)(eip - x->block_eip);
  m->fixup = FIXUP_NONE;
  m->reg = 0;
}

/* The first and only instruction of the block is the exception fn raises at x->eip. */
static struct insn_call *raise_block(struct xlate *x, insn_fn fn) {
  x->next_eip = x->eip;
  record_insn(x);
  return callout_final(x, fn);
}

/* The instruction at x->eip lies (partly) past CS's limit: it raises #GP(0) instead of
 * running (SDM vol. 3, 6.15), before its bytes there are fetched. */
static void past_cs_limit(struct xlate *x) {
  if (x->n_insns > 0) {
    exit_jmp(x, x->eip); /* the block ends with the instructions before it */
    return;
  }
  raise_block(x, insn_raise_gp0);
}

/* Does the instruction push or pop (an implicit use of the stack pointer)? */
static bool uses_stack(const struct xlate *x) {
  for (int i = 0; i < x->in.operand_count; i++) {
    const ZydisDecodedOperand *o = &x->op[i];
    if (o->visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
      continue;
    ZydisRegister r = o->type == ZYDIS_OPERAND_TYPE_REGISTER ? o->reg.value
                      : o->type == ZYDIS_OPERAND_TYPE_MEMORY ? o->mem.base
                                                              : ZYDIS_REGISTER_NONE;
    if (r == ZYDIS_REGISTER_ESP || r == ZYDIS_REGISTER_SP)
      return true;
  }
  return false;
}

/* A block that is the #DB of the breakpoints `hit` at its first instruction (at linear lin):
 * filed under lin's frame, without fetching, so that it is found again. */
static void breakpoint_block(struct xlate *x, uint32_t lin, uint32_t hit) {
  uint32_t pa;
  if (mmu_peek_phys(x->tc->mmu, x->cpu, lin, &pa) && pa < x->tc->mmu->ram_size)
    x->page[0] = pa >> PAGE_SHIFT;
  raise_block(x, insn_raise_breakpoint)->imm = hit;
}

/* Emit the exit stubs and point each unchained exit at its stub. */
static void finish_exits(struct xlate *x, struct tb *tb) {
  tb->n_exits = (uint8_t)x->n_exits;
  for (int i = 0; i < x->n_exits; i++) {
    struct tb_exit *ex = &tb->exit[i];
    memset(ex, 0, sizeof(*ex));
    ex->target = x->exits[i].target;
    ex->jump = x->exits[i].field;
    ex->stub = x->e.p;
    ex->from = tb;
    if (x->exits[i].past_limit) {
      /* Never chained: the exit raises #GP(0) at the branch (note_taken). */
      uint32_t eip = x->eip;
      x->eip = x->exits[i].from_eip;
      callout(x, insn_raise_gp0);
      x->eip = eip;
      ex->target = x->exits[i].from_eip;
      if (!x->e.overflow)
        patch_rel32(ex->jump, ex->stub);
      continue;
    }
    /* A branch into another page may stay unchained (its mapping can change): look its
     * target up in the indirect-branch cache before asking the dispatcher. */
    bool cross = ((x->cs_base + ex->target) >> PAGE_SHIFT) !=
                 ((x->cs_base + x->block_eip) >> PAGE_SHIFT);
    if (cross && x->tc->cfg.jcache && !x->exits[i].dispatch) {
      if (x->tc->cfg.count_indirect)
        tc_emit_count(&x->e, &x->tc->stats.jc_cross_probes);
      emit_mov_imm32(&x->e, HR_R8, ex->target);
      emit_jcache_probe(x, false);
      if (x->tc->cfg.count_indirect)
        tc_emit_count(&x->e, &x->tc->stats.jc_cross_misses);
    }
    emit_mov_imm32(&x->e, HR_R9, ex->target);
    if (x->exits[i].dispatch) {
      emit_mov_imm32(&x->e, HR_R10, 0); /* nothing to chain */
    } else {
      /* lea r10, [rip + jump field] */
      emit_u8(&x->e, 0x4c), emit_u8(&x->e, 0x8d), emit_u8(&x->e, 0x15);
      int32_t rel = (int32_t)(ex->jump - (x->e.p + 4));
      emit_u32(&x->e, (uint32_t)rel);
    }
    emit_jmp_cpu(&x->e, CPU_STUB_EXIT);
    if (!x->e.overflow)
      patch_rel32(ex->jump, ex->stub);
  }
}

struct tb *translate_block(struct tcache *tc, uint32_t eip, uint32_t key, bool cached) {
  static struct xlate xs; /* large; translation is single-threaded */
  struct xlate *x = &xs;
  memset(x, 0, offsetof(struct xlate, map));
  x->tc = tc;
  x->cpu = tc->cpu;
  x->key = key;
  x->kernel = (key & KEY_CPL_MASK) != 3;
  x->flat = !(key & KEY_NONFLAT);
  x->slow_string = key & KEY_SLOW_STRING;
  x->te = tc->cpu->deprivileged;
  x->block_eip = eip;
  x->cs_base = (key & KEY_CS_BASED) ? x->cpu->seg[SEG_CS].base : 0;
  x->cs_limit = (key & KEY_CS_BASED) ? x->cpu->seg[SEG_CS].limit : UINT32_MAX;
  x->start = tc->code_ptr;
  x->e = (struct emitter){tc->code_ptr, tc->code_end, false};
  /* Single-stepping, RF or a data breakpoint: one instruction, whose every exit returns to
   * the dispatcher (for #DB, or to clear RF). */
  bool watched = key & (KEY_TF | KEY_RF | KEY_WATCH);
  int max_insns = cached && !watched ? tc->cfg.max_block_insns : 1;
  /* Instruction breakpoints, which RF suppresses for the instruction it is set at. */
  bool breakpoints = !(key & KEY_RF) && cpu_has_breakpoints(tc->cpu);
  if (max_insns > MAX_BLOCK_INSNS_LIMIT)
    max_insns = MAX_BLOCK_INSNS_LIMIT;

  x->eip = eip;
  x->page[0] = x->page[1] = UINT32_MAX;
  uint8_t *count_entry = tc->cfg.count_indirect ? tc_emit_count_entry(&x->e, tc) : NULL;
  if (!(key & KEY_NOPOLL))
    emit_poll(x, POLL_DELIVER_OFFSET);
  while (!x->ended) {
    uint32_t lin = x->cs_base + x->eip;
    if (x->n_insns >= max_insns ||
        (x->n_insns > 0 && (lin >> PAGE_SHIFT) != ((x->cs_base + eip) >> PAGE_SHIFT))) {
      x->dispatch_exits = watched;
      if (x->shadow_open) {
        /* The shadowed instruction is in the next block: the dispatcher runs it unpolled. */
        emit_store_imm(&x->e, 4, cpu_field(CPU_SHADOW), 1);
        x->dispatch_exits = true;
      }
      exit_jmp(x, x->eip);
      break;
    }
    if (x->e.end - x->e.p < MAX_HOST_PER_INSN + 64) {
      x->e.overflow = true;
      break;
    }
    /* #DB before the instruction is fetched, before a code-limit fault (SDM vol. 3,
     * 17.3.1.1 and 6.9). */
    uint32_t hit = breakpoints ? cpu_breakpoints_at(x->cpu, lin) : 0;
    if (hit) {
      if (x->n_insns > 0) {
        exit_jmp(x, x->eip);
        break;
      }
      breakpoint_block(x, lin, hit);
      break;
    }
    if (x->eip > x->cs_limit) {
      past_cs_limit(x);
      break;
    }
    uint32_t pages[2] = {UINT32_MAX, UINT32_MAX};
    int got = fetch(x, lin, x->bytes, 15, pages, x->n_insns == 0);
    if (got == 0) {
      if (x->n_insns == 0)
        return NULL; /* the fetch raised #PF, or the code is not in RAM */
      exit_jmp(x, x->eip);
      break;
    }
    ZyanStatus st = (key & KEY_CODE16) ? decode16(x, got)
                                       : ZydisDecoderDecodeFull(&tc->decoder, x->bytes,
                                                                (ZyanUSize)got, &x->in, x->op);
    if (st == ZYDIS_STATUS_NO_MORE_DATA && got < 15) {
      /* The instruction runs onto a page we could not read. */
      if (x->n_insns > 0) {
        exit_jmp(x, x->eip);
        break;
      }
      uint32_t pa;
      unsigned access = MMU_FETCH | (x->cpu->cpl == 3 ? MMU_USER : 0);
      if (mmu_translate(tc->mmu, x->cpu, lin + (uint32_t)got, access, &pa))
        cpu_stop(x->cpu, SHUTDOWN_ERROR,
                 "guest executes from unassigned physical address 0x%08x (EIP 0x%08x)", pa,
                 x->eip + (uint32_t)got);
      return NULL;
    }
    if (ZYAN_FAILED(st)) {
      x->in.length = 1;
      x->in.mnemonic = ZYDIS_MNEMONIC_INVALID;
      x->in.operand_count = 0; /* (not the previous instruction's operands) */
    }
    if (!(key & KEY_CODE16) || ZYAN_FAILED(st))
      x->guest_len = x->in.length;
    if (x->n_insns == 0)
      x->page[0] = pages[0];
    if (x->eip + x->guest_len - 1u > x->cs_limit) {
      past_cs_limit(x); /* it ends past the limit: #GP(0) before it runs */
      break;
    }
    if ((lin & (PAGE_SIZE - 1)) + x->guest_len > PAGE_SIZE)
      x->page[1] = pages[1];
    x->next_eip = x->eip + x->guest_len;
    bool in_shadow = x->shadow_open;
    x->shadow_open = false;
    x->dispatch_exits = in_shadow || watched;
    record_insn(x);
    if ((key & KEY_STACK16) && uses_stack(x))
      callout(x, insn_check_stack16); /* SP is ESP here: see insn_check_stack16 */
    if (raise_if_unusable(x)) {
      /* it faults before it touches anything */
    } else {
      enum learned learned = tc_learned_insn(tc, pages[0] << PAGE_SHIFT | (lin & (PAGE_SIZE - 1)));
      if (learned == LEARNED_MMIO) {
        mmio_callout(x); /* it touched device memory before */
      } else {
        bool slow = x->slow_string;
        x->slow_string = slow || learned == LEARNED_STRING; /* it met a volatile page */
        translate_insn(x);
        x->slow_string = slow;
      }
    }
    if (in_shadow && !x->ended)
      poll_pending_before(x, x->next_eip);
    x->dispatch_exits = false;
    x->eip = x->next_eip;
  }
  if (x->page[1] == UINT32_MAX)
    x->page[1] = x->page[0];
  if (x->e.overflow)
    return NULL;

  struct tb *tb = tc_meta_alloc(tc, sizeof(*tb));
  struct insn_map *map = tc_meta_alloc(tc, sizeof(struct insn_map) * (size_t)x->n_insns);
  if (!tb || !map)
    return NULL;
  memset(tb, 0, sizeof(*tb));
  finish_exits(x, tb);
  if (x->e.overflow)
    return NULL;
  memcpy(map, x->map, sizeof(struct insn_map) * (size_t)x->n_insns);
  tb->eip = eip;
  tb->cs_base = x->cs_base;
  tb->cs_limit = x->cs_limit;
  tb->key = key;
  tb->page[0] = x->page[0];
  tb->page[1] = x->page[1];
  tb->code = x->start;
  tb->code_len = (uint32_t)(x->e.p - x->start);
  tb->guest_len = (uint16_t)(x->eip - eip);
  tb->n_insns = (uint16_t)x->n_insns;
  tb->map = map;
  if (count_entry)
    tc_patch_count_entry(count_entry, tb);
  tb->valid = true;
  tb->cached = cached;
  tc->code_ptr = x->e.p;
  tc->stats.insns_translated += (uint64_t)x->n_insns;
  tc->stats.blocks_translated++;
  tc->stats.guest_bytes += tb->guest_len;
  tc->stats.host_bytes += tb->code_len;
  return tb;
}
