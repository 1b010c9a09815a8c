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
  bool span_local; /* chained into a block whose second page is not global: gone at mov cr3 */
};

struct tb {
  uint32_t eip;      /* guest EIP of the first instruction: an offset into CS */
  uint32_t cs_base;  /* CS's base and limit when translated (KEY_CS_BASED; else 0 and ~0) */
  uint32_t cs_limit;
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
  uint64_t entered;  /* times entered, counted at its start when cfg.count_indirect */
};

/* Translation key bits: what a block's host code depends on besides its guest bytes. */
#define KEY_CPL_MASK 0x3u
#define KEY_NONFLAT 0x4u     /* DS/ES/SS may have a nonzero base */
#define KEY_SLOW_STRING 0x8u /* string instructions go through the C slow path */
#define KEY_NOPOLL 0x10u     /* no interrupt poll at entry: an interrupt shadow is open */
#define KEY_NO_SSE 0x20u     /* CR4.OSFXSR clear: instructions on XMM registers raise #UD */
#define KEY_CS_BASED 0x40u   /* CS has a nonzero base or a limit below 4 GiB (tb->cs_base) */
#define KEY_TF 0x80u         /* EFLAGS.TF: one instruction, then #DB (single-step) */
#define KEY_RF 0x100u        /* EFLAGS.RF: one instruction past any breakpoint, then RF clear */
#define KEY_CODE16 0x200u    /* a 16-bit code segment (CS.D = 0): re-encoded for 32 bits */
#define KEY_STACK16 0x400u   /* a 16-bit stack segment (SS.B = 0): pushes and pops use SP */
#define KEY_WATCH 0x800u     /* a data breakpoint is armed: one instruction, checked first */
#define KEY_FPU_TS 0x1000u   /* CR0.TS: x87, MMX and SSE instructions raise #NM (WAIT too) */
#define KEY_WAIT_GO 0x2000u  /* CR0.TS with CR0.MP clear: WAIT runs all the same */
#define KEY_FPU_EM 0x4000u   /* CR0.EM: x87 instructions raise #NM, MMX and SSE ones #UD */
/* Keys whose blocks the indirect-branch caches do not hold: the caches are indexed by EIP
 * and hold flat translations only, and single-stepped blocks must come back each time; a
 * block without its interrupt poll is for the one entry after an interrupt shadow, and found
 * by a later indirect branch it could loop without ever polling. CR0.EM, and CR0.TS without
 * CR0.MP, are rare enough to do without them. */
#define KEY_NO_JCACHE                                                                        \
  (KEY_NONFLAT | KEY_CS_BASED | KEY_TF | KEY_RF | KEY_CODE16 | KEY_STACK16 | KEY_WATCH |     \
   KEY_NOPOLL | KEY_WAIT_GO | KEY_FPU_EM)

/* The guest linear address of a block's first instruction. */
static inline uint32_t tb_linear(const struct tb *tb) { return tb->cs_base + tb->eip; }
/* The linear page of the block's last guest byte (its first page for a block that only
 * raises an exception and holds no guest bytes). */
static inline uint32_t tb_last_page(const struct tb *tb) {
  return (tb_linear(tb) + (tb->guest_len ? tb->guest_len - 1u : 0u)) >> 12;
}
/* Does the block's code run into a second linear page? */
static inline bool tb_spans(const struct tb *tb) {
  return (tb_linear(tb) >> 12) != tb_last_page(tb);
}

/* The counters (all monotonic, so that a phase's figures are a difference of two snapshots).
 * Each is counted in the dispatcher, the fault handler or a callout, except the INLINE ones,
 * which translated code counts only when cfg.count_indirect is set (--stats, --stats-json). */
#define TC_STATS_COUNTERS(X)                                                                  \
  X(insns_translated) X(blocks_translated) X(guest_bytes) X(host_bytes)                      \
  X(blocks_cached) X(blocks_uncached)                                                        \
  X(lookups) X(lookup_hits) X(lookup_misses) X(lookups_uncached)                             \
  X(entries)                         /* bt_enter: blocks entered from the dispatcher */      \
  X(blocks_entered) X(insns_entered) /* INLINE: tb.entered summed (tc_stats_count_entries) */ \
  X(exits_branch) X(exits_indirect_miss) X(exits_callout) X(exits_fault)                     \
  X(callout_reentries)               /* mode changes resumed without the dispatcher */       \
  X(chains_made) X(chains_unlinked)                                                          \
  X(indirect_executed)               /* INLINE */                                            \
  X(jc_ind_probes) X(jc_ind_misses)  /* INLINE: indirect-branch cache at indirect branches */ \
  X(jc_cross_probes) X(jc_cross_misses) /* INLINE: at unchained cross-page exits */          \
  X(jcache_fills)                                                                            \
  X(flushes) X(flushes_full) X(flushes_explicit)                                             \
  X(invalidated_blocks) X(inval_smc) X(inval_device) X(inval_mmio) X(inval_full)               \
  X(inval_explicit)         \
  X(smc_faults)                                                                              \
  X(mapchg_events) X(mapchg_chains_unlinked) X(mapchg_jcache_clears) X(mapchg_jcache_pages)                         \
  X(faults_page) X(faults_div) X(faults_other) X(faults_guard) X(faults_mmio)                \
  X(callouts) X(kicks) X(interrupts) X(halts)

struct tc_stats {
#define TC_STATS_FIELD(name) uint64_t name;
  TC_STATS_COUNTERS(TC_STATS_FIELD)
#undef TC_STATS_FIELD
  double translate_seconds, run_seconds, host_seconds;
};

/* One look at the cache's size (--stats-json "samples"). */
struct tc_sample {
  double t;                 /* host seconds since the run began */
  uint64_t translations;    /* blocks translated so far */
  uint64_t live_blocks;     /* blocks in the cache that can still be entered */
  uint64_t code_bytes, meta_bytes; /* of the code and metadata areas in use */
  uint64_t flushes;
};

/* The figures of a phase ("boot" until the mark, "steady" after it). */
struct tc_phase {
  struct tc_stats at;       /* the counters when the phase ended */
  uint64_t live_blocks;     /* ... and the live blocks */
  const char *why;          /* what ended it */
};

#define TB_HASH_BITS 16
#define TC_MMIO_INSNS 1024 /* a power of two */

/* Indirect-branch caches: one per CPL, SSE availability and CR0.TS, the key bits a target's
 * host code depends on besides its page (non-flat segments use none). A kernel that switches
 * the FPU lazily runs with CR0.TS set most of the time. */
#define JC_SLOTS 16

/* The non-global linear pages an indirect-branch cache's entries lead into, with the frames
 * their code was translated from: after a mov cr3 the cache stays if each maps the same. */
#define JC_PAGES 64
struct jc_pages {
  bool used;     /* filled since it was last cleared */
  bool overflow; /* more pages than fit: the next mov cr3 clears the cache */
  bool global_entries; /* it has entries into global pages (or filled with paging off) */
  uint32_t n;
  uint32_t lin[JC_PAGES], ppn[JC_PAGES];
};

struct tcache {
  struct cpu *cpu;
  struct mmu *mmu;
  struct tc_config cfg;
  ZydisDecoder decoder;
  ZydisDecoder decoder16;              /* for 16-bit code segments (KEY_CODE16) */

  uint8_t *code, *code_ptr, *code_end; /* executable area */
  uint8_t *polls;                      /* the two interrupt-poll pages below `code` */
  uint8_t *step_guard;                 /* the two single-step guard pages below them */
  int kicked;                          /* atomic: a kick since the run loop last looked */
  int kick_fd;                         /* eventfd that wakes a halted vCPU */
  int halt_waiting;                    /* atomic: hlt sleeps until the next timer deadline */
  bool pending_armed;                  /* the pending-poll page is inaccessible */
  uint8_t *meta, *meta_ptr, *meta_end; /* blocks, side tables, callout descriptors */
  struct tb **blocks;                  /* every block in code order, for host-PC lookup */
  size_t n_blocks, cap_blocks;
  struct tb *hash[1u << TB_HASH_BITS];
  struct tb **page_blocks;             /* per guest physical page: its blocks */
  uint32_t *jcache[JC_SLOTS];          /* indirect-branch caches, one per mode (tc_jcache_slot) */
  struct jc_pages jc_pages[JC_SLOTS];  /* ... and the pages their entries rely on */
  uint64_t generation;                 /* bumped by every flush */
  struct tb_exit *cross[2];            /* chains into other linear pages, per view, and into
                                        * blocks that run into a second page */
  uint32_t span_local[2];              /* how many of those are span_local */
  bool lookup_global;                  /* the last lookup's code page is global (or unpaged) */
  uint8_t *code_lin[2];                /* per view: bit per linear page that a chain into another
                                          page or an indirect-branch cache entry leads into */
  bool code_lin_set[2];                /* ... some bit may be set */

  uint32_t mmio_insns[TC_MMIO_INSNS]; /* physical addresses + 1 of learned instructions:
                                         translated as callouts (0: empty) */
  uint8_t mmio_kind[TC_MMIO_INSNS];    /* ... what each learned (enum learned) */
  uint8_t *mmio_pages;                 /* per guest physical page: it has such instructions */
  bool one_shot_next;   /* translate the next block uncached, without protecting its page */
  bool mmio_next;       /* the instruction at cpu->eip touches device memory: emulate it */
  bool volatile_next;   /* the instruction at cpu->eip met a volatile page (MMU_FAULT_VOLATILE) */
  bool volatile_string; /* ... and it is a kernel string instruction */
  bool stepping;        /* in a block of one watched instruction (KEY_TF, KEY_RF) */
  uint32_t trap_after_mmio; /* DR6 bits of a #DB trap due once the run loop has emulated it */
  uint32_t deferred_dr6;    /* data breakpoints hit by a load of SS: due after the next one */
  uint32_t extra_key;   /* key bits forced for the next translation (KEY_SLOW_STRING) */
  uint64_t code_writes;  /* writes by the CPU's C code to pages holding translated code */
  uint32_t entry_eip, entry_shadow; /* the last block entered from the dispatcher: its EIP and
                                       the interrupt shadow its first instruction ran in */
  struct tc_stats stats;
  uint64_t live_blocks;                /* cached, valid blocks */
  uint64_t flushed_entered, flushed_insns; /* block entries of blocks flushed away */
  unsigned insns_mark_countdown;       /* dispatcher entries until the insns= mark is looked at */
  /* stats.c: phases and cache-size samples */
  double stats_t0;                     /* host time bt_run began */
  struct tc_phase phase[2];
  int n_phases_done;                   /* phases ended so far (the mark ends the first) */
  struct tc_sample *samples;
  size_t n_samples, cap_samples;
  uint64_t sample_every;               /* translations between samples */
  double sample_period;                /* ... or host seconds */
  uint64_t next_sample_translations;
  double next_sample_t;
  bool log_in_asm, log_out_asm; /* -d in_asm, -d out_asm */
  FILE *log;
  FILE *perf_map;               /* -perfmap */
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
void tc_jcache_fill(struct tcache *tc, const struct tb *tb, bool global);
void tc_invalidate_page(struct tcache *tc, uint32_t page);
/* Instructions translated differently after what they did once (tc.c): one that touched
 * device memory becomes a callout to the emulator; a kernel string instruction that met a
 * page remapped at every use (mmu.h, remaps) runs in C (insn_string). */
enum learned { LEARNED_NONE, LEARNED_MMIO, LEARNED_STRING };
void tc_note_learned_insn(struct tcache *tc, uint32_t pa, enum learned kind);
enum learned tc_learned_insn(const struct tcache *tc, uint32_t pa);
void tc_register(struct tcache *tc, struct tb *tb);
int tc_set_kernel_view(struct tcache *tc, uintptr_t base);

/* translate.c: translate one block at cpu's current mode; NULL if the cache is full. */
struct tb *translate_block(struct tcache *tc, uint32_t eip, uint32_t key, bool cached);

/* stats.c */
struct emitter;
void tc_emit_count(struct emitter *e, uint64_t *counter);
uint8_t *tc_emit_count_entry(struct emitter *e, struct tcache *tc);
void tc_patch_count_entry(uint8_t *field, struct tb *tb);
void tc_stats_count_entries(struct tcache *tc);
void tc_stats_flushing(struct tcache *tc);
void tc_stats_start(struct tcache *tc);
void tc_stats_dispatch(struct tcache *tc, const struct tb *tb);
void tc_stats_translated(struct tcache *tc);
void tc_stats_sample(struct tcache *tc);
void tc_stats_finish(struct tcache *tc);
void tc_stats_free(struct tcache *tc);

/* listing.c */
void tc_list_block(struct tcache *tc, const struct tb *tb, FILE *out);
void tc_name_block(struct tcache *tc, const struct tb *tb, FILE *map);

/* fault.c */
int fault_handlers_install(struct tcache *tc);
void fault_handlers_remove(void);

/* stubs.S */
int bt_enter(struct cpu *cpu);
void bt_stub_exit(void);
void bt_stub_callout(void);
void bt_fault_exit(void);

#endif
