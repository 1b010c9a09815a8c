/* input.h - what pgscan was given: an ELF file, a Linux bzImage, or a compressed ELF. */
#ifndef PGSCAN_INPUT_H
#define PGSCAN_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/pgscan/unpack.h"

struct pg_input {
  uint8_t *file; /* the whole file */
  size_t file_size;
  uint8_t *elf; /* the ELF to scan: file itself, or unpacked */
  size_t elf_size;
  uint8_t *unpacked; /* owned when the ELF was decompressed */
  const char *format; /* "ELF", "bzImage" or "compressed ELF" */
  enum pg_comp comp;
  /* bzImage only */
  uint16_t boot_version; /* the setup header's version field, 0x020f for 2.15 */
  size_t payload_off, payload_len; /* where the compressed kernel is in the file: the
                                       header's payload fields, or the stream found */
  bool payload_by_scan;            /* found by its magic number, not by the header */
  char kernel_version[128];
  char note[384]; /* a warning to print, or "" */
};

/* Read path and find the ELF in it. Returns 0, or -errno with a message in err. */
int pg_input_load(const char *path, struct pg_input *in, char *err, size_t errlen);
void pg_input_free(struct pg_input *in);

#endif
