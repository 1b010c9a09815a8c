/* abi.h - the contract between translated code, the assembly stubs and C.
 *
 * Translated code runs with the guest's general registers in the host's:
 *
 *   guest EAX ECX EDX EBX ESP EBP ESI EDI  ->  host RAX RCX RDX RBX RSP RBP RSI RDI
 *   guest arithmetic flags and DF          ->  host RFLAGS
 *   guest XMM0-7, MXCSR, x87/MMX           ->  host XMM0-7, MXCSR, x87/MMX
 *
 * and the translator owns the rest:
 *
 *   r15  the vCPU (struct cpu), so every field below is [r15 + disp8/32]
 *   r12  base of the view the block's memory operands use (kernel view), a multiple of 4 GiB
 *   r13  guest FS base, r14 guest GS base (zero-extended)
 *   r8-r11  scratch, dead between guest instructions
 *
 * Guest ESP lives in host RSP so that every guest memory operand keeps its encoding (only a 0x67
 * address-size and a 0x65 GS prefix are added, never a REX). The price: translated code must not
 * push, pop or call on the host stack; stubs switch to the monitor stack first.
 *
 * This header is included by C and by the assembly stubs; cpu/cpu.h checks the offsets. */
#ifndef BT386_ABI_H
#define BT386_ABI_H

#define CPU_REGS 0x00      /* uint32_t regs[8], in x86 encoding order */
#define CPU_ESP 0x10
#define CPU_EIP 0x20       /* guest EIP while outside translated code */
#define CPU_EFLAGS 0x24    /* full guest EFLAGS while outside translated code */
#define CPU_VIF 0x28       /* guest IF as 0 or 0x200, live inside translated code */
#define CPU_VSYS 0x2c      /* guest system flags other than IF (IOPL, NT, AC, ID, TF...) */
#define CPU_STUB_CALLOUT 0x30 /* address of bt_stub_callout */
#define CPU_STUB_EXIT 0x38    /* address of bt_stub_exit */
#define CPU_JCACHE 0x40       /* indirect-branch cache of the current mode */
#define CPU_HOST_RSP 0x48     /* monitor stack pointer inside bt_enter */
#define CPU_VIEW_BASE 0x50    /* r12 */
#define CPU_FS_BASE 0x58      /* r13 */
#define CPU_GS_BASE 0x60      /* r14 */
#define CPU_RFLAGS 0x68       /* raw host RFLAGS at the last exit; loaded on entry */
#define CPU_RESUME 0x70       /* host address bt_enter and callouts continue at */
#define CPU_EXIT_R8 0x78      /* r8 at the last exit: effective address or branch target */
#define CPU_EXIT_R9 0x80      /* r9 at the last exit: next guest EIP */
#define CPU_EXIT_R10 0x88     /* r10 at the last exit: callout descriptor or patch site */
#define CPU_MXCSR 0x90        /* guest MXCSR while outside translated code */
#define CPU_HOST_MXCSR 0x94   /* MXCSR the monitor's C code runs with */
#define CPU_FLAGS_STACK 0xa8  /* top of a 16-byte stack for pushfq/popfq in translated code */
#define CPU_IRQ_ARMED 0xa8     /* nonzero: an interrupt waits while IF is clear (pending poll armed) */
#define CPU_SHADOW 0xac       /* nonzero: an interrupt shadow (sti, mov ss) is in effect */
#define CPU_XMM 0xb0          /* guest XMM0-7 while outside translated code */
#define CPU_ABI_END 0x130

/* Exit codes bt_enter returns; the run loop switches on them. */
#define EXIT_BRANCH 1   /* a block ended at guest EIP r9; r10 is the jump to chain, or 0 */
#define EXIT_CALLOUT 2  /* a callout asked to leave translated code (exception, mode change...) */
#define EXIT_FAULT 3    /* the fault handler stopped translated code; cpu->pending says why */

/* Interrupt polls: two host pages just below the translation cache, read with a RIP-relative
 * load. The deliver page is read at every block entry, the pending page after an instruction
 * that may set IF; a kick makes them inaccessible, so the next poll faults out of translated
 * code. */
#define POLL_DELIVER_OFFSET (-2 * 4096)
#define POLL_PENDING_OFFSET (-1 * 4096)

/* The single-step guard: two pages below the polls, the first readable, the second never. An
 * inline popf reads the first, or the second when it sets TF (its TF bit shifted to 0x1000):
 * the fault leaves translated code so that the next instruction is single-stepped. */
#define STEP_GUARD_OFFSET (-4 * 4096)

/* The indirect-branch cache: JC_SIZE guest EIPs, then JC_SIZE host addresses. */
#define JC_BITS 14
#define JC_SIZE (1 << JC_BITS)

#endif
