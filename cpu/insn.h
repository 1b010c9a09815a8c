/* insn.h - the instructions translated code hands to the CPU model: callout descriptors.
 *
 * The translator turns each sensitive instruction (and each one 64-bit mode lacks, like the
 * BCD group) into a jump to the callout stub with a pointer to one of these. The stub saves the
 * guest state into struct cpu exactly as it was before the instruction, so a handler that
 * raises an exception just says so; a handler that completes the instruction returns
 * CO_NEXT, and translated code goes on at `resume`. */
#ifndef BT386_INSN_H
#define BT386_INSN_H

#include <stdint.h>

#include "cpu/cpu.h"

struct insn_call;
typedef int (*insn_fn)(struct cpu *cpu, const struct insn_call *c);

enum {
  CO_NEXT = 0, /* instruction done: go on with the next one in translated code */
  CO_EXIT = 1, /* leave translated code; cpu->eip and cpu->pending say where to go */
};

#define INSN_OPERAND_NONE 0xff

struct decoded_insn;

struct insn_call {
  insn_fn fn;
  uint8_t *resume;   /* host code that follows the call site */
  uint32_t eip;      /* this instruction */
  uint32_t next_eip; /* the one after it */
  uint16_t mnemonic; /* ZydisMnemonic, for messages */
  uint8_t width;     /* operand size in bytes */
  uint8_t reg;       /* register operand: GPR or segment number, or INSN_OPERAND_NONE */
  uint8_t reg2;      /* second register operand */
  uint8_t mem;       /* 1: a memory operand; its linear address is cpu->exit_r8 */
  uint8_t rep;       /* 0, 0xf3 (rep/repe) or 0xf2 (repne) */
  uint8_t seg;       /* segment of the memory operand or string source */
  uint8_t addr16;    /* 16-bit address size (string instructions) */
  uint32_t imm;
  uint32_t imm2;
  const struct decoded_insn *decoded; /* the decoding, for callouts that emulate it whole */
};

/* Sensitive and missing-in-64-bit-mode instructions (cpu/insn.c). */
int insn_in(struct cpu *cpu, const struct insn_call *c);
int insn_out(struct cpu *cpu, const struct insn_call *c);
int insn_ins(struct cpu *cpu, const struct insn_call *c);
int insn_outs(struct cpu *cpu, const struct insn_call *c);
int insn_cpuid(struct cpu *cpu, const struct insn_call *c);
int insn_rdtsc(struct cpu *cpu, const struct insn_call *c);
int insn_hlt(struct cpu *cpu, const struct insn_call *c);
int insn_int(struct cpu *cpu, const struct insn_call *c);
int insn_into(struct cpu *cpu, const struct insn_call *c);
int insn_iret(struct cpu *cpu, const struct insn_call *c);
int insn_raise_ud(struct cpu *cpu, const struct insn_call *c);
int insn_raise_nm(struct cpu *cpu, const struct insn_call *c);
int insn_raise_de(struct cpu *cpu, const struct insn_call *c); /* div by a zero register */
int insn_raise_gp0(struct cpu *cpu, const struct insn_call *c); /* #GP(0) */
/* #DB for the instruction breakpoints imm (DR6 B0-B3) at this instruction (a fault). */
int insn_raise_breakpoint(struct cpu *cpu, const struct insn_call *c);
int insn_loop_past_limit(struct cpu *cpu, const struct insn_call *c);
int insn_check_stack16(struct cpu *cpu, const struct insn_call *c);
int insn_leave_stack16(struct cpu *cpu, const struct insn_call *c);
/* An instruction that touched device memory before (cpu/emulate.c): done in C, then exit. */
int insn_emulate_mmio(struct cpu *cpu, const struct insn_call *c);
int insn_lgdt_lidt(struct cpu *cpu, const struct insn_call *c);
int insn_sgdt_sidt(struct cpu *cpu, const struct insn_call *c);
int insn_mov_to_seg(struct cpu *cpu, const struct insn_call *c);
int insn_mov_from_seg(struct cpu *cpu, const struct insn_call *c);
int insn_push_seg(struct cpu *cpu, const struct insn_call *c);
int insn_pop_seg(struct cpu *cpu, const struct insn_call *c);
int insn_load_far_pointer(struct cpu *cpu, const struct insn_call *c);
int insn_jmp_far(struct cpu *cpu, const struct insn_call *c);
int insn_call_far(struct cpu *cpu, const struct insn_call *c);
int insn_ret_far(struct cpu *cpu, const struct insn_call *c);
int insn_mov_to_cr(struct cpu *cpu, const struct insn_call *c);
int insn_mov_from_cr(struct cpu *cpu, const struct insn_call *c);
int insn_popf(struct cpu *cpu, const struct insn_call *c);
int insn_cli_sti(struct cpu *cpu, const struct insn_call *c);
int insn_mov_dr(struct cpu *cpu, const struct insn_call *c);
int insn_smsw(struct cpu *cpu, const struct insn_call *c);
int insn_lmsw(struct cpu *cpu, const struct insn_call *c);
int insn_invlpg(struct cpu *cpu, const struct insn_call *c);
int insn_sldt_str(struct cpu *cpu, const struct insn_call *c);
int insn_lldt_ltr(struct cpu *cpu, const struct insn_call *c);
int insn_check_descriptor(struct cpu *cpu, const struct insn_call *c);
int insn_sysenter(struct cpu *cpu, const struct insn_call *c);
int insn_sysexit(struct cpu *cpu, const struct insn_call *c);
int insn_rdmsr(struct cpu *cpu, const struct insn_call *c);
int insn_wrmsr(struct cpu *cpu, const struct insn_call *c);
int insn_clts(struct cpu *cpu, const struct insn_call *c);
int insn_nop_privileged(struct cpu *cpu, const struct insn_call *c);
int insn_bcd(struct cpu *cpu, const struct insn_call *c);
int insn_salc(struct cpu *cpu, const struct insn_call *c);
int insn_bound(struct cpu *cpu, const struct insn_call *c);
int insn_arpl(struct cpu *cpu, const struct insn_call *c);
int insn_enter_nested(struct cpu *cpu, const struct insn_call *c);
int insn_string(struct cpu *cpu, const struct insn_call *c);
int insn_unsupported(struct cpu *cpu, const struct insn_call *c);

/* --virt=trap-and-emulate (cpu/deprivileged.c): the guest kernel as if it ran at ring 1 under a
 * trap-and-emulate monitor. insn_deprivileged maps a handler above to what the instruction
 * does there (itself for those that trap and are emulated). */
#define DEPRIVILEGED_RING 1
insn_fn insn_deprivileged(insn_fn fn);
int deprivileged_ring(const struct cpu *cpu); /* the ring guest code really runs at */
int insn_pushf_deprivileged(struct cpu *cpu, const struct insn_call *c);
int insn_iret_deprivileged(struct cpu *cpu, const struct insn_call *c);
int insn_call_far_deprivileged(struct cpu *cpu, const struct insn_call *c);
int insn_ret_far_deprivileged(struct cpu *cpu, const struct insn_call *c);
int insn_check_descriptor_deprivileged(struct cpu *cpu, const struct insn_call *c);

#endif
