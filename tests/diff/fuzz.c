/* fuzz.c - random instruction streams, run on bt386 and on Unicorn and compared.
 *
 *   fuzz [--count N] [--seed S] [--length L] [--progress] [--no-minimise]
 *
 * Runs streams of L random instructions until N of them have executed. Each instruction is
 * random bytes (prefixes, an opcode, ModRM, SIB, displacement and immediate) that Zydis decodes
 * in 32-bit mode to a non-privileged, non-control-flow instruction of the ISA bt386 presents
 * (BASE, x87 without transcendentals, MMX, SSE, SSE2). Set-up instructions go before it:
 *
 *   - `mov reg, imm32` for the base and index of its memory operand (or a patched absolute
 *     displacement), so that every access lands in the compared window (FS/GS bases and 16-bit
 *     addressing included);
 *   - ESP/EBP inside the stack area for stack instructions, ESI/EDI/ECX for string ones, EBX for
 *     xlat, a small bit offset for bt* on memory, a known CL for shifts (so the harness knows
 *     which flags the count leaves undefined), a small dividend for most div/idiv;
 *   - `cmp reg, reg` when the instruction reads a flag an earlier one left undefined, and `fxam`
 *     before fnstsw when an x87 condition code is undefined.
 *
 * Registers, flags, XMM, the x87 stack, FS/GS bases and the window start random. On a
 * difference the stream is minimised (groups of set-up + instruction dropped while it still
 * fails) and printed with both states; the exit status is then 1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "tests/diff/harness.h"

#define MAX_ITEMS 1024

struct item {
  uint8_t b[15];
  uint8_t len;
  int16_t group; /* the random instruction this belongs to (set-ups share its group) */
  bool random;   /* the random instruction itself */
};

struct stream {
  struct item it[MAX_ITEMS];
  int n;
};

/* ---- random numbers (xorshift64*) ---- */

static uint64_t rng;

static uint64_t rnd64(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd(uint32_t n) { return n ? (uint32_t)(rnd64() % n) : 0; }
static bool chance(int percent) { return rnd(100) < (uint32_t)percent; }

/* ---- decoding ---- */

struct decoded {
  ZydisDecodedInstruction in;
  ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
};

static bool decode(const uint8_t *b, size_t n, struct decoded *d) {
  return ZYAN_SUCCESS(ZydisDecoderDecodeFull(diff_decoder(), b, n, &d->in, d->op));
}

static ZydisRegister reg32_of(ZydisRegister r) {
  return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, r);
}

static int gpr_index(ZydisRegister r) {
  ZydisRegister e = reg32_of(r);
  if (e < ZYDIS_REGISTER_EAX || e > ZYDIS_REGISTER_EDI)
    return -1;
  return (int)(e - ZYDIS_REGISTER_EAX);
}

/* ---- which instructions ---- */

static bool mnemonic_excluded(ZydisMnemonic m) {
  switch (m) {
  /* sensitive, privileged or engine-specific (segment selectors, time, identification) */
  case ZYDIS_MNEMONIC_CPUID: case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDPMC:
  case ZYDIS_MNEMONIC_HLT: case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_STI:
  case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_POPF:
  case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_ARPL: case ZYDIS_MNEMONIC_LDS:
  case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS:
  case ZYDIS_MNEMONIC_LSS: case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1:
  case ZYDIS_MNEMONIC_UD2: case ZYDIS_MNEMONIC_INT1: case ZYDIS_MNEMONIC_INT3:
  case ZYDIS_MNEMONIC_BOUND:
  /* x87 and SSE state that holds host addresses or unmasks exceptions at random */
  case ZYDIS_MNEMONIC_FNSTENV: case ZYDIS_MNEMONIC_FLDENV: case ZYDIS_MNEMONIC_FNSAVE:
  case ZYDIS_MNEMONIC_FRSTOR: case ZYDIS_MNEMONIC_FXSAVE: case ZYDIS_MNEMONIC_FXRSTOR:
  case ZYDIS_MNEMONIC_FLDCW: case ZYDIS_MNEMONIC_LDMXCSR: case ZYDIS_MNEMONIC_FBLD:
  case ZYDIS_MNEMONIC_STMXCSR: /* stores exception flags, which Unicorn does not keep */
  case ZYDIS_MNEMONIC_FBSTP:   /* Unicorn drops the sign of a negative value that rounds to 0 */
  case ZYDIS_MNEMONIC_CMPXCHG8B: /* Unicorn fills EFLAGS with garbage after lazy flags */
  /* transcendental and partial-remainder x87 instructions: not the basics under test */
  case ZYDIS_MNEMONIC_F2XM1: case ZYDIS_MNEMONIC_FYL2X: case ZYDIS_MNEMONIC_FYL2XP1:
  case ZYDIS_MNEMONIC_FPTAN: case ZYDIS_MNEMONIC_FPATAN: case ZYDIS_MNEMONIC_FSIN:
  case ZYDIS_MNEMONIC_FCOS: case ZYDIS_MNEMONIC_FSINCOS: case ZYDIS_MNEMONIC_FPREM:
  case ZYDIS_MNEMONIC_FPREM1:
  case ZYDIS_MNEMONIC_FXTRACT: /* Unicorn takes infinities and zeros for ordinary numbers */
  case ZYDIS_MNEMONIC_FSCALE:  /* ... and so does its fscale */
  /* approximations whose exact bits are implementation-specific */
  case ZYDIS_MNEMONIC_RCPPS: case ZYDIS_MNEMONIC_RCPSS: case ZYDIS_MNEMONIC_RSQRTPS:
  case ZYDIS_MNEMONIC_RSQRTSS:
    return true;
  default:
    return false;
  }
}

static bool category_excluded(ZydisInstructionCategory c) {
  switch (c) {
  case ZYDIS_CATEGORY_COND_BR: case ZYDIS_CATEGORY_UNCOND_BR: case ZYDIS_CATEGORY_CALL:
  case ZYDIS_CATEGORY_RET: case ZYDIS_CATEGORY_INTERRUPT: case ZYDIS_CATEGORY_SYSTEM:
  case ZYDIS_CATEGORY_SYSCALL: case ZYDIS_CATEGORY_SYSRET: case ZYDIS_CATEGORY_IO:
  case ZYDIS_CATEGORY_IOSTRINGOP:
    return true;
  default:
    return false;
  }
}

static bool isa_allowed(const ZydisDecodedInstruction *in) {
  if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY)
    return false;
  switch (in->meta.isa_ext) {
  case ZYDIS_ISA_EXT_BASE: case ZYDIS_ISA_EXT_X87: case ZYDIS_ISA_EXT_MMX:
  case ZYDIS_ISA_EXT_SSE: case ZYDIS_ISA_EXT_SSE2:
    return true;
  default:
    return false;
  }
}

static bool names_segment_register(const struct decoded *d) {
  for (int i = 0; i < d->in.operand_count; i++)
    if (d->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(d->op[i].reg.value) == ZYDIS_REGCLASS_SEGMENT)
      return true;
  return false;
}

/* cvtpi2ps/cvtpi2pd from memory make no x87-to-MMX transition (SDM); Unicorn makes one. */
static bool unicorn_transition_quirk(const struct decoded *d) {
  return (d->in.mnemonic == ZYDIS_MNEMONIC_CVTPI2PS || d->in.mnemonic == ZYDIS_MNEMONIC_CVTPI2PD) &&
         d->op[1].type == ZYDIS_OPERAND_TYPE_MEMORY;
}

/* Legacy CMPPS/CMPPD/CMPSS/CMPSD ignore predicate bits 7:3 (SDM); Unicorn raises #UD. */
static bool unicorn_predicate_quirk(const struct decoded *d) {
  ZydisMnemonic m = d->in.mnemonic;
  bool cmp = m == ZYDIS_MNEMONIC_CMPPS || m == ZYDIS_MNEMONIC_CMPPD || m == ZYDIS_MNEMONIC_CMPSS ||
             m == ZYDIS_MNEMONIC_CMPSD;
  return cmp && d->in.raw.imm[0].size && d->in.raw.imm[0].value.u > 7;
}

/* F6 /1 and F7 /1 are TEST on hardware (an undocumented alias of /0); Unicorn raises #UD. */
static bool unicorn_test_alias_quirk(const struct decoded *d) {
  return d->in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && (d->in.opcode == 0xf6 || d->in.opcode == 0xf7) &&
         d->in.raw.modrm.reg == 1;
}

static bool has_prefix(const struct decoded *d, uint8_t p) {
  for (int i = 0; i < d->in.raw.prefix_count; i++)
    if (d->in.raw.prefixes[i].value == p)
      return true;
  return false;
}

/* With two of 66, F2 and F3 in front of an SSE opcode, hardware (and Zydis) let F2/F3 win
 * over 66 and the last of F2/F3 win; Unicorn takes 66 first, then F3. */
static bool unicorn_mandatory_prefix_quirk(const struct decoded *d) {
  int n = has_prefix(d, 0x66) + has_prefix(d, 0xf2) + has_prefix(d, 0xf3);
  return n > 1 && d->in.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT;
}

/* 0F 0D and 0F 18 with a register operand are hint NOPs on hardware; Unicorn raises #UD. */
static bool unicorn_hint_nop_quirk(const struct decoded *d) {
  return d->in.opcode_map == ZYDIS_OPCODE_MAP_0F &&
         (d->in.opcode == 0x0d || d->in.opcode == 0x18) && d->in.raw.modrm.mod == 3;
}

/* Results the SDM leaves undefined. */
static bool undefined_result(const struct decoded *d) {
  if (has_prefix(d, 0xf2) && has_prefix(d, 0xf3))
    return true; /* two group-1 prefixes (SDM vol. 2, 2.1.1) */
  return d->in.mnemonic == ZYDIS_MNEMONIC_BSWAP && d->in.operand_width == 16;
}

/* F3 0F BC/BD are BSF/BSR on bt386's P6; every Unicorn CPU model decodes them as TZCNT and
 * LZCNT. */
static bool unicorn_lzcnt_quirk(const struct decoded *d) {
  return (d->in.mnemonic == ZYDIS_MNEMONIC_BSF || d->in.mnemonic == ZYDIS_MNEMONIC_BSR) &&
         has_prefix(d, 0xf3);
}

/* What bt386 does not translate yet (it stops with "not supported"): xlat and maskmov* with
 * an FS/GS override or 16-bit addressing. */
static bool bt386_unsupported(const struct decoded *d) {
  ZydisMnemonic m = d->in.mnemonic;
  if (m != ZYDIS_MNEMONIC_XLAT && m != ZYDIS_MNEMONIC_MASKMOVQ && m != ZYDIS_MNEMONIC_MASKMOVDQU)
    return false;
  return d->in.address_width == 16 || has_prefix(d, 0x64) || has_prefix(d, 0x65);
}

/* lock neg: Unicorn computes SF (and more) from the wrong value. */
static bool unicorn_lock_neg_quirk(const struct decoded *d) {
  return d->in.mnemonic == ZYDIS_MNEMONIC_NEG && has_prefix(d, 0xf0);
}

static bool allowed(const struct decoded *d) {
  return !unicorn_lock_neg_quirk(d) && !bt386_unsupported(d) && !unicorn_lzcnt_quirk(d) && isa_allowed(&d->in) && !undefined_result(d) && !mnemonic_excluded(d->in.mnemonic) &&
         !unicorn_transition_quirk(d) && !unicorn_predicate_quirk(d) &&
         !unicorn_test_alias_quirk(d) && !unicorn_mandatory_prefix_quirk(d) &&
         !unicorn_hint_nop_quirk(d) &&
         !category_excluded(d->in.meta.category) && !names_segment_register(d) &&
         !(d->in.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED);
}

/* ---- the x87 register stack ----
 *
 * Unicorn (QEMU 5) ignores x87 tags: it reads an empty register's stale value and overwrites a
 * full one, where hardware raises a (masked) stack fault and produces the QNaN indefinite. So
 * streams track TOP and the tags and keep clear of stack faults (UNICORN-QUIRKS.md). */

struct fpu_model {
  int top;
  uint8_t valid; /* by physical register */
  uint8_t mmx;   /* written by MMX: Unicorn leaves bits 64-79 alone, hardware sets them */
};

static int fpu_pushes(ZydisMnemonic m) {
  switch (m) {
  case ZYDIS_MNEMONIC_FLD: case ZYDIS_MNEMONIC_FILD: case ZYDIS_MNEMONIC_FBLD:
  case ZYDIS_MNEMONIC_FLD1: case ZYDIS_MNEMONIC_FLDL2T: case ZYDIS_MNEMONIC_FLDL2E:
  case ZYDIS_MNEMONIC_FLDPI: case ZYDIS_MNEMONIC_FLDLG2: case ZYDIS_MNEMONIC_FLDLN2:
  case ZYDIS_MNEMONIC_FLDZ: case ZYDIS_MNEMONIC_FXTRACT:
    return 1;
  default:
    return 0;
  }
}

static int fpu_pops(ZydisMnemonic m) {
  switch (m) {
  case ZYDIS_MNEMONIC_FSTP: case ZYDIS_MNEMONIC_FISTP: case ZYDIS_MNEMONIC_FBSTP:
  case ZYDIS_MNEMONIC_FCOMP: case ZYDIS_MNEMONIC_FUCOMP: case ZYDIS_MNEMONIC_FICOMP:
  case ZYDIS_MNEMONIC_FCOMIP: case ZYDIS_MNEMONIC_FUCOMIP: case ZYDIS_MNEMONIC_FADDP:
  case ZYDIS_MNEMONIC_FSUBP: case ZYDIS_MNEMONIC_FSUBRP: case ZYDIS_MNEMONIC_FMULP:
  case ZYDIS_MNEMONIC_FDIVP: case ZYDIS_MNEMONIC_FDIVRP: case ZYDIS_MNEMONIC_FFREEP:
  case ZYDIS_MNEMONIC_FSTPNCE:
    return 1;
  case ZYDIS_MNEMONIC_FCOMPP: case ZYDIS_MNEMONIC_FUCOMPP:
    return 2;
  default:
    return 0;
  }
}

static bool uses_mmx_registers(const struct decoded *d) {
  for (int i = 0; i < d->in.operand_count; i++)
    if (d->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(d->op[i].reg.value) == ZYDIS_REGCLASS_MMX)
      return true;
  return false;
}

static int st_index(ZydisRegister r) { return (int)(r - ZYDIS_REGISTER_ST0); }
static bool is_st(const ZydisDecodedOperand *o) {
  return o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
         ZydisRegisterGetClass(o->reg.value) == ZYDIS_REGCLASS_X87;
}

/* Apply one instruction to the model; false if it would fault on the stack. */
static bool fpu_step(struct fpu_model *f, const struct decoded *d) {
  ZydisMnemonic m = d->in.mnemonic;
  if (uses_mmx_registers(d)) {
    f->top = 0;
    f->valid = 0xff;
    for (int i = 0; i < d->in.operand_count; i++)
      if (d->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
          ZydisRegisterGetClass(d->op[i].reg.value) == ZYDIS_REGCLASS_MMX &&
          (d->op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
        f->mmx |= (uint8_t)(1u << (d->op[i].reg.value - ZYDIS_REGISTER_MM0));
    return true;
  }
  if (m == ZYDIS_MNEMONIC_EMMS) {
    /* Hardware sets TOP to 0 as well (SDM vol. 1, table 9-3); Unicorn leaves it. */
    bool top_kept = f->top == 0;
    f->valid = 0;
    return top_kept;
  }
  if (d->in.meta.isa_ext != ZYDIS_ISA_EXT_X87)
    return true;
  switch (m) {
  case ZYDIS_MNEMONIC_FNINIT: f->top = 0; f->valid = 0; return true;
  case ZYDIS_MNEMONIC_FINCSTP: f->top = (f->top + 1) & 7; return true;
  case ZYDIS_MNEMONIC_FDECSTP: f->top = (f->top - 1) & 7; return true;
  case ZYDIS_MNEMONIC_FXAM: /* classifies an empty ST0 without a fault */
    return !(f->mmx & (1u << f->top)); /* its sign is C1, even when empty */
  default: break;
  }
  for (int i = 0; i < d->in.operand_count; i++) {
    const ZydisDecodedOperand *o = &d->op[i];
    unsigned bit = 1u << ((f->top + (is_st(o) ? st_index(o->reg.value) : 0)) & 7);
    bool fcmov = d->in.meta.category == ZYDIS_CATEGORY_FCMOV; /* an empty ST0 faults too */
    bool reads = is_st(o) && ((o->actions & ZYDIS_OPERAND_ACTION_MASK_READ) || fcmov) &&
                 m != ZYDIS_MNEMONIC_FFREE && m != ZYDIS_MNEMONIC_FFREEP;
    if (reads && (!(f->valid & bit) || (f->mmx & bit)))
      return false;
  }
  /* fst/fstp st(i) into an empty register: hardware tags it valid, Unicorn leaves it empty */
  bool store_to_register = m == ZYDIS_MNEMONIC_FST || m == ZYDIS_MNEMONIC_FSTP ||
                           m == ZYDIS_MNEMONIC_FSTPNCE;
  if (store_to_register && is_st(&d->op[0]) &&
      !(f->valid & (1u << ((f->top + st_index(d->op[0].reg.value)) & 7))))
    return false;
  if (m == ZYDIS_MNEMONIC_FFREE || m == ZYDIS_MNEMONIC_FFREEP)
    f->valid &= (uint8_t)~(1u << ((f->top + st_index(d->op[0].reg.value)) & 7));
  if (fpu_pushes(m)) {
    int r = (f->top - 1) & 7;
    if (f->valid & (1u << r))
      return false;
    f->top = r;
    f->valid |= (uint8_t)(1u << r);
    f->mmx &= (uint8_t)~(1u << r);
  } else {
    for (int i = 0; i < d->in.operand_count; i++)
      if (is_st(&d->op[i]) && (d->op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) {
        unsigned bit = 1u << ((f->top + st_index(d->op[i].reg.value)) & 7);
        f->valid |= (uint8_t)bit;
        if (d->op[i].actions & ZYDIS_OPERAND_ACTION_WRITE) /* not fcmov's conditional write */
          f->mmx &= (uint8_t)~bit;
      }
  }
  for (int n = fpu_pops(m); n > 0; n--) {
    f->valid &= (uint8_t)~(1u << f->top);
    f->top = (f->top + 1) & 7;
  }
  return true;
}

static void fpu_model_of(struct fpu_model *f, const struct diff_state *s) {
  f->top = (s->fpu.fsw >> 11) & 7;
  f->valid = s->fpu.valid;
}

/* ---- random candidates ---- */

static const uint8_t legacy_prefixes[] = {0x66, 0x66, 0xf2, 0xf3, 0xf3, 0x67, 0x64, 0x65,
                                          0x2e, 0x3e, 0x26, 0x36, 0xf0};

static int random_candidate(uint8_t *b) {
  int n = 0;
  while (n < 3 && chance(30))
    b[n++] = legacy_prefixes[rnd(sizeof(legacy_prefixes))];
  int kind = (int)rnd(100);
  if (kind < 45) {
    b[n++] = (uint8_t)rnd(256);
  } else if (kind < 60) {
    b[n++] = (uint8_t)(0xd8 + rnd(8)); /* x87 */
  } else {
    b[n++] = 0x0f;
    b[n++] = (uint8_t)rnd(256);
  }
  while (n < 15)
    b[n++] = (uint8_t)rnd(256);
  return n;
}

/* ---- building streams ---- */

struct gen {
  struct stream *s;
  struct diff_walk walk;
  struct fpu_model fpu;
  const struct diff_state *state;
  int group;
  /* set-up items for the instruction being built, and the registers they write */
  struct item setup[16];
  int n_setup;
  unsigned setup_regs;
  bool conflict;
  uint32_t target; /* linear address the memory operand was aimed at */
};

static void add_item(struct gen *g, const uint8_t *b, int len, bool random) {
  if (g->s->n >= MAX_ITEMS)
    return;
  struct item *it = &g->s->it[g->s->n++];
  memcpy(it->b, b, (size_t)len);
  it->len = (uint8_t)len;
  it->group = (int16_t)g->group;
  it->random = random;
  struct decoded d;
  if (decode(b, (size_t)len, &d)) {
    diff_walk_step(&g->walk, &d.in, d.op);
    fpu_step(&g->fpu, &d);
  }
}

static void setup_bytes(struct gen *g, const uint8_t *b, int len, int reg) {
  if (reg >= 0) {
    if (g->setup_regs & (1u << reg))
      g->conflict = true;
    g->setup_regs |= 1u << reg;
  }
  struct item *it = &g->setup[g->n_setup++];
  memcpy(it->b, b, (size_t)len);
  it->len = (uint8_t)len;
}

static void setup_mov32(struct gen *g, int reg, uint32_t v) {
  uint8_t b[5] = {(uint8_t)(0xb8 + reg)};
  memcpy(b + 1, &v, 4);
  setup_bytes(g, b, 5, reg);
}

/* mov cl, imm8 */
static void setup_cl(struct gen *g, uint8_t v) {
  uint8_t b[2] = {0xb1, v};
  setup_bytes(g, b, 2, R_ECX);
}

static uint32_t seg_base_of(const struct gen *g, ZydisRegister seg) {
  if (seg == ZYDIS_REGISTER_FS)
    return g->state->fs_base;
  if (seg == ZYDIS_REGISTER_GS)
    return g->state->gs_base;
  return 0;
}

/* A linear target in the data area with `margin` bytes of room on each side. */
static uint32_t data_target(uint32_t size, uint32_t margin, uint32_t align) {
  uint32_t lo = DIFF_DATA_BASE + margin, hi = DIFF_DATA_BASE + DIFF_DATA_SIZE - margin - size;
  uint32_t t = lo + rnd(hi - lo);
  return t & ~(align - 1);
}

static const ZydisDecodedOperand *memory_operand(const struct decoded *d) {
  for (int i = 0; i < d->in.operand_count; i++)
    if (d->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d->op[i].mem.type == ZYDIS_MEMOP_TYPE_MEM &&
        d->op[i].visibility != ZYDIS_OPERAND_VISIBILITY_HIDDEN)
      return &d->op[i];
  return NULL;
}

static bool unaligned_ok(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_MOVUPS || m == ZYDIS_MNEMONIC_MOVUPD || m == ZYDIS_MNEMONIC_MOVDQU;
}

static void patch(uint8_t *b, int offset, int size_bits, uint32_t v) {
  memcpy(b + offset, &v, (size_t)size_bits / 8);
}

/* Point a 16-bit-address operand at linear `t`: ea16 = base + index + disp (mod 64 KiB). */
static bool aim_addr16(struct gen *g, uint8_t *b, const struct decoded *d,
                       const ZydisDecodedOperand *o, uint32_t ea) {
  if (ea > 0xffff)
    return false;
  int base = o->mem.base ? gpr_index(o->mem.base) : -1;
  int index = o->mem.index ? gpr_index(o->mem.index) : -1;
  uint32_t disp = (uint32_t)o->mem.disp.value;
  if (base < 0 && index < 0) {
    patch(b, d->in.raw.disp.offset, d->in.raw.disp.size, ea);
    return true;
  }
  uint32_t upper = (uint32_t)rnd64() & 0xffff0000u; /* ignored by 16-bit addressing */
  if (base >= 0 && index >= 0) {
    uint32_t iv = rnd(0x10000);
    setup_mov32(g, index, upper | iv);
    setup_mov32(g, base, upper | ((ea - disp - iv) & 0xffff));
  } else {
    setup_mov32(g, base >= 0 ? base : index, upper | ((ea - disp) & 0xffff));
  }
  return true;
}

static uint32_t inverse_mod_2_32(uint32_t f) {
  uint32_t x = f; /* Newton's iteration: f odd */
  for (int i = 0; i < 5; i++)
    x *= 2 - f * x;
  return x;
}

static bool aim_addr32(struct gen *g, uint8_t *b, const struct decoded *d,
                       const ZydisDecodedOperand *o, uint32_t ea) {
  int base = o->mem.base ? gpr_index(o->mem.base) : -1;
  int index = o->mem.index ? gpr_index(o->mem.index) : -1;
  uint32_t scale = o->mem.scale ? o->mem.scale : 1;
  uint32_t disp = (uint32_t)o->mem.disp.value;
  if (base < 0 && index < 0) {
    patch(b, d->in.raw.disp.offset, d->in.raw.disp.size, ea);
    return true;
  }
  if (base < 0) { /* [index*scale + disp32]: a random index, the displacement fits it */
    uint32_t iv = (uint32_t)rnd64();
    patch(b, d->in.raw.disp.offset, d->in.raw.disp.size, ea - iv * scale);
    setup_mov32(g, index, iv);
    return true;
  }
  if (index < 0) {
    setup_mov32(g, base, ea - disp);
    return true;
  }
  if (base == index) {
    uint32_t f = scale + 1, want = ea - disp;
    if (f == 2) {
      if (want & 1)
        return false;
      setup_mov32(g, base, (want >> 1) | (chance(50) ? 0x80000000u : 0));
    } else {
      setup_mov32(g, base, want * inverse_mod_2_32(f));
    }
    return true;
  }
  uint32_t iv = chance(50) ? (uint32_t)rnd64() : rnd(64);
  setup_mov32(g, index, iv);
  setup_mov32(g, base, ea - disp - iv * scale);
  return true;
}

static bool aim_memory(struct gen *g, uint8_t *b, const struct decoded *d, uint32_t margin) {
  const ZydisDecodedOperand *o = memory_operand(d);
  if (!o)
    return true;
  uint32_t size = o->size ? o->size / 8u : 16;
  uint32_t align = size >= 16 && !unaligned_ok(d->in.mnemonic) ? 16 : chance(50) ? 1 : size;
  if (align & (align - 1))
    align = 1;
  uint32_t t = data_target(size, margin, align);
  g->target = t;
  uint32_t ea = t - seg_base_of(g, o->mem.segment);
  if (d->in.address_width == 16)
    return aim_addr16(g, b, d, o, ea);
  return aim_addr32(g, b, d, o, ea);
}

static bool reads_register(const struct decoded *d, int reg) {
  for (int i = 0; i < d->in.operand_count; i++) {
    const ZydisDecodedOperand *o = &d->op[i];
    if (o->type == ZYDIS_OPERAND_TYPE_MEMORY &&
        (gpr_index(o->mem.base) == reg || gpr_index(o->mem.index) == reg))
      return true;
  }
  return false;
}

static bool uses_stack(const struct decoded *d) {
  for (int i = 0; i < d->in.operand_count; i++) {
    const ZydisDecodedOperand *o = &d->op[i];
    if (o->visibility != ZYDIS_OPERAND_VISIBILITY_HIDDEN)
      continue;
    if ((o->type == ZYDIS_OPERAND_TYPE_REGISTER && reg32_of(o->reg.value) == ZYDIS_REGISTER_ESP) ||
        (o->type == ZYDIS_OPERAND_TYPE_MEMORY && reg32_of(o->mem.base) == ZYDIS_REGISTER_ESP))
      return true;
  }
  return false;
}

static uint32_t stack_slot(void) { return DIFF_STACK_TOP - 4 * rnd(64); }

static bool is_string(ZydisMnemonic m) {
  switch (m) {
  case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
  case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
  case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
  case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
  case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
    return true;
  default:
    return false;
  }
}

/* An index register for an implicit operand: its value is linear `t` less the segment base,
 * 16 bits wide under 0x67. */
static bool setup_pointer(struct gen *g, const struct decoded *d, int reg, uint32_t t,
                          ZydisRegister seg) {
  uint32_t ea = t - seg_base_of(g, seg);
  if (d->in.address_width == 16) {
    if (ea > 0xffff)
      return false;
    ea |= (uint32_t)rnd64() & 0xffff0000u;
  }
  setup_mov32(g, reg, ea);
  return true;
}

static ZydisRegister source_segment(const struct decoded *d) {
  for (int i = 0; i < d->in.operand_count; i++) {
    const ZydisDecodedOperand *o = &d->op[i];
    if (o->type == ZYDIS_OPERAND_TYPE_MEMORY && reg32_of(o->mem.base) == ZYDIS_REGISTER_ESI)
      return o->mem.segment;
  }
  return ZYDIS_REGISTER_DS;
}

static bool setup_implicit(struct gen *g, const struct decoded *d) {
  ZydisMnemonic m = d->in.mnemonic;
  if (is_string(m)) {
    if (d->in.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))
      setup_mov32(g, R_ECX, rnd(20) | (d->in.address_width == 16 ? (uint32_t)rnd64() << 16 : 0));
    uint32_t margin = 20 * 4 + 64;
    return setup_pointer(g, d, R_ESI, data_target(4, margin, 1), source_segment(d)) &&
           setup_pointer(g, d, R_EDI, data_target(4, margin, 1), ZYDIS_REGISTER_ES);
  }
  if (m == ZYDIS_MNEMONIC_XLAT) {
    const ZydisDecodedOperand *o = &d->op[0];
    return setup_pointer(g, d, R_EBX, data_target(256, 64, 1), o->mem.segment);
  }
  if (m == ZYDIS_MNEMONIC_MASKMOVQ || m == ZYDIS_MNEMONIC_MASKMOVDQU) {
    ZydisRegister seg = ZYDIS_REGISTER_DS;
    for (int i = 0; i < d->in.operand_count; i++)
      if (d->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
        seg = d->op[i].mem.segment;
    return setup_pointer(g, d, R_EDI, data_target(16, 64, 1), seg);
  }
  if (uses_stack(d)) {
    if (reads_register(d, R_ESP))
      return false;
    setup_mov32(g, R_ESP, stack_slot());
    if (m == ZYDIS_MNEMONIC_ENTER || m == ZYDIS_MNEMONIC_LEAVE)
      setup_mov32(g, R_EBP, stack_slot());
  }
  return true;
}

/* bt/bts/btr/btc [mem], reg: a bit offset that stays within the margin. */
static bool setup_bit_offset(struct gen *g, const struct decoded *d) {
  ZydisMnemonic m = d->in.mnemonic;
  if (m != ZYDIS_MNEMONIC_BT && m != ZYDIS_MNEMONIC_BTS && m != ZYDIS_MNEMONIC_BTR &&
      m != ZYDIS_MNEMONIC_BTC)
    return true;
  if (d->op[0].type != ZYDIS_OPERAND_TYPE_MEMORY || d->op[1].type != ZYDIS_OPERAND_TYPE_REGISTER)
    return true;
  int r = gpr_index(d->op[1].reg.value);
  if (reads_register(d, r))
    return false;
  setup_mov32(g, r, (uint32_t)((int32_t)rnd(512) - 256));
  return true;
}

static bool setup_shift_count(struct gen *g, const struct decoded *d) {
  ZydisMnemonic m = d->in.mnemonic;
  bool dbl = m == ZYDIS_MNEMONIC_SHLD || m == ZYDIS_MNEMONIC_SHRD;
  bool shift = dbl || m == ZYDIS_MNEMONIC_SHL || m == ZYDIS_MNEMONIC_SHR ||
               m == ZYDIS_MNEMONIC_SAR || m == ZYDIS_MNEMONIC_ROL || m == ZYDIS_MNEMONIC_ROR ||
               m == ZYDIS_MNEMONIC_RCL || m == ZYDIS_MNEMONIC_RCR;
  if (!shift)
    return true;
  const ZydisDecodedOperand *c = &d->op[dbl ? 2 : 1];
  bool narrow_dbl = dbl && d->op[0].size == 16; /* a count past 16 leaves the result undefined */
  if (c->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
    return !narrow_dbl || (c->imm.value.u & 31) <= 16;
  if (reads_register(d, R_ECX))
    return false;
  uint8_t n = (uint8_t)rnd(41);
  if (narrow_dbl)
    n = (uint8_t)((chance(50) ? 32 : 0) + rnd(17));
  setup_cl(g, n);
  return true;
}

/* Most divisions get a dividend that cannot overflow: zero (div) or sign-extended (idiv). */
static void setup_division(struct gen *g, const struct decoded *d) {
  ZydisMnemonic m = d->in.mnemonic;
  if ((m != ZYDIS_MNEMONIC_DIV && m != ZYDIS_MNEMONIC_IDIV) || chance(15))
    return;
  bool sign = m == ZYDIS_MNEMONIC_IDIV;
  switch (d->op[0].size) {
  case 8: {
    uint8_t b[3] = {0x66, 0x98}, z[2] = {0xb4, 0}; /* cbw / mov ah, 0 */
    setup_bytes(g, sign ? b : z, 2, R_EAX);
    break;
  }
  case 16: {
    uint8_t b[2] = {0x66, 0x99}, z[4] = {0x66, 0xba, 0, 0}; /* cwd / mov dx, 0 */
    setup_bytes(g, sign ? b : z, sign ? 2 : 4, R_EDX);
    break;
  }
  default: {
    uint8_t b[1] = {0x99}, z[5] = {0xba, 0, 0, 0, 0}; /* cdq / mov edx, 0 */
    setup_bytes(g, sign ? b : z, sign ? 1 : 5, R_EDX);
    break;
  }
  }
}

static bool reads_fsw(const struct decoded *d) {
  return d->in.mnemonic == ZYDIS_MNEMONIC_FNSTSW;
}

/* Flag and condition-code definers for instructions that would read undefined ones. */
static void define_flags_if_needed(struct gen *g, const struct decoded *d) {
  if (d->in.cpu_flags && (d->in.cpu_flags->tested & g->walk.undef)) {
    uint8_t b[2] = {0x39, (uint8_t)(0xc0 | rnd(64))}; /* cmp r32, r32 */
    add_item(g, b, 2, false);
  }
  /* Unicorn keeps no x87 exception flags and no C1 of rounding: fnstsw sees them cleared
   * and the condition codes set by fxam. */
  if (reads_fsw(d)) {
    uint8_t clex[2] = {0xdb, 0xe2}, xam[2] = {0xd9, 0xe5};
    add_item(g, clex, 2, false);
    add_item(g, xam, 2, false);
  }
}

/* x87 constants that hardware rounds by FCW.RC; Unicorn loads them rounded to nearest. */
static bool inexact_constant(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_FLDPI || m == ZYDIS_MNEMONIC_FLDL2E || m == ZYDIS_MNEMONIC_FLDL2T ||
         m == ZYDIS_MNEMONIC_FLDLG2 || m == ZYDIS_MNEMONIC_FLDLN2;
}

/* Real x87 operands from memory: hardware quiets a signalling NaN as it converts it, Unicorn
 * keeps it signalling, so the quiet bit is set first (a mantissa bit when not a NaN). */
static void quiet_real_operand(struct gen *g, const struct decoded *d) {
  static const ZydisMnemonic reals[] = {ZYDIS_MNEMONIC_FLD,  ZYDIS_MNEMONIC_FADD,
                                        ZYDIS_MNEMONIC_FMUL, ZYDIS_MNEMONIC_FCOM,
                                        ZYDIS_MNEMONIC_FCOMP, ZYDIS_MNEMONIC_FSUB,
                                        ZYDIS_MNEMONIC_FSUBR, ZYDIS_MNEMONIC_FDIV,
                                        ZYDIS_MNEMONIC_FDIVR};
  const ZydisDecodedOperand *o = memory_operand(d);
  if (!o || (o->size != 32 && o->size != 64))
    return;
  bool real = false;
  for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
    real |= d->in.mnemonic == reals[i];
  if (!real)
    return;
  uint32_t at = g->target + (o->size == 32 ? 2 : 6);
  uint8_t quiet = o->size == 32 ? 0x40 : 0x08;
  uint8_t b[7] = {0xc6, 0x05, 0, 0, 0, 0, (uint8_t)(rnd(256) | quiet)}; /* mov byte [at], imm8 */
  memcpy(b + 2, &at, 4);
  add_item(g, b, 7, false);
}

/* fld m80 of random bytes: set the explicit integer bit, because Unicorn takes unnormals and
 * pseudo-NaNs for ordinary numbers where hardware raises invalid (UNICORN-QUIRKS.md). */
static void normalise_extended_operand(struct gen *g, const struct decoded *d) {
  const ZydisDecodedOperand *o = memory_operand(d);
  if (d->in.mnemonic != ZYDIS_MNEMONIC_FLD || !o || o->size != 80)
    return;
  uint32_t at = g->target + 7;
  uint8_t b[7] = {0xc6, 0x05, 0, 0, 0, 0, (uint8_t)(rnd(256) | 0x80)}; /* mov byte [at], imm8 */
  memcpy(b + 2, &at, 4);
  add_item(g, b, 7, false);
}

/* One random instruction with its set-up, appended to the stream. */
static void generate_one(struct gen *g) {
  for (;;) {
    uint8_t b[15];
    int n = random_candidate(b);
    struct decoded d;
    if (!decode(b, (size_t)n, &d) || !allowed(&d))
      continue;
    g->n_setup = 0;
    g->setup_regs = 0;
    g->conflict = false;
    setup_division(g, &d);
    if (!setup_implicit(g, &d) || !setup_bit_offset(g, &d) || !setup_shift_count(g, &d) ||
        !aim_memory(g, b, &d, 64) || g->conflict)
      continue;
    if (!decode(b, d.in.length, &d)) /* the patched displacement changes nothing else */
      continue;
    if (inexact_constant(d.in.mnemonic) && (g->state->fpu.fcw & 0x0c00))
      continue; /* Unicorn ignores the rounding control here */
    struct fpu_model f = g->fpu;
    if (!fpu_step(&f, &d) || (reads_fsw(&d) && (g->fpu.mmx & (1u << g->fpu.top))))
      continue; /* (the fxam before fnstsw must not classify an MMX-written register) */
    for (int i = 0; i < g->n_setup; i++)
      add_item(g, g->setup[i].b, g->setup[i].len, false);
    normalise_extended_operand(g, &d);
    quiet_real_operand(g, &d);
    define_flags_if_needed(g, &d);
    add_item(g, b, d.in.length, true);
    return;
  }
}

static void generate_stream(struct stream *s, const struct diff_state *state, int length) {
  struct gen g;
  memset(&g, 0, sizeof(g));
  g.s = s;
  g.state = state;
  s->n = 0;
  diff_walk_init(&g.walk);
  fpu_model_of(&g.fpu, state);
  for (g.group = 0; g.group < length && s->n < MAX_ITEMS - 24; g.group++)
    generate_one(&g);
}

/* ---- random initial states ---- */

static void random_float_bits(uint8_t *p, int size) {
  for (int i = 0; i < size; i++)
    p[i] = (uint8_t)rnd64();
  if (chance(60)) {
    /* a moderate exponent: ordinary numbers rather than NaNs and huge values */
    if (size == 4)
      p[3] = (uint8_t)((p[3] & 0x80) | (0x3c + rnd(8)));
    else if (size == 8)
      p[7] = (uint8_t)((p[7] & 0x80) | (0x3f + rnd(2))), p[6] = (uint8_t)(p[6] & 0x0f);
  }
}

/* Doubles or pairs of floats, 8 bytes at a time. */
static void random_floats(uint8_t *p, size_t size) {
  for (size_t i = 0; i + 8 <= size; i += 8) {
    if (chance(50)) {
      random_float_bits(p + i, 8);
    } else {
      random_float_bits(p + i, 4);
      random_float_bits(p + i + 4, 4);
    }
  }
}

static void random_extended(uint8_t *r) {
  for (int i = 0; i < 8; i++)
    r[i] = (uint8_t)rnd64();
  r[7] |= 0x80; /* normal: the explicit integer bit set */
  uint16_t se = (uint16_t)((chance(50) ? 0x8000 : 0) | (0x3fff - 40 + rnd(80)));
  if (chance(10))
    se = (uint16_t)rnd(0x10000);
  memcpy(r + 8, &se, 2);
}

static void random_state(struct diff_state *s) {
  diff_state_init(s);
  for (int i = 0; i < 8; i++)
    s->regs[i] = (uint32_t)rnd64();
  s->regs[R_ESP] = DIFF_STACK_TOP;
  s->eflags = 0x2 | ((uint32_t)rnd64() & FL_ARITH) | (chance(25) ? FL_DF : 0);
  for (int i = 0; i < 8; i++)
    random_floats(s->xmm[i], 16);
  random_floats(s->mem, DIFF_WIN_SIZE);
  if (chance(25))
    s->mxcsr |= rnd(4) << 13; /* rounding mode */
  if (chance(25))
    s->fpu.fcw = (uint16_t)((s->fpu.fcw & ~0x0c00) | rnd(4) << 10);
  int depth = (int)rnd(9), top = (int)rnd(8);
  s->fpu.fsw = (uint16_t)(top << 11);
  for (int i = 0; i < depth; i++) {
    int r = (top + i) & 7;
    s->fpu.valid |= (uint8_t)(1u << r);
    random_extended(s->fpu.reg[r]);
  }
  static const uint32_t bases[] = {0, 0, 0x1000, 0xfffff000u, 0x40, 0x1ff0};
  s->fs_base = bases[rnd(sizeof(bases) / sizeof(bases[0]))];
  s->gs_base = bases[rnd(sizeof(bases) / sizeof(bases[0]))];
}

/* ---- running and minimising ---- */

static size_t assemble(const struct stream *s, uint8_t *code, uint32_t *random_offsets,
                       int *n_random) {
  size_t len = 0;
  int k = 0;
  for (int i = 0; i < s->n; i++) {
    if (s->it[i].random && random_offsets)
      random_offsets[k++] = (uint32_t)len;
    memcpy(code + len, s->it[i].b, s->it[i].len);
    len += s->it[i].len;
  }
  if (n_random)
    *n_random = k;
  return len;
}

/* ---- differences Unicorn explains by itself ----
 *
 * Some of Unicorn's errors depend on values only known at run time, so a stream that differs
 * is traced on Unicorn; if it met one of these, the stream is skipped and counted, not failed:
 *
 *   - both sources of an SSE arithmetic lane are NaNs: hardware returns the first source
 *     (quieted), Unicorn (QEMU 5) the one with the larger significand, as for x87;
 *   - fst/fstp to m32 or m64 of an x87 register that holds a signalling NaN: the masked #IA
 *     response stores it quieted (SDM vol. 2A, FST: #IA for an SNaN source; vol. 1, 4.8.3.5
 *     and table 4-7: an SNaN becomes a QNaN by setting its most significant fraction bit),
 *     Unicorn's floatx80_to_float32/64 keep it signalling. (fld m80 and fld st(i) copy an
 *     SNaN into a register without a conversion, so random states and fld m80 make them.) */

static bool is_sse_arith(ZydisMnemonic m) {
  switch (m) {
  case ZYDIS_MNEMONIC_ADDPS: case ZYDIS_MNEMONIC_ADDSS: case ZYDIS_MNEMONIC_ADDPD:
  case ZYDIS_MNEMONIC_ADDSD: case ZYDIS_MNEMONIC_SUBPS: case ZYDIS_MNEMONIC_SUBSS:
  case ZYDIS_MNEMONIC_SUBPD: case ZYDIS_MNEMONIC_SUBSD: case ZYDIS_MNEMONIC_MULPS:
  case ZYDIS_MNEMONIC_MULSS: case ZYDIS_MNEMONIC_MULPD: case ZYDIS_MNEMONIC_MULSD:
  case ZYDIS_MNEMONIC_DIVPS: case ZYDIS_MNEMONIC_DIVSS: case ZYDIS_MNEMONIC_DIVPD:
  case ZYDIS_MNEMONIC_DIVSD:
    return true;
  default:
    return false;
  }
}

static bool lane_is_nan(const uint8_t *p, bool dbl) {
  if (dbl) {
    uint64_t v;
    memcpy(&v, p, 8);
    return (v & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (v & 0x000fffffffffffffull);
  }
  uint32_t v;
  memcpy(&v, p, 4);
  return (v & 0x7f800000u) == 0x7f800000u && (v & 0x007fffffu);
}

/* The 16 bytes an operand names: an XMM register, or memory at its run-time address. */
static bool operand_bytes(const struct decoded *d, const ZydisDecodedOperand *o, uint32_t eip,
                          const struct diff_state *state, uint8_t out[16]) {
  memset(out, 0, 16);
  if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
    diff_trace_xmm((int)(o->reg.value - ZYDIS_REGISTER_XMM0), out);
    return true;
  }
  static ZydisRegisterContext ctx;
  static const ZydisRegister gprs[8] = {ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EDX,
                                        ZYDIS_REGISTER_EBX, ZYDIS_REGISTER_ESP, ZYDIS_REGISTER_EBP,
                                        ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EDI};
  for (int i = 0; i < 8; i++) {
    uint32_t v = diff_trace_gpr(i);
    ctx.values[gprs[i]] = v;
    ctx.values[ZydisRegisterEncode(ZYDIS_REGCLASS_GPR16, (ZyanU8)i)] = v & 0xffff;
  }
  ZyanU64 ea;
  if (ZYAN_FAILED(ZydisCalcAbsoluteAddressEx(&d->in, o, eip, &ctx, &ea)))
    return false;
  uint32_t lin = (uint32_t)ea + (o->mem.segment == ZYDIS_REGISTER_FS   ? state->fs_base
                                 : o->mem.segment == ZYDIS_REGISTER_GS ? state->gs_base
                                                                       : 0);
  return diff_trace_mem(lin, out, o->size / 8u);
}

/* An x87 register image (64-bit significand, then sign and exponent) that is a signalling
 * NaN: exponent all ones, integer bit set, quiet bit clear, fraction not zero. */
static bool extended_is_snan(const uint8_t r[10]) {
  uint64_t sig;
  uint16_t se;
  memcpy(&sig, r, 8);
  memcpy(&se, r + 8, 2);
  return (se & 0x7fff) == 0x7fff && (sig >> 63) && !((sig >> 62) & 1) &&
         (sig & 0x3fffffffffffffffull);
}

/* fst/fstp m32/m64: the stores that convert ST(0) to a smaller format. */
static bool is_converting_fst(const struct decoded *d) {
  const ZydisDecodedOperand *o = &d->op[0];
  return (d->in.mnemonic == ZYDIS_MNEMONIC_FST || d->in.mnemonic == ZYDIS_MNEMONIC_FSTP) &&
         o->type == ZYDIS_OPERAND_TYPE_MEMORY && (o->size == 32 || o->size == 64);
}

struct explain {
  const uint8_t *code;
  size_t len;
  const struct diff_state *state;
  bool two_nans;
  bool snan_store;
};

static void explain_step(void *ctxv, uint32_t eip) {
  struct explain *e = ctxv;
  size_t off = eip - DIFF_CODE_BASE;
  struct decoded d;
  if (e->two_nans || e->snan_store || off >= e->len ||
      !decode(e->code + off, e->len - off, &d))
    return;
  if (is_converting_fst(&d)) {
    uint8_t st0[10];
    diff_trace_st(0, st0);
    e->snan_store = extended_is_snan(st0);
    return;
  }
  if (!is_sse_arith(d.in.mnemonic))
    return;
  uint8_t a[16], b[16];
  if (!operand_bytes(&d, &d.op[0], eip, e->state, a) ||
      !operand_bytes(&d, &d.op[1], eip, e->state, b))
    return;
  ZydisMnemonic m = d.in.mnemonic;
  bool dbl = d.op[0].element_size == 64;
  bool scalar = m == ZYDIS_MNEMONIC_ADDSS || m == ZYDIS_MNEMONIC_ADDSD || m == ZYDIS_MNEMONIC_SUBSS ||
                m == ZYDIS_MNEMONIC_SUBSD || m == ZYDIS_MNEMONIC_MULSS || m == ZYDIS_MNEMONIC_MULSD ||
                m == ZYDIS_MNEMONIC_DIVSS || m == ZYDIS_MNEMONIC_DIVSD;
  int step = dbl ? 8 : 4, lanes = scalar ? 1 : 16 / step;
  for (int i = 0; i < lanes; i++)
    if (lane_is_nan(a + i * step, dbl) && lane_is_nan(b + i * step, dbl))
      e->two_nans = true;
}

/* Did the stream meet one of the cases above? Each is counted: two NaNs in *two_nans, an
 * SNaN store in *snan. */
static bool unicorn_nan_quirk(const struct stream *s, const struct diff_state *state,
                              uint64_t *two_nans, uint64_t *snan) {
  static uint8_t code[DIFF_CODE_MAX];
  struct explain e = {code, assemble(s, code, NULL, NULL), state, false, false};
  diff_trace_unicorn(code, e.len, state, explain_step, &e);
  *two_nans += e.two_nans;
  *snan += e.snan_store;
  return e.two_nans || e.snan_store;
}

/* Runs the stream; returns false on a difference (reported to `report` if given) and adds
 * the random instructions that executed to *executed. */
static bool run_stream(const struct stream *s, const struct diff_state *state, FILE *report,
                       uint64_t *executed) {
  static uint8_t code[DIFF_CODE_MAX];
  static uint32_t offsets[MAX_ITEMS];
  int n_random;
  size_t len = assemble(s, code, offsets, &n_random);
  bool same = diff_check(code, len, state, report);
  if (executed) {
    uint32_t stop = diff_last_unicorn()->s.eip - DIFF_CODE_BASE;
    for (int i = 0; i < n_random; i++)
      if (offsets[i] < stop)
        (*executed)++;
  }
  return same;
}

/* Is every flag a random instruction reads defined (set-ups may have been dropped)? */
static bool stream_valid(const struct stream *s, const struct diff_state *state) {
  struct diff_walk w;
  diff_walk_init(&w);
  struct fpu_model f;
  fpu_model_of(&f, state);
  for (int i = 0; i < s->n; i++) {
    struct decoded d;
    if (!decode(s->it[i].b, s->it[i].len, &d))
      return false;
    if (s->it[i].random && d.in.cpu_flags && (d.in.cpu_flags->tested & w.undef))
      return false;
    if (s->it[i].random && reads_fsw(&d) && (i < 2 || s->it[i - 1].b[0] != 0xd9))
      return false; /* fnstsw lost its fnclex/fxam */
    if (!fpu_step(&f, &d))
      return false;
    diff_walk_step(&w, &d.in, d.op);
  }
  return true;
}

static void drop_group(const struct stream *from, struct stream *to, int group) {
  to->n = 0;
  for (int i = 0; i < from->n; i++)
    if (from->it[i].group != group)
      to->it[to->n++] = from->it[i];
}

static void drop_item(const struct stream *from, struct stream *to, int item) {
  to->n = 0;
  for (int i = 0; i < from->n; i++)
    if (i != item)
      to->it[to->n++] = from->it[i];
}

static bool engine_failed(void) {
  return diff_last_bt386()->stop == DIFF_ERROR || diff_last_unicorn()->stop == DIFF_ERROR;
}

/* Does the trial still fail the way the original did (an engine error stays an error)? */
static bool still_fails(const struct stream *trial, const struct diff_state *state, bool error) {
  return stream_valid(trial, state) && !run_stream(trial, state, NULL, NULL) && engine_failed() == error;
}

/* Drop whole groups, then single set-up items, while the stream still fails. */
static void minimise(struct stream *s, const struct diff_state *state) {
  static struct stream trial;
  run_stream(s, state, NULL, NULL);
  bool error = engine_failed();
  for (bool progress = true; progress;) {
    progress = false;
    for (int i = s->n - 1; i >= 0; i--) {
      if (i >= s->n)
        continue;
      drop_group(s, &trial, s->it[i].group);
      if (trial.n < s->n && still_fails(&trial, state, error)) {
        *s = trial;
        progress = true;
      }
    }
    for (int i = s->n - 1; i >= 0; i--) {
      if (s->it[i].random)
        continue;
      drop_item(s, &trial, i);
      if (still_fails(&trial, state, error)) {
        *s = trial;
        progress = true;
      }
    }
  }
}

static void report_difference(struct stream *s, const struct diff_state *state, uint64_t seed,
                              uint64_t stream_no, bool minimising) {
  int before = s->n;
  if (minimising)
    minimise(s, state);
  printf("fuzz: difference in stream %llu of seed %llu (minimised from %d to %d instructions)\n",
         (unsigned long long)stream_no, (unsigned long long)seed, before, s->n);
  printf("initial state:\n");
  struct diff_result init = {.s = *state, .stop = DIFF_HALTED, .vector = -1};
  diff_print_state(stdout, "input  ", &init);
  run_stream(s, state, stdout, NULL);
  fflush(stdout);
}

static void usage(void) {
  fprintf(stderr, "usage: fuzz [--count N] [--seed S] [--length L] [--progress] [--no-minimise]\n");
  exit(2);
}

int main(int argc, char **argv) {
  uint64_t count = 100000, seed = 1;
  int length = 32;
  bool progress = false, minimising = true;
  static const struct option opts[] = {{"count", required_argument, 0, 'c'},
                                       {"seed", required_argument, 0, 's'},
                                       {"length", required_argument, 0, 'l'},
                                       {"progress", no_argument, 0, 'p'},
                                       {"no-minimise", no_argument, 0, 'n'},
                                       {0, 0, 0, 0}};
  for (int c; (c = getopt_long(argc, argv, "c:s:l:pn", opts, NULL)) != -1;) {
    switch (c) {
    case 'c': count = strtoull(optarg, NULL, 0); break;
    case 's': seed = strtoull(optarg, NULL, 0); break;
    case 'l': length = atoi(optarg); break;
    case 'p': progress = true; break;
    case 'n': minimising = false; break;
    default: usage();
    }
  }
  if (length < 1 || length > 200)
    usage();
  if (diff_init() != 0)
    return 1;
  rng = seed * 0x9e3779b97f4a7c15ull + 1;
  static struct stream s;
  static struct diff_state state;
  uint64_t executed = 0, streams = 0, skipped = 0, skipped_snan = 0;
  time_t t0 = time(NULL), last = t0;
  while (executed < count) {
    random_state(&state);
    generate_stream(&s, &state, length);
    streams++;
    uint64_t ran = 0;
    bool same = run_stream(&s, &state, NULL, &ran);
    if (!same && unicorn_nan_quirk(&s, &state, &skipped, &skipped_snan))
      continue;
    if (!same) {
      report_difference(&s, &state, seed, streams, minimising);
      printf("0 passed, 1 failed\n");
      return 1;
    }
    executed += ran;
    if (progress && time(NULL) - last >= 10) {
      last = time(NULL);
      fprintf(stderr, "fuzz: %llu instructions in %llu streams, %lds\n",
              (unsigned long long)executed, (unsigned long long)streams, (long)(last - t0));
    }
  }
  printf("fuzz: seed %llu: %llu random instructions in %llu streams, no differences (%lds); "
         "streams skipped (UNICORN-QUIRKS.md): %llu for two NaNs in an SSE lane, %llu for an "
         "x87 SNaN stored to m32/m64\n",
         (unsigned long long)seed, (unsigned long long)executed, (unsigned long long)streams,
         (long)(time(NULL) - t0), (unsigned long long)skipped, (unsigned long long)skipped_snan);
  return 0;
}
