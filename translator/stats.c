/* stats.c - the translation cache's figures, for `bt386 --stats`. */
#include <stdio.h>

#include "translator/tc.h"

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

void tc_print_stats(struct tcache *tc, FILE *out) {
  const struct tc_stats *s = &tc->stats;
  uint64_t exits = s->exits_branch + s->exits_indirect_miss + s->exits_callout + s->exits_fault;
  double total = s->translate_seconds + s->run_seconds;
  fprintf(out, "bt386 translation statistics\n");
  fprintf(out, "  guest instructions translated %12llu\n", (unsigned long long)s->insns_translated);
  fprintf(out, "  blocks translated             %12llu  (%.1f instructions per block)\n",
          (unsigned long long)s->blocks_translated,
          ratio((double)s->insns_translated, (double)s->blocks_translated));
  fprintf(out, "  guest bytes / host bytes      %12llu / %llu  (expansion %.2fx)\n",
          (unsigned long long)s->guest_bytes, (unsigned long long)s->host_bytes,
          ratio((double)s->host_bytes, (double)s->guest_bytes));
  fprintf(out, "  block lookups                 %12llu  (%.1f%% hits, rest translated)\n",
          (unsigned long long)s->lookups, 100 * ratio((double)s->lookup_hits, (double)s->lookups));
  fprintf(out, "  direct branches chained       %12llu\n", (unsigned long long)s->chains_made);
  fprintf(out, "  exits to the dispatcher       %12llu  (unchained %llu, indirect misses %llu, "
               "callouts %llu, faults %llu)\n",
          (unsigned long long)exits, (unsigned long long)s->exits_branch,
          (unsigned long long)s->exits_indirect_miss, (unsigned long long)s->exits_callout,
          (unsigned long long)s->exits_fault);
  if (tc->cfg.count_indirect)
    fprintf(out, "  indirect branches             %12llu  (%.2f%% hit the inline cache)\n",
            (unsigned long long)s->indirect_executed,
            100 * (1 - ratio((double)s->exits_indirect_miss, (double)s->indirect_executed)));
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
  fprintf(out, "  time translating / running    %12.3f s / %.3f s  (%.2f%% translating)\n",
          s->translate_seconds, s->run_seconds, 100 * ratio(s->translate_seconds, total));
}
