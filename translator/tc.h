/* tc.h - the translation cache's internals: blocks, exits, side tables, statistics. */
#ifndef BT386_TC_H
#define BT386_TC_H

#include <Zydis/Zydis.h>
#include <stdbool.h>
#include <stdint.h>

#include "translator/translator.h"

/* How the fault handler recovers the guest state at one guest instruction. */
enum fixup {
  FIXUP_NONE,
  FIXUP_STRING_BIAS,  /* ESI/EDI are biased by the kernel view base: truncate to 32 bits */
  FIXUP_RESTORE_REG,  /* guest register `reg` was borrowed; its value is in r9 */
};

/* One guest instruction in a block: where its host code starts. */
struct insn_map {
  uint32_t host_off;
  uint16_t guest_off;
  uint8_t fixup;
  uint8_t reg;
};

struct tb;

/* A direct branch out of a block: unchained it jumps to its exit stub, chained to the block
 * for `target`. */
struct tb_exit {
  uint32_t target;
  uint8_t *jump;  /* the rel32 field to patch */
  uint8_t *stub;
  struct tb *from;
  struct tb *linked;
  struct tb_exit *next_incoming;
  struct tb_exit *next_cross; /* in tcache.cross[view] (while in_cross) */
  bool in_cross;
};

struct tb {
  uint32_t eip;      /* guest linear address of the first instruction */
  uint32_t key;      /* translation mode, see tc_key() */
  uint32_t page[2];  /* guest physical pages of the code (equal if it fits one page) */
  uint8_t *code;
  uint32_t code_len;
  uint16_t guest_len;
  uint16_t n_insns;
  uint8_t n_exits;
  bool valid;
  bool cached;       /* in the hash and page lists (false for one-shot blocks) */
  struct tb_exit exit[2];
  struct tb_exit *incoming;
  struct tb *hash_next;
  struct tb *page_next[2];
  struct insn_map *map;
};

/* Translation key bits: what a block's host code depends on besides its guest bytes. */
#define KEY_CPL_MASK 0x3u
#define KEY_NONFLAT 0x4u     /* DS/ES/SS may have a nonzero base */
#define KEY_SLOW_STRING 0x8u /* string instructions go through the C slow path */
#define KEY_NOPOLL 0x10u     /* no interrupt poll at entry: an interrupt shadow is open */
#define KEY_NO_SSE 0x20u     /* CR4.OSFXSR clear: instructions on XMM registers raise #UD */

struct tc_stats {
  uint64_t insns_translated, blocks_translated, guest_bytes, host_bytes;
  uint64_t lookups, lookup_hits;
  uint64_t exits_branch, exits_indirect_miss, exits_callout, exits_fault;
  uint64_t chains_made;
  uint64_t indirect_executed; /* counted inline when count_indirect */
  uint64_t flushes, invalidated_blocks, smc_faults;
  uint64_t faults_page, faults_div, faults_other, faults_guard, faults_mmio;
  uint64_t callouts;
  uint64_t kicks, interrupts, halts;
  double translate_seconds, run_seconds;
};

#define TB_HASH_BITS 16

/* Indirect-branch caches: one per CPL and SSE availability, the key bits a target's host code
 * depends on besides its page (non-flat segments use none). */
#define JC_SLOTS 8

struct tcache {
  struct cpu *cpu;
  struct mmu *mmu;
  struct tc_config cfg;
  ZydisDecoder decoder;

  uint8_t *code, *code_ptr, *code_end; /* executable area */
  uint8_t *polls;                      /* the two interrupt-poll pages below `code` */
  int kicked;                          /* atomic: a kick since the run loop last looked */
  int kick_fd;                         /* eventfd that wakes a halted vCPU */
  bool pending_armed;                  /* the pending-poll page is inaccessible */
  uint8_t *meta, *meta_ptr, *meta_end; /* blocks, side tables, callout descriptors */
  struct tb **blocks;                  /* every block in code order, for host-PC lookup */
  size_t n_blocks, cap_blocks;
  struct tb *hash[1u << TB_HASH_BITS];
  struct tb **page_blocks;             /* per guest physical page: its blocks */
  uint32_t *jcache[JC_SLOTS];          /* indirect-branch caches, one per mode (tc_jcache_slot) */
  uint64_t generation;                 /* bumped by every flush */
  struct tb_exit *cross[2];            /* chains into other linear pages, per view */
  bool lookup_global;                  /* the last lookup's code page is global (or unpaged) */
  uint8_t *code_lin[2];                /* per view: bit per linear page code was translated from */

  bool one_shot_next;   /* translate the next block uncached, without protecting its page */
  bool mmio_next;       /* the instruction at cpu->eip touches device memory: emulate it */
  uint32_t extra_key;   /* key bits forced for the next translation (KEY_SLOW_STRING) */
  struct tc_stats stats;
  bool log_in_asm, log_out_asm; /* -d in_asm, -d out_asm */
  FILE *log;
};

/* tc.c */
uint32_t tc_key(const struct cpu *cpu);
struct tb *tc_find(struct tcache *tc, uint32_t eip, uint32_t key, uint32_t page);
struct tb *tc_lookup_or_translate(struct tcache *tc, uint32_t eip);
struct tb *tc_block_at(struct tcache *tc, const uint8_t *host_pc);
void *tc_meta_alloc(struct tcache *tc, size_t size);
void tc_flush(struct tcache *tc);
void tc_link(struct tcache *tc, struct tb_exit *x, struct tb *to, bool to_global);
int tc_jcache_slot(uint32_t key);
void tc_jcache_fill(struct tcache *tc, uint32_t key, uint32_t eip, const uint8_t *host);
void tc_invalidate_page(struct tcache *tc, uint32_t page);
void tc_register(struct tcache *tc, struct tb *tb);

/* translate.c: translate one block at cpu's current mode; NULL if the cache is full. */
struct tb *translate_block(struct tcache *tc, uint32_t eip, uint32_t key, bool cached);

/* listing.c */
void tc_list_block(struct tcache *tc, const struct tb *tb, FILE *out);

/* fault.c */
int fault_handlers_install(struct tcache *tc);
void fault_handlers_remove(void);

/* stubs.S */
int bt_enter(struct cpu *cpu);
void bt_stub_exit(void);
void bt_stub_callout(void);
void bt_fault_exit(void);

#endif
