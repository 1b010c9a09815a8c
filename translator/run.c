/* run.c - the run loop: one switch over why translated code stopped.
 *
 *   EXIT_BRANCH   a block ended at a guest EIP with no chained successor: find or translate
 *                 the next block, chain the exit that led here (direct branches) or fill the
 *                 indirect-branch cache (indirect ones), go on.
 *   EXIT_CALLOUT  a callout left translated code: an exception, an interrupt, a mode change.
 *   EXIT_FAULT    the fault handler stopped translated code with an exception pending, or for
 *                 a one-instruction block (self-modifying code, string wrap-around).
 *
 * Pending exceptions are delivered here, between blocks, through cpu_deliver_pending(). */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "cpu/cpu.h"
#include "cpu/emulate.h"
#include "cpu/insn.h"
#include "mmu/mmu.h"
#include "translator/tc.h"

#define ALTSTACK_SIZE (256 * 1024)

static uint64_t *callout_counter;

/* Called by bt_stub_callout on the monitor stack, guest state saved in struct cpu. */
static bool intr_pending(struct cpu *cpu) {
  return cpu->env.intr_pending && cpu->env.intr_pending(cpu->env.opaque);
}

static struct tcache *running; /* the cache bt_run is running */

/* After a callout that changed mode or jumped (sysenter, sysexit, iret, a far jump...): go on
 * at the new EIP's translation straight from the callout when the dispatcher would only look
 * it up, the way an indirect branch does through its mode's indirect-branch cache. The
 * dispatcher stays in charge of anything else: an exception or interrupt to deliver (or to
 * arm the pending poll for), a kick, hlt, the refill after a page fault, an instruction to
 * emulate, the statistics' phase mark (the first ring-3 block). */
static bool go_on_directly(struct tcache *tc, struct cpu *cpu) {
  if (!tc->cfg.jcache || tc->stepping || cpu->breakpoints_changed || cpu->shutdown ||
      cpu->pending.valid || cpu->halted || cpu->shadow ||
      tc->one_shot_next || tc->mmio_next || tc->volatile_next || tc->extra_key ||
      (tc->n_phases_done == 0 && tc->cfg.phase_mark != TC_PHASE_NONE &&
       (tc->cfg.phase_mark != TC_PHASE_RING3 || cpu->cpl == 3)) ||
      __atomic_load_n(&tc->kicked, __ATOMIC_RELAXED) ||
      ((cpu_interrupts_enabled(cpu) || !cpu->irq_armed) && intr_pending(cpu)) ||
      (tc->mmu->refill.valid && tc->mmu->refill.eip == cpu->eip))
    return false;
  uint32_t key = tc_key(cpu);
  if (key & KEY_NO_JCACHE)
    return false; /* the caches hold flat translations only */
  const uint32_t *jc = tc->jcache[tc_jcache_slot(key)];
  uint32_t i = cpu->eip & (JC_SIZE - 1);
  if (jc[i] != cpu->eip)
    return false;
  memcpy(&cpu->resume, (const uint8_t *)jc + JC_SIZE * 4 + (size_t)i * 8, 8);
  cpu->jcache = (uint64_t)(uintptr_t)jc;
  tc->stats.callout_reentries++;
  return true;
}

int bt_callout(struct cpu *cpu, const struct insn_call *c);
int bt_callout(struct cpu *cpu, const struct insn_call *c) {
  (*callout_counter)++;
  cpu_flags_from_host(cpu);
  uint64_t code_writes = running->code_writes;
  if (c->fn(cpu, c) == CO_NEXT) {
    if (running->code_writes == code_writes) {
      cpu_flags_to_host(cpu);
      cpu->resume = (uint64_t)(uintptr_t)c->resume;
      return 0;
    }
    /* It wrote translated code (a string instruction in C, an emulated store), maybe what
     * follows in this very block: go on through a fresh lookup, as after any code write. */
    cpu->eip = c->next_eip;
  }
  if (go_on_directly(running, cpu)) {
    cpu_flags_to_host(cpu);
    return 0;
  }
  return EXIT_CALLOUT;
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* The exit whose jump field is at `field`, if its block is still there. */
static struct tb_exit *exit_at(struct tcache *tc, const uint8_t *field) {
  struct tb *tb = tc_block_at(tc, field);
  if (!tb || !tb->valid)
    return NULL;
  for (int i = 0; i < tb->n_exits; i++)
    if (tb->exit[i].jump == field)
      return &tb->exit[i];
  return NULL;
}

/* Emulate the instruction at EIP, which touched device memory; once done, its translation
 * becomes a callout to the emulator (tc_note_learned_insn) instead of a host fault each time. */
static void emulate_and_remember(struct tcache *tc, const struct mmio_ops *ops) {
  struct cpu *cpu = tc->cpu;
  uint32_t eip = cpu->eip, pa = 0;
  bool known = mmu_peek_phys(tc->mmu, cpu, cpu->seg[SEG_CS].base + eip, &pa);
  cpu_emulate_mmio(cpu, ops);
  if (known && !cpu->pending.valid && !cpu->shutdown && cpu->eip != eip && pa < tc->mmu->ram_size)
    tc_note_learned_insn(tc, pa, LEARNED_MMIO);
}

/* Single-stepping (EFLAGS.TF when the instruction began) and data breakpoints: once the
 * instruction is done, a #DB trap with DR6.BS (SDM vol. 3, 17.3.1.4) and the Bn of the data
 * breakpoints it hit (17.2.4) at the next instruction, taken before any interrupt. An
 * instruction that raised an exception or was not executed yet (a host fault left it to be
 * retried, emulated or run alone) is not done. */
static void raise_debug_trap(struct cpu *cpu, uint32_t dr6) {
  cpu->dr[6] |= dr6;
  cpu_raise(cpu, EXC_DB, false, 0);
}

/* A kernel instruction met a page that is remapped at every use (a kmap window slot, mmu.h:
 * remaps), where mapping it would cost an mmap and a host fault each time. A string
 * instruction (stopped part-way, its registers where it stopped) goes on in C and is
 * translated so from now on; one the device-memory emulator can do is done by it now and
 * from now on (both reach the page with a walk, never a mapping); anything else gets the page
 * mapped after all. */
static void on_volatile_page(struct tcache *tc) {
  struct cpu *cpu = tc->cpu;
  uint32_t pa;
  bool known = mmu_peek_phys(tc->mmu, cpu, cpu->seg[SEG_CS].base + cpu->eip, &pa) &&
               pa < tc->mmu->ram_size;
  uint32_t dr6 = tc->trap_after_mmio; /* a #DB due once it is done (debug_trap_after) */
  tc->trap_after_mmio = 0;
  struct decoded_insn d;
  struct mmio_ops ops = {cpu->env.opaque, cpu->env.mmio_read, cpu->env.mmio_write};
  struct pending_event none = cpu->pending;
  uint32_t cr2 = cpu->cr2;
  /* Run again (not emulated now), an instruction in an interrupt shadow (after sti, mov ss)
   * is still in it. */
  uint32_t shadow = cpu->eip == tc->entry_eip ? tc->entry_shadow : 0;
  if (tc->volatile_string) {
    cpu->shadow = shadow;
    if (known)
      tc_note_learned_insn(tc, pa, LEARNED_STRING);
    tc->extra_key |= KEY_SLOW_STRING; /* (in any case, as the learned set may be full) */
  } else if (known && ops.read && ops.write && cpu_decode_at_eip(cpu, &d.in, d.ops) > 0 &&
             cpu_can_emulate(&d)) {
    emulate_and_remember(tc, &ops);
    if (dr6 && !cpu->pending.valid && !cpu->shutdown)
      raise_debug_trap(cpu, dr6);
  } else {
    cpu->pending = none; /* (the decoding's fetch may have faulted: the instruction runs again) */
    cpu->cr2 = cr2;
    cpu->shadow = shadow;
    mmu_handle_fault(tc->mmu, cpu, tc->mmu->volatile_lin, tc->mmu->volatile_write, false, false);
  }
}

/* A single-stepped (KEY_TF) or watched (KEY_WATCH) block left translated code with its
 * instruction at eip; dr6: what is due if it is done. (A KEY_RF block needs nothing after it:
 * RF is clear by then, SDM vol. 3, 17.3.1.1, as translated code does not carry it; only an
 * IRET or a task switch that loaded it has it set.) */
static void debug_trap_after(struct tcache *tc, int why, uint32_t eip, uint32_t dr6) {
  struct cpu *cpu = tc->cpu;
  if (cpu->shutdown || cpu->pending.valid || cpu->halted)
    return;
  if (cpu->shadow == SHADOW_SS) { /* a load of SS: after the next instruction (6.8.3) */
    tc->deferred_dr6 |= dr6 & 0xfu; /* (its own single-step trap covers BS) */
    return;
  }
  if (why == EXIT_FAULT) {
    if (tc->mmio_next || tc->volatile_next) {
      tc->trap_after_mmio = dr6; /* done once the run loop has emulated it */
      return;
    }
    if (cpu->eip == eip || tc->one_shot_next || tc->extra_key)
      return;
  }
  raise_debug_trap(cpu, dr6);
}

/* A rep string instruction that would meet a data breakpoint part-way runs only up to that
 * repetition, with ECX cut down to it, so that the #DB comes right after it and the
 * instruction then resumes, as on the CPU (SDM vol. 3, 17.3.1.2). */
struct rep_clip {
  uint32_t orig, limit; /* ECX (its counting bits) before; repetitions let run (0: none cut) */
};

static struct rep_clip clip_rep(struct cpu *cpu) {
  uint32_t limit = cpu_data_breakpoint_rep_limit(cpu), mask = cpu_data_breakpoint_rep_count_mask();
  struct rep_clip c = {cpu->regs[R_ECX] & mask, 0};
  if (limit && limit < c.orig) {
    c.limit = limit;
    cpu->regs[R_ECX] = (cpu->regs[R_ECX] & ~mask) | limit;
  }
  return c;
}

/* Put back the repetitions left out; if the cut ones all ran (and a repe/repne did not end on
 * its condition), the instruction is not finished: back to it. */
static void unclip_rep(struct cpu *cpu, struct rep_clip c, uint32_t eip) {
  if (!c.limit)
    return;
  uint32_t mask = cpu_data_breakpoint_rep_count_mask();
  uint32_t left = cpu->regs[R_ECX] & mask;
  bool ran_out = left == 0 && cpu->eip != eip && !cpu->pending.valid &&
                 !cpu_data_breakpoint_rep_condition_ended(cpu);
  cpu->regs[R_ECX] = (cpu->regs[R_ECX] & ~mask) | ((left + c.orig - c.limit) & mask);
  if (ran_out)
    cpu->eip = eip;
}

/* A rep string instruction is judged by the repetitions it made, even if it stopped part-way:
 * for an interrupt (it resumes after the #DB), or for a #PF on a later repetition, which the
 * #DB comes before (the fault comes again when the instruction resumes; CR2 as it was). The
 * rest of dr6, if anything is left due. */
static uint32_t rep_string_hits(struct tcache *tc, uint32_t eip, uint32_t cr2, uint32_t dr6) {
  struct cpu *cpu = tc->cpu;
  uint32_t hits = cpu_data_breakpoint_rep_hits(cpu);
  if (!hits || cpu->shutdown)
    return dr6;
  if (cpu->pending.valid && cpu->pending.vector == EXC_PF) {
    cpu->pending.valid = false;
    cpu->cr2 = cr2;
  }
  if (cpu->pending.valid)
    return dr6;
  raise_debug_trap(cpu, hits | (cpu->eip != eip ? dr6 : dr6 & ~DR6_BS));
  return 0;
}

static int setup_altstack(stack_t *old) {
  stack_t ss = {.ss_sp = malloc(ALTSTACK_SIZE), .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
  if (!ss.ss_sp)
    return -1;
  return sigaltstack(&ss, old);
}

static void restore_altstack(const stack_t *old) {
  stack_t cur;
  if (sigaltstack(old, &cur) == 0)
    free(cur.ss_sp);
}

/* What happened since the last look: clear the kick, open the polls again, and let the
 * machine fire its timers and take input. */
static void service(struct tcache *tc) {
  struct cpu *cpu = tc->cpu;
  if (__atomic_exchange_n(&tc->kicked, 0, __ATOMIC_SEQ_CST)) {
    mprotect(tc->polls, 2 * PAGE_SIZE, PROT_READ);
    tc->pending_armed = false;
    cpu->irq_armed = 0;
  }
  if (cpu->env.service)
    cpu->env.service(cpu->env.opaque);
}

/* Take an interrupt now if one waits and may be taken; while IF is clear, arm the pending
 * poll so that translated code that sets IF comes back here. */
static bool take_interrupt(struct tcache *tc) {
  struct cpu *cpu = tc->cpu;
  bool waiting = intr_pending(cpu);
  if (waiting && cpu_interrupts_enabled(cpu)) {
    int vector = cpu->env.intr_ack(cpu->env.opaque);
    if (vector >= 0) {
      tc->stats.interrupts++;
      cpu_deliver_interrupt(cpu, vector);
      return true;
    }
  }
  bool arm = waiting && !(cpu->eflags & FL_IF);
  if (arm != tc->pending_armed) {
    mprotect(tc->polls + PAGE_SIZE, PAGE_SIZE, arm ? PROT_NONE : PROT_READ);
    tc->pending_armed = arm;
    cpu->irq_armed = arm;
  }
  return false;
}

/* hlt: sleep until a kick or the machine's next timer. */
static void wait_for_event(struct tcache *tc) {
  struct cpu *cpu = tc->cpu;
  /* Set before the deadline is read: a timer thread that fires at it from now on leaves the
   * wake-up to ppoll's timeout (bt_kick_at_deadline). Only this thread moves timers. */
  __atomic_store_n(&tc->halt_waiting, 1, __ATOMIC_SEQ_CST);
  uint64_t deadline = cpu->env.next_deadline ? cpu->env.next_deadline(cpu->env.opaque) : UINT64_MAX;
  struct timespec ts, *timeout = NULL;
  if (deadline != UINT64_MAX) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    uint64_t wait = deadline > now_ns ? deadline - now_ns : 0;
    ts = (struct timespec){(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
    timeout = &ts;
  }
  struct pollfd p = {tc->kick_fd, POLLIN, 0};
  int ready = ppoll(&p, 1, timeout, NULL);
  __atomic_store_n(&tc->halt_waiting, 0, __ATOMIC_SEQ_CST);
  if (ready > 0) {
    uint64_t n;
    if (read(tc->kick_fd, &n, sizeof(n)) < 0) {
      /* already drained */
    }
  }
}

/* A halted CPU wakes for an interrupt it may take; with IF clear nothing can wake it. */
static void halted(struct tcache *tc) {
  struct cpu *cpu = tc->cpu;
  if (!(cpu->eflags & FL_IF)) {
    cpu_stop(cpu, SHUTDOWN_HALTED,
             "guest halted at EIP 0x%08x with interrupts disabled: nothing can wake it",
             cpu->eip);
    return;
  }
  if (!cpu->env.intr_pending) {
    cpu_stop(cpu, SHUTDOWN_HALTED,
             "guest halted at EIP 0x%08x and this machine has no interrupt sources", cpu->eip);
    return;
  }
  tc->stats.halts++;
  wait_for_event(tc);
}

int bt_run(struct tcache *tc) {
  struct cpu *cpu = tc->cpu;
  stack_t old_stack;
  if (setup_altstack(&old_stack) < 0) {
    cpu_stop(cpu, SHUTDOWN_ERROR, "cannot set up the signal stack");
    return cpu->shutdown;
  }
  static uint32_t empty_jcache[JC_SIZE * 3];
  for (uint32_t i = 0; i < JC_SIZE; i++)
    empty_jcache[i] = i ^ 1;
  callout_counter = &tc->stats.callouts;
  running = tc;
  cpu->stub_callout = (uint64_t)(uintptr_t)bt_stub_callout;
  cpu->stub_exit = (uint64_t)(uintptr_t)bt_stub_exit;
  /* Kernel-mode translations address the kernel view as gs:[addr32]; set here, and again
   * only when a mov cr3 makes another kernel view the active one. */
  if (tc_set_kernel_view(tc, mmu_kernel_view_base(tc->mmu)) != 0) {
    cpu_stop(cpu, SHUTDOWN_ERROR, "cannot point the GS base at the kernel view");
    restore_altstack(&old_stack);
    return cpu->shutdown;
  }
  cpu->host_mxcsr = _mm_getcsr();

  double t0 = now_seconds(), translate0 = tc->stats.translate_seconds;
  tc_stats_start(tc);
  struct tb_exit *came_from = NULL; /* the direct exit that led to this lookup */
  uint64_t came_gen = 0;
  bool indirect = false;
  while (!cpu->shutdown) {
    service(tc);
    if (cpu->breakpoints_changed) { /* translations check the breakpoints they were made with */
      cpu->breakpoints_changed = false;
      tc_flush(tc);
    }
    if (tc->volatile_next) {
      tc->volatile_next = false;
      on_volatile_page(tc);
      continue;
    }
    if (tc->mmio_next) {
      /* The instruction that touched device memory completes before any interrupt: taking
       * one first would emulate the handler's first instruction instead. */
      tc->mmio_next = false;
      struct mmio_ops ops = {cpu->env.opaque, cpu->env.mmio_read, cpu->env.mmio_write};
      if (ops.read && ops.write)
        emulate_and_remember(tc, &ops);
      if (tc->trap_after_mmio && !cpu->pending.valid && !cpu->shutdown)
        raise_debug_trap(cpu, tc->trap_after_mmio);
      tc->trap_after_mmio = 0;
      if (!ops.read || !ops.write)
        cpu_stop(cpu, SHUTDOWN_ERROR, "device memory access without devices at EIP 0x%08x",
                 cpu->eip);
      continue;
    }
    if (cpu->pending.valid) {
      cpu_deliver_pending(cpu);
      came_from = NULL;
      indirect = false;
      continue;
    }
    if (take_interrupt(tc)) {
      came_from = NULL;
      indirect = false;
      continue;
    }
    if (cpu->halted) {
      halted(tc);
      continue;
    }
    mmu_refill(tc->mmu, cpu);
    if (cpu->shadow)
      tc->extra_key |= KEY_NOPOLL; /* the next instruction runs before any interrupt */
    tc->entry_shadow = cpu->shadow;
    tc->entry_eip = cpu->eip;
    cpu->shadow = 0;
    struct tb *tb = tc_lookup_or_translate(tc, cpu->eip);
    if (!tb) {
      came_from = NULL;
      indirect = false;
      continue;
    }
    /* The jcache holds flat translations only: no use for other keys. */
    bool flat = !(tb->key & KEY_NO_JCACHE);
    if (came_from && came_gen == tc->generation && came_from->from->key == tb->key &&
        came_from->from->cs_base == tb->cs_base && came_from->from->cs_limit == tb->cs_limit)
      tc_link(tc, came_from, tb, tc->lookup_global);
    /* Indirect branches, and direct ones that could not be chained, find their target in
     * the indirect-branch cache next time. */
    bool unchained = came_from && !came_from->linked;
    if ((indirect || unchained) && tb->cached && flat && tc->cfg.jcache) {
      tc_jcache_fill(tc, tb, tc->lookup_global);
      tc->stats.jcache_fills++;
    }
    cpu->jcache =
        (uint64_t)(uintptr_t)(flat ? tc->jcache[tc_jcache_slot(tb->key)] : empty_jcache);
    cpu->resume = (uint64_t)(uintptr_t)tb->code;
    cpu_flags_to_host(cpu);
    if (tc->n_phases_done == 0)
      tc_stats_dispatch(tc, tb);
    tc->stats.entries++;

    /* What a #DB after this block's instruction would report: single-step, data breakpoints
     * its operands will touch. */
    uint32_t dr6_due = (tb->key & KEY_TF ? DR6_BS : 0) | tc->deferred_dr6 |
                       (tb->key & KEY_WATCH ? cpu_data_breakpoint_hits(cpu) : 0);
    tc->deferred_dr6 = 0;
    uint32_t stepped_eip = tb->eip, cr2_before = cpu->cr2;
    struct rep_clip clip = tb->key & KEY_WATCH ? clip_rep(cpu) : (struct rep_clip){0, 0};
    tc->stepping = tb->key & (KEY_TF | KEY_RF | KEY_WATCH);

    int why = bt_enter(cpu);

    came_from = NULL;
    indirect = false;
    switch (why) {
    case EXIT_BRANCH:
      cpu_flags_from_host(cpu);
      cpu->eip = (uint32_t)cpu->exit_r9;
      if (cpu->exit_r10) {
        tc->stats.exits_branch++;
        came_from = exit_at(tc, (const uint8_t *)(uintptr_t)cpu->exit_r10);
        came_gen = tc->generation;
      } else {
        tc->stats.exits_indirect_miss++;
        indirect = true;
      }
      break;
    case EXIT_CALLOUT:
      tc->stats.exits_callout++;
      indirect = true; /* its target goes in the cache too, for go_on_directly */
      break;
    case EXIT_FAULT:
      tc->stats.exits_fault++;
      cpu_flags_from_host(cpu);
      break;
    default:
      cpu_stop(cpu, SHUTDOWN_ERROR, "internal error: unknown exit %d from translated code", why);
      break;
    }
    if (tb->key & KEY_WATCH) {
      unclip_rep(cpu, clip, stepped_eip);
      dr6_due = rep_string_hits(tc, stepped_eip, cr2_before, dr6_due);
    }
    if (dr6_due)
      debug_trap_after(tc, why, stepped_eip, dr6_due);
    tc->stepping = false;
  }
  tc->stats.run_seconds +=
      now_seconds() - t0 - (tc->stats.translate_seconds - translate0);
  tc_stats_finish(tc);
  restore_altstack(&old_stack);
  return cpu->shutdown;
}
