/* harness.c - run guest code on bt386 and on Unicorn and compare (see harness.h).
 *
 * bt386 side: one struct machine per process (its fault handlers and host GS base are
 * process-wide), reused for every run; code and memory go in through mmu_phys_write, which
 * drops translations of rewritten code. The x87 unit is the host's own while translated code
 * runs, so the harness loads it with fxrstor before bt_run and reads it with fxsave after.
 *
 * Unicorn side: one engine with the first 16 MiB mapped; exceptions arrive through the
 * interrupt hook (vector) and the invalid-instruction hook (#UD). */
#include "tests/diff/harness.h"

#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "cpu/cpu.h"
#include "devices/machine.h"
#include "mmu/mmu.h"
#include "translator/tc.h"

static struct machine machine;
static uc_engine *uc;
/* Unicorn's CPU state as it was after set-up: restored before every run, because QEMU keeps
 * the last exception in its state and would turn the next one into a double fault. */
static uc_context *uc_pristine;
static ZydisDecoder decoder;
static bool ready;

/* ---- the x87 unit through fxsave/fxrstor ---- */

struct fxsave_area {
  uint16_t fcw, fsw;
  uint8_t ftw, pad0;
  uint16_t fop;
  uint32_t fip, fcs, fdp, fds;
  uint32_t mxcsr, mxcsr_mask;
  uint8_t st[8][16]; /* stack order: ST(0) first */
  uint8_t xmm[16][16];
  uint8_t rest[96];
} __attribute__((aligned(16)));

static void host_fxsave(struct fxsave_area *a) { __asm__ volatile("fxsave %0" : "=m"(*a)); }
static void host_fxrstor(const struct fxsave_area *a) {
  __asm__ volatile("fxrstor %0" : : "m"(*a));
}

static int fpu_top(uint16_t fsw) { return (fsw >> 11) & 7; }

static void fpu_to_fxsave(const struct diff_fpu *f, struct fxsave_area *a) {
  a->fcw = f->fcw;
  a->fsw = f->fsw;
  a->ftw = f->valid;
  a->fop = 0;
  a->fip = a->fcs = a->fdp = a->fds = 0;
  int top = fpu_top(f->fsw);
  for (int i = 0; i < 8; i++) {
    memset(a->st[i], 0, 16);
    memcpy(a->st[i], f->reg[(top + i) & 7], 10);
  }
}

static void fpu_from_fxsave(const struct fxsave_area *a, struct diff_fpu *f) {
  f->fcw = a->fcw;
  f->fsw = a->fsw;
  f->valid = a->ftw;
  int top = fpu_top(a->fsw);
  for (int i = 0; i < 8; i++)
    memcpy(f->reg[(top + i) & 7], a->st[i], 10);
}

/* ---- set-up ---- */

static void uc_hook_interrupt(uc_engine *u, uint32_t intno, void *opaque);
static bool uc_hook_invalid_insn(uc_engine *u, void *opaque);
static bool uc_hook_bad_memory(uc_engine *u, uc_mem_type type, uint64_t addr, int size,
                               int64_t value, void *opaque);

static int init_unicorn(void) {
  uc_err err = uc_open(UC_ARCH_X86, UC_MODE_32, &uc);
  if (err == UC_ERR_OK)
    err = uc_mem_map(uc, 0, DIFF_RAM_BYTES, UC_PROT_ALL);
  uc_hook h;
  if (err == UC_ERR_OK)
    err = uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)uc_hook_interrupt, NULL, 1, 0);
  if (err == UC_ERR_OK)
    err = uc_hook_add(uc, &h, UC_HOOK_INSN_INVALID, (void *)uc_hook_invalid_insn, NULL, 1, 0);
  if (err == UC_ERR_OK)
    err = uc_hook_add(uc, &h, UC_HOOK_MEM_INVALID, (void *)uc_hook_bad_memory, NULL, 1, 0);
  /* Unicorn enables SSE through its translation flags alone; its fxsave and fxrstor look at
   * CR4.OSFXSR itself and leave out MXCSR and XMM0-7 without it. Set it, as bt386 runs. */
  uint32_t cr4 = 0;
  if (err == UC_ERR_OK)
    err = uc_reg_read(uc, UC_X86_REG_CR4, &cr4);
  cr4 |= CR4_OSFXSR;
  if (err == UC_ERR_OK)
    err = uc_reg_write(uc, UC_X86_REG_CR4, &cr4);
  if (err == UC_ERR_OK)
    err = uc_context_alloc(uc, &uc_pristine);
  if (err == UC_ERR_OK)
    err = uc_context_save(uc, uc_pristine);
  if (err != UC_ERR_OK) {
    fprintf(stderr, "diff: Unicorn: %s\n", uc_strerror(err));
    return -1;
  }
  return 0;
}

int diff_init(void) {
  if (ready)
    return 0;
  struct machine_config cfg;
  machine_config_default(&cfg);
  cfg.ram_bytes = DIFF_RAM_BYTES;
  if (machine_init(&machine, &cfg) != 0)
    return -1;
  if (getenv("BT386_DIFF_LOG")) /* each block's guest and host code, for debugging */
    tc_set_logging(machine.tc, true, true, stderr);
  if (init_unicorn() != 0)
    return -1;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
  ZydisDecoderEnableMode(&decoder, ZYDIS_DECODER_MODE_TZCNT, ZYAN_FALSE);
  ZydisDecoderEnableMode(&decoder, ZYDIS_DECODER_MODE_LZCNT, ZYAN_FALSE);
  ZydisDecoderEnableMode(&decoder, ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
  ZydisDecoderEnableMode(&decoder, ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);
  ready = true;
  return 0;
}

const ZydisDecoder *diff_decoder(void) { return &decoder; }

void diff_state_init(struct diff_state *s) {
  memset(s, 0, sizeof(*s));
  s->regs[R_ESP] = DIFF_STACK_TOP;
  s->eip = DIFF_CODE_BASE;
  s->eflags = 0x2;
  s->mxcsr = 0x1f80;
  s->fpu.fcw = 0x037f;
}

static size_t with_hlt(const uint8_t *code, size_t len, uint8_t *buf) {
  if (len > DIFF_CODE_MAX - 1)
    len = DIFF_CODE_MAX - 1;
  memcpy(buf, code, len);
  buf[len] = 0xf4;
  return len + 1;
}

/* ---- bt386 ---- */

void diff_run_bt386(const uint8_t *code, size_t len, const struct diff_state *in,
                    struct diff_result *out) {
  static uint8_t buf[DIFF_CODE_MAX];
  struct cpu *cpu = &machine.cpu;
  size_t n = with_hlt(code, len, buf);
  mmu_phys_write(&machine.mmu, DIFF_CODE_BASE, buf, n);
  mmu_phys_write(&machine.mmu, DIFF_WIN_BASE, in->mem, DIFF_WIN_SIZE);

  cpu_reset_protected_flat(cpu);
  memcpy(cpu->regs, in->regs, sizeof(cpu->regs));
  cpu->eip = in->eip;
  cpu_set_eflags(cpu, in->eflags);
  cpu->mxcsr = in->mxcsr;
  cpu->cr4 |= CR4_OSFXSR; /* the state of an OS that enabled SSE, which Unicorn runs in */
  memcpy(cpu->xmm, in->xmm, sizeof(cpu->xmm));
  cpu->seg[SEG_FS].base = in->fs_base;
  cpu->seg[SEG_GS].base = in->gs_base;
  cpu->fs_base = in->fs_base;
  cpu->gs_base = in->gs_base;
  cpu->stop_on_exception = true;
  cpu->shutdown = 0;
  cpu->halted = false;
  cpu->pending.valid = false;

  static struct fxsave_area fx;
  host_fxsave(&fx);
  fpu_to_fxsave(&in->fpu, &fx);
  host_fxrstor(&fx);
  int why = bt_run(machine.tc);
  host_fxsave(&fx);
  __asm__ volatile("fninit");

  struct diff_state *s = &out->s;
  memcpy(s->regs, cpu->regs, sizeof(s->regs));
  s->eip = cpu->eip;
  s->eflags = cpu_get_eflags(cpu);
  s->mxcsr = cpu->mxcsr;
  memcpy(s->xmm, cpu->xmm, sizeof(s->xmm));
  fpu_from_fxsave(&fx, &s->fpu);
  s->fs_base = (uint32_t)cpu->fs_base;
  s->gs_base = (uint32_t)cpu->gs_base;
  memcpy(s->mem, machine.mmu.phys + DIFF_WIN_BASE, DIFF_WIN_SIZE);
  out->vector = -1;
  out->msg[0] = 0;
  if (why == SHUTDOWN_HALTED) {
    out->stop = DIFF_HALTED;
    s->eip -= 1; /* report the hlt itself, as Unicorn stops there */
  } else if (why == SHUTDOWN_EXCEPTION) {
    out->stop = DIFF_EXCEPTION;
    out->vector = cpu->last_event.vector;
  } else {
    out->stop = DIFF_ERROR;
    snprintf(out->msg, sizeof(out->msg), "bt386 stopped (%d): %s", why, cpu->shutdown_msg);
  }
}

/* ---- Unicorn ---- */

static struct {
  int vector;
  bool error;
  char msg[200];
} uc_event;

static void uc_hook_interrupt(uc_engine *u, uint32_t intno, void *opaque) {
  (void)opaque;
  uc_event.vector = (int)intno;
  uc_emu_stop(u);
}

static bool uc_hook_invalid_insn(uc_engine *u, void *opaque) {
  (void)u;
  (void)opaque;
  uc_event.vector = EXC_UD;
  return false;
}

static bool uc_hook_bad_memory(uc_engine *u, uc_mem_type type, uint64_t addr, int size,
                               int64_t value, void *opaque) {
  (void)u;
  (void)value;
  (void)opaque;
  uc_event.error = true;
  snprintf(uc_event.msg, sizeof(uc_event.msg), "Unicorn: bad memory access (type %d) at 0x%llx, %d bytes",
           (int)type, (unsigned long long)addr, size);
  return false;
}

static const int uc_gpr[8] = {UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX,
                              UC_X86_REG_ESP, UC_X86_REG_EBP, UC_X86_REG_ESI, UC_X86_REG_EDI};

/* Unicorn's full tag word: 3 = empty; it recomputes the other values itself. */
static uint16_t full_tags(uint8_t valid) {
  uint16_t t = 0;
  for (int i = 0; i < 8; i++)
    if (!(valid & (1u << i)))
      t |= (uint16_t)(3u << (2 * i));
  return t;
}

/* A flat 4 GiB read/write data segment descriptor with the given base. */
static uint64_t data_descriptor(uint32_t base) {
  return 0xffffull | (uint64_t)(base & 0xffffff) << 16 | 0x93ull << 40 | 0xcfull << 48 |
         (uint64_t)(base >> 24) << 56;
}

/* Unicorn ignores FS_BASE/GS_BASE in 32-bit mode: load FS and GS (and flat DS, ES, SS) from a
 * GDT instead, kept below the compared window (bt386 takes the bases from cpu->seg[]). */
#define UC_GDT 0x1000u
static void uc_load_fs_gs(uint32_t fs_base, uint32_t gs_base) {
  uint64_t gdt[5] = {0, data_descriptor(0), data_descriptor(0), data_descriptor(fs_base),
                     data_descriptor(gs_base)};
  gdt[1] |= 0x08ull << 40; /* code, execute/read */
  uc_mem_write(uc, UC_GDT, gdt, sizeof(gdt));
  uc_x86_mmr gdtr = {0, UC_GDT, sizeof(gdt) - 1, 0};
  uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
  uint16_t data = 0x10, fs = 0x18, gs = 0x20;
  uc_reg_write(uc, UC_X86_REG_FS, &fs);
  uc_reg_write(uc, UC_X86_REG_GS, &gs);
  /* and a 32-bit SS: Unicorn's reset state has a 16-bit stack (ESP wraps at 64 KiB) */
  uc_reg_write(uc, UC_X86_REG_SS, &data);
  uc_reg_write(uc, UC_X86_REG_DS, &data);
  uc_reg_write(uc, UC_X86_REG_ES, &data);
}

static void uc_load(const struct diff_state *in) {
  uc_context_restore(uc, uc_pristine);
  for (int i = 0; i < 8; i++)
    uc_reg_write(uc, uc_gpr[i], &in->regs[i]);
  uc_reg_write(uc, UC_X86_REG_EIP, &in->eip);
  uc_reg_write(uc, UC_X86_REG_EFLAGS, &in->eflags);
  uc_reg_write(uc, UC_X86_REG_MXCSR, &in->mxcsr);
  for (int i = 0; i < 8; i++)
    uc_reg_write(uc, UC_X86_REG_XMM0 + i, in->xmm[i]);
  uint16_t tags = full_tags(in->fpu.valid);
  uc_reg_write(uc, UC_X86_REG_FPCW, &in->fpu.fcw);
  uc_reg_write(uc, UC_X86_REG_FPSW, &in->fpu.fsw);
  uc_reg_write(uc, UC_X86_REG_FPTAG, &tags);
  for (int i = 0; i < 8; i++)
    uc_reg_write(uc, UC_X86_REG_FP0 + i, in->fpu.reg[i]);
  uc_load_fs_gs(in->fs_base, in->gs_base);
}

/* The code under test loads no segment registers: the bases stay as they were set. */
static void uc_store(struct diff_state *s, uint32_t in_fs_base, uint32_t in_gs_base) {
  for (int i = 0; i < 8; i++)
    uc_reg_read(uc, uc_gpr[i], &s->regs[i]);
  uc_reg_read(uc, UC_X86_REG_EIP, &s->eip);
  uc_reg_read(uc, UC_X86_REG_EFLAGS, &s->eflags);
  uc_reg_read(uc, UC_X86_REG_MXCSR, &s->mxcsr);
  for (int i = 0; i < 8; i++)
    uc_reg_read(uc, UC_X86_REG_XMM0 + i, s->xmm[i]);
  uint16_t tags = 0;
  uc_reg_read(uc, UC_X86_REG_FPCW, &s->fpu.fcw);
  uc_reg_read(uc, UC_X86_REG_FPSW, &s->fpu.fsw);
  uc_reg_read(uc, UC_X86_REG_FPTAG, &tags);
  s->fpu.valid = 0;
  for (int i = 0; i < 8; i++) {
    if (((tags >> (2 * i)) & 3) != 3)
      s->fpu.valid |= (uint8_t)(1u << i);
    uc_reg_read(uc, UC_X86_REG_FP0 + i, s->fpu.reg[i]);
  }
  s->fs_base = in_fs_base;
  s->gs_base = in_gs_base;
  uc_mem_read(uc, DIFF_WIN_BASE, s->mem, DIFF_WIN_SIZE);
}

void diff_run_unicorn(const uint8_t *code, size_t len, const struct diff_state *in,
                      struct diff_result *out) {
  static uint8_t buf[DIFF_CODE_MAX];
  size_t n = with_hlt(code, len, buf);
  uint64_t hlt = DIFF_CODE_BASE + n - 1;
  uc_mem_write(uc, DIFF_CODE_BASE, buf, n);
  uc_ctl_remove_cache(uc, DIFF_CODE_BASE, DIFF_CODE_BASE + n);
  uc_mem_write(uc, DIFF_WIN_BASE, in->mem, DIFF_WIN_SIZE);
  uc_load(in);
  memset(&uc_event, 0, sizeof(uc_event));
  uc_event.vector = -1;
  uc_err err = uc_emu_start(uc, in->eip, hlt, 5 * 1000 * 1000, 0);
  uc_store(&out->s, in->fs_base, in->gs_base);
  out->vector = uc_event.vector;
  out->msg[0] = 0;
  if (uc_event.error) {
    out->stop = DIFF_ERROR;
    snprintf(out->msg, sizeof(out->msg), "%s", uc_event.msg);
  } else if (uc_event.vector >= 0) {
    out->stop = DIFF_EXCEPTION;
  } else if (err != UC_ERR_OK || out->s.eip != hlt) {
    out->stop = DIFF_ERROR;
    snprintf(out->msg, sizeof(out->msg), "Unicorn stopped at 0x%08x: %s", out->s.eip,
             uc_strerror(err));
  } else {
    out->stop = DIFF_HALTED;
  }
}

static struct {
  diff_trace_fn fn;
  void *ctx;
} trace;

static void uc_hook_trace(uc_engine *u, uint64_t address, uint32_t size, void *opaque) {
  (void)u;
  (void)size;
  (void)opaque;
  trace.fn(trace.ctx, (uint32_t)address);
}

void diff_trace_unicorn(const uint8_t *code, size_t len, const struct diff_state *in,
                        diff_trace_fn fn, void *ctx) {
  trace.fn = fn;
  trace.ctx = ctx;
  uc_hook h;
  if (uc_hook_add(uc, &h, UC_HOOK_CODE, (void *)uc_hook_trace, NULL, DIFF_CODE_BASE,
                  DIFF_CODE_BASE + DIFF_CODE_MAX) != UC_ERR_OK)
    return;
  struct diff_result *r = malloc(sizeof(*r));
  if (r)
    diff_run_unicorn(code, len, in, r);
  free(r);
  uc_hook_del(uc, h);
}

uint32_t diff_trace_gpr(int reg) {
  uint32_t v = 0;
  uc_reg_read(uc, uc_gpr[reg & 7], &v);
  return v;
}

void diff_trace_xmm(int reg, uint8_t out[16]) { uc_reg_read(uc, UC_X86_REG_XMM0 + (reg & 7), out); }

void diff_trace_st(int i, uint8_t out[10]) {
  uint16_t fsw = 0;
  uc_reg_read(uc, UC_X86_REG_FPSW, &fsw);
  uc_reg_read(uc, UC_X86_REG_FP0 + ((((fsw >> 11) & 7) + i) & 7), out);
}

bool diff_trace_mem(uint32_t addr, void *buf, size_t len) {
  return uc_mem_read(uc, addr, buf, len) == UC_ERR_OK;
}

/* ---- what the instructions leave undefined ---- */

void diff_walk_init(struct diff_walk *w) { memset(w, 0, sizeof(*w)); }

static bool is_ecx(ZydisRegister r) {
  return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, r) == ZYDIS_REGISTER_ECX;
}

/* Track CL through `mov cl/cx/ecx, imm`; any other write to it makes it unknown. */
static void walk_cl(struct diff_walk *w, const ZydisDecodedInstruction *in,
                    const ZydisDecodedOperand *op) {
  for (int i = 0; i < in->operand_count; i++) {
    const ZydisDecodedOperand *o = &op[i];
    if (o->type != ZYDIS_OPERAND_TYPE_REGISTER || !(o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ||
        !is_ecx(o->reg.value) || o->reg.value == ZYDIS_REGISTER_CH)
      continue;
    bool mov_imm = in->mnemonic == ZYDIS_MNEMONIC_MOV && i == 0 &&
                   op[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
    w->cl_known = mov_imm;
    w->cl = mov_imm ? (uint8_t)op[1].imm.value.u : 0;
  }
}

static bool is_shift(ZydisMnemonic m) {
  switch (m) {
  case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR:
  case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR:
  case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD:
  case ZYDIS_MNEMONIC_SHRD:
    return true;
  default:
    return false;
  }
}

/* Shifts and rotates: what they define depends on the masked count (SDM vol. 2, SAL/SAR/SHL/
 * SHR, RCL/RCR/ROL/ROR, SHLD, SHRD). Count 0 changes nothing; OF is defined only for count 1;
 * SHL/SHR leave CF undefined once the count reaches the operand size; SHLD/SHRD leave
 * everything undefined past it. */
static void walk_shift(struct diff_walk *w, const ZydisDecodedInstruction *in,
                       const ZydisDecodedOperand *op) {
  ZydisMnemonic mn = in->mnemonic;
  bool dbl = mn == ZYDIS_MNEMONIC_SHLD || mn == ZYDIS_MNEMONIC_SHRD;
  bool shl_shr = mn == ZYDIS_MNEMONIC_SHL || mn == ZYDIS_MNEMONIC_SHR;
  bool through_cf = mn == ZYDIS_MNEMONIC_RCL || mn == ZYDIS_MNEMONIC_RCR;
  const ZydisDecodedOperand *c = &op[dbl ? 2 : 1];
  unsigned width = op[0].size;
  int count = -1;
  if (c->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
    count = (int)(c->imm.value.u & 0x1f);
  else if (w->cl_known)
    count = w->cl & 0x1f;
  uint32_t und = in->cpu_flags->undefined & ~FL_OF;
  if (count < 0) {
    w->undef |= und | FL_OF | (shl_shr && width < 32 ? FL_CF : 0) | (dbl && width < 32 ? FL_ARITH : 0);
    return;
  }
  if (count == 0)
    return;
  uint32_t written = in->cpu_flags->modified | in->cpu_flags->undefined | FL_OF;
  if (through_cf && width < 32 && count % (int)(width + 1) == 0)
    written &= ~FL_CF; /* RCL/RCR rotate by count mod 9 or 17: CF stays */
  if (count != 1)
    und |= FL_OF;
  if (shl_shr && count >= (int)width)
    und |= FL_CF;
  if (dbl && count > (int)width)
    und |= FL_ARITH;
  w->undef = (w->undef & ~written) | und;
}

static uint16_t fsw_bits(uint32_t zydis_fpu_flags) {
  uint16_t b = 0;
  if (zydis_fpu_flags & ZYDIS_FPUFLAG_C0)
    b |= 0x0100;
  if (zydis_fpu_flags & ZYDIS_FPUFLAG_C1)
    b |= 0x0200;
  if (zydis_fpu_flags & ZYDIS_FPUFLAG_C2)
    b |= 0x0400;
  if (zydis_fpu_flags & ZYDIS_FPUFLAG_C3)
    b |= 0x4000;
  return b;
}

static bool repeated_compare(const ZydisDecodedInstruction *in) {
  bool cmps_scas = in->meta.category == ZYDIS_CATEGORY_STRINGOP && in->cpu_flags->modified;
  return cmps_scas && (in->attributes & (ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE |
                                         ZYDIS_ATTRIB_HAS_REP));
}

/* FCOMI and friends clear OF, SF and AF (SDM vol. 2); Unicorn leaves them as they were
 * (UNICORN-QUIRKS.md), so they are not compared. */
static bool unicorn_keeps_of_sf_af(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_FCOMI || m == ZYDIS_MNEMONIC_FCOMIP || m == ZYDIS_MNEMONIC_FUCOMI ||
         m == ZYDIS_MNEMONIC_FUCOMIP;
}

void diff_walk_step(struct diff_walk *w, const ZydisDecodedInstruction *in,
                    const ZydisDecodedOperand *op) {
  for (int i = 0; i < in->operand_count; i++)
    if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(op[i].reg.value) == ZYDIS_REGCLASS_MMX)
      w->mmx = true;
  if (in->cpu_flags && is_shift(in->mnemonic)) {
    walk_shift(w, in, op);
  } else if (in->cpu_flags && repeated_compare(in)) {
    w->undef |= in->cpu_flags->undefined; /* with ECX = 0 it writes no flags at all */
  } else if (in->cpu_flags) {
    const ZydisAccessedFlags *f = in->cpu_flags;
    w->undef = (w->undef & ~(f->modified | f->set_0 | f->set_1)) | f->undefined;
  }
  if (unicorn_keeps_of_sf_af(in->mnemonic))
    w->undef |= FL_OF | FL_SF | FL_AF;
  /* CMPXCHG8B changes only ZF; Unicorn computes the others from a stale lazy-flags state
   * (UNICORN-QUIRKS.md). */
  if (in->mnemonic == ZYDIS_MNEMONIC_CMPXCHG8B)
    w->undef |= FL_ARITH & ~FL_ZF;
  if (in->fpu_flags) {
    const ZydisAccessedFlags *f = in->fpu_flags;
    if ((f->modified | f->undefined | f->set_0 | f->set_1) & ZYDIS_FPUFLAG_C1)
      w->c1_by_fxam = in->mnemonic == ZYDIS_MNEMONIC_FXAM;
    w->fsw_undef = (uint16_t)((w->fsw_undef & ~fsw_bits(f->modified | f->set_0 | f->set_1)) |
                              fsw_bits(f->undefined));
  }
  walk_cl(w, in, op);
}

void diff_mask_for(const uint8_t *code, size_t len, uint32_t stop_eip, struct diff_mask *m) {
  struct diff_walk w;
  diff_walk_init(&w);
  size_t off = 0;
  ZydisDecodedInstruction in;
  ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
  while (off < len && DIFF_CODE_BASE + off < stop_eip &&
         ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code + off, len - off, &in, op))) {
    diff_walk_step(&w, &in, op);
    off += in.length;
  }
  m->eflags = (FL_ARITH | FL_DF | FL_IF | FL_TF | FL_IOPL | FL_NT | FL_AC | FL_ID) & ~w.undef;
  /* TOP and the condition codes; not the exception flags, which Unicorn does not keep */
  m->fsw = (uint16_t)((0x3800u | 0x4500u | (w.c1_by_fxam ? 0x0200u : 0)) & ~w.fsw_undef);
  m->fpu_exponents = !w.mmx;
  m->mxcsr = ~0x3fu; /* not the exception flags, which Unicorn does not keep */
}

/* ---- comparing and reporting ---- */

static const char *const gpr_names[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};

void diff_print_disasm(FILE *out, const uint8_t *code, size_t len) {
  ZydisFormatter fmt;
  ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
  size_t off = 0;
  while (off < len) {
    ZydisDecodedInstruction in;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
    char text[128] = "(bad)";
    int n = 1;
    if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code + off, len - off, &in, op))) {
      ZydisFormatterFormatInstruction(&fmt, &in, op, in.operand_count_visible, text, sizeof(text),
                                      DIFF_CODE_BASE + off, NULL);
      n = in.length;
    }
    fprintf(out, "  %08zx  ", DIFF_CODE_BASE + off);
    for (int i = 0; i < 12; i++)
      fprintf(out, i < n ? "%02x" : "  ", code[off + (size_t)i]);
    fprintf(out, "  %s\n", text);
    off += (size_t)n;
  }
}

static void print_hex(FILE *out, const uint8_t *b, int n) {
  for (int i = n - 1; i >= 0; i--)
    fprintf(out, "%02x", b[i]);
}

void diff_print_state(FILE *out, const char *who, const struct diff_result *r) {
  const struct diff_state *s = &r->s;
  static const char *const stops[] = {"halted", "exception", "error"};
  fprintf(out, "%s: %s", who, stops[r->stop]);
  if (r->stop == DIFF_EXCEPTION)
    fprintf(out, " %d", r->vector);
  if (r->msg[0])
    fprintf(out, " (%s)", r->msg);
  fprintf(out, " at eip=%08x eflags=%08x\n ", s->eip, s->eflags);
  for (int i = 0; i < 8; i++)
    fprintf(out, " %s=%08x", gpr_names[i], s->regs[i]);
  fprintf(out, "\n  mxcsr=%08x fcw=%04x fsw=%04x valid=%02x fs=%08x gs=%08x\n", s->mxcsr,
          s->fpu.fcw, s->fpu.fsw, s->fpu.valid, s->fs_base, s->gs_base);
  for (int i = 0; i < 8; i++) {
    fprintf(out, "  xmm%d=", i);
    print_hex(out, s->xmm[i], 16);
    fprintf(out, "  r%d=", i);
    print_hex(out, s->fpu.reg[i], 10);
    fprintf(out, "\n");
  }
}

static bool fpu_equal(const struct diff_fpu *a, const struct diff_fpu *b, const struct diff_mask *m,
                      char *why, size_t n) {
  if (a->fcw != b->fcw) {
    snprintf(why, n, "x87 control word");
    return false;
  }
  if ((a->fsw ^ b->fsw) & m->fsw) {
    snprintf(why, n, "x87 status word (bits %04x)", (a->fsw ^ b->fsw) & m->fsw);
    return false;
  }
  if (a->valid != b->valid) {
    snprintf(why, n, "x87 tags");
    return false;
  }
  for (int i = 0; i < 8; i++)
    if ((a->valid & (1u << i)) && memcmp(a->reg[i], b->reg[i], m->fpu_exponents ? 10 : 8)) {
      snprintf(why, n, "x87 register R%d", i);
      return false;
    }
  return true;
}

static bool state_equal(const struct diff_state *a, const struct diff_state *b,
                        const struct diff_mask *m, char *why, size_t n) {
  for (int i = 0; i < 8; i++)
    if (a->regs[i] != b->regs[i]) {
      snprintf(why, n, "%s", gpr_names[i]);
      return false;
    }
  if (a->eip != b->eip) {
    snprintf(why, n, "eip");
    return false;
  }
  if ((a->eflags ^ b->eflags) & m->eflags) {
    snprintf(why, n, "eflags (bits %08x)", (a->eflags ^ b->eflags) & m->eflags);
    return false;
  }
  if ((a->mxcsr ^ b->mxcsr) & m->mxcsr) {
    snprintf(why, n, "mxcsr (bits %08x)", (a->mxcsr ^ b->mxcsr) & m->mxcsr);
    return false;
  }
  for (int i = 0; i < 8; i++)
    if (memcmp(a->xmm[i], b->xmm[i], 16)) {
      snprintf(why, n, "xmm%d", i);
      return false;
    }
  if (!fpu_equal(&a->fpu, &b->fpu, m, why, n))
    return false;
  if (a->fs_base != b->fs_base || a->gs_base != b->gs_base) {
    snprintf(why, n, "fs/gs base");
    return false;
  }
  for (size_t i = 0; i < DIFF_WIN_SIZE; i++)
    if (a->mem[i] != b->mem[i]) {
      snprintf(why, n, "memory at 0x%08zx: %02x vs %02x", DIFF_WIN_BASE + i, a->mem[i], b->mem[i]);
      return false;
    }
  return true;
}

bool diff_compare(const struct diff_result *bt, const struct diff_result *uc_r,
                  const struct diff_mask *m, FILE *report) {
  char why[160] = "";
  bool same = bt->stop != DIFF_ERROR && uc_r->stop != DIFF_ERROR;
  if (!same)
    snprintf(why, sizeof(why), "an engine failed");
  else if (bt->stop != uc_r->stop || bt->vector != uc_r->vector)
    snprintf(why, sizeof(why), "how the code stopped"), same = false;
  else
    same = state_equal(&bt->s, &uc_r->s, m, why, sizeof(why));
  if (!same && report) {
    fprintf(report, "difference: %s (eflags mask %08x, fsw mask %04x)\n", why, m->eflags, m->fsw);
    diff_print_state(report, "bt386  ", bt);
    diff_print_state(report, "unicorn", uc_r);
  }
  return same;
}

static struct diff_result last_bt, last_uc;

const struct diff_result *diff_last_bt386(void) { return &last_bt; }
const struct diff_result *diff_last_unicorn(void) { return &last_uc; }

bool diff_check(const uint8_t *code, size_t len, const struct diff_state *in, FILE *report) {
  diff_run_bt386(code, len, in, &last_bt);
  diff_run_unicorn(code, len, in, &last_uc);
  struct diff_mask m;
  diff_mask_for(code, len, last_uc.s.eip, &m);
  if (diff_compare(&last_bt, &last_uc, &m, report))
    return true;
  if (report) {
    fprintf(report, "code:\n");
    diff_print_disasm(report, code, len);
  }
  return false;
}
