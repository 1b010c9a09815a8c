/* fault.c - host signals raised by translated code, turned into what the guest would see.
 *
 * A guest memory access that misses its view, a divide error, an x87/SSE exception or an
 * illegal instruction arrives here as a host signal, on the alternate signal stack (translated
 * code's RSP is the guest's ESP). The handler finds the block and guest instruction from the
 * host PC, undoes what the instruction's host sequence had changed (fixups), and then either
 * lets the access retry (the view was repaired) or sends translated code to bt_fault_exit with
 * the guest exception pending. One VM per process: the handler finds it through `active`. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "mmu/mmu.h"
#include "translator/tc.h"

static struct tcache *active;

static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};

static void die_in_monitor(int sig, siginfo_t *si, const uint8_t *pc) {
  char msg[200];
  int n = snprintf(msg, sizeof(msg),
                   "bt386: internal error: signal %d (%s) at host PC %p, address %p\n", sig,
                   strsignal(sig), (const void *)pc, si->si_addr);
  if (n > 0 && write(2, msg, (size_t)n) < 0)
    _exit(70);
  signal(sig, SIG_DFL); /* returning re-raises it: a core dump for the debugger */
}

static const struct insn_map *insn_at(const struct tb *tb, const uint8_t *pc) {
  uint32_t off = (uint32_t)(pc - tb->code);
  const struct insn_map *m = &tb->map[0];
  for (int i = 1; i < tb->n_insns && tb->map[i].host_off <= off; i++)
    m = &tb->map[i];
  return m;
}

static const int greg_of[8] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX,
                               REG_RSP, REG_RBP, REG_RSI, REG_RDI};

/* Put the guest registers back as they were before the instruction's host sequence. */
static void apply_fixup(const struct insn_map *m, greg_t *g) {
  switch (m->fixup) {
  case FIXUP_STRING_BIAS:
    g[REG_RSI] = (uint32_t)g[REG_RSI];
    g[REG_RDI] = (uint32_t)g[REG_RDI];
    break;
  case FIXUP_RESTORE_REG:
    g[greg_of[m->reg]] = g[REG_R9];
    break;
  default:
    break;
  }
}

static const struct insn_map *faulting_insn;

/* Leave translated code when the handler returns; the run loop takes it from there. Only now
 * are the guest registers put back as they were before the instruction: a retried access must
 * find them exactly as its host sequence left them. */
static void exit_translated_code(struct tcache *tc, greg_t *g) {
  apply_fixup(faulting_insn, g);
  g[REG_RIP] = (greg_t)(uintptr_t)bt_fault_exit;
  g[REG_R15] = (greg_t)(uintptr_t)tc->cpu;
}

static void on_memory_fault(struct tcache *tc, siginfo_t *si, greg_t *g, const uint8_t *pc) {
  struct cpu *cpu = tc->cpu;
  struct mmu *mmu = tc->mmu;
  uintptr_t addr = (uintptr_t)si->si_addr;
  uintptr_t kview = mmu_kernel_view_base(mmu);
  bool write = g[REG_ERR] & 2;
  if (g[REG_TRAPNO] != 14) {
    /* #GP from the host: an instruction translated code must not execute. */
    tc->stats.faults_other++;
    cpu_raise(cpu, EXC_GP, true, 0);
    exit_translated_code(tc, g);
    return;
  }
  uint32_t lin;
  bool user_view;
  if (addr >= (uintptr_t)tc->step_guard && addr < (uintptr_t)tc->polls) {
    /* An inline popf set TF: the next instruction is single-stepped (KEY_TF). */
    exit_translated_code(tc, g);
    return;
  }
  if (addr >= (uintptr_t)tc->polls && addr < (uintptr_t)tc->code) {
    /* An interrupt poll after a kick: let the run loop look at the devices. A kick's
     * mprotect can land after the run loop has cleared the flag and opened the polls again;
     * flag it once more, or every poll would fault and return here for ever (until some
     * later kick). */
    tc->stats.kicks++;
    __atomic_store_n(&tc->kicked, 1, __ATOMIC_SEQ_CST);
    exit_translated_code(tc, g);
    return;
  }
  if (addr >= kview && addr - kview < VIEW_SIZE) {
    lin = (uint32_t)(addr - kview);
    user_view = false;
  } else if (addr < VIEW_SIZE) {
    lin = (uint32_t)addr;
    user_view = true;
  } else if (addr >= kview - VIEW_SIZE && addr < kview + 2 * VIEW_SIZE) {
    /* A kernel string instruction ran past 4 GiB: redo it in C, where addresses wrap. */
    tc->stats.faults_guard++;
    tc->extra_key = KEY_SLOW_STRING;
    exit_translated_code(tc, g);
    return;
  } else {
    die_in_monitor(SIGSEGV, si, pc);
    return;
  }
  tc->stats.faults_page++;
  switch (mmu_handle_fault(mmu, cpu, lin, write, user_view, true)) {
  case MMU_FAULT_RETRY:
    return; /* re-execute the host instruction */
  case MMU_FAULT_CODE_WRITE:
    /* The write goes through in a one-instruction block, on the now writable page. */
    tc->stats.smc_faults++;
    tc->one_shot_next = true;
    exit_translated_code(tc, g);
    return;
  case MMU_FAULT_MMIO:
    /* Device registers: the run loop emulates this one instruction. */
    tc->stats.faults_mmio++;
    tc->mmio_next = true;
    exit_translated_code(tc, g);
    return;
  case MMU_FAULT_VOLATILE:
    /* The run loop learns the instruction: from now on it runs in C. */
    tc->volatile_next = true;
    tc->volatile_string = faulting_insn->fixup == FIXUP_STRING_BIAS;
    exit_translated_code(tc, g);
    return;
  case MMU_FAULT_GUEST:
  case MMU_FAULT_UNASSIGNED:
    exit_translated_code(tc, g);
    return;
  }
}

static void on_fault(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  greg_t *g = uc->uc_mcontext.gregs;
  uint8_t *pc = (uint8_t *)g[REG_RIP];
  struct tcache *tc = active;
  struct tb *tb = NULL;
  if (tc && pc >= tc->code && pc < tc->code_ptr)
    tb = tc_block_at(tc, pc);
  if (!tb) {
    die_in_monitor(sig, si, pc);
    return;
  }
  const struct insn_map *m = insn_at(tb, pc);
  faulting_insn = m;
  tc->cpu->eip = tb->eip + m->guest_off;

  switch (sig) {
  case SIGSEGV:
  case SIGBUS:
    on_memory_fault(tc, si, g, pc);
    return;
  case SIGFPE:
    /* The host's vector says which: #DE from div/idiv, #MF from x87, #XM from SSE. */
    if (g[REG_TRAPNO] == 0) {
      tc->stats.faults_div++;
      cpu_raise(tc->cpu, EXC_DE, false, 0);
    } else {
      tc->stats.faults_other++;
      cpu_raise(tc->cpu, g[REG_TRAPNO] == 19 ? EXC_XM : EXC_MF, false, 0);
    }
    break;
  case SIGILL:
    tc->stats.faults_other++;
    cpu_raise(tc->cpu, EXC_UD, false, 0);
    break;
  default:
    tc->stats.faults_other++;
    cpu_raise(tc->cpu, EXC_DB, false, 0);
    break;
  }
  exit_translated_code(tc, g);
}

int fault_handlers_install(struct tcache *tc) {
  if (active) {
    fprintf(stderr, "bt386: one virtual machine per process\n");
    return -1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
    if (sigaction(fault_signals[i], &sa, NULL) < 0) {
      perror("bt386: sigaction");
      return -1;
    }
  active = tc;
  return 0;
}

void fault_handlers_remove(void) {
  if (!active)
    return;
  for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
    signal(fault_signals[i], SIG_DFL);
  active = NULL;
}
