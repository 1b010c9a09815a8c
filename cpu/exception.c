/* exception.c - exception and interrupt delivery through the guest IDT (SDM vol. 3, 6.12),
 * with the double-fault rules of table 6-5 and a triple fault that stops the VM. */
#include <stdio.h>

#include "cpu/cpu.h"
#include "cpu/segment.h"
#include "mmu/mmu.h"

static const char *const vector_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
    "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack fault", "#GP general protection", "#PF page fault", "reserved",
    "#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD exception",
};

static const char *vector_name(int v) {
  return v < 32 && vector_names[v] ? vector_names[v] : "interrupt";
}

void cpu_raise(struct cpu *cpu, int vector, bool has_error, uint32_t error) {
  cpu->pending = (struct pending_event){true, (uint8_t)vector, has_error, error, false, 0};
}

static bool is_contributory(int v) { return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP); }

/* Does a second exception while delivering the first make a double fault? */
static bool makes_double_fault(int first, int second) {
  if (is_contributory(first) && is_contributory(second))
    return true;
  return first == EXC_PF && (second == EXC_PF || is_contributory(second));
}

struct gate {
  uint32_t offset;
  uint16_t sel;
  uint8_t type;
  int dpl;
  bool present;
};

#define TASK_GATE 0x05

static bool read_gate(struct cpu *cpu, int vector, bool ext, struct gate *g) {
  uint32_t err = (uint32_t)vector * 8 + 2 + (ext ? 1 : 0);
  if ((uint32_t)vector * 8 + 7 > cpu->idtr.limit) {
    cpu_raise(cpu, EXC_GP, true, err);
    return false;
  }
  uint64_t raw;
  if (!mmu_read(cpu->mmu, cpu, cpu->idtr.base + (uint32_t)vector * 8, &raw, 8, 0))
    return false;
  g->offset = (uint32_t)(raw & 0xffff) | (uint32_t)(raw >> 32 & 0xffff0000u);
  g->sel = (uint16_t)(raw >> 16);
  g->type = (uint8_t)(raw >> 40) & 0x1f;
  g->dpl = (int)(raw >> 45) & 3;
  g->present = raw >> 47 & 1;
  /* 32-bit interrupt and trap gates (0x0e, 0x0f), their 16-bit forms (0x06, 0x07: a 16-bit
   * offset and frame), task gates. */
  if (g->type != 0x0e && g->type != 0x0f && g->type != 0x06 && g->type != 0x07 &&
      g->type != TASK_GATE) {
    cpu_raise(cpu, EXC_GP, true, err);
    return false;
  }
  if (g->type == 0x06 || g->type == 0x07)
    g->offset &= 0xffff;
  if (!g->present) {
    cpu_raise(cpu, EXC_NP, true, err);
    return false;
  }
  return true;
}

/* The stack from the 32-bit TSS for a transfer to privilege `dpl`. */
static bool tss_stack(struct cpu *cpu, int dpl, uint16_t *ss, uint32_t *esp) {
  uint32_t off = 4 + (uint32_t)dpl * 8;
  if (off + 5 > cpu->tr.limit) {
    cpu_raise(cpu, EXC_TS, true, cpu->tr.sel & 0xfffc);
    return false;
  }
  uint32_t v[2];
  if (!mmu_read(cpu->mmu, cpu, cpu->tr.base + off, v, 8, 0))
    return false;
  *esp = v[0];
  *ss = (uint16_t)v[1];
  return true;
}

bool enter_tss_stack(struct cpu *cpu, int new_cpl, uint32_t *esp) {
  uint16_t ss;
  if (!tss_stack(cpu, new_cpl, &ss, esp))
    return false;
  int saved_cpl = cpu->cpl;
  cpu->cpl = new_cpl;
  if (!cpu_load_segment(cpu, SEG_SS, ss)) {
    cpu->cpl = saved_cpl;
    if (cpu->pending.vector == EXC_GP)
      cpu->pending.vector = EXC_TS;
    return false;
  }
  return true;
}

/* Deliver one event; false if delivering it raised another (now in cpu->pending). */
/* Real mode (SDM vol. 3, 20.1.4): the vector's CS:IP from the table at IDTR.base (4 bytes
 * each), FLAGS, CS and IP pushed as words, no error code; IF, TF and AC cleared. */
static bool deliver_real(struct cpu *cpu, const struct pending_event *ev) {
  uint32_t at = (uint32_t)ev->vector * 4;
  if (at + 3 > cpu->idtr.limit) {
    cpu_raise(cpu, EXC_GP, true, (uint32_t)ev->vector * 8 + 2);
    return false;
  }
  uint16_t ivt[2];
  if (!mmu_read(cpu->mmu, cpu, cpu->idtr.base + at, ivt, 4, 0))
    return false;
  uint32_t old_esp = cpu->regs[R_ESP];
  uint32_t ret_eip = ev->software ? ev->next_eip : cpu->eip;
  if (!cpu_push(cpu, cpu->eflags, 2) || !cpu_push(cpu, cpu->seg[SEG_CS].sel, 2) ||
      !cpu_push(cpu, ret_eip, 2)) {
    cpu->regs[R_ESP] = old_esp;
    return false;
  }
  cpu_load_segment_real(cpu, SEG_CS, ivt[1]);
  cpu->eip = ivt[0];
  cpu->eflags &= ~(FL_IF | FL_TF | FL_AC | FL_RF);
  cpu->halted = false;
  return true;
}

static bool deliver(struct cpu *cpu, const struct pending_event *ev) {
  if (!(cpu->cr0 & CR0_PE))
    return deliver_real(cpu, ev);
  bool ext = !ev->software;
  struct gate g;
  if (!read_gate(cpu, ev->vector, ext, &g))
    return false;
  if (ev->software && g.dpl < cpu->cpl) {
    cpu_raise(cpu, EXC_GP, true, (uint32_t)ev->vector * 8 + 2);
    return false;
  }
  if (g.type == TASK_GATE) /* the handler is a task of its own (Linux's for #DF) */
    return cpu_task_switch(cpu, g.sel, TASK_INT, ev->software ? ev->next_eip : cpu->eip,
                           ev->has_error, ev->error);
  uint64_t raw;
  if ((g.sel & 0xfffc) == 0) {
    cpu_raise(cpu, EXC_GP, true, ext ? 1 : 0);
    return false;
  }
  if (!descriptor_read(cpu, g.sel, &raw))
    return false;
  struct segment cs;
  descriptor_unpack(raw, &cs, g.sel);
  int dpl = SEGA_DPL(cs.attr);
  bool is_code = (cs.attr & SEGA_S) && (cs.attr & 0x8);
  if (!is_code || dpl > cpu->cpl) {
    cpu_raise(cpu, EXC_GP, true, (g.sel & 0xfffc) | (ext ? 1u : 0u));
    return false;
  }
  if ((cs.attr & SEGA_P) && g.offset > cs.limit) { /* the handler lies past its segment */
    cpu_raise(cpu, EXC_GP, true, 0);
    return false;
  }
  int new_cpl = (cs.attr & 0x4) ? cpu->cpl : dpl; /* conforming code keeps CPL */
  unsigned w = (g.type & 0x8) ? 4 : 2; /* the frame's slots: a 16-bit gate pushes words */
  uint32_t old_eflags = cpu->eflags;
  uint16_t old_cs = cpu->seg[SEG_CS].sel, old_ss = cpu->seg[SEG_SS].sel;
  uint32_t old_esp = cpu->regs[R_ESP];
  struct segment saved_ss = cpu->seg[SEG_SS];
  int saved_cpl = cpu->cpl;

  if (new_cpl < cpu->cpl) {
    uint32_t esp;
    if (!enter_tss_stack(cpu, new_cpl, &esp)) {
      if (cpu->pending.vector == EXC_SS)
        cpu->pending.vector = EXC_TS;
      return false;
    }
    cpu->regs[R_ESP] = esp;
    if (!cpu_push(cpu, old_ss, w) || !cpu_push(cpu, old_esp, w))
      goto undo_stack;
  }
  uint32_t ret_eip = ev->software ? ev->next_eip : cpu->eip;
  if (!cpu_push(cpu, old_eflags, w) || !cpu_push(cpu, old_cs, w) || !cpu_push(cpu, ret_eip, w) ||
      (ev->has_error && !cpu_push(cpu, ev->error, w)))
    goto undo_stack;
  if (!load_code_segment(cpu, g.sel, raw, new_cpl))
    goto undo_stack;
  cpu->eip = g.offset;
  uint32_t clear = FL_TF | FL_NT | FL_RF | FL_VM | ((g.type & 7) == 6 ? FL_IF : 0);
  cpu->eflags &= ~clear;
  cpu->halted = false;
  return true;

undo_stack:
  cpu->seg[SEG_SS] = saved_ss;
  cpu->regs[R_ESP] = old_esp;
  cpu->cpl = saved_cpl;
  return false;
}

void cpu_deliver_pending(struct cpu *cpu) {
  struct pending_event ev = cpu->pending;
  cpu->pending.valid = false;
  if (!ev.valid)
    return;
  if (cpu->stop_on_exception) {
    cpu->last_event = ev;
    cpu_stop(cpu, SHUTDOWN_EXCEPTION, "exception %d (%s) at EIP 0x%08x", ev.vector,
             vector_name(ev.vector), cpu->eip);
    return;
  }
  for (;;) {
    if (deliver(cpu, &ev))
      return;
    if (cpu->shutdown)
      return;
    struct pending_event next = cpu->pending;
    cpu->pending.valid = false;
    if (ev.vector == EXC_DF) {
      cpu_stop(cpu, SHUTDOWN_TRIPLE_FAULT,
               "triple fault: %s while delivering a double fault (EIP 0x%08x, IDT base 0x%08x "
               "limit 0x%x)",
               vector_name(next.vector), cpu->eip, cpu->idtr.base, cpu->idtr.limit);
      return;
    }
    if (makes_double_fault(ev.vector, next.vector))
      ev = (struct pending_event){true, EXC_DF, true, 0, false, 0};
    else
      ev = next;
  }
}

void cpu_deliver_interrupt(struct cpu *cpu, int vector) {
  cpu->pending = (struct pending_event){.valid = true, .vector = (uint8_t)vector};
  bool stop = cpu->stop_on_exception;
  cpu->stop_on_exception = false; /* interrupts are not the exceptions tests stop at */
  cpu_deliver_pending(cpu);
  cpu->stop_on_exception = stop;
}

bool cpu_interrupts_enabled(const struct cpu *cpu) {
  return (cpu->eflags & FL_IF) && !cpu->shadow;
}
