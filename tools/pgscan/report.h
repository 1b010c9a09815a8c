/* report.h - pgscan's output: the table for people, JSON for programs. */
#ifndef PGSCAN_REPORT_H
#define PGSCAN_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "tools/pgscan/elfcode.h"
#include "tools/pgscan/input.h"
#include "tools/pgscan/sweep.h"

struct pg_report {
  const char *path;
  const struct pg_input *in;
  const struct pg_elf *e;
  const struct pg_scan *s;
  bool sites;     /* list every site */
  bool mnemonics; /* count every mnemonic */
  FILE *out;
};

/* Both return 0, or -1 if a decoder for the site listings cannot be set up. */
int pg_report_text(const struct pg_report *r);
int pg_report_json(const struct pg_report *r);

#endif
