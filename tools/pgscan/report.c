/* report.c - the counts table, the site listing and the JSON document.
 *
 * The JSON is meant for the later demonstration tool: "counts" maps each class id to its
 * count (every class, zeros included), "groups" repeats them with names, rules and totals,
 * and "sites" and "disagreements" list addresses with both decoders' views. */
#define _GNU_SOURCE /* qsort_r */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/pgscan/report.h"

#define MAX_TEXT_DISAGREEMENTS 40 /* in the table; --sites and --json list every one */

/* Both decoders again, for the text of one instruction. */
struct texts {
  ZydisDecoder dec;
  ZydisFormatter fmt;
  csh cs;
  cs_insn *ci;
};

static int texts_open(struct texts *t) {
  if (!ZYAN_SUCCESS(ZydisDecoderInit(&t->dec, ZYDIS_MACHINE_MODE_LEGACY_32,
                                     ZYDIS_STACK_WIDTH_32)) ||
      !ZYAN_SUCCESS(ZydisFormatterInit(&t->fmt, ZYDIS_FORMATTER_STYLE_INTEL)))
    return -1;
  if (cs_open(CS_ARCH_X86, CS_MODE_32, &t->cs) != CS_ERR_OK)
    return -1;
  t->ci = cs_malloc(t->cs);
  if (!t->ci) {
    cs_close(&t->cs);
    return -1;
  }
  return 0;
}

static void texts_close(struct texts *t) {
  cs_free(t->ci, 1);
  cs_close(&t->cs);
}

static const char *text_zydis(struct texts *t, const struct pg_region *r, uint64_t addr,
                              char *buf, size_t n) {
  ZydisDecodedInstruction in;
  ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
  size_t off = addr - r->addr;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&t->dec, r->data + off, r->size - off, &in, op)) ||
      !ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&t->fmt, &in, op, in.operand_count_visible,
                                                    buf, n, addr, NULL)))
    snprintf(buf, n, "(bad)");
  return buf;
}

static const char *text_capstone(struct texts *t, const struct pg_region *r, uint64_t addr,
                                 char *buf, size_t n) {
  size_t off = addr - r->addr;
  const uint8_t *code = r->data + off;
  size_t size = r->size - off;
  uint64_t a = addr;
  if (!cs_disasm_iter(t->cs, &code, &size, &a, t->ci))
    snprintf(buf, n, "(bad)");
  else if (t->ci->op_str[0])
    snprintf(buf, n, "%s %s", t->ci->mnemonic, t->ci->op_str);
  else
    snprintf(buf, n, "%s", t->ci->mnemonic);
  return buf;
}

static const char *hex_bytes(const struct pg_region *r, uint64_t addr, unsigned len, char *buf,
                             size_t n) {
  size_t off = addr - r->addr, k = 0;
  buf[0] = 0;
  for (unsigned i = 0; i < len && off + i < r->size && k + 4 < n; i++)
    k += snprintf(buf + k, n - k, "%s%02x", i ? " " : "", r->data[off + i]);
  return buf;
}

/* "symbol+0x12" or ".text+0x3456" */
static const char *where(const struct pg_report *rp, const struct pg_region *r, uint64_t addr,
                         char *buf, size_t n) {
  const struct pg_symbol *sym = pg_elf_symbol(rp->e, r, addr);
  if (sym)
    snprintf(buf, n, "%s+0x%" PRIx64, sym->name, addr - sym->addr);
  else
    snprintf(buf, n, "%s+0x%" PRIx64, r->name, addr - r->addr);
  return buf;
}

static uint64_t group_total(const struct pg_scan *s, enum pg_group g) {
  uint64_t t = 0;
  for (int c = 1; c < PG_NCLASSES; c++)
    if (pg_classes[c].group == g)
      t += s->counts[c];
  return t;
}

static const char *dis_kind_id(enum pg_disagree_kind k) {
  switch (k) {
  case PG_DIS_SITE: return "site";
  case PG_DIS_MISSED: return "capstone_only";
  default: return "zydis_invalid";
  }
}

static const char *class_name(unsigned cls, unsigned len) {
  return len ? pg_classes[cls].name : "-";
}

static int cmp_count_desc(const void *a, const void *b, void *ctx) {
  const uint64_t *m = ctx;
  int x = *(const int *)a, y = *(const int *)b;
  return m[x] != m[y] ? (m[x] < m[y] ? 1 : -1) : x - y;
}

/* The mnemonics with a non-zero count in counts[], most frequent first; returns how many. */
static size_t sorted_mnemonics(const uint64_t *counts, int *order) {
  size_t n = 0;
  for (int m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++)
    if (counts[m])
      order[n++] = m;
  qsort_r(order, n, sizeof(*order), cmp_count_desc, (void *)counts);
  return n;
}

/* ---- text ---- */

static void text_input(const struct pg_report *r) {
  const struct pg_input *in = r->in;
  FILE *o = r->out;
  fprintf(o, "pgscan: %s\n", r->path);
  if (strcmp(in->format, "bzImage") == 0) {
    fprintf(o, "  Linux bzImage, boot protocol %u.%02u", in->boot_version >> 8,
            in->boot_version & 0xff);
    if (in->kernel_version[0])
      fprintf(o, ", kernel %s", in->kernel_version);
    fprintf(o, "\n");
  }
  if (in->comp != PG_COMP_NONE)
    fprintf(o, "  %s payload: %zu bytes at file offset 0x%zx (%s), %zu bytes decompressed\n",
            pg_comp_names[in->comp], in->payload_len, in->payload_off,
            in->payload_by_scan ? "found by its magic number"
            : strcmp(in->format, "bzImage") == 0 ? "from the setup header" : "the whole file",
            in->elf_size);
  if (in->note[0])
    fprintf(o, "  note: %s\n", in->note);
  fprintf(o, "  32-bit x86 ELF %s, code from %zu %s%s, %zu symbols\n", r->e->type,
          r->e->nregions, r->e->from_segments ? "PT_LOAD segment" : "executable section",
          r->e->nregions == 1 ? "" : "s", r->e->nsyms);
  if (r->e->from_segments)
    fprintf(o, "  (no section headers: the PF_X segments are scanned whole)\n");
}

static void text_regions(const struct pg_report *r) {
  FILE *o = r->out;
  const struct pg_scan *s = r->s;
  fprintf(o, "\n%-24s %10s %10s %12s %10s\n", "code", "address", "bytes", "instructions",
          "undecoded");
  for (size_t i = 0; i < r->e->nregions; i++) {
    const struct pg_region *g = &r->e->regions[i];
    fprintf(o, "  %-22s %10" PRIx64 " %10zu %12" PRIu64 " %10" PRIu64 "\n", g->name, g->addr,
            g->size, s->rstats[i].insns, s->rstats[i].invalid_bytes);
  }
  fprintf(o, "  %-22s %10s %10" PRIu64 " %12" PRIu64 " %10" PRIu64 "  (in %" PRIu64
          " runs)\n", "total", "", s->bytes, s->insns, s->invalid_bytes, s->invalid_runs);
}

static void text_groups(const struct pg_report *r) {
  static const char *const heads[PG_NGROUPS] = {
      [PG_SENSITIVE] = "why a deprivileged guest kernel goes wrong",
      [PG_PRIVILEGED] = "traps (when)",
      [PG_OTHER] = "neither sensitive nor privileged, but a monitor intercepts it",
  };
  FILE *o = r->out;
  bool starred = false;
  for (int g = 0; g < PG_NGROUPS; g++) {
    fprintf(o, "\n%-26s %8s  %s\n", g == PG_OTHER ? "other" : pg_group_names[g], "count",
            heads[g]);
    for (int c = 1; c < PG_NCLASSES; c++) {
      const struct pg_class_info *ci = &pg_classes[c];
      if ((int)ci->group != g)
        continue;
      bool star = g == PG_SENSITIVE && !ci->robin_irvine;
      starred |= star;
      char name[40];
      snprintf(name, sizeof(name), "%s%s", ci->name, star ? "*" : "");
      fprintf(o, "  %-23s %8" PRIu64 "  %s\n", name, r->s->counts[c], ci->rule);
    }
    if (g != PG_OTHER)
      fprintf(o, "  %-23s %8" PRIu64 "\n", "total", group_total(r->s, (enum pg_group)g));
  }
  if (starred)
    fprintf(o, "\n* not in Robin and Irvine's list; docs/pgscan.md says why it is counted.\n");
}

static void text_disagreement(const struct pg_report *r, struct texts *t,
                              const struct pg_disagreement *d) {
  const struct pg_region *g = &r->e->regions[d->region];
  char w[128], b[64], zt[224], ct[224];
  unsigned len = d->zlen > d->clen ? d->zlen : d->clen;
  fprintf(r->out, "  %08" PRIx64 " %-32s %-20s %s\n"
          "      Zydis:    %-40s %u bytes, %s\n"
          "      Capstone: %-40s %u bytes, %s\n",
          d->addr, where(r, g, d->addr, w, sizeof(w)), hex_bytes(g, d->addr, len, b, sizeof(b)),
          dis_kind_id(d->kind), d->zlen ? text_zydis(t, g, d->addr, zt, sizeof(zt)) : "(bad)",
          d->zlen, class_name(d->zcls, d->zlen),
          d->clen ? text_capstone(t, g, d->addr, ct, sizeof(ct)) : "(bad)", d->clen,
          class_name(d->ccls, d->clen));
}

static size_t count_kind(const struct pg_scan *s, enum pg_disagree_kind k) {
  size_t n = 0;
  for (size_t i = 0; i < s->ndis; i++)
    n += s->dis[i].kind == k;
  return n;
}

static void text_cross_check(const struct pg_report *r, struct texts *t) {
  const struct pg_scan *s = r->s;
  FILE *o = r->out;
  fprintf(o, "\nCapstone cross-check of %s:\n"
          "  %zu sites, %zu of them decoded differently (another length or class)\n",
          s->check_all ? "every instruction" : "the sites only", s->nsites,
          count_kind(s, PG_DIS_SITE));
  if (s->check_all) {
    fprintf(o, "  %zu instructions in no class for Zydis that Capstone puts in one\n"
            "  %zu bytes Zydis cannot decode where Capstone decodes a class\n"
            "  %" PRIu64 " other bytes Zydis cannot decode that Capstone decodes (in no class)\n",
            count_kind(s, PG_DIS_MISSED), count_kind(s, PG_DIS_INVALID), s->cs_only_valid);
    fprintf(o, "  %" PRIu64 " other instructions that differ in length only", s->other_len_diffs);
    int order[ZYDIS_MNEMONIC_MAX_VALUE + 1];
    size_t n = sorted_mnemonics(s->len_diffs, order);
    for (size_t i = 0; i < n; i++)
      fprintf(o, "%s%s %" PRIu64 " (first at %" PRIx64 ")", i ? ", " : ": ",
              ZydisMnemonicGetString((ZydisMnemonic)order[i]), s->len_diffs[order[i]],
              s->len_diff_addr[order[i]]);
    fprintf(o, "\n");
  }
  size_t shown = r->sites || s->ndis <= MAX_TEXT_DISAGREEMENTS ? s->ndis : MAX_TEXT_DISAGREEMENTS;
  if (shown)
    fprintf(o, "disagreements:\n");
  for (size_t i = 0; i < shown; i++)
    text_disagreement(r, t, &s->dis[i]);
  if (shown < s->ndis)
    fprintf(o, "  ... %zu more (--sites or --json lists every one)\n", s->ndis - shown);
}

static void text_sites(const struct pg_report *r, struct texts *t) {
  FILE *o = r->out;
  fprintf(o, "\nsites (%zu):\n", r->s->nsites);
  for (size_t i = 0; i < r->s->nsites; i++) {
    const struct pg_site *st = &r->s->sites[i];
    const struct pg_region *g = &r->e->regions[st->region];
    char w[128], b[64], ct[224];
    fprintf(o, "  %08" PRIx64 "  %-40s %-24s %-36s %s\n", st->addr,
            where(r, g, st->addr, w, sizeof(w)), hex_bytes(g, st->addr, st->len, b, sizeof(b)),
            text_capstone(t, g, st->addr, ct, sizeof(ct)), pg_classes[st->cls].name);
  }
}

static void text_mnemonics(const struct pg_report *r) {
  int order[ZYDIS_MNEMONIC_MAX_VALUE + 1];
  size_t n = sorted_mnemonics(r->s->mnemonics, order);
  fprintf(r->out, "\nevery mnemonic (%zu, by Zydis):\n", n);
  for (size_t i = 0; i < n; i++)
    fprintf(r->out, "  %-16s %10" PRIu64 "\n",
            ZydisMnemonicGetString((ZydisMnemonic)order[i]), r->s->mnemonics[order[i]]);
}

int pg_report_text(const struct pg_report *r) {
  struct texts t;
  if (texts_open(&t) < 0)
    return -1;
  text_input(r);
  text_regions(r);
  text_groups(r);
  text_cross_check(r, &t);
  if (r->sites)
    text_sites(r, &t);
  if (r->mnemonics)
    text_mnemonics(r);
  texts_close(&t);
  return 0;
}

/* ---- JSON ---- */

static void json_str(FILE *o, const char *s) {
  fputc('"', o);
  for (; *s; s++) {
    unsigned char c = *s;
    if (c == '"' || c == '\\')
      fprintf(o, "\\%c", c);
    else if (c < 0x20 || c == 0x7f) /* bytes from 0x80 on pass as UTF-8 */
      fprintf(o, "\\u%04x", c);
    else
      fputc(c, o);
  }
  fputc('"', o);
}

static void json_input(const struct pg_report *r) {
  const struct pg_input *in = r->in;
  FILE *o = r->out;
  fprintf(o, "  \"input\": {\"format\": ");
  json_str(o, in->format);
  fprintf(o, ", \"size\": %zu", in->file_size);
  if (strcmp(in->format, "bzImage") == 0) {
    fprintf(o, ", \"boot_protocol\": \"%u.%02u\", \"kernel_version\": ",
            in->boot_version >> 8, in->boot_version & 0xff);
    json_str(o, in->kernel_version);
  }
  if (in->comp != PG_COMP_NONE)
    fprintf(o, ", \"compression\": \"%s\", \"payload_offset\": %zu, \"payload_length\": %zu, "
            "\"payload_found_by\": \"%s\", \"elf_size\": %zu", pg_comp_names[in->comp],
            in->payload_off, in->payload_len, in->payload_by_scan ? "magic" : "header",
            in->elf_size);
  if (in->note[0]) {
    fprintf(o, ", \"note\": ");
    json_str(o, in->note);
  }
  fprintf(o, "},\n  \"elf\": {\"type\": \"%s\", \"code_from\": \"%s\", \"symbols\": %zu},\n",
          r->e->type, r->e->from_segments ? "segments" : "sections", r->e->nsyms);
}

static void json_regions(const struct pg_report *r) {
  const struct pg_scan *s = r->s;
  FILE *o = r->out;
  fprintf(o, "  \"regions\": [");
  for (size_t i = 0; i < r->e->nregions; i++) {
    const struct pg_region *g = &r->e->regions[i];
    fprintf(o, "%s\n    {\"name\": ", i ? "," : "");
    json_str(o, g->name);
    fprintf(o, ", \"address\": %" PRIu64 ", \"size\": %zu, \"instructions\": %" PRIu64
            ", \"invalid_bytes\": %" PRIu64 ", \"invalid_runs\": %" PRIu64 "}", g->addr, g->size,
            s->rstats[i].insns, s->rstats[i].invalid_bytes, s->rstats[i].invalid_runs);
  }
  fprintf(o, "\n  ],\n  \"bytes\": %" PRIu64 ", \"instructions\": %" PRIu64
          ", \"invalid_bytes\": %" PRIu64 ", \"invalid_runs\": %" PRIu64 ",\n", s->bytes, s->insns,
          s->invalid_bytes, s->invalid_runs);
}

static void json_counts(const struct pg_report *r) {
  FILE *o = r->out;
  fprintf(o, "  \"counts\": {");
  for (int c = 1; c < PG_NCLASSES; c++)
    fprintf(o, "%s\"%s\": %" PRIu64, c > 1 ? ", " : "", pg_classes[c].id, r->s->counts[c]);
  fprintf(o, "},\n  \"groups\": [");
  for (int g = 0; g < PG_NGROUPS; g++) {
    fprintf(o, "%s\n    {\"id\": \"%s\", \"name\": ", g ? "," : "", pg_group_ids[g]);
    json_str(o, pg_group_names[g]);
    fprintf(o, ", \"total\": %" PRIu64 ", \"classes\": [", group_total(r->s, (enum pg_group)g));
    bool first = true;
    for (int c = 1; c < PG_NCLASSES; c++) {
      const struct pg_class_info *ci = &pg_classes[c];
      if ((int)ci->group != g)
        continue;
      fprintf(o, "%s\n      {\"id\": \"%s\", \"name\": ", first ? "" : ",", ci->id);
      json_str(o, ci->name);
      fprintf(o, ", \"count\": %" PRIu64 ", \"robin_irvine\": %s, \"rule\": ", r->s->counts[c],
              ci->robin_irvine ? "true" : "false");
      json_str(o, ci->rule);
      fputc('}', o);
      first = false;
    }
    fprintf(o, "]}");
  }
  fprintf(o, "\n  ],\n");
}

static void json_location(const struct pg_report *r, const struct pg_region *g, uint64_t addr) {
  const struct pg_symbol *sym = pg_elf_symbol(r->e, g, addr);
  FILE *o = r->out;
  fprintf(o, "\"address\": %" PRIu64 ", \"region\": ", addr);
  json_str(o, g->name);
  fprintf(o, ", \"symbol\": ");
  if (sym)
    json_str(o, sym->name);
  else
    fprintf(o, "null");
  fprintf(o, ", \"offset\": %" PRIu64, addr - (sym ? sym->addr : g->addr));
}

static void json_decoder(FILE *o, const char *name, const char *text, unsigned len,
                         unsigned cls) {
  fprintf(o, ", \"%s\": {\"text\": ", name);
  json_str(o, text);
  fprintf(o, ", \"length\": %u, \"class\": \"%s\"}", len, len ? pg_classes[cls].id : "-");
}

static void json_cross_check(const struct pg_report *r, struct texts *t) {
  const struct pg_scan *s = r->s;
  FILE *o = r->out;
  fprintf(o, "  \"cross_check\": {\"decoder\": \"capstone\", \"scope\": \"%s\", "
          "\"checked\": %" PRIu64 ", \"disagreements\": %zu, \"site\": %zu, "
          "\"capstone_only\": %zu, \"zydis_invalid\": %zu, \"other_length_differences\": %"
          PRIu64 ", \"length_only\": {", s->check_all ? "all" : "sites", s->checked, s->ndis,
          count_kind(s, PG_DIS_SITE), count_kind(s, PG_DIS_MISSED),
          count_kind(s, PG_DIS_INVALID), s->other_len_diffs);
  int order[ZYDIS_MNEMONIC_MAX_VALUE + 1];
  size_t n = sorted_mnemonics(s->len_diffs, order);
  for (size_t i = 0; i < n; i++)
    fprintf(o, "%s\"%s\": {\"count\": %" PRIu64 ", \"first_address\": %" PRIu64 "}",
            i ? ", " : "", ZydisMnemonicGetString((ZydisMnemonic)order[i]),
            s->len_diffs[order[i]], s->len_diff_addr[order[i]]);
  fprintf(o, "}, \"capstone_only_decodable_bytes\": %" PRIu64 "},\n  \"disagreements\": [",
          s->cs_only_valid);
  for (size_t i = 0; i < s->ndis; i++) {
    const struct pg_disagreement *d = &s->dis[i];
    const struct pg_region *g = &r->e->regions[d->region];
    char b[64], zt[224], ct[224];
    unsigned len = d->zlen > d->clen ? d->zlen : d->clen;
    fprintf(o, "%s\n    {\"kind\": \"%s\", ", i ? "," : "", dis_kind_id(d->kind));
    json_location(r, g, d->addr);
    fprintf(o, ", \"bytes\": \"%s\"", hex_bytes(g, d->addr, len, b, sizeof(b)));
    json_decoder(o, "zydis", d->zlen ? text_zydis(t, g, d->addr, zt, sizeof(zt)) : "(bad)",
                 d->zlen, d->zcls);
    json_decoder(o, "capstone",
                 d->clen ? text_capstone(t, g, d->addr, ct, sizeof(ct)) : "(bad)", d->clen,
                 d->ccls);
    fputc('}', o);
  }
  fprintf(o, "%s]", s->ndis ? "\n  " : "");
}

static void json_sites(const struct pg_report *r, struct texts *t) {
  FILE *o = r->out;
  fprintf(o, ",\n  \"sites\": [");
  for (size_t i = 0; i < r->s->nsites; i++) {
    const struct pg_site *st = &r->s->sites[i];
    const struct pg_region *g = &r->e->regions[st->region];
    char b[64], ct[224];
    fprintf(o, "%s\n    {\"class\": \"%s\", ", i ? "," : "", pg_classes[st->cls].id);
    json_location(r, g, st->addr);
    fprintf(o, ", \"bytes\": \"%s\", \"capstone\": ", hex_bytes(g, st->addr, st->len, b,
                                                               sizeof(b)));
    json_str(o, text_capstone(t, g, st->addr, ct, sizeof(ct)));
    fputc('}', o);
  }
  fprintf(o, "%s]", r->s->nsites ? "\n  " : "");
}

static void json_mnemonics(const struct pg_report *r) {
  int order[ZYDIS_MNEMONIC_MAX_VALUE + 1];
  size_t n = sorted_mnemonics(r->s->mnemonics, order);
  fprintf(r->out, ",\n  \"mnemonics\": {");
  for (size_t i = 0; i < n; i++)
    fprintf(r->out, "%s\"%s\": %" PRIu64, i ? ", " : "",
            ZydisMnemonicGetString((ZydisMnemonic)order[i]), r->s->mnemonics[order[i]]);
  fprintf(r->out, "}");
}

int pg_report_json(const struct pg_report *r) {
  struct texts t;
  if (texts_open(&t) < 0)
    return -1;
  FILE *o = r->out;
  fprintf(o, "{\n  \"pgscan\": 1,\n  \"file\": ");
  json_str(o, r->path);
  fprintf(o, ",\n");
  json_input(r);
  json_regions(r);
  json_counts(r);
  json_cross_check(r, &t);
  if (r->sites)
    json_sites(r, &t);
  if (r->mnemonics)
    json_mnemonics(r);
  fprintf(o, "\n}\n");
  texts_close(&t);
  return 0;
}
