/* segment.c - protected-mode segmentation: descriptor fetch, segment register loads with the
 * SDM's checks (vol. 3, 5.5-5.8), far jumps, and the guest stack as the CPU pushes on it. */
#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/segment.h"
#include "mmu/mmu.h"

void descriptor_unpack(uint64_t raw, struct segment *s, uint16_t sel) {
  uint32_t lo = (uint32_t)raw, hi = (uint32_t)(raw >> 32);
  s->sel = sel;
  s->base = (lo >> 16) | (hi & 0xff) << 16 | (hi & 0xff000000u);
  uint32_t limit = (lo & 0xffff) | (hi & 0x000f0000u);
  s->attr = (uint16_t)((hi >> 8) & 0xf0ff); /* access byte, then AVL, L, D/B, G */
  s->limit = (s->attr & SEGA_G) ? (limit << 12) | 0xfff : limit;
}

/* Read the 8-byte descriptor sel names from the GDT or LDT. Raises #GP(sel) past the limit. */
bool descriptor_read(struct cpu *cpu, uint16_t sel, uint64_t *raw) {
  uint32_t index = sel & ~7u;
  uint32_t base, limit;
  if (sel & 4) {
    if (!(cpu->ldtr.attr & SEGA_P))
      return raise_error(cpu, EXC_GP, sel & 0xfffc);
    base = cpu->ldtr.base;
    limit = cpu->ldtr.limit;
  } else {
    base = cpu->gdtr.base;
    limit = cpu->gdtr.limit;
  }
  if (index + 7 > limit)
    return raise_error(cpu, EXC_GP, sel & 0xfffc);
  return mmu_read(cpu->mmu, cpu, base + index, raw, 8, 0);
}

/* The CPU sets the accessed bit of a descriptor it loads (SDM vol. 3, 3.4.5.1). */
static bool descriptor_set_accessed(struct cpu *cpu, uint16_t sel, uint64_t raw) {
  if (raw & (1ull << 40))
    return true;
  uint32_t base = (sel & 4) ? cpu->ldtr.base : cpu->gdtr.base;
  uint8_t access = (uint8_t)(raw >> 40) | 1;
  return mmu_write(cpu->mmu, cpu, base + (sel & ~7u) + 5, &access, 1, 0);
}

bool cpu_segs_flat(const struct cpu *cpu) {
  return cpu->seg[SEG_DS].base == 0 && cpu->seg[SEG_ES].base == 0 && cpu->seg[SEG_SS].base == 0;
}

static void segment_loaded(struct cpu *cpu, int seg) {
  if (seg == SEG_FS)
    cpu->fs_base = cpu->seg[SEG_FS].base;
  else if (seg == SEG_GS)
    cpu->gs_base = cpu->seg[SEG_GS].base;
}

/* Real mode (CR0.PE clear, SDM vol. 3, 20.1): a segment register load sets the selector and
 * a base of selector * 16, and nothing else; the limit and attributes stay what they were
 * (so a 16-bit code segment loaded before PE was cleared stays 16-bit, and "unreal mode"
 * keeps its 4 GiB limits), as on a 386 and in QEMU. */
void cpu_load_segment_real(struct cpu *cpu, int seg, uint16_t sel) {
  cpu->seg[seg].sel = sel;
  cpu->seg[seg].base = (uint32_t)sel << 4;
  segment_loaded(cpu, seg);
}

bool cpu_load_segment(struct cpu *cpu, int seg, uint16_t sel) {
  if (!(cpu->cr0 & CR0_PE)) {
    cpu_load_segment_real(cpu, seg, sel);
    return true;
  }
  /* --virt=trap-and-emulate: the guest kernel really runs at ring 1, where a selector with
   * RPL 1 (what mov r,ss shows there) names its own privilege: check it as RPL 0. A data
   * segment register keeps the selector as loaded. */
  uint16_t loaded = sel;
  if (cpu->deprivileged && cpu->cpl == 0 && (sel & 3) == 1)
    sel &= 0xfffc;
  int rpl = sel & 3;
  if ((sel & 0xfffc) == 0) {
    if (seg == SEG_SS)
      return raise_error(cpu, EXC_GP, 0);
    /* A null selector loads an unusable segment; using it raises #GP. */
    cpu->seg[seg] = (struct segment){sel, 0, 0, 0};
    segment_loaded(cpu, seg);
    return true;
  }
  uint64_t raw;
  if (!descriptor_read(cpu, sel, &raw))
    return false;
  struct segment s;
  descriptor_unpack(raw, &s, sel);
  int dpl = SEGA_DPL(s.attr);
  bool is_code = (s.attr & SEGA_S) && (s.attr & 0x8);
  bool is_data = (s.attr & SEGA_S) && !(s.attr & 0x8);
  uint32_t err = sel & 0xfffc;
  if (seg == SEG_SS) {
    bool writable = is_data && (s.attr & 0x2);
    if (rpl != cpu->cpl || dpl != cpu->cpl || !writable)
      return raise_error(cpu, EXC_GP, err);
    if (!(s.attr & SEGA_P))
      return raise_error(cpu, EXC_SS, err);
  } else {
    bool readable = is_data || (is_code && (s.attr & 0x2));
    bool conforming_code = is_code && (s.attr & 0x4);
    int need = rpl > cpu->cpl ? rpl : cpu->cpl;
    if (!readable || (!conforming_code && dpl < need))
      return raise_error(cpu, EXC_GP, err);
    if (!(s.attr & SEGA_P))
      return raise_error(cpu, EXC_NP, err);
  }
  if (!descriptor_set_accessed(cpu, sel, raw))
    return false;
  s.attr |= 1; /* accessed */
  if (seg != SEG_SS)
    s.sel = loaded;
  cpu->seg[seg] = s;
  segment_loaded(cpu, seg);
  return true;
}

/* Check a code-segment descriptor for a far transfer to it at the same privilege
 * (SDM vol. 3, 5.8.1) and load it into CS. */
bool load_code_segment(struct cpu *cpu, uint16_t sel, uint64_t raw, int new_cpl) {
  struct segment s;
  descriptor_unpack(raw, &s, sel);
  uint32_t err = sel & 0xfffc;
  bool is_code = (s.attr & SEGA_S) && (s.attr & 0x8);
  if (!is_code)
    return raise_error(cpu, EXC_GP, err);
  if (!(s.attr & SEGA_P))
    return raise_error(cpu, EXC_NP, err);
  if (!descriptor_set_accessed(cpu, sel, raw))
    return false;
  s.attr |= 1;
  s.sel = (uint16_t)((sel & ~3u) | (unsigned)new_cpl);
  cpu->seg[SEG_CS] = s;
  cpu->cpl = new_cpl;
  return true;
}

/* A far JMP to the code segment sel names (raw: its descriptor) at the same privilege. */
static bool jump_to_code(struct cpu *cpu, uint16_t sel, uint64_t raw, uint32_t offset) {
  struct segment s;
  descriptor_unpack(raw, &s, sel);
  int dpl = SEGA_DPL(s.attr), rpl = sel & 3;
  bool is_code = (s.attr & SEGA_S) && (s.attr & 0x8);
  if (!is_code)
    return raise_error(cpu, EXC_GP, sel & 0xfffc);
  bool conforming = s.attr & 0x4;
  if (conforming ? dpl > cpu->cpl : (rpl > cpu->cpl || dpl != cpu->cpl))
    return raise_error(cpu, EXC_GP, sel & 0xfffc);
  if (offset > s.limit)
    return raise_error(cpu, EXC_GP, 0);
  if (!load_code_segment(cpu, sel, raw, cpu->cpl))
    return false;
  cpu->eip = offset;
  return true;
}

/* The descriptor a far transfer's selector names: #GP(0) for a null selector. */
static bool far_descriptor(struct cpu *cpu, uint16_t sel, uint64_t *raw) {
  if ((sel & 0xfffc) == 0)
    return raise_error(cpu, EXC_GP, 0);
  return descriptor_read(cpu, sel, raw);
}

bool cpu_far_jump(struct cpu *cpu, uint16_t sel, uint32_t offset) {
  uint64_t raw;
  return far_descriptor(cpu, sel, &raw) && jump_to_code(cpu, sel, raw, offset);
}

#define CALL_GATE_32 0xc
#define CALL_GATE_16 0x4

/* JMP or CALL through a 32-bit call gate (SDM vol. 3A, 5.8.3-5.8.5; vol. 2, CALL and JMP). A
 * CALL to more privileged non-conforming code switches to the stack the TSS holds for it and
 * pushes the caller's SS and ESP, the gate's count of parameter dwords copied from the
 * caller's stack, and the return CS:EIP; any other pushes CS:EIP where it is. Nothing changes
 * if a check or a push faults. */
/* Stack slot i of `w` bytes (2 or 4) in frame. */
static void put_slot(uint8_t *frame, uint32_t i, uint32_t value, uint32_t w) {
  memcpy(frame + i * w, &value, w);
}

/* A far call or jump through a call gate: a 32-bit one (w 4) or a 16-bit one (w 2, whose
 * offset is 16 bits and whose frame and parameters are words). */
static bool call_gate(struct cpu *cpu, uint16_t gate_sel, uint64_t gate, bool call,
                      uint16_t ret_cs, uint32_t ret_eip, uint32_t w) {
  int gate_dpl = (int)(gate >> 45) & 3;
  uint16_t sel = (uint16_t)(gate >> 16);
  uint32_t offset = (uint32_t)(gate & 0xffff) | (uint32_t)(gate >> 32 & 0xffff0000u);
  if (w == 2)
    offset &= 0xffff;
  uint32_t params = (uint32_t)(gate >> 32) & 0x1f;
  if (gate_dpl < cpu->cpl || gate_dpl < (gate_sel & 3))
    return raise_error(cpu, EXC_GP, gate_sel & 0xfffc);
  if (!(gate >> 47 & 1))
    return raise_error(cpu, EXC_NP, gate_sel & 0xfffc);
  uint64_t raw;
  if (!far_descriptor(cpu, sel, &raw))
    return false;
  struct segment cs;
  descriptor_unpack(raw, &cs, sel);
  int dpl = SEGA_DPL(cs.attr);
  bool is_code = (cs.attr & SEGA_S) && (cs.attr & 0x8), conforming = cs.attr & 0x4;
  if (!is_code || dpl > cpu->cpl || (!call && !conforming && dpl != cpu->cpl))
    return raise_error(cpu, EXC_GP, sel & 0xfffc);
  if (!(cs.attr & SEGA_P))
    return raise_error(cpu, EXC_NP, sel & 0xfffc);
  if (offset > cs.limit)
    return raise_error(cpu, EXC_GP, 0);
  int new_cpl = conforming ? cpu->cpl : dpl;
  struct segment saved_ss = cpu->seg[SEG_SS];
  uint32_t old_esp = cpu->regs[R_ESP];
  int saved_cpl = cpu->cpl;
  if (call && new_cpl < cpu->cpl) {
    uint8_t frame[(2 + 31 + 2) * 4];
    put_slot(frame, 0, ret_eip, w);
    put_slot(frame, 1, ret_cs, w);
    if (params && !mmu_read(cpu->mmu, cpu, saved_ss.base + old_esp, frame + 2 * w, params * w,
                            cpu->cpl == 3 ? MMU_USER : 0))
      return false;
    put_slot(frame, 2 + params, old_esp, w);
    put_slot(frame, 3 + params, saved_ss.sel, w);
    uint32_t esp;
    if (!enter_tss_stack(cpu, new_cpl, &esp))
      return false;
    uint32_t bytes = (4 + params) * w;
    if (!mmu_write(cpu->mmu, cpu, cpu->seg[SEG_SS].base + esp - bytes, frame, bytes,
                   new_cpl == 3 ? MMU_USER : 0))
      goto undo;
    cpu->regs[R_ESP] = esp - bytes;
  } else if (call) {
    uint8_t frame[8];
    put_slot(frame, 0, ret_eip, w);
    put_slot(frame, 1, ret_cs, w);
    if (!mmu_write(cpu->mmu, cpu, saved_ss.base + old_esp - 2 * w, frame, 2 * w,
                   cpu->cpl == 3 ? MMU_USER : 0))
      return false;
    cpu->regs[R_ESP] = old_esp - 2 * w;
  }
  if (!load_code_segment(cpu, sel, raw, new_cpl))
    goto undo;
  cpu->eip = offset;
  return true;
undo:
  cpu->seg[SEG_SS] = saved_ss;
  cpu->regs[R_ESP] = old_esp;
  cpu->cpl = saved_cpl;
  return false;
}

/* Far JMP or CALL (call: push ret_cs:ret_eip) to a code segment, through a call gate, or to
 * a task (a TSS or a task gate: ret_eip is what the old task resumes at). */
bool cpu_far_transfer(struct cpu *cpu, uint16_t sel, uint32_t offset, int call_width,
                      uint16_t ret_cs, uint32_t ret_eip) {
  bool call = call_width != 0;
  if (!(cpu->cr0 & CR0_PE)) { /* real mode: no descriptor, CS's base is sel * 16 */
    if (call && !cpu_push(cpu, ret_cs, (unsigned)call_width))
      return false;
    if (call && !cpu_push(cpu, ret_eip, (unsigned)call_width)) {
      cpu_stack_move(cpu, call_width);
      return false;
    }
    cpu_load_segment_real(cpu, SEG_CS, sel);
    cpu->eip = offset;
    return true;
  }
  uint64_t raw;
  if (!far_descriptor(cpu, sel, &raw))
    return false;
  struct segment s;
  descriptor_unpack(raw, &s, sel);
  if (!(s.attr & SEGA_S)) {
    unsigned type = s.attr & 0xf;
    int dpl = SEGA_DPL(s.attr);
    if (type == CALL_GATE_32 || type == CALL_GATE_16)
      return call_gate(cpu, sel, raw, call, ret_cs, ret_eip, type == CALL_GATE_32 ? 4 : 2);
    if (type == 0x5 || type == 0x9 || type == 0xb || type == 0x1 || type == 0x3) {
      /* A task gate or a TSS: a task switch, if CPL and RPL may use it. */
      if (dpl < cpu->cpl || dpl < (sel & 3))
        return raise_error(cpu, EXC_GP, sel & 0xfffc);
      uint16_t tss = sel;
      if (type == 0x5) {
        if (!(s.attr & SEGA_P))
          return raise_error(cpu, EXC_NP, sel & 0xfffc);
        tss = (uint16_t)(raw >> 16);
      }
      return cpu_task_switch(cpu, tss, call ? TASK_CALL : TASK_JMP, ret_eip, false, 0);
    }
    cpu_raise(cpu, EXC_GP, true, sel & 0xfffc);
    return false;
  }
  uint32_t frame_bytes = 2 * (uint32_t)call_width;
  if (call) {
    uint32_t frame32[2] = {ret_eip, ret_cs};
    uint16_t frame16[2] = {(uint16_t)ret_eip, ret_cs};
    /* The return frame is written first: a stack fault leaves CS:EIP as they were. */
    if (!mmu_write(cpu->mmu, cpu, cpu->seg[SEG_SS].base + cpu->regs[R_ESP] - frame_bytes,
                   call_width == 2 ? (void *)frame16 : (void *)frame32, frame_bytes,
                   cpu->cpl == 3 ? MMU_USER : 0))
      return false;
  }
  if (!jump_to_code(cpu, sel, raw, offset))
    return false;
  if (call)
    cpu->regs[R_ESP] -= frame_bytes;
  return true;
}

/* The stack pointer is ESP, or SP with a 16-bit stack segment (SS.B = 0), whose moves leave
 * ESP's upper half alone (SDM vol. 1, 6.2.3). */
uint32_t cpu_stack_addr(const struct cpu *cpu, int32_t offset) {
  uint32_t sp = cpu->regs[R_ESP] + (uint32_t)offset;
  if (!(cpu->seg[SEG_SS].attr & SEGA_DB))
    sp &= 0xffff;
  return cpu->seg[SEG_SS].base + sp;
}

void cpu_stack_move(struct cpu *cpu, int32_t by) {
  uint32_t esp = cpu->regs[R_ESP] + (uint32_t)by;
  if (!(cpu->seg[SEG_SS].attr & SEGA_DB))
    esp = (cpu->regs[R_ESP] & 0xffff0000u) | (esp & 0xffff);
  cpu->regs[R_ESP] = esp;
}

bool cpu_push(struct cpu *cpu, uint32_t value, unsigned bytes) {
  if (!mmu_write(cpu->mmu, cpu, cpu_stack_addr(cpu, -(int32_t)bytes), &value, bytes,
                 cpu->cpl == 3 ? MMU_USER : 0))
    return false;
  cpu_stack_move(cpu, -(int32_t)bytes);
  return true;
}

bool cpu_push32(struct cpu *cpu, uint32_t value) { return cpu_push(cpu, value, 4); }

bool cpu_pop32(struct cpu *cpu, uint32_t *value) {
  if (!mmu_read(cpu->mmu, cpu, cpu_stack_addr(cpu, 0), value, 4, cpu->cpl == 3 ? MMU_USER : 0))
    return false;
  cpu_stack_move(cpu, 4);
  return true;
}
