/* insn.c - the semantics of the instructions translated code calls out for: sensitive ones
 * (I/O, descriptor tables, segment loads, control registers, interrupts) and the few ordinary
 * ones that 64-bit mode no longer has (BCD arithmetic, BOUND, ARPL, SALC).
 *
 * Each handler runs with struct cpu holding the guest state from before the instruction
 * (EFLAGS assembled in cpu->eflags), and either completes it (CO_NEXT) or raises/leaves
 * (CO_EXIT with cpu->eip and cpu->pending set). */
#include "cpu/insn.h"

#include <Zydis/Zydis.h>
#include <stdio.h>
#include <string.h>

#include "cpu/segment.h"
#include "mmu/mmu.h"

/* ---- helpers ---- */

static uint32_t reg_read(const struct cpu *cpu, int r, int width) {
  if (width == 1)
    return r < 4 ? cpu->regs[r] & 0xff : (cpu->regs[r - 4] >> 8) & 0xff;
  if (width == 2)
    return cpu->regs[r] & 0xffff;
  return cpu->regs[r];
}

static void reg_write(struct cpu *cpu, int r, int width, uint32_t v) {
  if (width == 1) {
    if (r < 4)
      cpu->regs[r] = (cpu->regs[r] & ~0xffu) | (v & 0xff);
    else
      cpu->regs[r - 4] = (cpu->regs[r - 4] & ~0xff00u) | (v & 0xff) << 8;
  } else if (width == 2) {
    cpu->regs[r] = (cpu->regs[r] & ~0xffffu) | (v & 0xffff);
  } else {
    cpu->regs[r] = v;
  }
}

static unsigned user_access(const struct cpu *cpu) { return cpu->cpl == 3 ? MMU_USER : 0; }

static bool mem_read(struct cpu *cpu, uint32_t lin, void *buf, unsigned len) {
  return mmu_read(cpu->mmu, cpu, lin, buf, len, user_access(cpu));
}

static bool mem_write(struct cpu *cpu, uint32_t lin, const void *buf, unsigned len) {
  return mmu_write(cpu->mmu, cpu, lin, buf, len, user_access(cpu));
}

/* Leave translated code to deliver what cpu->pending holds, reporting this instruction. */
static int fault(struct cpu *cpu, const struct insn_call *c) {
  cpu->eip = c->eip;
  return CO_EXIT;
}

static int raise_at(struct cpu *cpu, const struct insn_call *c, int vector, bool has_error,
                    uint32_t error) {
  cpu_raise(cpu, vector, has_error, error);
  return fault(cpu, c);
}

/* Leave translated code and continue at the next instruction through the dispatcher, for
 * instructions that change what translations depend on. */
static int next_via_dispatcher(struct cpu *cpu, const struct insn_call *c) {
  cpu->eip = c->next_eip;
  return CO_EXIT;
}

static bool privileged_ok(struct cpu *cpu) { return cpu->cpl == 0; }

#define REQUIRE_CPL0(cpu, c)                                                                  \
  do {                                                                                         \
    if (!privileged_ok(cpu))                                                                   \
      return raise_at(cpu, c, EXC_GP, true, 0);                                                \
  } while (0)

/* Instructions about descriptors and selectors raise #UD in real mode (SDM vol. 2). */
#define REQUIRE_PROTECTED_MODE(cpu, c)                                                        \
  do {                                                                                         \
    if (!((cpu)->cr0 & CR0_PE))                                                                \
      return raise_at(cpu, c, EXC_UD, false, 0);                                               \
  } while (0)

static int iopl(const struct cpu *cpu) { return (int)(cpu->eflags >> 12) & 3; }

/* May the current privilege access `len` ports from `port`? (SDM vol. 1, 19.5) */
static bool io_allowed(struct cpu *cpu, uint16_t port, int len) {
  if (cpu->cpl <= iopl(cpu))
    return true;
  if ((cpu->tr.attr & 0xd) != 0x9 || cpu->tr.limit < 0x67) /* 32-bit TSS */
    return false;
  uint16_t base;
  if (!mmu_read(cpu->mmu, cpu, cpu->tr.base + 0x66, &base, 2, 0))
    return false;
  uint32_t byte = base + port / 8u;
  if (byte + 1 > cpu->tr.limit)
    return false;
  uint16_t bits;
  if (!mmu_read(cpu->mmu, cpu, cpu->tr.base + byte, &bits, 2, 0))
    return false;
  unsigned mask = ((1u << len) - 1) << (port & 7);
  return (bits & mask) == 0;
}

/* ---- port I/O ---- */

/* An I/O access may end the VM or raise an interrupt that can be taken right after it. */
/* An I/O access may raise an interrupt: the dispatcher takes it now if IF allows, or else
 * arms the pending poll (cpu->irq_armed) that the next sti or popf setting IF runs into. */
static int after_io(struct cpu *cpu, const struct insn_call *c) {
  if (cpu->shutdown)
    return next_via_dispatcher(cpu, c);
  if ((cpu_interrupts_enabled(cpu) || !cpu->irq_armed) && cpu->env.intr_pending &&
      cpu->env.intr_pending(cpu->env.opaque))
    return next_via_dispatcher(cpu, c);
  return CO_NEXT;
}

static uint16_t io_port(const struct cpu *cpu, const struct insn_call *c) {
  return c->reg == INSN_OPERAND_NONE ? (uint16_t)c->imm : (uint16_t)cpu->regs[R_EDX];
}

int insn_in(struct cpu *cpu, const struct insn_call *c) {
  uint16_t port = io_port(cpu, c);
  if (!io_allowed(cpu, port, c->width))
    return raise_at(cpu, c, EXC_GP, true, 0);
  if (cpu->pending.valid)
    return fault(cpu, c);
  uint32_t v = cpu->env.io_read(cpu->env.opaque, port, c->width);
  reg_write(cpu, R_EAX, c->width, v);
  return after_io(cpu, c);
}

int insn_out(struct cpu *cpu, const struct insn_call *c) {
  uint16_t port = io_port(cpu, c);
  if (!io_allowed(cpu, port, c->width))
    return raise_at(cpu, c, EXC_GP, true, 0);
  if (cpu->pending.valid)
    return fault(cpu, c);
  cpu->env.io_write(cpu->env.opaque, port, c->width, reg_read(cpu, R_EAX, c->width));
  return after_io(cpu, c);
}

static uint32_t addr_mask(const struct insn_call *c) { return c->addr16 ? 0xffffu : ~0u; }

static uint32_t count_reg(const struct cpu *cpu, const struct insn_call *c) {
  return cpu->regs[R_ECX] & addr_mask(c);
}

static void index_step(struct cpu *cpu, const struct insn_call *c, int r) {
  uint32_t m = addr_mask(c);
  int32_t step = (cpu->eflags & FL_DF) ? -(int32_t)c->width : (int32_t)c->width;
  cpu->regs[r] = (cpu->regs[r] & ~m) | ((cpu->regs[r] + (uint32_t)step) & m);
}

static void count_dec(struct cpu *cpu, const struct insn_call *c) {
  uint32_t m = addr_mask(c);
  cpu->regs[R_ECX] = (cpu->regs[R_ECX] & ~m) | ((cpu->regs[R_ECX] - 1) & m);
}

int insn_ins(struct cpu *cpu, const struct insn_call *c) {
  uint16_t port = (uint16_t)cpu->regs[R_EDX];
  if (!io_allowed(cpu, port, c->width))
    return raise_at(cpu, c, EXC_GP, true, 0);
  while (!c->rep || count_reg(cpu, c)) {
    uint32_t lin = cpu->seg[SEG_ES].base + (cpu->regs[R_EDI] & addr_mask(c));
    uint32_t v = cpu->env.io_read(cpu->env.opaque, port, c->width);
    if (!mem_write(cpu, lin, &v, c->width))
      return fault(cpu, c);
    index_step(cpu, c, R_EDI);
    if (!c->rep)
      break;
    count_dec(cpu, c);
  }
  return CO_NEXT;
}

int insn_outs(struct cpu *cpu, const struct insn_call *c) {
  uint16_t port = (uint16_t)cpu->regs[R_EDX];
  if (!io_allowed(cpu, port, c->width))
    return raise_at(cpu, c, EXC_GP, true, 0);
  while (!c->rep || count_reg(cpu, c)) {
    uint32_t lin = cpu->seg[c->seg].base + (cpu->regs[R_ESI] & addr_mask(c));
    uint32_t v = 0;
    if (!mem_read(cpu, lin, &v, c->width))
      return fault(cpu, c);
    cpu->env.io_write(cpu->env.opaque, port, c->width, v);
    index_step(cpu, c, R_ESI);
    if (!c->rep)
      break;
    count_dec(cpu, c);
  }
  return after_io(cpu, c);
}

/* ---- string instructions the translator cannot run natively (segment bases, wrap) ---- */

static uint32_t flags_sub(uint32_t a, uint32_t b, int width) {
  unsigned bits = (unsigned)width * 8;
  uint64_t mask = (bits == 32) ? 0xffffffffull : ((1ull << bits) - 1);
  uint64_t r = ((uint64_t)a - b) & mask;
  uint32_t sign = 1u << (bits - 1);
  uint32_t f = 0;
  if ((uint64_t)b > a)
    f |= FL_CF;
  if (r == 0)
    f |= FL_ZF;
  if (r & sign)
    f |= FL_SF;
  if (((a ^ b) & (a ^ (uint32_t)r)) & sign)
    f |= FL_OF;
  if ((a ^ b ^ (uint32_t)r) & 0x10)
    f |= FL_AF;
  if (!__builtin_parity((uint32_t)r & 0xff))
    f |= FL_PF;
  return f;
}

/* How many w-byte elements from the one at lin on, going up or down, lie wholly within lin's
 * page (0 if that one runs into the next page). */
static uint32_t elements_in_page(uint32_t lin, int w, bool down) {
  uint32_t off = lin & 0xfffu;
  if (off + (uint32_t)w > 0x1000u)
    return 0;
  return down ? (off / (uint32_t)w) + 1 : (0x1000u - off) / (uint32_t)w;
}

/* The host address of the run of `bytes` whose first element (the one done first) is at lin:
 * the page is walked at that element, so that a #PF reports it in CR2 as the CPU would. */
static uint8_t *run_span(struct cpu *cpu, uint32_t lin, uint32_t w, uint32_t span, bool down,
                         unsigned access, bool *faulted) {
  uint8_t *first = mmu_linear_span(cpu->mmu, cpu, lin, w, access, faulted);
  if (!first)
    return NULL;
  /* The run is within the page, and so within its frame: the rest is reached from there. */
  return down ? first - span : first;
}

/* rep movs and rep stos a page at a time: one walk per page and one memmove or fill, where
 * element by element would walk twice per element (a kernel's learned string instructions
 * copy and clear whole pages through its kmap window this way). False, with nothing done,
 * when the next elements are not a run of at least two in plain RAM that can be done so
 * (overlapping, a page or index boundary, device memory): the element loop takes one then;
 * or with *faulted when a walk raised #PF, at this element as on the CPU. */
static bool string_run(struct cpu *cpu, const struct insn_call *c, bool movs, bool *faulted) {
  *faulted = false;
  uint32_t w = c->width;
  bool down = cpu->eflags & FL_DF;
  uint32_t esi = cpu->regs[R_ESI], edi = cpu->regs[R_EDI];
  uint32_t n = count_reg(cpu, c);
  uint32_t dst = cpu->seg[SEG_ES].base + edi, src = cpu->seg[c->seg].base + esi;
  if (c->addr16)
    return false; /* (16-bit indexes wrap within a page) */
  uint32_t fit = elements_in_page(dst, (int)w, down);
  if (fit < n)
    n = fit;
  fit = movs ? elements_in_page(src, (int)w, down) : n;
  if (fit < n)
    n = fit;
  uint32_t span = (n - 1) * w;
  if (n < 2 || (down ? edi < span || (movs && esi < span)
                     : edi + span + w - 1 < edi || (movs && esi + span + w - 1 < esi)))
    return false;
  unsigned bytes = n * w, access = user_access(cpu);
  uint8_t *from = NULL;
  if (movs && !(from = run_span(cpu, src, w, span, down, access, faulted)))
    return false;
  uint8_t *to = run_span(cpu, dst, w, span, down, access | MMU_WRITE, faulted);
  if (!to || (movs && from < to + bytes && to < from + bytes))
    return false;
  if (movs) {
    memcpy(to, from, bytes);
  } else {
    uint32_t v = cpu->regs[R_EAX];
    for (unsigned i = 0; i < bytes; i += w)
      memcpy(to + i, &v, w);
  }
  uint32_t step = down ? (uint32_t)-bytes : bytes;
  cpu->regs[R_EDI] = edi + step;
  if (movs)
    cpu->regs[R_ESI] = esi + step;
  cpu->regs[R_ECX] -= n;
  return true;
}

int insn_string(struct cpu *cpu, const struct insn_call *c) {
  int w = c->width;
  uint32_t m = addr_mask(c);
  int op = c->mnemonic;
  bool movs = op == ZYDIS_MNEMONIC_MOVSB || op == ZYDIS_MNEMONIC_MOVSW || op == ZYDIS_MNEMONIC_MOVSD;
  bool stos = op == ZYDIS_MNEMONIC_STOSB || op == ZYDIS_MNEMONIC_STOSW || op == ZYDIS_MNEMONIC_STOSD;
  bool compares = op == ZYDIS_MNEMONIC_CMPSB || op == ZYDIS_MNEMONIC_CMPSW ||
                  op == ZYDIS_MNEMONIC_CMPSD || op == ZYDIS_MNEMONIC_SCASB ||
                  op == ZYDIS_MNEMONIC_SCASW || op == ZYDIS_MNEMONIC_SCASD;
  for (uint32_t n = 0; !c->rep || count_reg(cpu, c); n++) {
    bool faulted;
    if (c->rep && (movs || stos) && count_reg(cpu, c) >= 2) {
      if (string_run(cpu, c, movs, &faulted))
        continue;
      if (faulted)
        return fault(cpu, c);
    }
    uint32_t src = cpu->seg[c->seg].base + (cpu->regs[R_ESI] & m);
    uint32_t dst = cpu->seg[SEG_ES].base + (cpu->regs[R_EDI] & m);
    uint32_t a = 0, b = 0;
    switch (op) {
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
      if (!mem_read(cpu, src, &a, w) || !mem_write(cpu, dst, &a, w))
        return fault(cpu, c);
      index_step(cpu, c, R_ESI);
      index_step(cpu, c, R_EDI);
      break;
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
      a = reg_read(cpu, R_EAX, w);
      if (!mem_write(cpu, dst, &a, w))
        return fault(cpu, c);
      index_step(cpu, c, R_EDI);
      break;
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
      if (!mem_read(cpu, src, &a, w))
        return fault(cpu, c);
      reg_write(cpu, R_EAX, w, a);
      index_step(cpu, c, R_ESI);
      break;
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
      if (!mem_read(cpu, src, &a, w) || !mem_read(cpu, dst, &b, w))
        return fault(cpu, c);
      cpu->eflags = (cpu->eflags & ~FL_ARITH) | flags_sub(a, b, w);
      index_step(cpu, c, R_ESI);
      index_step(cpu, c, R_EDI);
      break;
    default: /* SCAS */
      if (!mem_read(cpu, dst, &b, w))
        return fault(cpu, c);
      cpu->eflags = (cpu->eflags & ~FL_ARITH) | flags_sub(reg_read(cpu, R_EAX, w), b, w);
      index_step(cpu, c, R_EDI);
      break;
    }
    if (!c->rep)
      break;
    count_dec(cpu, c);
    if (compares) {
      bool zf = cpu->eflags & FL_ZF;
      if ((c->rep == 0xf3 && !zf) || (c->rep == 0xf2 && zf))
        break;
    }
    (void)n;
  }
  return CO_NEXT;
}

/* ---- identification and time ---- */

int insn_cpuid(struct cpu *cpu, const struct insn_call *c) {
  (void)c;
  cpu_cpuid(cpu);
  return CO_NEXT;
}

#define CR4_TSD 0x4u

int insn_rdtsc(struct cpu *cpu, const struct insn_call *c) {
  if ((cpu->cr4 & CR4_TSD) && cpu->cpl != 0)
    return raise_at(cpu, c, EXC_GP, true, 0);
  uint64_t t = cpu_rdtsc(cpu);
  cpu->regs[R_EAX] = (uint32_t)t;
  cpu->regs[R_EDX] = (uint32_t)(t >> 32);
  return CO_NEXT;
}

/* ---- interrupts ---- */

int insn_hlt(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  cpu->halted = true;
  return next_via_dispatcher(cpu, c);
}

static int software_interrupt(struct cpu *cpu, const struct insn_call *c, int vector) {
  cpu->pending = (struct pending_event){true, (uint8_t)vector, false, 0, true, c->next_eip};
  cpu->eip = c->eip;
  return CO_EXIT;
}

int insn_int(struct cpu *cpu, const struct insn_call *c) {
  return software_interrupt(cpu, c, (int)c->imm);
}

int insn_into(struct cpu *cpu, const struct insn_call *c) {
  if (!(cpu->eflags & FL_OF))
    return CO_NEXT;
  return software_interrupt(cpu, c, EXC_OF);
}

int insn_raise_ud(struct cpu *cpu, const struct insn_call *c) {
  return raise_at(cpu, c, EXC_UD, false, 0);
}

int insn_raise_nm(struct cpu *cpu, const struct insn_call *c) {
  return raise_at(cpu, c, EXC_NM, false, 0);
}

int insn_raise_de(struct cpu *cpu, const struct insn_call *c) {
  return raise_at(cpu, c, EXC_DE, false, 0);
}

int insn_raise_gp0(struct cpu *cpu, const struct insn_call *c) {
  return raise_at(cpu, c, EXC_GP, true, 0);
}

int insn_unsupported(struct cpu *cpu, const struct insn_call *c) {
  cpu_stop(cpu, SHUTDOWN_ERROR, "instruction %s at EIP 0x%08x is not supported yet",
           ZydisMnemonicGetString((ZydisMnemonic)c->mnemonic), c->eip);
  cpu->eip = c->eip;
  return CO_EXIT;
}

/* n stack slots of `width` bytes (2 or 4, the operand size) at lin, zero-extended. */
static bool read_slots(struct cpu *cpu, uint32_t lin, uint32_t *out, int n, int width) {
  uint8_t buf[20];
  if (!mem_read(cpu, lin, buf, (unsigned)(n * width)))
    return false;
  for (int i = 0; i < n; i++) {
    out[i] = 0;
    memcpy(&out[i], buf + i * width, (size_t)width);
  }
  return true;
}

/* EFLAGS bits IRET/POPF may change at the current privilege (SDM vol. 2, POPF table). */
static uint32_t writable_flags(const struct cpu *cpu, bool is_iret) {
  uint32_t m = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID;
  if (is_iret)
    m |= FL_RF;
  if (cpu->cpl == 0)
    m |= FL_IOPL | FL_IF;
  else if (cpu->cpl <= iopl(cpu))
    m |= FL_IF;
  return m;
}

/* IRET; `deprivileged`: as the CPU runs it for a guest kernel at ring 1 (deprivileged.c). A
 * return to RPL 0 faults there and the monitor emulates it; any other runs on the CPU, which
 * leaves IF and IOPL alone (CPL > IOPL 0), and RPL 1 is the guest kernel's own ring. */
static int iret(struct cpu *cpu, const struct insn_call *c, bool deprivileged) {
  if ((cpu->eflags & FL_NT) && (cpu->cr0 & CR0_PE)) { /* a return to the task in the link */
    uint16_t link;
    if (!mmu_read(cpu->mmu, cpu, cpu->tr.base, &link, 2, 0) ||
        !cpu_task_switch(cpu, link, TASK_IRET, c->next_eip, false, 0))
      return fault(cpu, c);
    return CO_EXIT;
  }
  uint32_t frame[3];
  int w = c->width == 2 ? 2 : 4; /* 16-bit: IP, CS and FLAGS; EFLAGS' upper half stays */
  uint32_t sp = cpu_stack_addr(cpu, 0);
  if (!read_slots(cpu, sp, frame, 3, w))
    return fault(cpu, c);
  uint32_t new_eip = frame[0], new_eflags = frame[2];
  if (w == 2)
    new_eflags |= cpu->eflags & 0xffff0000u;
  if (!(cpu->cr0 & CR0_PE)) { /* real mode: every flag but VM, RF, VIF and VIP */
    uint32_t mask = (FL_ARITH | FL_TF | FL_IF | FL_DF | FL_IOPL | FL_NT | FL_AC | FL_ID) &
                    (w == 2 ? 0xffffu : ~0u);
    cpu_load_segment_real(cpu, SEG_CS, (uint16_t)frame[1]);
    cpu_stack_move(cpu, 3 * w);
    cpu->eflags = (cpu->eflags & ~mask) | (new_eflags & mask) | 0x2;
    cpu->eip = new_eip;
    return CO_EXIT;
  }
  uint16_t new_cs = (uint16_t)frame[1];
  if (new_eflags & FL_VM) {
    cpu_stop(cpu, SHUTDOWN_ERROR, "IRET to virtual-8086 mode at EIP 0x%08x is not supported",
             c->eip);
    return fault(cpu, c);
  }
  int rpl = new_cs & 3;
  bool on_cpu = deprivileged && !(cpu->cpl == 0 && rpl == 0);
  if (deprivileged && cpu->cpl == 0 && rpl == DEPRIVILEGED_RING)
    new_cs &= 0xfffc, rpl = 0;
  if ((new_cs & 0xfffc) == 0 || rpl < cpu->cpl)
    return raise_at(cpu, c, EXC_GP, true, new_cs & 0xfffc);
  uint64_t raw;
  if (!descriptor_read(cpu, new_cs, &raw))
    return fault(cpu, c);
  struct segment cs;
  descriptor_unpack(raw, &cs, new_cs);
  bool is_code = (cs.attr & SEGA_S) && (cs.attr & 0x8);
  int dpl = SEGA_DPL(cs.attr);
  bool conforming = cs.attr & 0x4;
  if (!is_code || (conforming ? dpl > rpl : dpl != rpl))
    return raise_at(cpu, c, EXC_GP, true, new_cs & 0xfffc);
  if (!(cs.attr & SEGA_P))
    return raise_at(cpu, c, EXC_NP, true, new_cs & 0xfffc);
  if (new_eip > cs.limit)
    return raise_at(cpu, c, EXC_GP, true, 0);
  uint32_t mask = writable_flags(cpu, true);
  if (on_cpu)
    mask &= ~(FL_IF | FL_IOPL);
  if (w == 2)
    mask &= 0xffff;
  if (rpl == cpu->cpl) {
    if (!load_code_segment(cpu, new_cs, raw, rpl))
      return fault(cpu, c);
    cpu_stack_move(cpu, 3 * w);
  } else {
    uint32_t outer[2];
    if (!read_slots(cpu, sp + 3 * (uint32_t)w, outer, 2, w))
      return fault(cpu, c);
    struct segment saved_cs = cpu->seg[SEG_CS];
    int saved_cpl = cpu->cpl;
    if (!load_code_segment(cpu, new_cs, raw, rpl))
      return fault(cpu, c);
    if (!cpu_load_segment(cpu, SEG_SS, (uint16_t)outer[1])) {
      cpu->seg[SEG_CS] = saved_cs;
      cpu->cpl = saved_cpl;
      return fault(cpu, c);
    }
    cpu->regs[R_ESP] = outer[0];
    /* Data segments the new privilege may not use become null (SDM vol. 2, IRET). */
    static const int data_segs[] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};
    for (int i = 0; i < 4; i++) {
      struct segment *s = &cpu->seg[data_segs[i]];
      bool code_conforming = (s->attr & 0x18) == 0x18 && (s->attr & 0x4);
      if (!code_conforming && SEGA_DPL(s->attr) < rpl) {
        *s = (struct segment){0, 0, 0, 0};
        if (data_segs[i] == SEG_FS)
          cpu->fs_base = 0;
        if (data_segs[i] == SEG_GS)
          cpu->gs_base = 0;
      }
    }
  }
  cpu->eflags = (cpu->eflags & ~mask) | (new_eflags & mask) | 0x2;
  cpu->eip = new_eip;
  return CO_EXIT;
}

int insn_iret(struct cpu *cpu, const struct insn_call *c) { return iret(cpu, c, false); }
int insn_iret_deprivileged(struct cpu *cpu, const struct insn_call *c) { return iret(cpu, c, true); }

/* ---- descriptor tables ---- */

int insn_lgdt_lidt(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  uint8_t buf[6];
  if (!mem_read(cpu, (uint32_t)cpu->exit_r8, buf, 6))
    return fault(cpu, c);
  struct dtable t;
  memcpy(&t.limit, buf, 2);
  memcpy(&t.base, buf + 2, 4);
  if (c->width == 2)
    t.base &= 0x00ffffff;
  if (c->mnemonic == ZYDIS_MNEMONIC_LGDT)
    cpu->gdtr = t;
  else
    cpu->idtr = t;
  return CO_NEXT;
}

int insn_sgdt_sidt(struct cpu *cpu, const struct insn_call *c) {
  const struct dtable *t = c->mnemonic == ZYDIS_MNEMONIC_SGDT ? &cpu->gdtr : &cpu->idtr;
  uint8_t buf[6];
  memcpy(buf, &t->limit, 2);
  memcpy(buf + 2, &t->base, 4);
  if (!mem_write(cpu, (uint32_t)cpu->exit_r8, buf, 6))
    return fault(cpu, c);
  return CO_NEXT;
}

/* ---- segment registers ---- */

/* A load that changes whether DS/ES/SS are flat changes how blocks are translated. */
static int after_segment_load(struct cpu *cpu, const struct insn_call *c, bool was_flat, int seg) {
  if (seg == SEG_SS)
    cpu->shadow = SHADOW_SS; /* no interrupt or #DB before the next instruction (6.8.3) */
  if (seg == SEG_SS || was_flat != cpu_segs_flat(cpu))
    return next_via_dispatcher(cpu, c);
  return CO_NEXT;
}

int insn_mov_to_seg(struct cpu *cpu, const struct insn_call *c) {
  uint16_t sel;
  if (c->mem) {
    if (!mem_read(cpu, (uint32_t)cpu->exit_r8, &sel, 2))
      return fault(cpu, c);
  } else {
    sel = (uint16_t)cpu->regs[c->reg];
  }
  bool flat = cpu_segs_flat(cpu);
  if (!cpu_load_segment(cpu, c->seg, sel))
    return fault(cpu, c);
  return after_segment_load(cpu, c, flat, c->seg);
}

int insn_mov_from_seg(struct cpu *cpu, const struct insn_call *c) {
  uint16_t sel = cpu->seg[c->seg].sel;
  if (c->mem) {
    if (!mem_write(cpu, (uint32_t)cpu->exit_r8, &sel, 2))
      return fault(cpu, c);
  } else {
    /* A 32-bit register destination gets the selector zero-extended (P6 and later). */
    reg_write(cpu, c->reg, c->width, sel);
  }
  return CO_NEXT;
}

int insn_push_seg(struct cpu *cpu, const struct insn_call *c) {
  if (!cpu_push(cpu, cpu->seg[c->seg].sel, c->width))
    return fault(cpu, c);
  return CO_NEXT;
}

int insn_pop_seg(struct cpu *cpu, const struct insn_call *c) {
  uint32_t v = 0;
  if (!mem_read(cpu, cpu_stack_addr(cpu, 0), &v, c->width))
    return fault(cpu, c);
  bool flat = cpu_segs_flat(cpu);
  if (!cpu_load_segment(cpu, c->seg, (uint16_t)v))
    return fault(cpu, c);
  cpu_stack_move(cpu, c->width);
  return after_segment_load(cpu, c, flat, c->seg);
}

/* LDS/LES/LSS/LFS/LGS reg, m16:32 */
int insn_load_far_pointer(struct cpu *cpu, const struct insn_call *c) {
  uint8_t buf[6];
  if (!mem_read(cpu, (uint32_t)cpu->exit_r8, buf, (unsigned)c->width + 2))
    return fault(cpu, c);
  uint32_t off = 0;
  uint16_t sel;
  memcpy(&off, buf, c->width);
  memcpy(&sel, buf + c->width, 2);
  bool flat = cpu_segs_flat(cpu);
  if (!cpu_load_segment(cpu, c->seg, sel))
    return fault(cpu, c);
  reg_write(cpu, c->reg, c->width, off);
  return after_segment_load(cpu, c, flat, c->seg);
}

static bool far_operand(struct cpu *cpu, const struct insn_call *c, uint16_t *sel, uint32_t *off) {
  if (!c->mem) {
    *sel = (uint16_t)c->imm2;
    *off = c->imm;
    return true;
  }
  uint8_t buf[6];
  if (!mem_read(cpu, (uint32_t)cpu->exit_r8, buf, (unsigned)c->width + 2))
    return false;
  *off = 0;
  memcpy(off, buf, c->width);
  memcpy(sel, buf + c->width, 2);
  return true;
}

int insn_jmp_far(struct cpu *cpu, const struct insn_call *c) {
  uint16_t sel;
  uint32_t off;
  if (!far_operand(cpu, c, &sel, &off) ||
      !cpu_far_transfer(cpu, sel, off, 0, 0, c->next_eip))
    return fault(cpu, c);
  return CO_EXIT;
}

/* Far call pushing `cs` as the return selector. */
static int call_far(struct cpu *cpu, const struct insn_call *c, uint16_t cs) {
  uint16_t sel;
  uint32_t off;
  if (!far_operand(cpu, c, &sel, &off))
    return fault(cpu, c);
  struct segment saved_cs = cpu->seg[SEG_CS];
  if (!cpu_far_transfer(cpu, sel, off, c->width == 2 ? 2 : 4, cs, c->next_eip)) {
    cpu->seg[SEG_CS] = saved_cs;
    return fault(cpu, c);
  }
  return CO_EXIT;
}

int insn_call_far(struct cpu *cpu, const struct insn_call *c) {
  return call_far(cpu, c, cpu->seg[SEG_CS].sel);
}

/* At ring 1 the CPU pushes CS with the RPL it really runs at. */
int insn_call_far_deprivileged(struct cpu *cpu, const struct insn_call *c) {
  return call_far(cpu, c, (uint16_t)((cpu->seg[SEG_CS].sel & 0xfffc) | deprivileged_ring(cpu)));
}

/* Far return; `deprivileged`: at ring 1 a return to RPL 1 stays in the guest kernel. */
static int ret_far(struct cpu *cpu, const struct insn_call *c, bool deprivileged) {
  uint32_t frame[2];
  int w = c->width == 2 ? 2 : 4;
  uint32_t sp = cpu_stack_addr(cpu, 0);
  if (!read_slots(cpu, sp, frame, 2, w))
    return fault(cpu, c);
  if (!(cpu->cr0 & CR0_PE)) { /* real mode */
    cpu_load_segment_real(cpu, SEG_CS, (uint16_t)frame[1]);
    cpu_stack_move(cpu, 2 * w + (int32_t)c->imm);
    cpu->eip = frame[0];
    return CO_EXIT;
  }
  uint16_t sel = (uint16_t)frame[1];
  if (deprivileged && cpu->cpl == 0 && (sel & 3) == DEPRIVILEGED_RING)
    sel &= 0xfffc;
  int rpl = sel & 3;
  if ((sel & 0xfffc) == 0 || rpl < cpu->cpl)
    return raise_at(cpu, c, EXC_GP, true, sel & 0xfffc);
  uint64_t raw;
  if (!descriptor_read(cpu, sel, &raw))
    return fault(cpu, c);
  struct segment cs;
  descriptor_unpack(raw, &cs, sel);
  int dpl = SEGA_DPL(cs.attr);
  bool is_code = (cs.attr & SEGA_S) && (cs.attr & 0x8);
  if (!is_code || ((cs.attr & 0x4) ? dpl > rpl : dpl != rpl))
    return raise_at(cpu, c, EXC_GP, true, sel & 0xfffc);
  if (!(cs.attr & SEGA_P))
    return raise_at(cpu, c, EXC_NP, true, sel & 0xfffc);
  if (frame[0] > cs.limit)
    return raise_at(cpu, c, EXC_GP, true, 0);
  if (rpl == cpu->cpl) {
    if (!load_code_segment(cpu, sel, raw, rpl))
      return fault(cpu, c);
    cpu_stack_move(cpu, 2 * w + (int32_t)c->imm);
  } else {
    uint32_t outer[2];
    if (!read_slots(cpu, sp + 2 * (uint32_t)w + c->imm, outer, 2, w))
      return fault(cpu, c);
    struct segment saved_cs = cpu->seg[SEG_CS];
    int saved_cpl = cpu->cpl;
    if (!load_code_segment(cpu, sel, raw, rpl))
      return fault(cpu, c);
    if (!cpu_load_segment(cpu, SEG_SS, (uint16_t)outer[1])) {
      cpu->seg[SEG_CS] = saved_cs;
      cpu->cpl = saved_cpl;
      return fault(cpu, c);
    }
    cpu->regs[R_ESP] = outer[0] + c->imm;
  }
  cpu->eip = frame[0];
  return CO_EXIT;
}

int insn_ret_far(struct cpu *cpu, const struct insn_call *c) { return ret_far(cpu, c, false); }
int insn_ret_far_deprivileged(struct cpu *cpu, const struct insn_call *c) {
  return ret_far(cpu, c, true);
}

/* ---- control registers and system state ---- */

/* PSE PAE PGE TSD DE OSFXSR OSXMMEXCPT */
#define CR4_KNOWN (CR4_PSE | CR4_PAE | CR4_PGE | 0x4u | 0x8u | 0x200u | 0x400u)

static bool pae_paging(uint32_t cr0, uint32_t cr4) { return (cr0 & CR0_PG) && (cr4 & CR4_PAE); }

/* With PAE paging, loading CR3, and changing CR0.PG/CD/NW or CR4.PAE/PGE/PSE, loads the
 * PDPTEs (SDM vol. 3, 4.4.1); one with reserved bits set makes the instruction raise #GP(0),
 * changing nothing. */
static bool pdptes_load_as_needed(struct cpu *cpu, uint32_t cr0, uint32_t cr3, uint32_t cr4,
                                  bool reload) {
  return !reload || !pae_paging(cr0, cr4) || mmu_load_pdptes(cpu->mmu, cpu, cr3);
}

int insn_mov_to_cr(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  uint32_t v = cpu->regs[c->reg];
  switch (c->imm) {
  case 0:
    if (((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)) ||
        !pdptes_load_as_needed(cpu, v, cpu->cr3, cpu->cr4,
                               (v ^ cpu->cr0) & (CR0_PG | CR0_CD | CR0_NW)))
      return raise_at(cpu, c, EXC_GP, true, 0);
    cpu->cr0 = v | CR0_ET;
    mmu_paging_changed(cpu->mmu, cpu);
    break;
  case 2:
    cpu->cr2 = v;
    break;
  case 3:
    if (!pdptes_load_as_needed(cpu, cpu->cr0, v, cpu->cr4, true))
      return raise_at(cpu, c, EXC_GP, true, 0);
    cpu->cr3 = v;
    mmu_cr3_written(cpu->mmu, cpu);
    break;
  case 4:
    if ((v & ~CR4_KNOWN) ||
        !pdptes_load_as_needed(cpu, cpu->cr0, cpu->cr3, v,
                               (v ^ cpu->cr4) & (CR4_PAE | CR4_PGE | CR4_PSE)))
      return raise_at(cpu, c, EXC_GP, true, 0);
    cpu->cr4 = v;
    mmu_paging_changed(cpu->mmu, cpu);
    break;
  default:
    return raise_at(cpu, c, EXC_UD, false, 0);
  }
  return next_via_dispatcher(cpu, c);
}

int insn_invlpg(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  uint32_t page = (uint32_t)cpu->exit_r8 >> 12;
  mmu_invlpg(cpu->mmu, cpu, (uint32_t)cpu->exit_r8);
  /* INVLPG serializes: the next instruction is fetched through the new translation. Chains
   * and lookups into the page were undone by the translator's mapping hook; the rest of this
   * block, if it is on that page (or runs into it), is left for the dispatcher to look up. */
  uint32_t next = (cpu->seg[SEG_CS].base + c->next_eip) >> 12;
  if ((cpu->cr0 & CR0_PG) && (page == next || page == next + 1))
    return next_via_dispatcher(cpu, c);
  return CO_NEXT;
}

int insn_lmsw(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  uint16_t v;
  if (c->mem) {
    if (!mem_read(cpu, (uint32_t)cpu->exit_r8, &v, 2))
      return fault(cpu, c);
  } else {
    v = (uint16_t)cpu->regs[c->reg2];
  }
  /* LMSW loads PE, MP, EM and TS; it can set PE but never clear it. */
  cpu->cr0 = (cpu->cr0 & ~0xeu) | (v & 0xfu) | (cpu->cr0 & CR0_PE);
  return next_via_dispatcher(cpu, c);
}

/* ---- LDT and task register ---- */

static int store_selector(struct cpu *cpu, const struct insn_call *c, uint16_t sel) {
  if (c->mem) {
    if (!mem_write(cpu, (uint32_t)cpu->exit_r8, &sel, 2))
      return fault(cpu, c);
  } else {
    reg_write(cpu, c->reg2, c->width, sel);
  }
  return CO_NEXT;
}

int insn_sldt_str(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_PROTECTED_MODE(cpu, c);
  bool is_str = c->mnemonic == ZYDIS_MNEMONIC_STR;
  return store_selector(cpu, c, is_str ? cpu->tr.sel : cpu->ldtr.sel);
}

static bool read_selector_operand(struct cpu *cpu, const struct insn_call *c, uint16_t *sel) {
  if (c->mem)
    return mem_read(cpu, (uint32_t)cpu->exit_r8, sel, 2);
  *sel = (uint16_t)cpu->regs[c->reg2];
  return true;
}

int insn_lldt_ltr(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_PROTECTED_MODE(cpu, c);
  REQUIRE_CPL0(cpu, c);
  bool is_ltr = c->mnemonic == ZYDIS_MNEMONIC_LTR;
  uint16_t sel;
  if (!read_selector_operand(cpu, c, &sel))
    return fault(cpu, c);
  if ((sel & 0xfffc) == 0) {
    if (is_ltr)
      return raise_at(cpu, c, EXC_GP, true, 0);
    cpu->ldtr = (struct segment){sel, 0, 0, 0};
    return CO_NEXT;
  }
  if (sel & 4) /* must name a GDT entry */
    return raise_at(cpu, c, EXC_GP, true, sel & 0xfffc);
  uint64_t raw;
  if (!descriptor_read(cpu, sel, &raw))
    return fault(cpu, c);
  struct segment s;
  descriptor_unpack(raw, &s, sel);
  unsigned type = s.attr & 0x1f; /* S bit and type */
  bool ok = is_ltr ? (type == 0x09 || type == 0x01) : type == 0x02;
  if (!ok)
    return raise_at(cpu, c, EXC_GP, true, sel & 0xfffc);
  if (!(s.attr & SEGA_P))
    return raise_at(cpu, c, EXC_NP, true, sel & 0xfffc);
  if (is_ltr) {
    uint8_t access = (uint8_t)(raw >> 40) | 0x2; /* busy */
    if (!mem_write(cpu, cpu->gdtr.base + (sel & ~7u) + 5, &access, 1))
      return fault(cpu, c);
    s.attr |= 0x2;
    cpu->tr = s;
  } else {
    cpu->ldtr = s;
  }
  return CO_NEXT;
}

/* LAR, LSL, VERR, VERW: may privilege `cpl` see the descriptor? (SDM vol. 2, LAR)
 * `shadow`: the monitor's shadow copy of the descriptor is checked, in which the code and data
 * segments of DPL 0 have DPL 1, so that the guest kernel can use them at ring 1. */
static int check_descriptor(struct cpu *cpu, const struct insn_call *c, int cpl, bool shadow) {
  uint16_t sel;
  if (!read_selector_operand(cpu, c, &sel))
    return fault(cpu, c);
  uint64_t raw = 0;
  bool ok = (sel & 0xfffc) != 0;
  struct pending_event saved = cpu->pending;
  if (ok && !descriptor_read(cpu, sel, &raw)) {
    if (cpu->pending.vector != EXC_GP)
      return fault(cpu, c); /* a page fault reading the table is real */
    cpu->pending = saved;
    ok = false;
  }
  if (shadow && ok && (raw & (1ull << 44)) && ((raw >> 45) & 3) == 0)
    raw |= (uint64_t)DEPRIVILEGED_RING << 45;
  struct segment s;
  descriptor_unpack(raw, &s, sel);
  bool is_sys = !(s.attr & SEGA_S);
  bool is_code = !is_sys && (s.attr & 0x8);
  bool conforming = is_code && (s.attr & 0x4);
  unsigned type = s.attr & 0xf;
  int mn = c->mnemonic;
  if (ok && is_sys) {
    static const uint16_t lar_types = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 |
                                      1u << 9 | 1u << 11 | 1u << 12;
    static const uint16_t lsl_types = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 9 | 1u << 11;
    ok = mn == ZYDIS_MNEMONIC_LAR   ? (lar_types >> type) & 1
         : mn == ZYDIS_MNEMONIC_LSL ? (lsl_types >> type) & 1
                                    : false;
  }
  int dpl = SEGA_DPL(s.attr), rpl = sel & 3;
  if (ok && !conforming && (dpl < cpl || dpl < rpl))
    ok = false;
  if (ok && mn == ZYDIS_MNEMONIC_VERR)
    ok = !is_code || (s.attr & 0x2);
  if (ok && mn == ZYDIS_MNEMONIC_VERW)
    ok = !is_code && (s.attr & 0x2);
  if (!ok) {
    cpu->eflags &= ~FL_ZF;
    return CO_NEXT;
  }
  cpu->eflags |= FL_ZF;
  if (mn == ZYDIS_MNEMONIC_LAR)
    reg_write(cpu, c->reg, c->width, (uint32_t)(raw >> 32) & 0x00f0ff00u);
  else if (mn == ZYDIS_MNEMONIC_LSL)
    reg_write(cpu, c->reg, c->width, s.limit);
  return CO_NEXT;
}

int insn_check_descriptor(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_PROTECTED_MODE(cpu, c);
  return check_descriptor(cpu, c, cpu->cpl, false);
}

int insn_check_descriptor_deprivileged(struct cpu *cpu, const struct insn_call *c) {
  return check_descriptor(cpu, c, deprivileged_ring(cpu), true);
}

/* ---- fast system calls (SDM vol. 2, SYSENTER/SYSEXIT) ---- */

static void flat_segment(struct segment *s, uint16_t sel, uint16_t type, int dpl) {
  *s = (struct segment){sel, 0, 0xffffffffu,
                        (uint16_t)(type | SEGA_S | SEGA_P | SEGA_DB | SEGA_G | dpl << 5)};
}

int insn_sysenter(struct cpu *cpu, const struct insn_call *c) {
  if (!(cpu->cr0 & CR0_PE))
    return raise_at(cpu, c, EXC_GP, true, 0); /* not in real mode */
  uint16_t cs = (uint16_t)cpu->sysenter_cs;
  if ((cs & 0xfffc) == 0)
    return raise_at(cpu, c, EXC_GP, true, 0);
  flat_segment(&cpu->seg[SEG_CS], cs & 0xfffc, 0xb, 0);
  flat_segment(&cpu->seg[SEG_SS], (uint16_t)((cs & 0xfffc) + 8), 0x3, 0);
  cpu->cpl = 0;
  cpu->eflags &= ~(FL_VM | FL_IF | FL_RF);
  cpu->regs[R_ESP] = (uint32_t)cpu->sysenter_esp;
  cpu->eip = (uint32_t)cpu->sysenter_eip;
  return CO_EXIT;
}

int insn_sysexit(struct cpu *cpu, const struct insn_call *c) {
  if (!(cpu->cr0 & CR0_PE))
    return raise_at(cpu, c, EXC_GP, true, 0); /* not in real mode */
  uint16_t cs = (uint16_t)cpu->sysenter_cs;
  if (cpu->cpl != 0 || (cs & 0xfffc) == 0)
    return raise_at(cpu, c, EXC_GP, true, 0);
  flat_segment(&cpu->seg[SEG_CS], (uint16_t)(((cs & 0xfffc) + 16) | 3), 0xb, 3);
  flat_segment(&cpu->seg[SEG_SS], (uint16_t)(((cs & 0xfffc) + 24) | 3), 0x3, 3);
  cpu->cpl = 3;
  cpu->regs[R_ESP] = cpu->regs[R_ECX];
  cpu->eip = cpu->regs[R_EDX];
  return CO_EXIT;
}

int insn_mov_from_cr(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  uint32_t v;
  switch (c->imm) {
  case 0: v = cpu->cr0; break;
  case 2: v = cpu->cr2; break;
  case 3: v = cpu->cr3; break;
  case 4: v = cpu->cr4; break;
  default: return raise_at(cpu, c, EXC_UD, false, 0);
  }
  cpu->regs[c->reg] = v;
  return CO_NEXT;
}

/* Where instruction breakpoint n is, or UINT64_MAX if it is off. */
static uint64_t breakpoint_address(const struct cpu *cpu, int n) {
  return (cpu_breakpoints_at(cpu, cpu->dr[n]) >> n) & 1 ? cpu->dr[n] : UINT64_MAX;
}

/* mov to/from DR0-DR7 (reg2: 1 = to DRn). DR6 and DR7 keep the bits that always read as 1.
 * A write that changes where instructions break leaves translated code, which is translated
 * again with the new breakpoints (the run loop flushes it). One that arms, moves or disarms a
 * data breakpoint leaves it too: while one is armed every instruction runs alone and is
 * checked first (cpu/watch.c), in translations of their own (KEY_WATCH). */
int insn_mov_dr(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  unsigned n = c->imm & 7;
  if (n == 4 || n == 5)
    n += 2; /* aliases of DR6/DR7 while CR4.DE is clear */
  uint32_t fixed = n == 6 ? DR6_FIXED_1 : n == 7 ? DR7_FIXED_1 : 0;
  if (c->reg2) {
    uint64_t before[4];
    for (int i = 0; i < 4; i++)
      before[i] = breakpoint_address(cpu, i);
    bool watching = cpu_has_data_breakpoints(cpu);
    cpu->dr[n] = cpu->regs[c->reg] | fixed;
    /* Armed or disarmed, the next lookup's key (KEY_WATCH) picks the other translations. */
    bool watch_changed = n != 6 && (watching || cpu_has_data_breakpoints(cpu));
    for (int i = 0; i < 4; i++)
      if (before[i] != breakpoint_address(cpu, i)) {
        cpu->breakpoints_changed = true;
        return next_via_dispatcher(cpu, c);
      }
    if (watch_changed)
      return next_via_dispatcher(cpu, c);
  } else
    cpu->regs[c->reg] = cpu->dr[n];
  return CO_NEXT;
}

/* LOOP/LOOPE/LOOPNE (imm: e2/e1/e0) whose target is past CS's limit: taken, it raises #GP(0)
 * before ECX (CX when imm2, the address size, is 16) changes; not taken, it counts down. */
int insn_loop_past_limit(struct cpu *cpu, const struct insn_call *c) {
  uint32_t mask = c->imm2 == 16 ? 0xffffu : 0xffffffffu;
  uint32_t count = (cpu->regs[R_ECX] - 1) & mask;
  bool zf = cpu->eflags & FL_ZF;
  bool taken = count != 0 && (c->imm == 0xe2 || (c->imm == 0xe1 && zf) || (c->imm == 0xe0 && !zf));
  if (taken)
    return raise_at(cpu, c, EXC_GP, true, 0);
  cpu->regs[R_ECX] = (cpu->regs[R_ECX] & ~mask) | count;
  return next_via_dispatcher(cpu, c);
}

/* Before a push or pop with a 16-bit stack segment (SS.B = 0): translations move ESP, which
 * is SP as long as ESP is below 64 KiB (and SP does not wrap through 0). Real-mode and 16-bit
 * code set SP and keep it there; a stack beyond that stops the VM with a message. (Pushes
 * and pops done in C, interrupt frames included, use SP itself: cpu_stack_addr.) */
int insn_check_stack16(struct cpu *cpu, const struct insn_call *c) {
  if (cpu->regs[R_ESP] <= 0xffff && cpu->regs[R_ESP] >= 32) /* (pushad moves 32 bytes) */
    return CO_NEXT;
  cpu_stop(cpu, SHUTDOWN_ERROR,
           "a 16-bit stack segment (SS 0x%04x, B = 0) with ESP 0x%08x at EIP 0x%08x: stacks "
           "addressed with SP above 64 KiB or wrapping through 0 are not supported",
           cpu->seg[SEG_SS].sel, cpu->regs[R_ESP], c->eip);
  cpu->eip = c->eip;
  return CO_EXIT;
}

/* LEAVE with a 16-bit stack segment: SP from BP, then BP (or EBP) popped from SS:SP. */
int insn_leave_stack16(struct cpu *cpu, const struct insn_call *c) {
  uint32_t v = 0, bp = cpu->regs[R_EBP] & 0xffff;
  if (!mem_read(cpu, cpu->seg[SEG_SS].base + bp, &v, c->width))
    return fault(cpu, c);
  cpu->regs[R_ESP] = (cpu->regs[R_ESP] & 0xffff0000u) | ((bp + c->width) & 0xffff);
  cpu->regs[R_EBP] = c->width == 2 ? (cpu->regs[R_EBP] & 0xffff0000u) | v : v;
  return CO_NEXT;
}

int insn_raise_breakpoint(struct cpu *cpu, const struct insn_call *c) {
  cpu->dr[6] |= c->imm; /* B0-B3 of the breakpoints at this instruction */
  return raise_at(cpu, c, EXC_DB, false, 0);
}

int insn_smsw(struct cpu *cpu, const struct insn_call *c) {
  if (c->mem) {
    uint16_t v = (uint16_t)cpu->cr0;
    if (!mem_write(cpu, (uint32_t)cpu->exit_r8, &v, 2))
      return fault(cpu, c);
  } else {
    reg_write(cpu, c->reg, c->width, cpu->cr0);
  }
  return CO_NEXT;
}

int insn_clts(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  if (!(cpu->cr0 & CR0_TS))
    return CO_NEXT;
  cpu->cr0 &= ~CR0_TS;
  return next_via_dispatcher(cpu, c); /* the FPU is usable again: translations differ */
}

int insn_nop_privileged(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  return CO_NEXT;
}

int insn_popf(struct cpu *cpu, const struct insn_call *c) {
  uint32_t v = 0;
  if (!mem_read(cpu, cpu_stack_addr(cpu, 0), &v, c->width))
    return fault(cpu, c);
  cpu_stack_move(cpu, c->width);
  uint32_t mask = writable_flags(cpu, false);
  if (c->width == 2)
    mask &= 0xffff;
  bool was_enabled = cpu->eflags & FL_IF;
  cpu->eflags = (cpu->eflags & ~mask) | (v & mask) | 0x2;
  if (!was_enabled && (cpu->eflags & FL_IF))
    return next_via_dispatcher(cpu, c); /* an interrupt may be waiting */
  if (cpu->eflags & FL_TF)
    return next_via_dispatcher(cpu, c); /* single-step the next instruction */
  return CO_NEXT;
}

int insn_cli_sti(struct cpu *cpu, const struct insn_call *c) {
  if (cpu->cpl > iopl(cpu))
    return raise_at(cpu, c, EXC_GP, true, 0);
  if (c->mnemonic == ZYDIS_MNEMONIC_CLI) {
    cpu->eflags &= ~FL_IF;
    return CO_NEXT;
  }
  if (!(cpu->eflags & FL_IF))
    cpu->shadow = 1;
  cpu->eflags |= FL_IF;
  return next_via_dispatcher(cpu, c);
}

/* ---- model-specific registers ---- */

#define MSR_PLATFORM_ID 0x17 /* read-only; bits 52:50, the platform, read as 0 */
#define MSR_TSC 0x10
#define MSR_BIOS_SIGN_ID 0x8b /* the BIOS writes 0, runs CPUID 1, reads the revision back */
#define MSR_MISC_ENABLE 0x1a0
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

static uint64_t *sysenter_msr(struct cpu *cpu, uint32_t msr) {
  return msr == MSR_SYSENTER_CS ? &cpu->sysenter_cs
         : msr == MSR_SYSENTER_ESP ? &cpu->sysenter_esp
                                   : &cpu->sysenter_eip;
}

int insn_rdmsr(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  uint64_t v;
  uint32_t msr = cpu->regs[R_ECX];
  switch (msr) {
  case MSR_TSC: v = cpu_rdtsc(cpu); break;
  case MSR_PLATFORM_ID: v = 0; break;
  case MSR_BIOS_SIGN_ID: v = cpu->bios_sign_id; break;
  case MSR_MISC_ENABLE: v = cpu->misc_enable; break;
  case MSR_ARCH_CAPABILITIES: v = cpu_arch_capabilities(); break; /* writes raise #GP */
  case MSR_EFER: v = cpu->efer; break;
  case MSR_PAT: v = cpu->pat; break;
  case MSR_SYSENTER_CS: case MSR_SYSENTER_ESP: case MSR_SYSENTER_EIP:
    v = *sysenter_msr(cpu, msr);
    break;
  default:
    if (!cpu->env.msr_read || !cpu->env.msr_read(cpu->env.opaque, msr, &v))
      return raise_at(cpu, c, EXC_GP, true, 0);
    break;
  }
  cpu->regs[R_EAX] = (uint32_t)v;
  cpu->regs[R_EDX] = (uint32_t)(v >> 32);
  return CO_NEXT;
}

/* Each PAT entry a memory type: UC, WC, WT, WP, WB or UC- (0, 1, 4, 5, 6, 7); 2, 3 and 8 up
 * are reserved and make WRMSR raise #GP. */
static bool pat_valid(uint64_t v) {
  for (int i = 0; i < 8; i++) {
    unsigned t = (unsigned)(v >> (8 * i)) & 0xff;
    if (t == 2 || t == 3 || t > 7)
      return false;
  }
  return true;
}

int insn_wrmsr(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_CPL0(cpu, c);
  uint64_t v = (uint64_t)cpu->regs[R_EDX] << 32 | cpu->regs[R_EAX];
  uint32_t msr = cpu->regs[R_ECX];
  switch (msr) {
  case MSR_TSC: cpu->tsc_offset = v - (cpu_rdtsc(cpu) - cpu->tsc_offset); break;
  case MSR_BIOS_SIGN_ID: cpu->bios_sign_id = v; break;
  case MSR_EFER: /* NXE alone: no SYSCALL or 64-bit mode here, so their bits are reserved */
    if (v & ~EFER_NXE)
      return raise_at(cpu, c, EXC_GP, true, 0);
    cpu->efer = v;
    mmu_paging_changed(cpu->mmu, cpu); /* what may be fetched changes */
    return next_via_dispatcher(cpu, c);
  case MSR_PAT:
    if (!pat_valid(v))
      return raise_at(cpu, c, EXC_GP, true, 0);
    cpu->pat = v;
    break;
  case MSR_MISC_ENABLE: /* the rest is read-only (status) or not modelled, and kept */
    cpu->misc_enable = (cpu->misc_enable & ~MISC_ENABLE_WRITABLE) | (v & MISC_ENABLE_WRITABLE);
    break;
  case MSR_SYSENTER_CS: case MSR_SYSENTER_ESP: case MSR_SYSENTER_EIP:
    *sysenter_msr(cpu, msr) = v;
    break;
  default:
    if (!cpu->env.msr_write || !cpu->env.msr_write(cpu->env.opaque, msr, v))
      return raise_at(cpu, c, EXC_GP, true, 0);
    /* Enabling or disabling the local APIC can change what INTR says. */
    return next_via_dispatcher(cpu, c);
  }
  return CO_NEXT;
}

/* ---- ordinary instructions 64-bit mode lacks ---- */

static uint32_t szp_flags(uint8_t v) {
  uint32_t f = 0;
  if (v == 0)
    f |= FL_ZF;
  if (v & 0x80)
    f |= FL_SF;
  if (!__builtin_parity(v))
    f |= FL_PF;
  return f;
}

/* DAA, DAS, AAA, AAS, AAM, AAD as the SDM's pseudo-code gives them. Flags it calls undefined
 * are computed as current Intel processors leave them. */
int insn_bcd(struct cpu *cpu, const struct insn_call *c) {
  uint32_t f = cpu->eflags;
  uint8_t al = (uint8_t)cpu->regs[R_EAX], ah = (uint8_t)(cpu->regs[R_EAX] >> 8);
  bool cf = f & FL_CF, af = f & FL_AF;
  uint32_t out = f & ~FL_ARITH;
  switch (c->mnemonic) {
  case ZYDIS_MNEMONIC_DAA: {
    uint8_t old_al = al;
    bool ncf = false, naf = false;
    if ((al & 0xf) > 9 || af) {
      ncf = cf || al > 0xf9;
      al = (uint8_t)(al + 6);
      naf = true;
    }
    if (old_al > 0x99 || cf) {
      al = (uint8_t)(al + 0x60);
      ncf = true;
    }
    out |= szp_flags(al) | (ncf ? FL_CF : 0) | (naf ? FL_AF : 0);
    if ((old_al ^ al) & ~old_al & 0x80) /* OF as the adds set it */
      out |= FL_OF;
    reg_write(cpu, R_EAX, 1, al);
    break;
  }
  case ZYDIS_MNEMONIC_DAS: {
    uint8_t old_al = al;
    bool ncf = false, naf = false;
    if ((al & 0xf) > 9 || af) {
      ncf = cf || al < 6;
      al = (uint8_t)(al - 6);
      naf = true;
    }
    if (old_al > 0x99 || cf) {
      al = (uint8_t)(al - 0x60);
      ncf = true;
    }
    out |= szp_flags(al) | (ncf ? FL_CF : 0) | (naf ? FL_AF : 0);
    if ((old_al ^ al) & old_al & 0x80)
      out |= FL_OF;
    reg_write(cpu, R_EAX, 1, al);
    break;
  }
  case ZYDIS_MNEMONIC_AAA:
  case ZYDIS_MNEMONIC_AAS: {
    bool adjust = (al & 0xf) > 9 || af;
    uint16_t ax = (uint16_t)cpu->regs[R_EAX];
    if (adjust) {
      if (c->mnemonic == ZYDIS_MNEMONIC_AAA)
        ax = (uint16_t)(ax + 0x106);
      else
        ax = (uint16_t)(ax - 0x106); /* AX - 6 borrows from AH, then AH - 1 (SDM) */
      out |= FL_AF | FL_CF;
    }
    ax &= 0xff0f;
    out |= szp_flags((uint8_t)ax) & ~(FL_SF | FL_ZF | FL_PF);
    out |= szp_flags((uint8_t)ax) & (FL_ZF | FL_PF);
    reg_write(cpu, R_EAX, 2, ax);
    break;
  }
  case ZYDIS_MNEMONIC_AAM: {
    uint8_t base = (uint8_t)c->imm;
    if (base == 0)
      return raise_at(cpu, c, EXC_DE, false, 0);
    ah = al / base;
    al = al % base;
    out |= szp_flags(al);
    reg_write(cpu, R_EAX, 2, (uint32_t)ah << 8 | al);
    break;
  }
  case ZYDIS_MNEMONIC_AAD: {
    uint8_t base = (uint8_t)c->imm;
    unsigned prod = (unsigned)ah * base;
    unsigned sum = (prod & 0xff) + al;
    al = (uint8_t)sum;
    out |= szp_flags(al);
    /* The add of AH*imm8 to AL sets CF, AF and OF like an 8-bit ADD. */
    if (sum > 0xff)
      out |= FL_CF;
    if (((prod & 0xf) + ((unsigned)(uint8_t)cpu->regs[R_EAX] & 0xf)) > 0xf)
      out |= FL_AF;
    if (~((prod & 0xff) ^ (uint8_t)cpu->regs[R_EAX]) & ((prod & 0xff) ^ al) & 0x80)
      out |= FL_OF;
    reg_write(cpu, R_EAX, 2, al);
    break;
  }
  default:
    return insn_unsupported(cpu, c);
  }
  cpu->eflags = out;
  return CO_NEXT;
}

int insn_salc(struct cpu *cpu, const struct insn_call *c) {
  (void)c;
  reg_write(cpu, R_EAX, 1, (cpu->eflags & FL_CF) ? 0xff : 0);
  return CO_NEXT;
}

int insn_bound(struct cpu *cpu, const struct insn_call *c) {
  int32_t lo, hi, v;
  if (c->width == 2) {
    int16_t b[2];
    if (!mem_read(cpu, (uint32_t)cpu->exit_r8, b, 4))
      return fault(cpu, c);
    lo = b[0];
    hi = b[1];
    v = (int16_t)cpu->regs[c->reg];
  } else {
    int32_t b[2];
    if (!mem_read(cpu, (uint32_t)cpu->exit_r8, b, 8))
      return fault(cpu, c);
    lo = b[0];
    hi = b[1];
    v = (int32_t)cpu->regs[c->reg];
  }
  if (v < lo || v > hi)
    return raise_at(cpu, c, EXC_BR, false, 0);
  return CO_NEXT;
}

int insn_arpl(struct cpu *cpu, const struct insn_call *c) {
  REQUIRE_PROTECTED_MODE(cpu, c);
  uint16_t dst;
  if (c->mem) {
    if (!mem_read(cpu, (uint32_t)cpu->exit_r8, &dst, 2))
      return fault(cpu, c);
  } else {
    dst = (uint16_t)cpu->regs[c->reg2];
  }
  uint16_t src = (uint16_t)cpu->regs[c->reg];
  if ((dst & 3) < (src & 3)) {
    dst = (uint16_t)((dst & ~3u) | (src & 3u));
    if (c->mem) {
      if (!mem_write(cpu, (uint32_t)cpu->exit_r8, &dst, 2))
        return fault(cpu, c);
    } else {
      reg_write(cpu, c->reg2, 2, dst);
    }
    cpu->eflags |= FL_ZF;
  } else {
    cpu->eflags &= ~FL_ZF;
  }
  return CO_NEXT;
}

/* ENTER with a nesting level (SDM vol. 2, ENTER); level 0 is translated inline. */
int insn_enter_nested(struct cpu *cpu, const struct insn_call *c) {
  unsigned level = c->imm2 & 31;
  uint32_t size = c->imm & 0xffff;
  uint32_t ss = cpu->seg[SEG_SS].base;
  uint32_t esp = cpu->regs[R_ESP], ebp = cpu->regs[R_EBP];
  unsigned w = c->width;
  uint32_t frame_ptr;
  uint32_t v = ebp;
  esp -= w;
  if (!mem_write(cpu, ss + esp, &v, w))
    return fault(cpu, c);
  frame_ptr = esp;
  for (unsigned i = 1; i < level; i++) {
    ebp -= w;
    uint32_t t = 0;
    if (!mem_read(cpu, ss + ebp, &t, w))
      return fault(cpu, c);
    esp -= w;
    if (!mem_write(cpu, ss + esp, &t, w))
      return fault(cpu, c);
  }
  if (level > 0) { /* a 16-bit ENTER with level 0 comes here too: no frame pointer pushed */
    esp -= w;
    if (!mem_write(cpu, ss + esp, &frame_ptr, w))
      return fault(cpu, c);
  }
  reg_write(cpu, R_EBP, (int)w, frame_ptr);
  cpu->regs[R_ESP] = esp - size;
  return CO_NEXT;
}
