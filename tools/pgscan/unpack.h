/* unpack.h - the compression formats a Linux bzImage payload comes in, and their decoders. */
#ifndef PGSCAN_UNPACK_H
#define PGSCAN_UNPACK_H

#include <stddef.h>
#include <stdint.h>

enum pg_comp {
  PG_COMP_NONE,
  PG_COMP_GZIP,  /* zlib */
  PG_COMP_XZ,    /* liblzma; the kernel's has a BCJ x86 filter and a CRC32 check */
  PG_COMP_LZMA,  /* liblzma, the legacy .lzma ("alone") format */
  PG_COMP_ZSTD,  /* libzstd */
  PG_COMP_LZ4,   /* liblz4, the legacy frame that the kernel's lz4 -l writes */
  PG_COMP_LZ4F,  /* liblz4, the current frame format */
  PG_COMP_BZIP2, /* libbz2 */
  PG_COMP_LZO,   /* lzop: recognised, not decoded */
  PG_NCOMP
};

extern const char *const pg_comp_names[PG_NCOMP];

/* The format whose magic number starts p (PG_COMP_NONE if none). A weak magic (lzma's
 * 5d 00 00) is only trusted with a plausible dictionary size. */
enum pg_comp pg_comp_detect(const uint8_t *p, size_t n);

/* Decode one stream of format comp from in[0..n). Data after the end of the stream (the
 * kernel appends the decompressed size) is ignored. On success *out is a malloc'ed buffer
 * of *out_len bytes and *in_used the length of the stream; on failure returns -errno and
 * writes a message to err. size_hint, if not 0, is the expected output size. */
int pg_decompress(enum pg_comp comp, const uint8_t *in, size_t n, size_t size_hint,
                  uint8_t **out, size_t *out_len, size_t *in_used, char *err, size_t errlen);

#endif
