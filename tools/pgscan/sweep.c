/* sweep.c - linear sweep: decode each code region from its first byte to its last with Zydis
 * (32-bit legacy mode), one instruction after the other. A byte Zydis cannot decode (data,
 * padding, an invalid prefix combination) is skipped and decoding resumes at the next byte,
 * which resynchronises on real instructions after a few bytes in practice. A sweep does not
 * follow control flow: data that happens to decode stays counted, and an instruction hidden
 * behind data that swallows its first bytes is missed (docs/pgscan.md).
 *
 * Every site is decoded a second time with Capstone; with check_all, so is every other
 * instruction and every byte Zydis rejected, so that sites only Capstone sees are reported
 * as well. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/pgscan/sweep.h"

struct sweeper {
  struct pg_scan *s;
  const struct pg_elf *e;
  ZydisDecoder dec;
  csh cs;
  cs_insn *ci;
};

static int grow(void **p, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : 256;
  void *q = realloc(*p, c * size);
  if (!q)
    return -ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

static int add_site(struct pg_scan *s, uint32_t region, uint64_t addr, unsigned len,
                    enum pg_class cls) {
  if (grow((void **)&s->sites, &s->sites_cap, s->nsites, sizeof(*s->sites)) < 0)
    return -ENOMEM;
  s->sites[s->nsites++] = (struct pg_site){addr, region, (uint8_t)len, (uint8_t)cls};
  return 0;
}

static int add_dis(struct pg_scan *s, enum pg_disagree_kind kind, uint32_t region,
                   uint64_t addr, unsigned zlen, enum pg_class zcls, unsigned clen,
                   enum pg_class ccls) {
  if (grow((void **)&s->dis, &s->dis_cap, s->ndis, sizeof(*s->dis)) < 0)
    return -ENOMEM;
  s->dis[s->ndis++] = (struct pg_disagreement){addr, region, (uint8_t)kind, (uint8_t)zlen,
                                               (uint8_t)clen, (uint8_t)zcls, (uint8_t)ccls};
  return 0;
}

/* Capstone's length of the instruction at off (0 if it cannot decode one), and its class. */
static unsigned capstone_at(struct sweeper *w, const struct pg_region *r, size_t off,
                            enum pg_class *cls) {
  const uint8_t *code = r->data + off;
  size_t size = r->size - off;
  uint64_t addr = r->addr + off;
  *cls = PG_NONE;
  if (!cs_disasm_iter(w->cs, &code, &size, &addr, w->ci))
    return 0;
  *cls = pg_class_capstone(w->ci);
  return w->ci->size;
}

static int cross_check(struct sweeper *w, uint32_t ri, size_t off,
                       const ZydisDecodedInstruction *in, enum pg_class zcls) {
  unsigned zlen = in->length;
  const struct pg_region *r = &w->e->regions[ri];
  enum pg_class ccls;
  unsigned clen = capstone_at(w, r, off, &ccls);
  w->s->checked++;
  if (zcls != PG_NONE) {
    if (clen != zlen || ccls != zcls)
      return add_dis(w->s, PG_DIS_SITE, ri, r->addr + off, zlen, zcls, clen, ccls);
  } else if (ccls != PG_NONE) {
    return add_dis(w->s, PG_DIS_MISSED, ri, r->addr + off, zlen, zcls, clen, ccls);
  } else if (clen != zlen) {
    w->s->other_len_diffs++;
    if (w->s->len_diffs[in->mnemonic]++ == 0)
      w->s->len_diff_addr[in->mnemonic] = r->addr + off;
  }
  return 0;
}

static int check_invalid(struct sweeper *w, uint32_t ri, size_t off) {
  const struct pg_region *r = &w->e->regions[ri];
  enum pg_class ccls;
  unsigned clen = capstone_at(w, r, off, &ccls);
  if (clen == 0)
    return 0;
  if (ccls != PG_NONE)
    return add_dis(w->s, PG_DIS_INVALID, ri, r->addr + off, 0, PG_NONE, clen, ccls);
  w->s->cs_only_valid++;
  return 0;
}

static int sweep_region(struct sweeper *w, uint32_t ri) {
  const struct pg_region *r = &w->e->regions[ri];
  struct pg_scan *s = w->s;
  struct pg_region_stats *st = &s->rstats[ri];
  bool in_run = false;
  int rc = 0;
  for (size_t off = 0; off < r->size && rc == 0;) {
    ZydisDecoderContext ctx;
    ZydisDecodedInstruction in;
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&w->dec, &ctx, r->data + off,
                                                    r->size - off, &in))) {
      st->invalid_bytes++;
      st->invalid_runs += !in_run;
      in_run = true;
      if (s->check_all)
        rc = check_invalid(w, ri, off);
      off++;
      continue;
    }
    in_run = false;
    st->insns++;
    s->mnemonics[in.mnemonic]++;
    enum pg_class cls = pg_class_zydis(&w->dec, &ctx, &in);
    if (cls != PG_NONE) {
      s->counts[cls]++;
      rc = add_site(s, ri, r->addr + off, in.length, cls);
    }
    if (rc == 0 && (cls != PG_NONE || s->check_all))
      rc = cross_check(w, ri, off, &in, cls);
    off += in.length;
  }
  s->bytes += r->size;
  s->insns += st->insns;
  s->invalid_bytes += st->invalid_bytes;
  s->invalid_runs += st->invalid_runs;
  return rc;
}

int pg_sweep(struct pg_scan *s, const struct pg_elf *e, bool check_all, char *err,
             size_t errlen) {
  memset(s, 0, sizeof(*s));
  s->check_all = check_all;
  struct sweeper w = {.s = s, .e = e};
  int rc = -ENOMEM;
  s->mnemonics = calloc(ZYDIS_MNEMONIC_MAX_VALUE + 1, sizeof(*s->mnemonics));
  s->len_diffs = calloc(ZYDIS_MNEMONIC_MAX_VALUE + 1, sizeof(*s->len_diffs));
  s->len_diff_addr = calloc(ZYDIS_MNEMONIC_MAX_VALUE + 1, sizeof(*s->len_diff_addr));
  s->rstats = calloc(e->nregions, sizeof(*s->rstats));
  if (!s->mnemonics || !s->len_diffs || !s->len_diff_addr || !s->rstats)
    goto out;
  if (!ZYAN_SUCCESS(ZydisDecoderInit(&w.dec, ZYDIS_MACHINE_MODE_LEGACY_32,
                                     ZYDIS_STACK_WIDTH_32))) {
    snprintf(err, errlen, "Zydis: cannot initialise the decoder");
    rc = -EINVAL;
    goto out;
  }
  if (cs_open(CS_ARCH_X86, CS_MODE_32, &w.cs) != CS_ERR_OK) {
    snprintf(err, errlen, "Capstone: cannot open an x86-32 handle");
    rc = -EINVAL;
    goto out;
  }
  cs_option(w.cs, CS_OPT_DETAIL, CS_OPT_ON);
  w.ci = cs_malloc(w.cs);
  if (!w.ci)
    goto close_cs;
  rc = 0;
  for (uint32_t i = 0; i < e->nregions && rc == 0; i++)
    rc = sweep_region(&w, i);
  cs_free(w.ci, 1);
close_cs:
  cs_close(&w.cs);
out:
  if (rc == -ENOMEM)
    snprintf(err, errlen, "out of memory");
  if (rc < 0)
    pg_sweep_free(s);
  return rc;
}

void pg_sweep_free(struct pg_scan *s) {
  free(s->mnemonics);
  free(s->len_diffs);
  free(s->len_diff_addr);
  free(s->rstats);
  free(s->sites);
  free(s->dis);
  memset(s, 0, sizeof(*s));
}
