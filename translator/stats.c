/* stats.c - the translation cache's figures, for `bt386 --stats` and `--stats-json FILE`.
 *
 * Counters (tc.h, struct tc_stats) are counted where the event happens: in the dispatcher,
 * the fault handler, the callout stub, the translator. Translated code counts only under
 * cfg.count_indirect (--stats), with the counters emitted here: block entries and the guest
 * instructions they hold, indirect branches, and the indirect-branch cache's probes and misses.
 * Block entries are counted per block (tb.entered, at its start: counters at different
 * addresses, so that short blocks in a loop do not wait on one memory word) and summed when
 * the figures are taken. Everything else is derived from them, for example the chained
 * block-to-block jumps:
 *
 *   blocks entered = entered from the dispatcher + jcache hits + chained jumps
 *
 * since translated code enters a block only at its start and only in those three ways.
 *
 * Phases: "boot" runs from the start to the mark (cfg.phase_mark: the first ring-3 block, a
 * number of guest instructions entered, or host seconds), "steady" from the mark to the end.
 * The mark is noticed in the dispatcher, so a phase ends at the first dispatcher entry after
 * it. All counters are monotonic: a phase's figures are the difference of two snapshots. A
 * guest that never reaches the mark (a Multiboot test kernel never enters ring 3) has one
 * phase, "boot", that covers the whole run.
 *
 * Cache-size samples: every sample_every translations or sample_period host seconds
 * (whichever comes first, looked at after each translation), around each flush, at the
 * phase mark and at the end; when the array is full every other sample goes and both
 * intervals double, so a long run keeps a bounded, evenly spread series. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmu/mmu.h"
#include "translator/emit.h"
#include "translator/tc.h"

#define MAX_SAMPLES 2048

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ---- counters in translated code (only under cfg.count_indirect) ---- */

/* ++*counter without touching the guest's flags or registers: r9 and r10 are scratch at
 * every place this is emitted (block entry, before and after an indirect-branch cache probe).
 *   mov r10, counter ; mov r9, [r10] ; lea r9, [r9 + 1] ; mov [r10], r9 */
void tc_emit_count(struct emitter *e, uint64_t *counter) {
  static const uint8_t inc[] = {0x4d, 0x8b, 0x0a, 0x4d, 0x8d, 0x49, 0x01, 0x4d, 0x89, 0x0a};
  emit_mov_imm64(e, HR_R10, (uint64_t)(uintptr_t)counter);
  emit_bytes(e, inc, sizeof(inc));
}

/* At a block's start: ++tb->entered, for a tb that does not exist yet: returns where its
 * address goes (tc_patch_count_entry). Until patched the counter is a dummy. */
uint8_t *tc_emit_count_entry(struct emitter *e, struct tcache *tc) {
  static uint64_t dummy;
  (void)tc;
  uint8_t *field = e->p + 2; /* the imm64 of mov r10, imm64 (49 BA imm64) */
  tc_emit_count(e, &dummy);
  return field;
}

void tc_patch_count_entry(uint8_t *field, struct tb *tb) {
  uint64_t *counter = &tb->entered;
  memcpy(field, &counter, 8);
}

/* stats.blocks_entered and insns_entered from the blocks' own counters. */
void tc_stats_count_entries(struct tcache *tc) {
  uint64_t entered = tc->flushed_entered, insns = tc->flushed_insns;
  for (size_t i = 0; i < tc->n_blocks; i++) {
    entered += tc->blocks[i]->entered;
    insns += tc->blocks[i]->entered * tc->blocks[i]->n_insns;
  }
  tc->stats.blocks_entered = entered;
  tc->stats.insns_entered = insns;
}

/* Every block is about to go: keep their counts. */
void tc_stats_flushing(struct tcache *tc) {
  for (size_t i = 0; i < tc->n_blocks; i++) {
    tc->flushed_entered += tc->blocks[i]->entered;
    tc->flushed_insns += tc->blocks[i]->entered * tc->blocks[i]->n_insns;
  }
}

/* ---- phases and samples ---- */

void tc_stats_sample(struct tcache *tc) {
  if (!tc->cap_samples)
    return; /* before bt_run */
  if (tc->n_samples == tc->cap_samples) {
    /* Keep every other sample (always the first), sample half as often from now on. */
    size_t k = 0;
    for (size_t i = 0; i < tc->n_samples; i += 2)
      tc->samples[k++] = tc->samples[i];
    tc->n_samples = k;
    tc->sample_every *= 2;
    tc->sample_period *= 2;
  }
  double t = now_seconds() - tc->stats_t0;
  tc->samples[tc->n_samples++] = (struct tc_sample){
      .t = t,
      .translations = tc->stats.blocks_translated,
      .live_blocks = tc->live_blocks,
      .code_bytes = (uint64_t)(tc->code_ptr - tc->code),
      .meta_bytes = (uint64_t)(tc->meta_ptr - tc->meta),
      .flushes = tc->stats.flushes,
  };
  tc->next_sample_translations = tc->stats.blocks_translated + tc->sample_every;
  tc->next_sample_t = t + tc->sample_period;
}

void tc_stats_start(struct tcache *tc) {
  tc->stats_t0 = now_seconds();
  tc->n_phases_done = 0;
  free(tc->samples);
  tc->n_samples = 0;
  tc->samples = calloc(MAX_SAMPLES, sizeof(*tc->samples));
  tc->cap_samples = tc->samples ? MAX_SAMPLES : 0;
  tc->sample_every = 64;
  tc->sample_period = 0.005;
  tc_stats_sample(tc);
}

void tc_stats_translated(struct tcache *tc) {
  if (tc->stats.blocks_translated >= tc->next_sample_translations ||
      now_seconds() - tc->stats_t0 >= tc->next_sample_t)
    tc_stats_sample(tc);
}

static void end_phase(struct tcache *tc, const char *why) {
  if (tc->n_phases_done >= 2)
    return;
  struct tc_phase *p = &tc->phase[tc->n_phases_done++];
  tc_stats_count_entries(tc);
  p->at = tc->stats;
  p->at.host_seconds = now_seconds() - tc->stats_t0;
  p->at.run_seconds = p->at.host_seconds - p->at.translate_seconds;
  p->live_blocks = tc->live_blocks;
  p->why = why;
  tc_stats_sample(tc);
}

/* The dispatcher is about to enter tb (called while the first phase runs). */
void tc_stats_dispatch(struct tcache *tc, const struct tb *tb) {
  switch (tc->cfg.phase_mark) {
  case TC_PHASE_RING3:
    if ((tb->key & KEY_CPL_MASK) == 3)
      end_phase(tc, "the first ring-3 block");
    break;
  case TC_PHASE_INSNS:
    /* Summing the blocks' counters costs a pass over the blocks: look every 256 entries. */
    if (tc->insns_mark_countdown-- == 0) {
      tc->insns_mark_countdown = 255;
      tc_stats_count_entries(tc);
      if ((double)tc->stats.insns_entered >= tc->cfg.phase_at)
        end_phase(tc, "the guest-instruction mark");
    }
    break;
  case TC_PHASE_SECONDS:
    if (now_seconds() - tc->stats_t0 >= tc->cfg.phase_at)
      end_phase(tc, "the host-time mark");
    break;
  default:
    break;
  }
}

void tc_stats_finish(struct tcache *tc) {
  tc->stats.host_seconds = now_seconds() - tc->stats_t0;
  tc_stats_count_entries(tc);
  end_phase(tc, "the end of the run");
  /* The totals, exactly as bt_run left them (end_phase recomputed run_seconds). */
  tc->phase[tc->n_phases_done - 1].at.run_seconds = tc->stats.run_seconds;
  tc->phase[tc->n_phases_done - 1].at.host_seconds = tc->stats.host_seconds;
}

void tc_stats_free(struct tcache *tc) {
  free(tc->samples);
  tc->samples = NULL;
  tc->n_samples = tc->cap_samples = 0;
}

static const char *mark_name(const struct tc_config *cfg, char *buf, size_t n) {
  switch (cfg->phase_mark) {
  case TC_PHASE_RING3: return "ring3";
  case TC_PHASE_INSNS: snprintf(buf, n, "insns=%.0f", cfg->phase_at); return buf;
  case TC_PHASE_SECONDS: snprintf(buf, n, "time=%g", cfg->phase_at); return buf;
  default: return "none";
  }
}

/* ---- derived figures ---- */

static struct tc_stats diff(const struct tc_stats *a, const struct tc_stats *b) {
  struct tc_stats d;
#define TC_STATS_SUB(name) d.name = a->name - (b ? b->name : 0);
  TC_STATS_COUNTERS(TC_STATS_SUB)
#undef TC_STATS_SUB
  d.translate_seconds = a->translate_seconds - (b ? b->translate_seconds : 0);
  d.run_seconds = a->run_seconds - (b ? b->run_seconds : 0);
  d.host_seconds = a->host_seconds - (b ? b->host_seconds : 0);
  return d;
}

static uint64_t jc_probes(const struct tc_stats *s) { return s->jc_ind_probes + s->jc_cross_probes; }
static uint64_t jc_misses(const struct tc_stats *s) { return s->jc_ind_misses + s->jc_cross_misses; }
static uint64_t jc_hits(const struct tc_stats *s) { return jc_probes(s) - jc_misses(s); }
static int64_t chained_entries(const struct tc_stats *s) {
  return (int64_t)s->blocks_entered - (int64_t)s->entries - (int64_t)jc_hits(s);
}
static uint64_t exits_total(const struct tc_stats *s) {
  return s->exits_branch + s->exits_indirect_miss + s->exits_callout + s->exits_fault;
}

/* ---- text ---- */

void tc_print_stats(struct tcache *tc, FILE *out) {
  const struct tc_stats *s = &tc->stats;
  bool inl = tc->cfg.count_indirect;
  uint64_t exits = exits_total(s);
  double total = s->translate_seconds + s->run_seconds;
  fprintf(out, "bt386 translation statistics\n");
  fprintf(out, "  guest instructions translated %12llu\n", (unsigned long long)s->insns_translated);
  fprintf(out, "  blocks translated             %12llu  (%.1f instructions per block; "
               "cached %llu, one-shot %llu)\n",
          (unsigned long long)s->blocks_translated,
          ratio((double)s->insns_translated, (double)s->blocks_translated),
          (unsigned long long)s->blocks_cached, (unsigned long long)s->blocks_uncached);
  fprintf(out, "  guest bytes / host bytes      %12llu / %llu  (expansion %.2fx)\n",
          (unsigned long long)s->guest_bytes, (unsigned long long)s->host_bytes,
          ratio((double)s->host_bytes, (double)s->guest_bytes));
  fprintf(out, "  translation cost              %12.0f ns per guest instruction\n",
          1e9 * ratio(s->translate_seconds, (double)s->insns_translated));
  fprintf(out, "  block lookups                 %12llu  (%.1f%% hits, rest translated; "
               "misses %llu, one-shot %llu)\n",
          (unsigned long long)s->lookups, 100 * ratio((double)s->lookup_hits, (double)s->lookups),
          (unsigned long long)s->lookup_misses, (unsigned long long)s->lookups_uncached);
  fprintf(out, "  direct branches chained       %12llu  (unlinked %llu, by mapping changes %llu)\n",
          (unsigned long long)s->chains_made, (unsigned long long)s->chains_unlinked,
          (unsigned long long)s->mapchg_chains_unlinked);
  fprintf(out, "  exits to the dispatcher       %12llu  (unchained %llu, indirect misses %llu, "
               "callouts %llu, faults %llu; mode changes that went on without it %llu)\n",
          (unsigned long long)exits, (unsigned long long)s->exits_branch,
          (unsigned long long)s->exits_indirect_miss, (unsigned long long)s->exits_callout,
          (unsigned long long)s->exits_fault, (unsigned long long)s->callout_reentries);
  if (inl) {
    fprintf(out, "  indirect branches             %12llu  (%.2f%% hit the inline cache)\n",
            (unsigned long long)s->indirect_executed,
            100 * (1 - ratio((double)s->exits_indirect_miss, (double)s->indirect_executed)));
    fprintf(out, "  indirect-branch cache probes  %12llu  (%.2f%% hits; at indirect branches "
                 "%llu/%llu, at cross-page exits %llu/%llu hits/probes)\n",
            (unsigned long long)jc_probes(s),
            100 * ratio((double)jc_hits(s), (double)jc_probes(s)),
            (unsigned long long)(s->jc_ind_probes - s->jc_ind_misses),
            (unsigned long long)s->jc_ind_probes,
            (unsigned long long)(s->jc_cross_probes - s->jc_cross_misses),
            (unsigned long long)s->jc_cross_probes);
    fprintf(out, "  blocks entered                %12llu  (from the dispatcher %llu, the "
                 "indirect-branch cache %llu, chains %lld)\n",
            (unsigned long long)s->blocks_entered, (unsigned long long)s->entries,
            (unsigned long long)jc_hits(s), (long long)chained_entries(s));
    fprintf(out, "  guest instructions entered    %12llu  (in the blocks entered)\n",
            (unsigned long long)s->insns_entered);
  }
  fprintf(out, "  callouts                      %12llu\n", (unsigned long long)s->callouts);
  fprintf(out, "  host faults                   %12llu  (page %llu, device memory %llu, divide %llu, "
               "string wrap %llu, interrupt polls %llu, other %llu)\n",
          (unsigned long long)(s->faults_page + s->faults_div + s->faults_guard + s->faults_other +
                               s->kicks),
          (unsigned long long)s->faults_page, (unsigned long long)s->faults_mmio,
          (unsigned long long)s->faults_div, (unsigned long long)s->faults_guard,
          (unsigned long long)s->kicks, (unsigned long long)s->faults_other);
  fprintf(out, "  interrupts delivered          %12llu  (halts %llu)\n",
          (unsigned long long)s->interrupts, (unsigned long long)s->halts);
  fprintf(out, "  self-modifying code faults    %12llu  (blocks invalidated %llu, flushes %llu)\n",
          (unsigned long long)s->smc_faults, (unsigned long long)s->invalidated_blocks,
          (unsigned long long)s->flushes);
  fprintf(out, "  blocks invalidated by cause   %12llu  (code writes %llu, device writes %llu, "
               "instructions made callouts %llu, cache full %llu, explicit flush %llu)\n",
          (unsigned long long)s->invalidated_blocks, (unsigned long long)s->inval_smc,
          (unsigned long long)s->inval_device, (unsigned long long)s->inval_mmio,
          (unsigned long long)s->inval_full, (unsigned long long)s->inval_explicit);
  fprintf(out, "  flushes                       %12llu  (cache full %llu, explicit %llu)\n",
          (unsigned long long)s->flushes, (unsigned long long)s->flushes_full,
          (unsigned long long)s->flushes_explicit);
  fprintf(out, "  mapping changes               %12llu  (chains unlinked %llu, indirect-branch "
               "caches cleared %llu, pages dropped from them %llu)\n",
          (unsigned long long)s->mapchg_events, (unsigned long long)s->mapchg_chains_unlinked,
          (unsigned long long)s->mapchg_jcache_clears, (unsigned long long)s->mapchg_jcache_pages);
  const struct mmu *m = tc->mmu;
  fprintf(out, "  host view mappings            %12llu  (fault-around pages %llu, working-set pages "
               "%llu; unmapped %llu pages, reserved again %llu times)\n",
          (unsigned long long)m->stat_maps, (unsigned long long)m->stat_around,
          (unsigned long long)m->stat_ws_filled, (unsigned long long)m->stat_unmaps,
          (unsigned long long)m->stat_reserves);
  const uint64_t(*by_kind)[VIEW_COUNT] = m->stat_fault;
  uint64_t view_faults = 0;
  for (int k = 0; k < MMU_FAULT_KINDS; k++)
    view_faults += by_kind[k][VIEW_KERNEL] + by_kind[k][VIEW_USER];
  fprintf(out, "  page faults in the views      %12llu  (kernel/user: guest #PF %llu/%llu, page not "
               "held %llu/%llu, first write to a clean page %llu/%llu; on pages remapped at "
               "every use, left to C %llu)\n",
          (unsigned long long)view_faults,
          (unsigned long long)by_kind[MMU_FAULT_GUEST_PF][VIEW_KERNEL],
          (unsigned long long)by_kind[MMU_FAULT_GUEST_PF][VIEW_USER],
          (unsigned long long)by_kind[MMU_FAULT_NOT_HELD][VIEW_KERNEL],
          (unsigned long long)by_kind[MMU_FAULT_NOT_HELD][VIEW_USER],
          (unsigned long long)by_kind[MMU_FAULT_CLEAN_WRITE][VIEW_KERNEL],
          (unsigned long long)by_kind[MMU_FAULT_CLEAN_WRITE][VIEW_USER],
          (unsigned long long)m->stat_volatile);
  fprintf(out, "  kernel view switches          %12llu  (to a view that held another address space "
               "%llu; TLB flushes %llu)\n",
          (unsigned long long)m->stat_view_switches, (unsigned long long)m->stat_view_recycled,
          (unsigned long long)m->stat_flushes);
  fprintf(out, "  cache in use at the end       %12llu blocks, %llu code bytes\n",
          (unsigned long long)tc->live_blocks, (unsigned long long)(tc->code_ptr - tc->code));
  fprintf(out, "  time translating / running    %12.3f s / %.3f s  (%.2f%% translating)\n",
          s->translate_seconds, s->run_seconds, 100 * ratio(s->translate_seconds, total));
  if (tc->n_phases_done == 2) {
    struct tc_stats boot = diff(&tc->phase[0].at, NULL), steady = diff(&tc->phase[1].at,
                                                                        &tc->phase[0].at);
    fprintf(out, "  phases                        boot until %s at %.3f s: %llu blocks "
                 "translated, %.3f s translating; steady: %llu blocks, %.3f s translating\n",
            tc->phase[0].why, tc->phase[0].at.host_seconds,
            (unsigned long long)boot.blocks_translated, boot.translate_seconds,
            (unsigned long long)steady.blocks_translated, steady.translate_seconds);
  } else {
    char buf[64];
    fprintf(out, "  phases                        one (the mark, %s, was not reached)\n",
            mark_name(&tc->cfg, buf, sizeof(buf)));
  }
}

/* ---- JSON ---- */

#define U(x) (unsigned long long)(x)

/* A number, or null when its counters were not kept. */
static void jnum(FILE *f, bool have, double v) {
  if (have)
    fprintf(f, "%.9g", v);
  else
    fputs("null", f);
}

static void jcount(FILE *f, bool have, uint64_t v) {
  if (have)
    fprintf(f, "%llu", U(v));
  else
    fputs("null", f);
}

static void json_figures(FILE *f, const struct tc_stats *s, bool inl, uint64_t live_start,
                         uint64_t live_end, const char *ind) {
  fprintf(f, "{\n");
  fprintf(f, "%s  \"host_seconds\": %.9g, \"translate_seconds\": %.9g, \"run_seconds\": %.9g,\n",
          ind, s->host_seconds, s->translate_seconds, s->run_seconds);
  fprintf(f, "%s  \"translation\": {\"blocks\": %llu, \"blocks_cached\": %llu, "
             "\"blocks_uncached\": %llu, \"guest_insns\": %llu, \"guest_bytes\": %llu, "
             "\"host_bytes\": %llu, \"insns_per_block\": %.6g, \"ns_per_guest_insn\": %.6g, "
             "\"host_bytes_per_guest_byte\": %.6g, \"host_bytes_per_guest_insn\": %.6g},\n",
          ind, U(s->blocks_translated), U(s->blocks_cached), U(s->blocks_uncached),
          U(s->insns_translated), U(s->guest_bytes), U(s->host_bytes),
          ratio((double)s->insns_translated, (double)s->blocks_translated),
          1e9 * ratio(s->translate_seconds, (double)s->insns_translated),
          ratio((double)s->host_bytes, (double)s->guest_bytes),
          ratio((double)s->host_bytes, (double)s->insns_translated));
  fprintf(f, "%s  \"cache\": {\"live_blocks_start\": %llu, \"live_blocks_end\": %llu},\n", ind,
          U(live_start), U(live_end));
  fprintf(f, "%s  \"lookups\": {\n", ind);
  fprintf(f, "%s    \"dispatcher\": {\"lookups\": %llu, \"hits\": %llu, \"misses\": %llu, "
             "\"uncached\": %llu, \"hit_rate\": %.6g},\n",
          ind, U(s->lookups), U(s->lookup_hits), U(s->lookup_misses), U(s->lookups_uncached),
          ratio((double)s->lookup_hits, (double)(s->lookup_hits + s->lookup_misses)));
  fprintf(f, "%s    \"jcache\": {\"lookups\": ", ind);
  jcount(f, inl, jc_probes(s));
  fputs(", \"hits\": ", f);
  jcount(f, inl, jc_hits(s));
  fputs(", \"misses\": ", f);
  jcount(f, inl, jc_misses(s));
  fputs(", \"hit_rate\": ", f);
  jnum(f, inl, ratio((double)jc_hits(s), (double)jc_probes(s)));
  fprintf(f, ",\n%s      \"indirect\": {\"lookups\": ", ind);
  jcount(f, inl, s->jc_ind_probes);
  fputs(", \"hits\": ", f);
  jcount(f, inl, s->jc_ind_probes - s->jc_ind_misses);
  fputs(", \"misses\": ", f);
  jcount(f, inl, s->jc_ind_misses);
  fputs("}, \"cross_page\": {\"lookups\": ", f);
  jcount(f, inl, s->jc_cross_probes);
  fputs(", \"hits\": ", f);
  jcount(f, inl, s->jc_cross_probes - s->jc_cross_misses);
  fputs(", \"misses\": ", f);
  jcount(f, inl, s->jc_cross_misses);
  fprintf(f, "}, \"fills\": %llu},\n", U(s->jcache_fills));
  fprintf(f, "%s    \"chains\": {\"made\": %llu, \"unlinked\": %llu, "
             "\"unlinked_by_invalidation\": %llu, \"unlinked_by_mapping_change\": %llu, "
             "\"executed\": ",
          ind, U(s->chains_made), U(s->chains_unlinked + s->mapchg_chains_unlinked),
          U(s->chains_unlinked), U(s->mapchg_chains_unlinked));
  if (inl)
    fprintf(f, "%lld", (long long)chained_entries(s));
  else
    fputs("null", f);
  fprintf(f, "},\n%s    \"indirect_branches\": ", ind);
  jcount(f, inl, s->indirect_executed);
  fprintf(f, "\n%s  },\n", ind);
  fprintf(f, "%s  \"block_entries\": {\"total\": ", ind);
  jcount(f, inl, s->blocks_entered);
  fprintf(f, ", \"from_dispatcher\": %llu, \"from_jcache\": ", U(s->entries));
  jcount(f, inl, jc_hits(s));
  fputs(", \"from_chain\": ", f);
  if (inl)
    fprintf(f, "%lld", (long long)chained_entries(s));
  else
    fputs("null", f);
  fputs(", \"without_dispatcher_rate\": ", f);
  jnum(f, inl, 1 - ratio((double)s->entries, (double)s->blocks_entered));
  fputs(", \"guest_insns\": ", f);
  jcount(f, inl, s->insns_entered);
  fputs("},\n", f);
  fprintf(f, "%s  \"exits\": {\"total\": %llu, \"unchained_branch\": %llu, "
             "\"indirect_or_dispatch\": %llu, \"callout\": %llu, \"fault\": %llu},\n",
          ind, U(exits_total(s)), U(s->exits_branch), U(s->exits_indirect_miss),
          U(s->exits_callout), U(s->exits_fault));
  fprintf(f, "%s  \"invalidations\": {\"blocks\": %llu, \"blocks_by_cause\": {\"smc\": %llu, "
             "\"device_write\": %llu, \"mmio_callout\": %llu, \"cache_full\": %llu, "
             "\"explicit_flush\": %llu},\n",
          ind, U(s->invalidated_blocks), U(s->inval_smc), U(s->inval_device), U(s->inval_mmio),
          U(s->inval_full), U(s->inval_explicit));
  fprintf(f, "%s    \"flushes\": %llu, \"flushes_by_cause\": {\"cache_full\": %llu, "
             "\"explicit\": %llu}, \"smc_faults\": %llu,\n",
          ind, U(s->flushes), U(s->flushes_full), U(s->flushes_explicit), U(s->smc_faults));
  fprintf(f, "%s    \"mapping_changed\": {\"events\": %llu, \"chains_unlinked\": %llu, "
             "\"jcache_clears\": %llu}},\n",
          ind, U(s->mapchg_events), U(s->mapchg_chains_unlinked), U(s->mapchg_jcache_clears));
  fprintf(f, "%s  \"callouts\": %llu, \"interrupts\": %llu, \"halts\": %llu,\n", ind,
          U(s->callouts), U(s->interrupts), U(s->halts));
  fprintf(f, "%s  \"host_faults\": {\"page\": %llu, \"mmio\": %llu, \"divide\": %llu, "
             "\"string_wrap\": %llu, \"interrupt_polls\": %llu, \"other\": %llu}\n",
          ind, U(s->faults_page), U(s->faults_mmio), U(s->faults_div), U(s->faults_guard),
          U(s->kicks), U(s->faults_other));
  fprintf(f, "%s}", ind);
}

int tc_write_stats_json(struct tcache *tc, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -errno;
  bool inl = tc->cfg.count_indirect;
  char buf[64];
  fprintf(f, "{\n  \"format\": \"bt386-stats\", \"version\": 1,\n");
  fprintf(f, "  \"config\": {\"tc_size_bytes\": %llu, \"block_insns\": %d, \"chain\": %s, "
             "\"jcache\": %s, \"inline_counters\": %s, \"phase_mark\": \"%s\"},\n",
          U(tc->cfg.code_bytes), tc->cfg.max_block_insns, tc->cfg.chain ? "true" : "false",
          tc->cfg.jcache ? "true" : "false", inl ? "true" : "false",
          mark_name(&tc->cfg, buf, sizeof(buf)));
  fputs("  \"total\": ", f);
  json_figures(f, &tc->stats, inl, 0, tc->live_blocks, "  ");
  fputs(",\n  \"phases\": [", f);
  static const char *names[2] = {"boot", "steady"};
  for (int i = 0; i < tc->n_phases_done; i++) {
    const struct tc_phase *p = &tc->phase[i];
    struct tc_stats d = diff(&p->at, i ? &tc->phase[i - 1].at : NULL);
    fprintf(f, "%s\n    {\"name\": \"%s\", \"ended_by\": \"%s\", \"start_seconds\": %.9g, "
               "\"figures\": ",
            i ? "," : "", names[i], p->why, i ? tc->phase[i - 1].at.host_seconds : 0.0);
    json_figures(f, &d, inl, i ? tc->phase[i - 1].live_blocks : 0, p->live_blocks, "    ");
    fputs("}", f);
  }
  fputs("\n  ],\n  \"samples\": {\"fields\": [\"seconds\", \"translations\", \"live_blocks\", "
        "\"code_bytes\", \"meta_bytes\", \"flushes\"], \"rows\": [",
        f);
  for (size_t i = 0; i < tc->n_samples; i++) {
    const struct tc_sample *sm = &tc->samples[i];
    fprintf(f, "%s\n    [%.6f, %llu, %llu, %llu, %llu, %llu]", i ? "," : "", sm->t,
            U(sm->translations), U(sm->live_blocks), U(sm->code_bytes), U(sm->meta_bytes),
            U(sm->flushes));
  }
  fputs("\n  ]}\n}\n", f);
  int err = ferror(f) ? -EIO : 0;
  if (fclose(f) != 0 && !err)
    err = -errno;
  return err;
}
