/* elfcode.h - the code of a 32-bit x86 ELF file: its executable regions and its symbols. */
#ifndef PGSCAN_ELFCODE_H
#define PGSCAN_ELFCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

/* An executable section, or a PT_LOAD segment with PF_X when there are no sections. */
struct pg_region {
  char name[64];
  uint64_t addr;
  const uint8_t *data;
  size_t size;
  size_t shndx; /* 0 for a segment */
};

struct pg_symbol {
  uint64_t addr;
  size_t shndx;
  int rank; /* of symbols at one address, the highest names it: functions, then globals */
  const char *name;
};

struct pg_elf {
  Elf *elf;
  const char *type; /* "executable", "relocatable", "shared object", ... */
  bool from_segments;
  struct pg_region *regions;
  size_t nregions;
  struct pg_symbol *syms; /* sorted by (shndx, addr, rank) */
  size_t nsyms;
};

/* Open the ELF in buf (which must outlive e). Returns 0, or -errno with a message in err. */
int pg_elf_open(uint8_t *buf, size_t size, struct pg_elf *e, char *err, size_t errlen);
void pg_elf_close(struct pg_elf *e);

/* The symbol at or before addr in region r, and addr's offset from it; NULL if none. */
const struct pg_symbol *pg_elf_symbol(const struct pg_elf *e, const struct pg_region *r,
                                      uint64_t addr);

#endif
