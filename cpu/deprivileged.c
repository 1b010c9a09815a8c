/* deprivileged.c - `--virt=trap-and-emulate`: the guest kernel as a classic trap-and-emulate
 * VMM would run it on x86, to show why that cannot work (Popek and Goldberg 1974; Robin and
 * Irvine 2000).
 *
 * Such a VMM runs the guest kernel deprivileged, at ring 1 (guest user code stays at ring 3),
 * with the monitor's own descriptor tables, TSS and control registers loaded and EFLAGS.IOPL 0.
 * Instructions that fault at ring 1 trap into the monitor, which emulates them on the virtual
 * CPU: for those bt386's ordinary callouts are exactly the emulation. The sensitive but
 * unprivileged instructions do not fault: they run on the real CPU and see or change the real
 * state. The handlers here give them that behaviour:
 *
 *   pushf         the real IF (1: the host takes its interrupts) and IOPL 0
 *   popf          cannot change IF or IOPL (CPL 1 > IOPL 0, CPL != 0), and says nothing
 *   sgdt/sidt     the monitor's GDTR/IDTR; sldt, str: its LDTR and TR; smsw: its CR0
 *   mov r,cs/ss   push cs/ss: the selector with RPL 1, the ring the code really runs at
 *
 * and insn.c has the deprivileged variants of iret, far call and far return, and of
 * lar/lsl/verr/verw (checked at ring 1 against the monitor's shadow descriptors, whose DPL 0
 * became 1). The translator hands every callout through insn_deprivileged(): translation is
 * otherwise the same, so the two modes differ only in what the rewritten instructions do.
 * docs/pgdemo.md has the table of what each instruction shows in each mode. */
#include <Zydis/Zydis.h>
#include <string.h>

#include "cpu/insn.h"
#include "mmu/mmu.h"

/* The monitor's state, as the guest sees it through the unprivileged instructions. A monitor
 * of this kind (VMware's 1999 one, for instance) sits in the top 4 MiB of the guest's address
 * space; the selector and CR0 values are what this project's hosts show to a user program. */
#define MONITOR_GDT_BASE 0xffc00000u
#define MONITOR_GDT_LIMIT 0x007f /* 16 descriptors */
#define MONITOR_IDT_BASE 0xffc01000u
#define MONITOR_IDT_LIMIT 0x07ff /* 256 gates */
#define MONITOR_LDTR 0x0000
#define MONITOR_TR 0x0040
#define MONITOR_CR0 0x80050033u /* PG AM WP NE ET MP PE */
#define MONITOR_IOPL 0

/* The ring the guest's code really runs at. */
int deprivileged_ring(const struct cpu *cpu) { return cpu->cpl == 0 ? DEPRIVILEGED_RING : cpu->cpl; }

/* What a CS or SS selector reads as: its RPL is always the real CPL. */
static uint16_t real_selector(const struct cpu *cpu, uint16_t sel) {
  return (uint16_t)((sel & ~3u) | (unsigned)deprivileged_ring(cpu));
}

static unsigned access(const struct cpu *cpu) { return cpu->cpl == 3 ? MMU_USER : 0; }

static int fault_here(struct cpu *cpu, const struct insn_call *c) {
  cpu->eip = c->eip;
  return CO_EXIT;
}

static void set_reg(struct cpu *cpu, int r, int width, uint32_t v) {
  if (width == 2)
    cpu->regs[r] = (cpu->regs[r] & ~0xffffu) | (v & 0xffff);
  else
    cpu->regs[r] = v;
}

/* Store a selector-sized result: to memory (16 bits) or a register (16 or 32 bits, the
 * selector zero-extended). */
static int store16(struct cpu *cpu, const struct insn_call *c, int reg, uint32_t v) {
  if (c->mem) {
    uint16_t w = (uint16_t)v;
    if (!mmu_write(cpu->mmu, cpu, (uint32_t)cpu->exit_r8, &w, 2, access(cpu)))
      return fault_here(cpu, c);
  } else {
    set_reg(cpu, reg, c->width, v);
  }
  return CO_NEXT;
}

static int te_pushf(struct cpu *cpu, const struct insn_call *c) {
  uint32_t v = (cpu->eflags & ~(FL_IF | FL_IOPL | FL_VM | FL_RF)) | FL_IF | MONITOR_IOPL << 12;
  uint32_t esp = cpu->regs[R_ESP] - c->width;
  if (!mmu_write(cpu->mmu, cpu, cpu->seg[SEG_SS].base + esp, &v, c->width, access(cpu)))
    return fault_here(cpu, c);
  cpu->regs[R_ESP] = esp;
  return CO_NEXT;
}

/* POPF at CPL > IOPL and CPL != 0 (SDM vol. 2, POPF): IF and IOPL stay as they are, with no
 * exception, so the monitor never learns that the guest asked for them. */
static int te_popf(struct cpu *cpu, const struct insn_call *c) {
  uint32_t v = 0;
  if (!mmu_read(cpu->mmu, cpu, cpu->seg[SEG_SS].base + cpu->regs[R_ESP], &v, c->width,
                access(cpu)))
    return fault_here(cpu, c);
  cpu->regs[R_ESP] += c->width;
  uint32_t mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID;
  if (c->width == 2)
    mask &= 0xffff;
  cpu->eflags = (cpu->eflags & ~mask) | (v & mask) | 0x2;
  return CO_NEXT;
}

static int te_sgdt_sidt(struct cpu *cpu, const struct insn_call *c) {
  bool gdt = c->mnemonic == ZYDIS_MNEMONIC_SGDT;
  uint16_t limit = gdt ? MONITOR_GDT_LIMIT : MONITOR_IDT_LIMIT;
  uint32_t base = gdt ? MONITOR_GDT_BASE : MONITOR_IDT_BASE;
  uint8_t buf[6];
  memcpy(buf, &limit, 2);
  memcpy(buf + 2, &base, 4);
  if (!mmu_write(cpu->mmu, cpu, (uint32_t)cpu->exit_r8, buf, 6, access(cpu)))
    return fault_here(cpu, c);
  return CO_NEXT;
}

static int te_sldt_str(struct cpu *cpu, const struct insn_call *c) {
  bool is_str = c->mnemonic == ZYDIS_MNEMONIC_STR;
  return store16(cpu, c, c->reg2, is_str ? MONITOR_TR : MONITOR_LDTR);
}

static int te_smsw(struct cpu *cpu, const struct insn_call *c) {
  return store16(cpu, c, c->reg, MONITOR_CR0);
}

static uint16_t shown_selector(const struct cpu *cpu, int seg) {
  uint16_t sel = cpu->seg[seg].sel;
  return seg == SEG_CS || seg == SEG_SS ? real_selector(cpu, sel) : sel;
}

static int te_mov_from_seg(struct cpu *cpu, const struct insn_call *c) {
  return store16(cpu, c, c->reg, shown_selector(cpu, c->seg));
}

static int te_push_seg(struct cpu *cpu, const struct insn_call *c) {
  uint32_t esp = cpu->regs[R_ESP] - c->width;
  uint32_t v = shown_selector(cpu, c->seg);
  if (!mmu_write(cpu->mmu, cpu, cpu->seg[SEG_SS].base + esp, &v, c->width, access(cpu)))
    return fault_here(cpu, c);
  cpu->regs[R_ESP] = esp;
  return CO_NEXT;
}

int insn_pushf_deprivileged(struct cpu *cpu, const struct insn_call *c) {
  return te_pushf(cpu, c);
}

insn_fn insn_deprivileged(insn_fn fn) {
  static const struct {
    insn_fn bt, te;
  } map[] = {
      {insn_popf, te_popf},
      {insn_sgdt_sidt, te_sgdt_sidt},
      {insn_sldt_str, te_sldt_str},
      {insn_smsw, te_smsw},
      {insn_mov_from_seg, te_mov_from_seg},
      {insn_push_seg, te_push_seg},
      {insn_check_descriptor, insn_check_descriptor_deprivileged},
      {insn_call_far, insn_call_far_deprivileged},
      {insn_ret_far, insn_ret_far_deprivileged},
      {insn_iret, insn_iret_deprivileged},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (map[i].bt == fn)
      return map[i].te;
  return fn;
}
