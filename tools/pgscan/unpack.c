/* unpack.c - decoders for the formats Linux compresses its bzImage payload with
 * (CONFIG_KERNEL_GZIP, _XZ, _LZMA, _ZSTD, _LZ4, _BZIP2; _LZO is recognised only), each
 * through the library Debian ships for it. Every decoder takes the whole compressed input,
 * grows one output buffer, and stops at the end of the first stream: the kernel's build
 * appends the decompressed size as 4 more bytes (scripts/Makefile.lib, size_append). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>
#include <lz4.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "tools/pgscan/unpack.h"

#define MAX_OUT ((size_t)1 << 30) /* a kernel is far smaller: more is a bad stream */
#define STEP ((size_t)8 << 20)    /* free space per decoder call; also LZ4 legacy's block */
#define LZ4_LEGACY_MAGIC 0x184c2102u

const char *const pg_comp_names[PG_NCOMP] = {
    [PG_COMP_NONE] = "none", [PG_COMP_GZIP] = "gzip", [PG_COMP_XZ] = "xz",
    [PG_COMP_LZMA] = "lzma", [PG_COMP_ZSTD] = "zstd", [PG_COMP_LZ4] = "lz4",
    [PG_COMP_LZ4F] = "lz4-frame", [PG_COMP_BZIP2] = "bzip2", [PG_COMP_LZO] = "lzo",
};

struct obuf {
  uint8_t *p;
  size_t len, cap;
  size_t used; /* compressed bytes the stream took */
  char *err;
  size_t errlen;
};

static int fail(struct obuf *o, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->err, o->errlen, fmt, ap);
  va_end(ap);
  return rc;
}

/* At least STEP bytes free after o->len. */
static int reserve(struct obuf *o) {
  if (o->cap - o->len >= STEP)
    return 0;
  size_t cap = o->cap ? o->cap * 2 : 4 * STEP;
  while (cap - o->len < STEP)
    cap *= 2;
  if (cap > MAX_OUT + STEP)
    return fail(o, -EFBIG, "decompressed data larger than %zu MiB", MAX_OUT >> 20);
  uint8_t *p = realloc(o->p, cap);
  if (!p)
    return fail(o, -ENOMEM, "out of memory");
  o->p = p;
  o->cap = cap;
  return 0;
}

static uint32_t le32(const uint8_t *p) {
  return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

enum pg_comp pg_comp_detect(const uint8_t *p, size_t n) {
  static const uint8_t xz[] = {0xfd, '7', 'z', 'X', 'Z', 0};
  static const uint8_t lzo[] = {0x89, 'L', 'Z', 'O', 0, '\r', '\n', 0x1a, '\n'};
  static const uint8_t bz_block[] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
  if (n >= sizeof(xz) && memcmp(p, xz, sizeof(xz)) == 0)
    return PG_COMP_XZ;
  if (n >= sizeof(lzo) && memcmp(p, lzo, sizeof(lzo)) == 0)
    return PG_COMP_LZO;
  if (n >= 10 && memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9' &&
      memcmp(p + 4, bz_block, sizeof(bz_block)) == 0)
    return PG_COMP_BZIP2;
  if (n >= 4 && le32(p) == 0xfd2fb528u)
    return PG_COMP_ZSTD;
  if (n >= 4 && le32(p) == LZ4_LEGACY_MAGIC)
    return PG_COMP_LZ4;
  if (n >= 4 && le32(p) == 0x184d2204u)
    return PG_COMP_LZ4F;
  if (n >= 4 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8 && (p[3] & 0xe0) == 0)
    return PG_COMP_GZIP;
  if (n >= 13 && p[0] == 0x5d) {
    uint32_t dict = le32(p + 1);
    if (dict >= (1u << 16) && (dict & (dict - 1)) == 0)
      return PG_COMP_LZMA;
  }
  return PG_COMP_NONE;
}

static int unpack_gzip(const uint8_t *in, size_t n, struct obuf *o) {
  z_stream s;
  memset(&s, 0, sizeof(s));
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
    return fail(o, -ENOMEM, "zlib: cannot initialise");
  s.next_in = (Bytef *)in;
  s.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
  int rc = 0;
  for (;;) {
    if ((rc = reserve(o)) < 0)
      break;
    s.next_out = o->p + o->len;
    s.avail_out = (uInt)(o->cap - o->len > UINT32_MAX ? UINT32_MAX : o->cap - o->len);
    int z = inflate(&s, Z_NO_FLUSH);
    o->len = s.next_out - o->p;
    o->used = s.total_in;
    if (z == Z_STREAM_END)
      break;
    if (z == Z_BUF_ERROR && s.avail_in == 0) {
      rc = fail(o, -EINVAL, "gzip: truncated stream");
      break;
    }
    if (z != Z_OK && z != Z_BUF_ERROR) {
      rc = fail(o, -EINVAL, "gzip: %s", s.msg ? s.msg : "bad stream");
      break;
    }
  }
  inflateEnd(&s);
  return rc;
}

static const char *lzma_error(lzma_ret r) {
  switch (r) {
  case LZMA_BUF_ERROR: return "truncated stream";
  case LZMA_DATA_ERROR: return "corrupt data";
  case LZMA_FORMAT_ERROR: return "not this format";
  case LZMA_OPTIONS_ERROR: return "unsupported options";
  case LZMA_MEM_ERROR: return "out of memory";
  case LZMA_MEMLIMIT_ERROR: return "memory limit reached";
  default: return "bad stream";
  }
}

static int unpack_lzma_common(const uint8_t *in, size_t n, struct obuf *o, bool alone) {
  lzma_stream s = LZMA_STREAM_INIT;
  lzma_ret r = alone ? lzma_alone_decoder(&s, UINT64_MAX)
                     : lzma_stream_decoder(&s, UINT64_MAX, 0);
  const char *what = alone ? "lzma" : "xz";
  if (r != LZMA_OK)
    return fail(o, -ENOMEM, "%s: cannot initialise (liblzma error %d)", what, (int)r);
  s.next_in = in;
  s.avail_in = n;
  int rc = 0;
  for (;;) {
    if ((rc = reserve(o)) < 0)
      break;
    s.next_out = o->p + o->len;
    s.avail_out = o->cap - o->len;
    r = lzma_code(&s, LZMA_FINISH);
    o->len = s.next_out - o->p;
    o->used = s.total_in;
    if (r == LZMA_STREAM_END)
      break;
    if (r != LZMA_OK) {
      rc = fail(o, -EINVAL, "%s: %s (liblzma error %d)", what, lzma_error(r), (int)r);
      break;
    }
  }
  lzma_end(&s);
  return rc;
}

static int unpack_zstd(const uint8_t *in, size_t n, struct obuf *o) {
  ZSTD_DCtx *d = ZSTD_createDCtx();
  if (!d)
    return fail(o, -ENOMEM, "zstd: cannot initialise");
  ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 31);
  ZSTD_inBuffer ib = {in, n, 0};
  int rc = 0;
  for (;;) {
    if ((rc = reserve(o)) < 0)
      break;
    ZSTD_outBuffer ob = {o->p + o->len, o->cap - o->len, 0};
    size_t r = ZSTD_decompressStream(d, &ob, &ib);
    o->len += ob.pos;
    o->used = ib.pos;
    if (ZSTD_isError(r)) {
      rc = fail(o, -EINVAL, "zstd: %s", ZSTD_getErrorName(r));
      break;
    }
    if (r == 0)
      break;
    if (ib.pos == ib.size && ob.pos < ob.size) {
      rc = fail(o, -EINVAL, "zstd: truncated stream");
      break;
    }
  }
  ZSTD_freeDCtx(d);
  return rc;
}

/* The legacy frame: a magic number, then blocks of (le32 compressed size, LZ4 block), each
 * at most 8 MiB decompressed. A size that does not fit in the input is the kernel's size
 * trailer, or garbage after the stream: either way the stream has ended. */
static int unpack_lz4_legacy(const uint8_t *in, size_t n, struct obuf *o) {
  size_t pos = 4;
  while (n - pos >= 4) {
    uint32_t csize = le32(in + pos);
    if (csize == LZ4_LEGACY_MAGIC) {
      pos += 4;
      continue;
    }
    if (csize == 0 || csize > n - pos - 4 || csize > (uint32_t)LZ4_compressBound(STEP))
      break;
    int rc = reserve(o);
    if (rc < 0)
      return rc;
    int r = LZ4_decompress_safe((const char *)in + pos + 4, (char *)o->p + o->len, (int)csize,
                                (int)STEP);
    if (r < 0)
      return fail(o, -EINVAL, "lz4: bad block at offset %zu", pos);
    o->len += r;
    pos += 4 + csize;
  }
  o->used = pos;
  if (o->len == 0)
    return fail(o, -EINVAL, "lz4: no data blocks");
  return 0;
}

static int unpack_lz4_frame(const uint8_t *in, size_t n, struct obuf *o) {
  LZ4F_dctx *d;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
    return fail(o, -ENOMEM, "lz4: cannot initialise");
  size_t pos = 0;
  int rc = 0;
  for (;;) {
    if ((rc = reserve(o)) < 0)
      break;
    size_t dst = o->cap - o->len, src = n - pos;
    size_t r = LZ4F_decompress(d, o->p + o->len, &dst, in + pos, &src, NULL);
    pos += src;
    o->len += dst;
    o->used = pos;
    if (LZ4F_isError(r)) {
      rc = fail(o, -EINVAL, "lz4: %s", LZ4F_getErrorName(r));
      break;
    }
    if (r == 0)
      break;
    if (pos == n && dst == 0) {
      rc = fail(o, -EINVAL, "lz4: truncated frame");
      break;
    }
  }
  LZ4F_freeDecompressionContext(d);
  return rc;
}

static int unpack_bzip2(const uint8_t *in, size_t n, struct obuf *o) {
  bz_stream s;
  memset(&s, 0, sizeof(s));
  if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK)
    return fail(o, -ENOMEM, "bzip2: cannot initialise");
  s.next_in = (char *)in;
  s.avail_in = n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
  int rc = 0;
  for (;;) {
    if ((rc = reserve(o)) < 0)
      break;
    size_t room = o->cap - o->len > UINT32_MAX ? UINT32_MAX : o->cap - o->len;
    s.next_out = (char *)o->p + o->len;
    s.avail_out = (unsigned)room;
    int r = BZ2_bzDecompress(&s);
    o->len += room - s.avail_out;
    o->used = n - s.avail_in;
    if (r == BZ_STREAM_END)
      break;
    if (r != BZ_OK) {
      rc = fail(o, -EINVAL, "bzip2: bad stream (libbz2 error %d)", r);
      break;
    }
    if (s.avail_in == 0 && s.avail_out > 0) {
      rc = fail(o, -EINVAL, "bzip2: truncated stream");
      break;
    }
  }
  BZ2_bzDecompressEnd(&s);
  return rc;
}

int pg_decompress(enum pg_comp comp, const uint8_t *in, size_t n, size_t size_hint,
                  uint8_t **out, size_t *out_len, size_t *in_used, char *err, size_t errlen) {
  struct obuf o = {NULL, 0, 0, 0, err, errlen};
  if (size_hint && size_hint <= MAX_OUT) {
    o.p = malloc(size_hint + STEP);
    o.cap = o.p ? size_hint + STEP : 0;
  }
  int rc;
  switch (comp) {
  case PG_COMP_GZIP: rc = unpack_gzip(in, n, &o); break;
  case PG_COMP_XZ: rc = unpack_lzma_common(in, n, &o, false); break;
  case PG_COMP_LZMA: rc = unpack_lzma_common(in, n, &o, true); break;
  case PG_COMP_ZSTD: rc = unpack_zstd(in, n, &o); break;
  case PG_COMP_LZ4: rc = unpack_lz4_legacy(in, n, &o); break;
  case PG_COMP_LZ4F: rc = unpack_lz4_frame(in, n, &o); break;
  case PG_COMP_BZIP2: rc = unpack_bzip2(in, n, &o); break;
  case PG_COMP_LZO:
    rc = fail(&o, -ENOTSUP,
              "LZO (lzop) compression is not supported; pgscan reads gzip, xz, lzma, zstd, "
              "lz4 and bzip2 (extract the vmlinux with the kernel's "
              "scripts/extract-vmlinux and scan that)");
    break;
  default:
    rc = fail(&o, -ENOTSUP, "unknown compression format");
    break;
  }
  if (rc < 0) {
    free(o.p);
    return rc;
  }
  *out = o.p;
  *out_len = o.len;
  *in_used = o.used;
  return 0;
}
