/* pgscan_mkinputs.c - wrap the sample ELF the ways pgscan must unwrap it.
 *
 *   pgscan_mkinputs SAMPLE.elf OUTDIR
 *
 * writes into OUTDIR:
 *   nosections.elf       SAMPLE without section headers (pgscan falls back to PF_X segments)
 *   FORMAT.bzImage       a bzImage-shaped file, boot protocol 2.15, whose payload fields point
 *                        at SAMPLE compressed with FORMAT (gzip xz lzma zstd lz4 bzip2), the
 *                        way the kernel's build does it (xz with the x86 BCJ filter and
 *                        CRC32, the decompressed size appended)
 *   oldproto.bzImage     boot protocol 2.04 (no payload fields), xz: found by its magic
 *                        number, after a gzip header that does not decode
 *   badfields.bzImage    2.15 with payload fields that point at no stream: found by magic
 *   lz4frame.elf.lz4     SAMPLE in the LZ4 frame format, as a plain compressed file
 *   lzo.bzImage          an lzop magic number: pgscan must say it does not support it
 *   corrupt.bzImage      xz.bzImage with a byte of the stream changed: nothing decodes
 *   truncated.elf        SAMPLE whose first code section reaches past the end of the file
 *
 * The files only need the setup header fields pgscan reads; nothing here boots. */
#include <bzlib.h>
#include <elf.h>
#include <errno.h>
#include <lz4.h>
#include <lz4frame.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define SETUP_SECTS 4
#define PM_OFFSET ((SETUP_SECTS + 1) * 512)
#define STUB_SIZE 512 /* stands in for the kernel's decompressor */

struct buf {
  uint8_t *p;
  size_t len;
};

static void die(const char *what) {
  fprintf(stderr, "pgscan_mkinputs: %s\n", what);
  exit(1);
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = v;
  p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, v);
  put16(p + 2, v >> 16);
}

static struct buf read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    die(strerror(errno));
  struct buf b = {NULL, 0};
  size_t cap = 0;
  for (;;) {
    if (b.len == cap && !(b.p = realloc(b.p, cap = cap ? cap * 2 : 65536)))
      die("out of memory");
    size_t n = fread(b.p + b.len, 1, cap - b.len, f);
    if (n == 0)
      break;
    b.len += n;
  }
  fclose(f);
  return b;
}

static void write_all(const char *dir, const char *name, const uint8_t *p, size_t n) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
    die(path);
}

static struct buf out_buf(size_t n) {
  struct buf b = {malloc(n), n};
  if (!b.p)
    die("out of memory");
  return b;
}

static struct buf gzip(const struct buf *in) {
  struct buf o = out_buf(compressBound(in->len) + 64);
  z_stream s;
  memset(&s, 0, sizeof(s));
  if (deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    die("deflateInit2");
  s.next_in = in->p;
  s.avail_in = in->len;
  s.next_out = o.p;
  s.avail_out = o.len;
  if (deflate(&s, Z_FINISH) != Z_STREAM_END)
    die("deflate");
  o.len = s.total_out;
  deflateEnd(&s);
  return o;
}

static struct buf xz(const struct buf *in) {
  lzma_options_lzma opt;
  lzma_lzma_preset(&opt, 6);
  lzma_filter filters[] = {{LZMA_FILTER_X86, NULL}, {LZMA_FILTER_LZMA2, &opt},
                           {LZMA_VLI_UNKNOWN, NULL}};
  struct buf o = out_buf(lzma_stream_buffer_bound(in->len));
  size_t pos = 0;
  if (lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, in->p, in->len, o.p, &pos,
                                o.len) != LZMA_OK)
    die("lzma_stream_buffer_encode");
  o.len = pos;
  return o;
}

static struct buf lzma_alone(const struct buf *in) {
  lzma_options_lzma opt;
  lzma_lzma_preset(&opt, 6);
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_alone_encoder(&s, &opt) != LZMA_OK)
    die("lzma_alone_encoder");
  struct buf o = out_buf(lzma_stream_buffer_bound(in->len) + 64);
  s.next_in = in->p;
  s.avail_in = in->len;
  s.next_out = o.p;
  s.avail_out = o.len;
  if (lzma_code(&s, LZMA_FINISH) != LZMA_STREAM_END)
    die("lzma_code");
  o.len = s.total_out;
  lzma_end(&s);
  return o;
}

static struct buf zstd(const struct buf *in) {
  struct buf o = out_buf(ZSTD_compressBound(in->len));
  size_t n = ZSTD_compress(o.p, o.len, in->p, in->len, 19);
  if (ZSTD_isError(n))
    die("ZSTD_compress");
  o.len = n;
  return o;
}

/* The legacy frame of lz4 -l: magic, then (le32 size, block) for every 8 MiB. */
static struct buf lz4_legacy(const struct buf *in) {
  const size_t block = 8 << 20;
  struct buf o = out_buf(4 + (in->len / block + 1) * (4 + LZ4_compressBound(block)));
  put32(o.p, 0x184c2102);
  size_t len = 4;
  for (size_t pos = 0; pos < in->len; pos += block) {
    size_t n = in->len - pos < block ? in->len - pos : block;
    int c = LZ4_compress_default((const char *)in->p + pos, (char *)o.p + len + 4, (int)n,
                                 LZ4_compressBound(block));
    if (c <= 0)
      die("LZ4_compress_default");
    put32(o.p + len, c);
    len += 4 + c;
  }
  o.len = len;
  return o;
}

static struct buf lz4_frame(const struct buf *in) {
  struct buf o = out_buf(LZ4F_compressFrameBound(in->len, NULL));
  size_t n = LZ4F_compressFrame(o.p, o.len, in->p, in->len, NULL);
  if (LZ4F_isError(n))
    die("LZ4F_compressFrame");
  o.len = n;
  return o;
}

static struct buf bzip2(const struct buf *in) {
  struct buf o = out_buf(in->len + in->len / 100 + 600);
  unsigned n = o.len;
  if (BZ2_bzBuffToBuffCompress((char *)o.p, &n, (char *)in->p, in->len, 9, 0, 0) != BZ_OK)
    die("BZ2_bzBuffToBuffCompress");
  o.len = n;
  return o;
}

/* The kernel's build appends the decompressed size to every compressed payload. */
static struct buf with_size(struct buf c, size_t size) {
  if (!(c.p = realloc(c.p, c.len + 4)))
    die("out of memory");
  put32(c.p + c.len, size);
  c.len += 4;
  return c;
}

/* setup sectors, then a stub, the payload and some trailing bytes. payload_offset counts
 * from the end of the setup sectors, as in the boot protocol. */
static void write_bzimage(const char *dir, const char *name, const struct buf *payload,
                          uint16_t version, uint32_t payload_offset) {
  static const uint8_t bogus_gzip[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff};
  size_t size = PM_OFFSET + STUB_SIZE + payload->len + 64;
  uint8_t *f = calloc(1, size);
  if (!f)
    die("out of memory");
  f[0x1f1] = SETUP_SECTS;
  put16(f + 0x1fe, 0xaa55);
  memcpy(f + 0x202, "HdrS", 4);
  put16(f + 0x206, version);
  put16(f + 0x20e, 0x200); /* kernel_version: the string at 0x200 + 0x200 */
  strcpy((char *)f + 0x400, "pgscan-sample (tests/tools/pgscan_mkinputs.c)");
  if (version >= 0x208) {
    put32(f + 0x248, payload_offset);
    put32(f + 0x24c, payload->len);
  }
  memset(f + PM_OFFSET, 0x90, STUB_SIZE);
  memcpy(f + PM_OFFSET + 64, bogus_gzip, sizeof(bogus_gzip));
  memcpy(f + PM_OFFSET + STUB_SIZE, payload->p, payload->len);
  write_all(dir, name, f, size);
  free(f);
}

/* The ELF with the size of its first code section set past the end of the file. */
static void write_truncated(const char *dir, const struct buf *elf) {
  uint8_t *p = malloc(elf->len);
  if (!p)
    die("out of memory");
  memcpy(p, elf->p, elf->len);
  const Elf32_Ehdr *eh = (const Elf32_Ehdr *)p;
  if (eh->e_shoff == 0 || eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf32_Shdr) > elf->len)
    die("the sample has no section headers");
  Elf32_Shdr *sh = (Elf32_Shdr *)(p + eh->e_shoff);
  for (unsigned i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_flags & SHF_EXECINSTR) {
      sh[i].sh_size = elf->len;
      break;
    }
  }
  write_all(dir, "truncated.elf", p, elf->len);
  free(p);
}

/* The ELF with e_shoff, e_shnum and e_shstrndx cleared. */
static void write_nosections(const char *dir, const struct buf *elf) {
  if (elf->len < 52 || memcmp(elf->p, "\177ELF\001", 5) != 0)
    die("the sample is not a 32-bit ELF file");
  uint8_t *p = malloc(elf->len);
  if (!p)
    die("out of memory");
  memcpy(p, elf->p, elf->len);
  put32(p + 0x20, 0); /* e_shoff */
  put16(p + 0x2e, 0); /* e_shentsize */
  put16(p + 0x30, 0); /* e_shnum */
  put16(p + 0x32, 0); /* e_shstrndx */
  write_all(dir, "nosections.elf", p, elf->len);
  free(p);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: pgscan_mkinputs SAMPLE.elf OUTDIR\n");
    return 2;
  }
  const char *dir = argv[2];
  struct buf elf = read_all(argv[1]);
  static const struct {
    const char *name;
    struct buf (*compress)(const struct buf *);
  } formats[] = {
      {"gzip.bzImage", gzip}, {"xz.bzImage", xz},   {"lzma.bzImage", lzma_alone},
      {"zstd.bzImage", zstd}, {"lz4.bzImage", lz4_legacy}, {"bzip2.bzImage", bzip2},
  };
  for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
    struct buf c = with_size(formats[i].compress(&elf), elf.len);
    write_bzimage(dir, formats[i].name, &c, 0x020f, STUB_SIZE);
    if (formats[i].compress == xz) {
      write_bzimage(dir, "oldproto.bzImage", &c, 0x0204, 0);
      write_bzimage(dir, "badfields.bzImage", &c, 0x020f, 16);
      c.p[c.len / 2] ^= 0x55;
      write_bzimage(dir, "corrupt.bzImage", &c, 0x020f, STUB_SIZE);
    }
    free(c.p);
  }
  struct buf f = lz4_frame(&elf);
  write_all(dir, "lz4frame.elf.lz4", f.p, f.len);
  free(f.p);
  static const uint8_t lzo[] = {0x89, 'L', 'Z', 'O', 0, '\r', '\n', 0x1a, '\n', 0x10, 0x30};
  struct buf l = out_buf(256);
  memset(l.p, 0x55, l.len);
  memcpy(l.p, lzo, sizeof(lzo));
  write_bzimage(dir, "lzo.bzImage", &l, 0x020f, STUB_SIZE);
  free(l.p);
  write_nosections(dir, &elf);
  write_truncated(dir, &elf);
  free(elf.p);
  return 0;
}
