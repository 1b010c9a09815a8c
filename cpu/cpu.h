/* cpu.h - the architectural state of the emulated i686 CPU.
 *
 * struct cpu begins with the fields translated code and the stubs use (translator/abi.h); the
 * rest is the system state that only callouts touch: control registers, descriptor tables,
 * segment descriptor caches, MSRs. Device models never see it; they reach the CPU through the
 * few callbacks in struct cpu_env (port I/O and the machine's memory). */
#ifndef BT386_CPU_H
#define BT386_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "translator/abi.h"

enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_COUNT };

/* EFLAGS bits (Intel SDM vol. 1, 3.4.3). */
#define FL_CF 0x0001u
#define FL_PF 0x0004u
#define FL_AF 0x0010u
#define FL_ZF 0x0040u
#define FL_SF 0x0080u
#define FL_TF 0x0100u
#define FL_IF 0x0200u
#define FL_DF 0x0400u
#define FL_OF 0x0800u
#define FL_IOPL 0x3000u
#define FL_NT 0x4000u
#define FL_RF 0x10000u
#define FL_VM 0x20000u
#define FL_AC 0x40000u
#define FL_VIF 0x80000u
#define FL_VIP 0x100000u
#define FL_ID 0x200000u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
/* The bits that live in host RFLAGS while translated code runs. */
#define FL_HOST (FL_ARITH | FL_DF)

/* Debug registers (SDM vol. 3, 17.2): DR6's status bits, and the bits DR6 and DR7 always
 * read as 1 on a P6 (QEMU's DR6_FIXED_1 and DR7_FIXED_1). */
#define SHADOW_SS 2u
#define DR6_BS 0x4000u       /* single step */
#define DR7_RW_SHIFT 16      /* then R/Wn (00: instruction execution) and LENn, 4 bits each */
#define DR6_FIXED_1 0xffff0ff0u
#define DR7_FIXED_1 0x00000400u

/* Exception vectors (SDM vol. 3, table 6-1). */
enum {
  EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
  EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
  EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/* A segment register: the visible selector and the hidden descriptor cache. */
struct segment {
  uint16_t sel;
  uint32_t base;
  uint32_t limit; /* in bytes, granularity applied */
  uint16_t attr;  /* descriptor bits 40-47 (type, S, DPL, P) and 52-55 (AVL, L, D/B, G) << 8 */
};

#define SEGA_TYPE 0x000f
#define SEGA_S 0x0010
#define SEGA_DPL(a) (((a) >> 5) & 3)
#define SEGA_P 0x0080
#define SEGA_DB 0x4000
#define SEGA_G 0x8000

struct dtable {
  uint32_t base;
  uint16_t limit;
};

/* An exception or interrupt waiting to be delivered through the IDT. */
struct pending_event {
  bool valid;
  uint8_t vector;
  bool has_error;
  uint32_t error;
  bool software; /* int n / int3 / into: the pushed EIP is the next instruction */
  uint32_t next_eip; /* software: that next instruction (cpu->eip stays at the INT, where a
                        fault while delivering it is reported) */
};

struct cpu;
struct mmu;

/* What the CPU needs from the machine around it. */
struct cpu_env {
  void *opaque;
  uint32_t (*io_read)(void *opaque, uint16_t port, int size);
  void (*io_write)(void *opaque, uint16_t port, int size, uint32_t value);
  /* The machine's part of the run loop, called between blocks on the vCPU thread; all are
   * optional. */
  void (*service)(void *opaque);           /* fire due timers, take input */
  bool (*intr_pending)(void *opaque);      /* is the INTR line asserted? */
  int (*intr_ack)(void *opaque);           /* interrupt acknowledge: the vector */
  uint64_t (*next_deadline)(void *opaque); /* clock_ns() of the next timer, or UINT64_MAX */
  /* Device memory by guest physical address (false: nothing there). */
  bool (*mmio_read)(void *opaque, uint32_t pa, int size, uint64_t *value);
  bool (*mmio_write)(void *opaque, uint32_t pa, int size, uint64_t value);
  /* Model-specific registers a device owns (IA32_APIC_BASE): false raises #GP. */
  bool (*msr_read)(void *opaque, uint32_t msr, uint64_t *value);
  bool (*msr_write)(void *opaque, uint32_t msr, uint64_t value);
};

struct cpu {
  /* ---- translator/abi.h: offsets checked in cpu.c ---- */
  uint32_t regs[8];
  uint32_t eip;
  uint32_t eflags;
  uint32_t vif;
  uint32_t vsys;
  uint64_t stub_callout;
  uint64_t stub_exit;
  uint64_t jcache;
  uint64_t host_rsp;
  uint64_t view_base;
  uint64_t fs_base;
  uint64_t gs_base;
  uint64_t rflags;
  uint64_t resume;
  uint64_t exit_r8;
  uint64_t exit_r9;
  uint64_t exit_r10;
  uint32_t mxcsr;
  uint32_t host_mxcsr;
  uint64_t flags_stack[2];
  uint32_t irq_armed; /* the run loop's: an interrupt waits for IF (the pending poll is armed) */
  uint32_t shadow; /* 1: sti's interrupt shadow; SHADOW_SS: a load of SS's, which holds off
                     debug exceptions too (SDM vol. 3, 6.8.3) */
  uint8_t xmm[8][16];
  /* ---- C-only state ---- */
  /* Where translated code runs the host's fxsave before it copies the 32-bit part of the
   * image to the guest (translate_fxsave). */
  uint8_t fxsave_image[512] __attribute__((aligned(16)));
  struct segment seg[SEG_COUNT];
  struct dtable gdtr, idtr;
  struct segment ldtr, tr;
  uint32_t cr0, cr2, cr3, cr4;
  /* PAE paging: the four page-directory-pointer entries loaded with CR3 (SDM vol. 3, 4.4.1);
   * walks use these, not the table in memory, until CR3 is loaded again. */
  uint64_t pdpte[4];
  uint32_t dr[8]; /* DR4/DR5 unused: they alias DR6/DR7 */
  int cpl;
  uint64_t tsc_offset;
  /* The TSC's rate, for CPUID 15H/16H: the host's, measured from reset (tsc_ref_*) to the
   * first time the guest asks. crystal_hz is the core crystal clock CPUID 15H reports (the
   * local APIC timer's input); 0: leaves 15H and 16H are not enumerated. */
  uint32_t crystal_hz;
  uint64_t tsc_hz, tsc_ref_tsc, tsc_ref_ns;
  uint64_t bios_sign_id; /* IA32_BIOS_SIGN_ID (MSR 0x8B): the microcode revision after CPUID 1 */
  uint64_t misc_enable;  /* IA32_MISC_ENABLE (MSR 0x1A0) */
  uint64_t efer;         /* IA32_EFER (MSR 0xC0000080): NXE is all this CPU has */
  uint64_t pat;          /* IA32_PAT (MSR 0x277): kept, not used (guest RAM is all WB) */
  uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
  struct pending_event pending;
  bool halted;
  bool breakpoints_changed; /* DR0-DR3/DR7 changed which instructions break: translate again */
  bool apic;            /* a local APIC exists: CPUID 1 EDX.APIC */
  /* --virt=trap-and-emulate: the guest kernel as if deprivileged to ring 1 under a classic
   * trap-and-emulate monitor (cpu/deprivileged.c); false: the binary translator's VMM. */
  bool deprivileged;
  /* Tests: stop the VM at the first exception instead of delivering it. */
  bool stop_on_exception;
  struct pending_event last_event;
  int shutdown;         /* nonzero: stop the VM, with this reason */
  char shutdown_msg[160];
  struct cpu_env env;
  struct mmu *mmu;
};

/* IA32_ARCH_CAPABILITIES (MSR 10AH, enumerated by CPUID.7.0:EDX[29]): RDCL_NO, "not
 * susceptible to rogue data cache load" (Meltdown). True of this CPU by construction: guest
 * user code runs with the user view only, in which no supervisor page is mapped at all, so
 * there is no kernel mapping for a speculative load to read past a permission check (nor, for
 * L1TF, a guest PTE that reaches host memory). It spares a PAE kernel page-table isolation:
 * two CR3 loads and a TLB flush per system call and interrupt, each a view switch here. */
/* IA32_PAT (SDM vol. 3, 12.12): eight memory types; with PAT, bit 7 of a 4 KiB PTE and bit 12
 * of a large page's entry select one instead of being reserved. */
#define MSR_PAT 0x277u
#define PAT_RESET 0x0007040600070406ull

#define MSR_EFER 0xc0000080u
#define EFER_NXE 0x800ull /* execute-disable (XD) in PAE entries */

#define MSR_ARCH_CAPABILITIES 0x10au
#define ARCH_CAP_RDCL_NO 0x1ull
/* MDS_NO: "not susceptible to microarchitectural data sampling". That is the host CPU's
 * property, guest code running on it: set when the host's kernel says its CPU is not affected
 * (/sys/devices/system/cpu/vulnerabilities/mds), so that a guest does not clear CPU buffers
 * with VERW at every return to user mode for nothing (about 12 % of a getppid() round trip). */
#define ARCH_CAP_MDS_NO 0x20ull
uint64_t cpu_arch_capabilities(void);

#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x00000010u
#define CR4_PAE 0x00000020u
#define CR4_PGE 0x00000080u
#define CR4_OSFXSR 0x00000200u

enum {
  SHUTDOWN_NONE,
  SHUTDOWN_EXIT,          /* a device ended the VM (isa-debug-exit, power off) */
  SHUTDOWN_TRIPLE_FAULT,
  SHUTDOWN_HALTED,        /* hlt with nothing that could wake the CPU */
  SHUTDOWN_ERROR,         /* something bt386 cannot do; cpu->shutdown_msg says what */
  SHUTDOWN_EXCEPTION,     /* stop_on_exception: cpu->last_event is the exception */
  SHUTDOWN_RESET,         /* the guest asked for a reset (reboot) */
};

void cpu_reset_protected_flat(struct cpu *cpu);

/* EFLAGS as the guest sees it, assembled from the host-resident and virtual parts. */
uint32_t cpu_get_eflags(const struct cpu *cpu);
void cpu_set_eflags(struct cpu *cpu, uint32_t value);
/* Move EFLAGS between cpu->eflags and the pieces translated code uses (rflags, vif, vsys). */
void cpu_flags_from_host(struct cpu *cpu);
void cpu_flags_to_host(struct cpu *cpu);

/* Queue an exception for delivery; faults report the current instruction's EIP. */
void cpu_raise(struct cpu *cpu, int vector, bool has_error, uint32_t error);
/* Deliver an external interrupt (from the interrupt controller) through the IDT. */
void cpu_deliver_interrupt(struct cpu *cpu, int vector);
/* May an external interrupt be taken now (IF set, no interrupt shadow)? */
bool cpu_interrupts_enabled(const struct cpu *cpu);
/* Deliver cpu->pending through the IDT (or escalate to #DF / triple fault). */
void cpu_deliver_pending(struct cpu *cpu);
/* Stop the VM with a message (printed by the run loop). */
void cpu_stop(struct cpu *cpu, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Load a segment register in protected mode with the SDM's checks; false if it raised. */
bool cpu_load_segment(struct cpu *cpu, int seg, uint16_t sel);
/* Far jump to sel:offset (code segment or call gate at the same privilege). */
bool cpu_far_jump(struct cpu *cpu, uint16_t sel, uint32_t offset);
/* A hardware task switch to the 32-bit TSS sel names (task.c; SDM vol. 3A, 7.3), saving
 * ret_eip as the old task's EIP and pushing error on the new task's stack if has_error. */
enum task_switch { TASK_JMP, TASK_CALL, TASK_IRET, TASK_INT };
bool cpu_task_switch(struct cpu *cpu, uint16_t sel, enum task_switch reason, uint32_t ret_eip,
                     bool has_error, uint32_t error);
/* Far JMP (call_width 0), or CALL pushing ret_cs:ret_eip as two 2- or 4-byte slots
 * (call_width, the operand size), to a code segment, through a 32-bit call gate, or to a task
 * (a TSS descriptor or a task gate). */
bool cpu_far_transfer(struct cpu *cpu, uint16_t sel, uint32_t offset, int call_width,
                      uint16_t ret_cs, uint32_t ret_eip);
/* DS, ES and SS all have base 0: memory operands need no segment base added. */
bool cpu_segs_flat(const struct cpu *cpu);
/* Push/pop on the guest stack (SS:ESP); false if that raised an exception. */
bool cpu_push32(struct cpu *cpu, uint32_t value);
void cpu_load_segment_real(struct cpu *cpu, int seg, uint16_t sel); /* CR0.PE clear */
bool cpu_push(struct cpu *cpu, uint32_t value, unsigned bytes); /* 2 or 4 bytes */
/* The linear address of the stack top + offset, and moving the stack pointer: SS:ESP, or SS:SP
 * with a 16-bit stack segment (SS.B = 0). */
uint32_t cpu_stack_addr(const struct cpu *cpu, int32_t offset);
void cpu_stack_move(struct cpu *cpu, int32_t by);
bool cpu_pop32(struct cpu *cpu, uint32_t *value);
/* CPUID 1 EDX: the feature flags this CPU reports (the MP table repeats them). */
uint32_t cpu_features_edx(const struct cpu *cpu);
/* CPUID leaf/subleaf into regs[]. */
/* IA32_MISC_ENABLE bits (SDM vol. 4, table 2-3): fast strings on, branch trace and PEBS
 * unavailable, as firmware leaves them; "limit CPUID maxval" makes CPUID 0 report 2. */
#define MISC_ENABLE_FAST_STRING (1ull << 0)
#define MISC_ENABLE_BTS_UNAVAILABLE (1ull << 11)
#define MISC_ENABLE_PEBS_UNAVAILABLE (1ull << 12)
#define MISC_ENABLE_LIMIT_CPUID (1ull << 22)
#define MISC_ENABLE_RESET                                                                     \
  (MISC_ENABLE_FAST_STRING | MISC_ENABLE_BTS_UNAVAILABLE | MISC_ENABLE_PEBS_UNAVAILABLE)
#define MISC_ENABLE_WRITABLE (MISC_ENABLE_FAST_STRING | MISC_ENABLE_LIMIT_CPUID)

/* The instruction breakpoints (DR7 R/Wn = 00, Ln or Gn set) at linear address lin, as DR6's
 * B0-B3 bits; 0 if none. */
uint32_t cpu_breakpoints_at(const struct cpu *cpu, uint32_t lin);
/* ... enabled at all (DR7 and DR0-DR3 say where). */
bool cpu_has_breakpoints(const struct cpu *cpu);
/* Data breakpoints (cpu/watch.c): is one armed; which (bit n: DRn) the instruction at CS:EIP
 * will hit if it completes, by its memory operands and the registers it starts with. */
bool cpu_has_data_breakpoints(const struct cpu *cpu);
uint32_t cpu_data_breakpoint_hits(struct cpu *cpu);
/* After it ran (or was interrupted): the hits of a rep string instruction's repetitions. */
uint32_t cpu_data_breakpoint_rep_hits(struct cpu *cpu);
/* Before a rep string instruction runs: how many repetitions to make so that it stops right
 * after the first that meets a data breakpoint (0: none does). */
uint32_t cpu_data_breakpoint_rep_limit(struct cpu *cpu);
bool cpu_data_breakpoint_rep_condition_ended(const struct cpu *cpu);
uint32_t cpu_data_breakpoint_rep_count_mask(void);
void cpu_cpuid(struct cpu *cpu);
uint64_t cpu_rdtsc(struct cpu *cpu);

#endif
