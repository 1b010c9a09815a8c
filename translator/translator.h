/* translator.h - the binary translator's public interface.
 *
 * bt386 runs 32-bit guest code by translating each guest basic block into 64-bit host code
 * that is, instruction for instruction, the guest's own ("IDENT" translation): guest registers
 * stay in host registers, guest flags in host RFLAGS, and a memory operand gains only an
 * address-size prefix (addresses wrap at 4 GiB) and, for kernel code, a GS prefix that points
 * it at the kernel view of guest memory. What 64-bit mode encodes differently (push, pop, call,
 * ret, inc r32, BCD...) becomes a short host sequence; what is sensitive (I/O, descriptor
 * tables, control registers, interrupts) becomes a callout into cpu/.
 *
 * Usage:
 *   struct tcache *tc;
 *   struct tc_config cfg;
 *   tc_config_default(&cfg);
 *   tc_init(&tc, &cpu, &mmu, &cfg);     // cpu and mmu set up by the machine
 *   bt_run(tc);                          // until cpu.shutdown
 *   tc_print_stats(tc, stderr);
 *   tc_exit(tc);
 */
#ifndef BT386_TRANSLATOR_H
#define BT386_TRANSLATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cpu;
struct mmu;
struct tcache;

#define TC_MIN_CODE_BYTES (128u << 10) /* the smallest translation cache */

struct tc_config {
  size_t code_bytes;    /* size of the translation cache; it is flushed when full */
  int max_block_insns;  /* guest instructions per block at most */
  bool chain;           /* patch direct branches to jump straight to their target block */
  bool jcache;          /* look indirect branch targets up inline in translated code */
  bool count_indirect;  /* statistics counters in translated code: block entries, indirect
                           branches, indirect-branch cache probes (--stats, --stats-json) */
  /* Where the "boot" phase of the statistics ends and "steady" begins. */
  enum { TC_PHASE_RING3, TC_PHASE_INSNS, TC_PHASE_SECONDS, TC_PHASE_NONE } phase_mark;
  double phase_at;      /* guest instructions entered or host seconds, for those marks */
};

void tc_config_default(struct tc_config *cfg);
int tc_init(struct tcache **out, struct cpu *cpu, struct mmu *mmu, const struct tc_config *cfg);
void tc_exit(struct tcache *tc);

/* Run the guest until cpu->shutdown is set; returns it. */
int bt_run(struct tcache *tc);

/* Make the vCPU leave translated code soon and look at its devices (an interrupt may be
 * waiting), or wake it from hlt. Any thread may call it. */
void bt_kick(struct tcache *tc);
/* The kick of a timer thread at the machine's next deadline: none while the vCPU sleeps in
 * hlt until that deadline anyway (a kick would cost it a host fault at its next poll). */
void bt_kick_at_deadline(struct tcache *tc);

/* Drop translations of guest code in [pa, pa + len) (a device wrote there). */
void tc_invalidate_phys(struct tcache *tc, uint64_t pa, uint64_t len);

void tc_print_stats(struct tcache *tc, FILE *out);
/* The same figures and more (phases, cache-size samples) as JSON; see docs/translator.md. */
int tc_write_stats_json(struct tcache *tc, const char *path);
/* Log each new block's guest (in_asm) and host (out_asm) code to `log`. */
void tc_set_logging(struct tcache *tc, bool in_asm, bool out_asm, FILE *log);
/* Name every new block's host code in a perf(1) JIT map (-perfmap), NULL for none. */
void tc_set_perf_map(struct tcache *tc, FILE *map);

#endif
