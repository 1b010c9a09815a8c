/* linuxboot.c - loading a Linux bzImage by the 32-bit boot protocol (Documentation/x86/boot.rst,
 * protocol 2.02 and later; the zero page in Documentation/x86/zero-page.rst): the protected-mode
 * kernel at 1 MiB, a boot_params ("zero page") holding the image's setup header, an e820 map,
 * the command line and an initrd placed high, and the CPU as the 32-bit entry expects it
 * (flat __BOOT_CS/__BOOT_DS from a GDT in guest memory, ESI = boot_params, interrupts off).
 * The real-mode setup code is not run, so no BIOS is needed.
 *
 * Guest physical layout (below 1 MiB, where a 16-bit boot loader would put the same things):
 *
 *   0x01000  GDT: null, null, __BOOT_CS (0x10), __BOOT_DS (0x18)
 *   0x10000  boot_params, "X" of boot.rst's memory layout (the setup header is at X+0x1f1)
 *   0x1e000  initial ESP, X+0xe000, the end of the setup stack/heap (heap_end_ptr + 0x200)
 *   0x20000  command line, X+0x10000, up to 0x9f000
 *   0x9f000  reserved in the e820 map up to 1 MiB, like a PC BIOS's EBDA and ROM area
 *   1 MiB    the protected-mode kernel (code32_start); the initrd at the top of RAM */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/machine.h"

/* Setup header fields, at their offsets in the image and in boot_params (boot.rst). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_VID_MODE 0x1fa
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_END_MAX 0x290 /* boot_params.edd_mbr_sig_buffer follows the header */

/* boot_params fields outside the setup header (zero-page.rst). */
#define BP_ALT_MEM_K 0x1e0
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128

#define HDRS_MAGIC 0x53726448u /* "HdrS" */
#define BOOT_FLAG 0xaa55u
#define LOADED_HIGH 0x01u
#define CAN_USE_HEAP 0x80u
#define LOADER_UNDEFINED 0xffu /* type_of_loader: a boot loader with no assigned id */
#define VID_MODE_NORMAL 0xffffu

#define PROTO(major, minor) ((major) << 8 | (minor))
#define PROTO_MIN PROTO(2, 2)

#define GDT_ADDR 0x1000u
#define BOOT_CS 0x10u
#define BOOT_DS 0x18u
#define BP_ADDR 0x10000u
#define HEAP_END 0xe000u /* relative to BP_ADDR */
#define CMDLINE_ADDR 0x20000u
#define LOW_END 0x9f000u
#define KERNEL_ADDR 0x100000u

#define E820_RAM 1u
#define E820_RESERVED 2u

struct e820_entry {
  uint64_t addr, size;
  uint32_t type;
} __attribute__((packed));

/* What the header says, checked, and where things will go. */
struct bzimage {
  uint8_t head[HDR_END_MAX]; /* the file's first bytes, zero past its end */
  uint64_t file_size;
  uint16_t version;
  uint32_t setup_size;   /* boot sector + setup code: the protected-mode kernel follows */
  uint32_t kernel_size;  /* bytes of protected-mode kernel to load */
  uint32_t hdr_end;      /* the setup header is [0x1f1, hdr_end) */
  uint64_t kernel_end;   /* the kernel's footprint while it decompresses and runs */
  uint32_t cmdline_max;  /* without the NUL */
  uint32_t initrd_addr_max;
};

static int fail(const char *path, const char *why) {
  fprintf(stderr, "bt386: %s: %s\n", path, why);
  return -EINVAL;
}

static uint16_t get16(const uint8_t *p, unsigned off) {
  return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t get32(const uint8_t *p, unsigned off) {
  return (uint32_t)get16(p, off) | (uint32_t)get16(p, off + 2) << 16;
}

static uint64_t get64(const uint8_t *p, unsigned off) {
  return (uint64_t)get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

static void put16(uint8_t *p, unsigned off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, unsigned off, uint32_t v) { memcpy(p + off, &v, 4); }

static double mib(uint64_t bytes) { return (double)bytes / (1 << 20); }

static bool is_elf(const uint8_t *head, size_t len) {
  return len >= 4 && memcmp(head, "\177ELF", 4) == 0;
}

static bool is_bzimage(const uint8_t *head, size_t len) {
  return len >= HDR_MAGIC + 4 && get32(head, HDR_MAGIC) == HDRS_MAGIC;
}

static int read_head(const char *path, const char *what, int fd, uint8_t *buf, size_t len,
                     uint64_t *file_size) {
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "bt386: %s %s: not a regular file\n", what, path);
    return -EINVAL;
  }
  *file_size = (uint64_t)st.st_size;
  memset(buf, 0, len);
  ssize_t n = pread(fd, buf, len, 0);
  if (n < 0) {
    fprintf(stderr, "bt386: cannot read %s %s: %s\n", what, path, strerror(errno));
    return -errno;
  }
  return 0;
}

int kernel_format(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    int err = -errno;
    fprintf(stderr, "bt386: cannot open kernel %s: %s\n", path, strerror(errno));
    return err;
  }
  uint8_t head[HDR_MAGIC + 4];
  uint64_t size;
  int err = read_head(path, "kernel", fd, head, sizeof(head), &size);
  close(fd);
  if (err)
    return err;
  size_t len = size < sizeof(head) ? (size_t)size : sizeof(head);
  if (is_elf(head, len))
    return KERNEL_ELF;
  if (is_bzimage(head, len))
    return KERNEL_BZIMAGE;
  return KERNEL_UNKNOWN;
}

/* Check the setup header and work out the kernel's place and needs; writes nothing. */
static int parse_header(const char *path, struct bzimage *bz, uint64_t ram_size) {
  const uint8_t *h = bz->head;
  size_t len = bz->file_size < sizeof(bz->head) ? (size_t)bz->file_size : sizeof(bz->head);
  if (len == 0)
    return fail(path, "is empty; bt386 boots a Linux bzImage or a Multiboot ELF kernel");
  if (is_elf(h, len))
    return fail(path, "is an ELF file, not a bzImage; bt386 boots ELF kernels by Multiboot "
                      "(an uncompressed vmlinux has no Multiboot header: use its bzImage)");
  if (!is_bzimage(h, len)) {
    if (len >= HDR_BOOT_FLAG + 2 && get16(h, HDR_BOOT_FLAG) == BOOT_FLAG)
      return fail(path, "is a Linux kernel older than boot protocol 2.00 (a boot sector without "
                        "\"HdrS\" setup header); bt386 needs a bzImage of protocol 2.02 or later");
    return fail(path, "is neither a Linux bzImage (no \"HdrS\" setup header at 0x202) nor a "
                      "Multiboot kernel (no ELF header, no Multiboot header in its first 8 KiB)");
  }
  bz->version = get16(h, HDR_VERSION);
  if (bz->version < PROTO_MIN) {
    fprintf(stderr,
            "bt386: %s: Linux boot protocol %u.%02u is too old; bt386 needs 2.02 or later "
            "(the 32-bit entry with cmd_line_ptr, Linux 2.4 and later)\n",
            path, bz->version >> 8, bz->version & 0xff);
    return -EINVAL;
  }
  if (!(h[HDR_LOADFLAGS] & LOADED_HIGH))
    return fail(path, "is a zImage (loadflags LOADED_HIGH is clear: its kernel runs at 0x10000); "
                      "bt386 loads bzImages at 1 MiB");

  unsigned sects = h[HDR_SETUP_SECTS] ? h[HDR_SETUP_SECTS] : 4;
  bz->setup_size = (sects + 1) * 512;
  bz->hdr_end = HDR_MAGIC + h[HDR_JUMP + 1];
  if (bz->hdr_end > HDR_END_MAX)
    bz->hdr_end = HDR_END_MAX;
  if (bz->hdr_end < HDR_CMD_LINE_PTR + 4)
    return fail(path, "has a setup header too short for protocol 2.02 (jump at 0x200 ends it "
                      "before cmd_line_ptr)");
  if (bz->file_size <= bz->setup_size) {
    fprintf(stderr,
            "bt386: %s: truncated: %llu bytes, but its setup code alone takes %u bytes "
            "(setup_sects %u) and no protected-mode kernel follows\n",
            path, (unsigned long long)bz->file_size, bz->setup_size, sects);
    return -EINVAL;
  }
  uint64_t pm_size = bz->file_size - bz->setup_size;
  uint64_t syssize = (uint64_t)get32(h, HDR_SYSSIZE) * 16; /* 32 bits from 2.04; 16 before */
  if (bz->version < PROTO(2, 4))
    syssize = (uint64_t)get16(h, HDR_SYSSIZE) * 16;
  if (syssize > pm_size) {
    fprintf(stderr,
            "bt386: %s: truncated: %llu bytes, but its header says %llu (setup %u + kernel "
            "%llu)\n",
            path, (unsigned long long)bz->file_size,
            (unsigned long long)(bz->setup_size + syssize), bz->setup_size,
            (unsigned long long)syssize);
    return -EINVAL;
  }

  /* Since 2.10 the header says where the kernel decompresses (pref_address, or the load
   * address rounded up to kernel_alignment, which is no lower for Linux's own layout) and
   * how much room that takes (init_size). Older kernels only tell their file size. */
  bz->kernel_end = KERNEL_ADDR + pm_size;
  if (bz->version >= PROTO(2, 10) && bz->hdr_end >= HDR_INIT_SIZE + 4) {
    uint64_t run = get64(h, HDR_PREF_ADDRESS);
    if (run < KERNEL_ADDR)
      run = KERNEL_ADDR;
    uint64_t end = run + get32(h, HDR_INIT_SIZE);
    if (end > bz->kernel_end)
      bz->kernel_end = end;
  }
  if (bz->kernel_end > ram_size) {
    fprintf(stderr,
            "bt386: %s: the kernel needs RAM up to %.1f MiB to load and decompress (file %.1f "
            "MiB at 1 MiB, init_size from the header); the guest has %.0f MiB: give it more "
            "with -m\n",
            path, mib(bz->kernel_end), mib(pm_size), mib(ram_size));
    return -EINVAL;
  }
  bz->kernel_size = (uint32_t)pm_size; /* below 3 GiB: it fits in RAM */

  bz->cmdline_max = 255;
  if (bz->version >= PROTO(2, 6) && bz->hdr_end >= HDR_CMDLINE_SIZE + 4)
    bz->cmdline_max = get32(h, HDR_CMDLINE_SIZE);
  if (bz->cmdline_max > LOW_END - CMDLINE_ADDR - 1)
    bz->cmdline_max = LOW_END - CMDLINE_ADDR - 1;
  bz->initrd_addr_max = 0x37ffffffu; /* boot.rst: the limit before 2.03 */
  if (bz->version >= PROTO(2, 3))
    bz->initrd_addr_max = get32(h, HDR_INITRD_ADDR_MAX);
  return 0;
}

/* Where the initrd goes: page-aligned, as high as RAM and initrd_addr_max allow, above the
 * kernel. Returns the address, or 0 with a message if it does not fit. */
static uint32_t place_initrd(const char *path, const struct bzimage *bz, uint64_t size,
                             uint64_t ram_size) {
  uint64_t top = (uint64_t)bz->initrd_addr_max + 1;
  const char *limit = "initrd_addr_max";
  const char *advice = "this kernel takes no initrd higher: use a smaller one";
  if (top > ram_size) {
    top = ram_size;
    limit = "the end of RAM";
    advice = "give the guest more RAM with -m";
  }
  top &= ~(uint64_t)(PAGE_SIZE - 1);
  uint64_t addr = top >= size ? (top - size) & ~(uint64_t)(PAGE_SIZE - 1) : 0;
  if (size == 0) {
    fprintf(stderr, "bt386: initrd %s is empty\n", path);
    return 0;
  }
  if (top < size || addr < bz->kernel_end) {
    uint64_t room = top > bz->kernel_end ? top - bz->kernel_end : 0;
    fprintf(stderr,
            "bt386: initrd %s: %llu bytes (%.1f MiB) do not fit: %llu bytes (%.1f MiB) are free "
            "between the kernel's end at 0x%llx and %s at 0x%llx; %s\n",
            path, (unsigned long long)size, mib(size), (unsigned long long)room, mib(room),
            (unsigned long long)bz->kernel_end, limit, (unsigned long long)top, advice);
    return 0;
  }
  return (uint32_t)addr;
}

static void write_e820(uint8_t *bp, uint64_t ram_size) {
  struct e820_entry map[] = {
      {0, LOW_END, E820_RAM},
      {LOW_END, KERNEL_ADDR - LOW_END, E820_RESERVED},
      {KERNEL_ADDR, ram_size - KERNEL_ADDR, E820_RAM},
  };
  memcpy(bp + BP_E820_TABLE, map, sizeof(map));
  bp[BP_E820_ENTRIES] = sizeof(map) / sizeof(map[0]);
  put32(bp, BP_ALT_MEM_K, (uint32_t)((ram_size - KERNEL_ADDR) >> 10));
}

/* The zero page: all zero but for the image's setup header and what a loader fills in. */
static void write_boot_params(struct machine *m, const struct bzimage *bz, const char *cmdline,
                              uint32_t initrd_addr, uint32_t initrd_size) {
  uint8_t *bp = mmu_phys_ptr(&m->mmu, BP_ADDR, PAGE_SIZE);
  memset(bp, 0, PAGE_SIZE);
  memcpy(bp + HDR_SETUP_SECTS, bz->head + HDR_SETUP_SECTS, bz->hdr_end - HDR_SETUP_SECTS);
  put16(bp, HDR_VID_MODE, VID_MODE_NORMAL);
  bp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
  bp[HDR_LOADFLAGS] = (uint8_t)(bz->head[HDR_LOADFLAGS] | CAN_USE_HEAP);
  put32(bp, HDR_CODE32_START, KERNEL_ADDR);
  put32(bp, HDR_RAMDISK_IMAGE, initrd_addr);
  put32(bp, HDR_RAMDISK_SIZE, initrd_size);
  put16(bp, HDR_HEAP_END_PTR, HEAP_END - 0x200);
  put32(bp, HDR_CMD_LINE_PTR, CMDLINE_ADDR);
  write_e820(bp, m->mmu.ram_size);

  size_t len = strlen(cmdline);
  uint8_t *dst = mmu_phys_ptr(&m->mmu, CMDLINE_ADDR, len + 1);
  memcpy(dst, cmdline, len + 1);
}

/* A GDT with the flat 4 GiB segments the 32-bit boot protocol requires. */
static void write_gdt(struct machine *m) {
  static const uint64_t gdt[4] = {
      0,
      0,
      0x00cf9b000000ffffull, /* __BOOT_CS: base 0, limit 4 GiB, code execute/read, accessed */
      0x00cf93000000ffffull, /* __BOOT_DS: base 0, limit 4 GiB, data read/write, accessed */
  };
  memcpy(mmu_phys_ptr(&m->mmu, GDT_ADDR, sizeof(gdt)), gdt, sizeof(gdt));
  m->cpu.gdtr = (struct dtable){GDT_ADDR, sizeof(gdt) - 1};
}

/* The machine state of boot.rst's "32-bit boot protocol": protected mode, paging and
 * interrupts off, CS = __BOOT_CS and DS = ES = SS = __BOOT_DS loaded from the GDT. */
static int enter_32bit(struct machine *m) {
  struct cpu *cpu = &m->cpu;
  cpu_reset_protected_flat(cpu);
  write_gdt(m);
  static const int data_segs[] = {SEG_DS, SEG_ES, SEG_SS, SEG_FS, SEG_GS};
  bool ok = cpu_far_jump(cpu, BOOT_CS, KERNEL_ADDR);
  for (size_t i = 0; ok && i < sizeof(data_segs) / sizeof(data_segs[0]); i++)
    ok = cpu_load_segment(cpu, data_segs[i], BOOT_DS);
  if (!ok || cpu->pending.valid) {
    fprintf(stderr, "bt386: internal error: the boot GDT's segments do not load\n");
    return -EINVAL;
  }
  cpu->regs[R_ESI] = BP_ADDR;
  cpu->regs[R_EBP] = cpu->regs[R_EDI] = cpu->regs[R_EBX] = 0;
  cpu->regs[R_ESP] = BP_ADDR + HEAP_END;
  cpu_set_eflags(cpu, 0x2); /* IF clear */
  cpu_flags_to_host(cpu);
  return 0;
}

static int read_exact(int fd, uint8_t *dst, uint64_t len, uint64_t off, const char *what,
                      const char *path) {
  while (len) {
    ssize_t n = pread(fd, dst, len > (1u << 30) ? (1u << 30) : len, (off_t)off);
    if (n <= 0) {
      fprintf(stderr, "bt386: cannot read %s %s: %s\n", what, path,
              n < 0 ? strerror(errno) : "the file became shorter");
      return n < 0 ? -errno : -EIO;
    }
    dst += n;
    off += (uint64_t)n;
    len -= (uint64_t)n;
  }
  return 0;
}

int linux_load(struct machine *m, const char *path, const char *initrd, const char *cmdline) {
  if (!cmdline)
    cmdline = "";
  int fd = open(path, O_RDONLY), ifd = -1;
  if (fd < 0) {
    int err = -errno;
    fprintf(stderr, "bt386: cannot open kernel %s: %s\n", path, strerror(errno));
    return err;
  }
  struct bzimage bz = {0};
  uint64_t initrd_size = 0;
  uint32_t initrd_addr = 0;
  int err = read_head(path, "kernel", fd, bz.head, sizeof(bz.head), &bz.file_size);
  if (!err)
    err = parse_header(path, &bz, m->mmu.ram_size);
  if (!err && strlen(cmdline) > bz.cmdline_max) {
    fprintf(stderr,
            "bt386: the kernel command line is %zu bytes; this kernel takes at most %u (%s)\n",
            strlen(cmdline), bz.cmdline_max,
            bz.version >= PROTO(2, 6) ? "its cmdline_size" : "boot protocol before 2.06");
    err = -EINVAL;
  }
  if (!err && initrd) {
    uint8_t dummy[1];
    ifd = open(initrd, O_RDONLY);
    if (ifd < 0) {
      err = -errno;
      fprintf(stderr, "bt386: cannot open initrd %s: %s\n", initrd, strerror(errno));
    } else {
      err = read_head(initrd, "initrd", ifd, dummy, sizeof(dummy), &initrd_size);
      if (!err) {
        initrd_addr = place_initrd(initrd, &bz, initrd_size, m->mmu.ram_size);
        if (!initrd_addr)
          err = -EINVAL;
      }
    }
  }
  /* Everything is checked: now write guest memory. */
  if (!err)
    err = read_exact(fd, mmu_phys_ptr(&m->mmu, KERNEL_ADDR, bz.kernel_size), bz.kernel_size,
                     bz.setup_size, "kernel", path);
  if (!err && initrd)
    err = read_exact(ifd, mmu_phys_ptr(&m->mmu, initrd_addr, initrd_size), initrd_size, 0,
                     "initrd", initrd);
  if (ifd >= 0)
    close(ifd);
  close(fd);
  if (err)
    return err;
  write_boot_params(m, &bz, cmdline, initrd_addr, (uint32_t)initrd_size);
  return enter_32bit(m);
}
