/* task.c - hardware task switches (SDM vol. 3A, 7.3): a far JMP or CALL to a TSS descriptor
 * or a task gate, an interrupt or exception through a task gate, and IRET with NT set, with
 * 32-bit and 16-bit (80286) TSSs. Linux uses a task switch for its double-fault handler
 * alone; older systems and small kernels switch tasks this way. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/segment.h"
#include "mmu/mmu.h"

#define TSS_MIN_LIMIT 0x67u
#define TSS16_MIN_LIMIT 0x2bu
#define TSS_AVAILABLE 0x9u /* 32-bit; a 16-bit TSS is 1, busy 3 */
#define TSS_BUSY 0xbu
#define TSS_32BIT 0x8u
#define DESC_BUSY_BIT 0x2u /* in the type field: available 9, busy B */

static bool tss_16bit(const struct segment *tss) { return !(tss->attr & TSS_32BIT); }
static uint32_t tss_min_limit(const struct segment *tss) {
  return tss_16bit(tss) ? TSS16_MIN_LIMIT : TSS_MIN_LIMIT;
}

/* The part of a 32-bit TSS a task switch reads and writes, from offset 0. */
struct tss32 {
  uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  uint32_t gpr[8]; /* EAX ECX EDX EBX ESP EBP ESI EDI */
  uint32_t seg[6]; /* ES CS SS DS FS GS */
  uint32_t ldt;
};
_Static_assert(sizeof(struct tss32) == 100, "32-bit TSS layout");

static const int tss_seg_order[6] = {SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS};

/* A 16-bit TSS (SDM vol. 3A, 7.6, figure 7-10): no CR3, FS, GS or I/O map. */
struct tss16 {
  uint16_t link, sp0, ss0, sp1, ss1, sp2, ss2, ip, flags;
  uint16_t gpr[8]; /* AX CX DX BX SP BP SI DI */
  uint16_t seg[4]; /* ES CS SS DS */
  uint16_t ldt;
};
_Static_assert(sizeof(struct tss16) == 44, "16-bit TSS layout");

/* The new task's state in the 32-bit layout. From a 16-bit TSS: CR3 stays (16-bit tasks share
 * the page tables), FS and GS are null, and the words go into the low halves of EIP (zero
 * above), EFLAGS and the registers, whose upper halves stay as they were (the SDM says only
 * that they are "modified and not maintained"; QEMU keeps them, and so does bt386). */
static bool read_new_state(struct cpu *cpu, const struct segment *tss, struct tss32 *t) {
  if (!tss_16bit(tss))
    return mmu_read(cpu->mmu, cpu, tss->base, t, sizeof(*t), 0);
  struct tss16 w;
  if (!mmu_read(cpu->mmu, cpu, tss->base, &w, sizeof(w), 0))
    return false;
  memset(t, 0, sizeof(*t));
  t->link = w.link;
  t->cr3 = cpu->cr3;
  t->eip = w.ip;
  t->eflags = (cpu_get_eflags(cpu) & 0xffff0000u) | w.flags;
  for (int i = 0; i < 8; i++)
    t->gpr[i] = (cpu->regs[i] & 0xffff0000u) | w.gpr[i];
  for (int i = 0; i < 4; i++)
    t->seg[i] = w.seg[i];
  t->ldt = w.ldt;
  return true;
}

/* The old task's state into its TSS: EIP, EFLAGS, the registers and selectors (word-sized in
 * a 16-bit TSS, whose ES CS SS DS end at offset 42: FS and GS are not kept). */
static bool save_old_state(struct cpu *cpu, uint32_t ret_eip, uint32_t eflags) {
  if (tss_16bit(&cpu->tr)) {
    uint16_t save[14];
    save[0] = (uint16_t)ret_eip;
    save[1] = (uint16_t)eflags;
    for (int i = 0; i < 8; i++)
      save[2 + i] = (uint16_t)cpu->regs[i];
    for (int i = 0; i < 4; i++)
      save[10 + i] = cpu->seg[tss_seg_order[i]].sel;
    return mmu_write(cpu->mmu, cpu, cpu->tr.base + 14, save, sizeof(save), 0);
  }
  uint32_t save[16];
  save[0] = ret_eip;
  save[1] = eflags;
  for (int i = 0; i < 8; i++)
    save[2 + i] = cpu->regs[i];
  for (int i = 0; i < 6; i++)
    save[10 + i] = cpu->seg[tss_seg_order[i]].sel;
  return mmu_write(cpu->mmu, cpu, cpu->tr.base + 32, save, sizeof(save), 0);
}

/* Set or clear the busy bit of the TSS descriptor sel names in the GDT. */
static bool set_busy(struct cpu *cpu, uint16_t sel, bool busy) {
  uint32_t lin = cpu->gdtr.base + (sel & ~7u) + 5;
  uint8_t access;
  if (!mmu_read(cpu->mmu, cpu, lin, &access, 1, 0))
    return false;
  access = busy ? access | DESC_BUSY_BIT : access & ~DESC_BUSY_BIT;
  return mmu_write(cpu->mmu, cpu, lin, &access, 1, 0);
}

/* LDTR from the new task's TSS: null, or an LDT descriptor in the GDT (else #TS). */
static bool load_ldt(struct cpu *cpu, uint16_t sel) {
  if ((sel & 0xfffc) == 0) {
    cpu->ldtr = (struct segment){sel, 0, 0, 0};
    return true;
  }
  uint64_t raw;
  if ((sel & 4) || !descriptor_read(cpu, sel, &raw))
    return raise_error(cpu, EXC_TS, sel & 0xfffc);
  struct segment s;
  descriptor_unpack(raw, &s, sel);
  if ((s.attr & 0x1f) != 0x02)
    return raise_error(cpu, EXC_TS, sel & 0xfffc);
  if (!(s.attr & SEGA_P))
    return raise_error(cpu, EXC_NP, sel & 0xfffc);
  cpu->ldtr = s;
  return true;
}

/* The new task's segment registers, after CR3, LDTR and CPL (CS's RPL) are in place. A fault
 * here is taken in the new task, as on the CPU. */
static bool load_segments(struct cpu *cpu, const struct tss32 *t) {
  uint16_t cs = (uint16_t)t->seg[1];
  uint64_t raw;
  if ((cs & 0xfffc) == 0)
    return raise_error(cpu, EXC_TS, cs & 0xfffc);
  if (!descriptor_read(cpu, cs, &raw))
    return false;
  if (!load_code_segment(cpu, cs, raw, cs & 3)) {
    if (cpu->pending.vector == EXC_GP)
      cpu->pending.vector = EXC_TS;
    return false;
  }
  for (int i = 0; i < 6; i++) {
    int seg = tss_seg_order[i];
    if (seg == SEG_CS)
      continue;
    if (!cpu_load_segment(cpu, seg, (uint16_t)t->seg[i])) {
      if (cpu->pending.vector == EXC_GP)
        cpu->pending.vector = EXC_TS;
      return false;
    }
  }
  return true;
}

/* False if the switch did not happen (an exception is pending at the old task's instruction);
 * true if it did, even if loading the new task's segments then raised one. */
bool cpu_task_switch(struct cpu *cpu, uint16_t sel, enum task_switch reason, uint32_t ret_eip,
                     bool has_error, uint32_t error) {
  bool iret = reason == TASK_IRET, nested = reason == TASK_CALL || reason == TASK_INT;
  int bad_sel = reason == TASK_JMP || reason == TASK_CALL ? EXC_GP : EXC_TS;
  uint64_t raw;
  if (sel & 4)
    return raise_error(cpu, bad_sel, sel & 0xfffc);
  if (!descriptor_read(cpu, sel, &raw))
    return false;
  struct segment tss;
  descriptor_unpack(raw, &tss, sel);
  unsigned type = tss.attr & 0x1f;
  if ((type | TSS_32BIT) != (iret ? TSS_BUSY : TSS_AVAILABLE))
    return raise_error(cpu, iret ? EXC_TS : EXC_GP, sel & 0xfffc);
  if (!(tss.attr & SEGA_P))
    return raise_error(cpu, EXC_NP, sel & 0xfffc);
  if (tss.limit < tss_min_limit(&tss) || cpu->tr.limit < tss_min_limit(&cpu->tr))
    return raise_error(cpu, EXC_TS,
                       (tss.limit < tss_min_limit(&tss) ? sel : cpu->tr.sel) & 0xfffc);

  /* Everything that can fault before the switch commits: the new task's state, its PDPTEs
   * (PAE paging loads them when the switch changes CR3, SDM vol. 3, 4.4.1), the old task's
   * save area, the busy bits. */
  struct tss32 next;
  if (!read_new_state(cpu, &tss, &next))
    return false;
  uint64_t pdptes[4];
  bool new_pdptes = (cpu->cr0 & CR0_PG) && (cpu->cr4 & CR4_PAE) && next.cr3 != cpu->cr3;
  if (new_pdptes && !mmu_read_pdptes(cpu->mmu, next.cr3, pdptes))
    return raise_error(cpu, EXC_GP, 0);
  uint32_t eflags = cpu_get_eflags(cpu);
  if (iret)
    eflags &= ~FL_NT;
  if (!save_old_state(cpu, ret_eip, eflags))
    return false;
  if (!nested && !set_busy(cpu, cpu->tr.sel, false))
    return false;
  if (nested) {
    uint32_t link = cpu->tr.sel; /* a 16-bit TSS's link is a word */
    if (!mmu_write(cpu->mmu, cpu, tss.base, &link, tss_16bit(&tss) ? 2 : 4, 0))
      return false;
    next.eflags |= FL_NT;
  }
  if (!iret && !set_busy(cpu, sel, true))
    return false;

  /* The switch: the new task's TR, CR3, registers, LDT and segments. */
  tss.attr |= DESC_BUSY_BIT;
  cpu->tr = tss;
  cpu->cr0 |= CR0_TS;
  if ((cpu->cr0 & CR0_PG) && !tss_16bit(&tss)) { /* a 16-bit TSS has no CR3 */
    cpu->cr3 = next.cr3;
    if (new_pdptes)
      memcpy(cpu->pdpte, pdptes, sizeof(pdptes));
    mmu_cr3_written(cpu->mmu, cpu);
  }
  cpu_set_eflags(cpu, next.eflags | 0x2);
  cpu->eip = next.eip;
  for (int i = 0; i < 8; i++)
    cpu->regs[i] = next.gpr[i];
  cpu->cpl = (int)(next.seg[1] & 3);
  cpu->halted = false;
  if (cpu->dr[7] & 0x55) { /* the local breakpoints L0-L3 are the old task's (17.2.4) */
    cpu->dr[7] &= ~0x55u;
    cpu->breakpoints_changed = true;
  }
  /* From here on a fault belongs to the new task: it is raised (cpu->pending) at the new
   * task's EIP, and the switch itself has happened. */
  if (load_ldt(cpu, (uint16_t)next.ldt) && load_segments(cpu, &next) && has_error)
    cpu_push(cpu, error, tss_16bit(&tss) ? 2 : 4);
  return true;
}
