/* input.c - find the 32-bit ELF in what pgscan was given.
 *
 * A Linux bzImage (Documentation/arch/x86/boot.rst) is a real-mode setup part of
 * (setup_sects + 1) sectors, then the protected-mode part: the kernel's own decompressor,
 * which holds the compressed vmlinux. Boot protocol 2.08 and later name the compressed data
 * in the setup header (payload_offset and payload_length at 0x248, counted from the start
 * of the protected-mode part); for older images, or when those fields lead nowhere, the
 * protected-mode part is searched for a compression magic number whose stream decodes to
 * an ELF. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/pgscan/input.h"

#define MAX_FILE ((size_t)1 << 30)
#define HDR_SETUP_SECTS 0x1f1
#define HDR_BOOT_FLAG 0x1fe
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_KERNEL_VERSION 0x20e
#define HDR_PAYLOAD_OFFSET 0x248
#define HDR_PAYLOAD_LENGTH 0x24c
#define HDR_END 0x250

static uint16_t le16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | (uint32_t)le16(p + 2) << 16; }

static bool is_elf(const uint8_t *p, size_t n) {
  return n >= 4 && memcmp(p, "\177ELF", 4) == 0;
}

static int read_file(const char *path, struct pg_input *in, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
    return -e;
  }
  struct stat st;
  int rc = 0;
  if (fstat(fileno(f), &st) < 0) {
    rc = -errno;
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    snprintf(err, errlen, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory"
                                                                : "not a regular file");
    goto out;
  }
  if (st.st_size == 0 || (size_t)st.st_size > MAX_FILE) {
    rc = -EINVAL;
    snprintf(err, errlen, "%s: %s", path, st.st_size ? "larger than 1 GiB" : "empty file");
    goto out;
  }
  in->file_size = st.st_size;
  in->file = malloc(in->file_size);
  if (!in->file) {
    rc = -ENOMEM;
    snprintf(err, errlen, "%s: out of memory", path);
    goto out;
  }
  if (fread(in->file, 1, in->file_size, f) != in->file_size) {
    rc = -EIO;
    snprintf(err, errlen, "cannot read %s: %s", path, ferror(f) ? strerror(errno) : "short read");
  }
out:
  fclose(f);
  return rc;
}

/* Decode the stream at file[off..off+len) and keep it if it is an ELF. The kernel's build
 * appends the decompressed size to the stream: it is a good size hint when len is exact. */
static int try_payload(struct pg_input *in, size_t off, size_t len, bool exact, char *err,
                       size_t errlen) {
  const uint8_t *p = in->file + off;
  enum pg_comp comp = pg_comp_detect(p, len);
  if (comp == PG_COMP_NONE) {
    snprintf(err, errlen, "no known compression magic number at file offset 0x%zx", off);
    return -ENOENT;
  }
  size_t hint = exact && len >= 4 ? le32(p + len - 4) : 0;
  uint8_t *out;
  size_t out_len, used;
  int rc = pg_decompress(comp, p, len, hint, &out, &out_len, &used, err, errlen);
  if (rc < 0)
    return rc;
  if (!is_elf(out, out_len)) {
    free(out);
    snprintf(err, errlen, "the %s stream at file offset 0x%zx decodes to %zu bytes that are "
             "not an ELF file", pg_comp_names[comp], off, out_len);
    return -EINVAL;
  }
  in->comp = comp;
  in->unpacked = in->elf = out;
  in->elf_size = out_len;
  in->payload_off = off;
  in->payload_len = exact ? len : used;
  return 0;
}

static void read_kernel_version(struct pg_input *in) {
  size_t v = le16(in->file + HDR_KERNEL_VERSION);
  if (!v || in->boot_version < 0x200 || v + 0x200 >= in->file_size)
    return;
  const char *s = (const char *)in->file + v + 0x200;
  size_t max = in->file_size - v - 0x200, i;
  for (i = 0; i < max && i + 1 < sizeof(in->kernel_version) && s[i]; i++)
    in->kernel_version[i] = s[i] >= ' ' && s[i] < 0x7f ? s[i] : '?';
  in->kernel_version[i] = 0;
}

/* Search from pm on for a stream that decodes to an ELF. header_why: why the setup header's
 * payload fields did not lead to one, or NULL. */
static int scan_for_payload(struct pg_input *in, size_t pm, const char *header_why, char *err,
                            size_t errlen) {
  char unsupported[256] = "";
  for (size_t off = pm; off + 4 <= in->file_size; off++) {
    enum pg_comp comp = pg_comp_detect(in->file + off, in->file_size - off);
    if (comp == PG_COMP_NONE)
      continue;
    char why[256];
    int rc = try_payload(in, off, in->file_size - off, false, why, sizeof(why));
    if (rc == 0) {
      in->payload_by_scan = true;
      return 0;
    }
    if (rc == -ENOTSUP && !unsupported[0])
      snprintf(unsupported, sizeof(unsupported), "%s", why);
  }
  if (unsupported[0]) {
    snprintf(err, errlen, "bzImage: %s", unsupported);
    return -ENOTSUP;
  }
  if (header_why)
    snprintf(err, errlen, "bzImage: no compressed kernel found: the payload the setup header "
             "names does not decode (%s), and no other stream in the file does", header_why);
  else
    snprintf(err, errlen, "bzImage: no compressed kernel found (no gzip, xz, lzma, zstd, lz4, "
             "bzip2 or lzo stream in the protected-mode part decodes to an ELF file)");
  return -ENOENT;
}

static int load_bzimage(struct pg_input *in, char *err, size_t errlen) {
  const uint8_t *f = in->file;
  in->format = "bzImage";
  in->boot_version = le16(f + HDR_VERSION);
  read_kernel_version(in);
  size_t setup_sects = f[HDR_SETUP_SECTS] ? f[HDR_SETUP_SECTS] : 4;
  size_t pm = (setup_sects + 1) * 512;
  if (pm >= in->file_size) {
    snprintf(err, errlen, "bzImage: the setup part (%zu sectors) is larger than the file",
             setup_sects + 1);
    return -EINVAL;
  }
  char why[256];
  if (in->boot_version >= 0x208) {
    size_t off = pm + le32(f + HDR_PAYLOAD_OFFSET), len = le32(f + HDR_PAYLOAD_LENGTH);
    int rc;
    if (len == 0 || off > in->file_size || len > in->file_size - off) {
      snprintf(why, sizeof(why), "payload_offset 0x%x/payload_length 0x%x lie outside the file",
               le32(f + HDR_PAYLOAD_OFFSET), le32(f + HDR_PAYLOAD_LENGTH));
      rc = -EINVAL;
    } else {
      rc = try_payload(in, off, len, true, why, sizeof(why));
    }
    if (rc == 0 || rc == -ENOTSUP) {
      if (rc < 0)
        snprintf(err, errlen, "bzImage: %s", why);
      return rc;
    }
    snprintf(in->note, sizeof(in->note), "the setup header's payload fields did not lead to "
             "a kernel (%s); found one by searching", why);
    return scan_for_payload(in, pm, why, err, errlen);
  }
  return scan_for_payload(in, pm, NULL, err, errlen);
}

static bool is_bzimage(const uint8_t *f, size_t n) {
  return n >= HDR_END && memcmp(f + HDR_MAGIC, "HdrS", 4) == 0 && le16(f + HDR_BOOT_FLAG) == 0xaa55;
}

int pg_input_load(const char *path, struct pg_input *in, char *err, size_t errlen) {
  memset(in, 0, sizeof(*in));
  int rc = read_file(path, in, err, errlen);
  if (rc < 0)
    return rc;
  if (is_elf(in->file, in->file_size)) {
    in->format = "ELF";
    in->elf = in->file;
    in->elf_size = in->file_size;
    return 0;
  }
  if (is_bzimage(in->file, in->file_size))
    rc = load_bzimage(in, err, errlen);
  else if (pg_comp_detect(in->file, in->file_size) != PG_COMP_NONE) {
    in->format = "compressed ELF";
    rc = try_payload(in, 0, in->file_size, false, err, errlen);
  } else {
    snprintf(err, errlen, "%s: not an ELF file, a Linux bzImage or a compressed ELF", path);
    rc = -EINVAL;
  }
  if (rc < 0) {
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", err);
    if (strncmp(msg, path, strlen(path)) != 0)
      snprintf(err, errlen, "%s: %s", path, msg);
  }
  return rc;
}

void pg_input_free(struct pg_input *in) {
  free(in->unpacked);
  free(in->file);
  memset(in, 0, sizeof(*in));
}
