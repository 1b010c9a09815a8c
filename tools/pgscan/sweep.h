/* sweep.h - linear sweep of the code regions with Zydis, cross-checked with Capstone. */
#ifndef PGSCAN_SWEEP_H
#define PGSCAN_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "tools/pgscan/classes.h"
#include "tools/pgscan/elfcode.h"

struct pg_site {
  uint64_t addr;
  uint32_t region;
  uint8_t len;
  uint8_t cls; /* enum pg_class */
};

enum pg_disagree_kind {
  PG_DIS_SITE,    /* a site Zydis reported: Capstone decodes another length or class */
  PG_DIS_MISSED,  /* Zydis decoded no class here, Capstone decodes one */
  PG_DIS_INVALID, /* Zydis could not decode this byte, Capstone decodes a class */
};

struct pg_disagreement {
  uint64_t addr;
  uint32_t region;
  uint8_t kind; /* enum pg_disagree_kind */
  uint8_t zlen, clen; /* 0: could not decode */
  uint8_t zcls, ccls;
};

struct pg_region_stats {
  uint64_t insns, invalid_bytes, invalid_runs;
};

struct pg_scan {
  bool check_all; /* Capstone re-decodes every instruction, not only the sites */
  uint64_t counts[PG_NCLASSES];
  uint64_t *mnemonics; /* [ZYDIS_MNEMONIC_MAX_VALUE + 1]: every instruction by mnemonic */
  uint64_t bytes, insns, invalid_bytes, invalid_runs;
  uint64_t checked;          /* instructions Capstone re-decoded */
  uint64_t other_len_diffs;  /* of those, neither a site nor a class: only the length differs */
  uint64_t *len_diffs;       /* the same by Zydis mnemonic, [ZYDIS_MNEMONIC_MAX_VALUE + 1] */
  uint64_t *len_diff_addr;   /* the first address of each */
  uint64_t cs_only_valid;    /* bytes Zydis rejects where Capstone decodes a non-class insn */
  struct pg_region_stats *rstats;
  struct pg_site *sites;
  size_t nsites, sites_cap;
  struct pg_disagreement *dis;
  size_t ndis, dis_cap;
};

/* Sweep every region of e. Returns 0, or -errno with a message in err. */
int pg_sweep(struct pg_scan *s, const struct pg_elf *e, bool check_all, char *err,
             size_t errlen);
void pg_sweep_free(struct pg_scan *s);

#endif
