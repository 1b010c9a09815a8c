/* multiboot.c - loading a Multiboot v1 kernel (an ELF file, read with libelf, or any file whose
 * header gives load addresses) the way a
 * Multiboot boot loader would (Multiboot specification 0.6.96): segments at their physical
 * addresses, a multiboot_info structure with the memory map and command line, and the
 * machine state of section 3.2 (EAX = 0x2BADB002, EBX = the info, flat protected mode). */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/machine.h"

#define MB_HEADER_MAGIC 0x1badb002u
#define MB_BOOT_MAGIC 0x2badb002u
#define MB_SEARCH 8192
#define MB_AOUT_KLUDGE (1u << 16)
#define MB_VIDEO_MODE (1u << 2)

#define MBI_MEM (1u << 0)
#define MBI_BOOT_DEVICE (1u << 1)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

/* Where the boot information goes: conventional memory below the EBDA. */
#define MBI_ADDR 0x9000u
#define MBI_AREA_END 0x9f000u
#define INITIAL_ESP 0x8ff0u

struct mb_info {
  uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length, mmap_addr;
  uint32_t drives_length, drives_addr, config_table, boot_loader_name;
  uint32_t apm_table, vbe[6];
};

struct mb_mmap_entry {
  uint32_t size;
  uint64_t addr, len;
  uint32_t type;
} __attribute__((packed));

static int fail(const char *path, const char *why) {
  fprintf(stderr, "bt386: %s: %s\n", path, why);
  return -EINVAL;
}

/* Where the kernel's segments lie in physical memory. */
struct extent {
  uint64_t low, high;
};

/* The header's offset in the file, or -1: 4-byte aligned in the first 8 KiB (3.1.1). */
static long find_header(const uint8_t *img, size_t len, uint32_t *flags) {
  size_t limit = len < MB_SEARCH ? len : MB_SEARCH;
  for (size_t off = 0; off + 12 <= limit; off += 4) {
    uint32_t h[3];
    memcpy(h, img + off, 12);
    if (h[0] == MB_HEADER_MAGIC && h[0] + h[1] + h[2] == 0) {
      *flags = h[1];
      return (long)off;
    }
  }
  return -1;
}

bool multiboot_file(const char *path) {
  uint8_t head[MB_SEARCH];
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return false;
  ssize_t n = pread(fd, head, sizeof(head), 0);
  close(fd);
  uint32_t flags;
  return n > 0 && find_header(head, (size_t)n, &flags) >= 0;
}

/* Header flag 16 (3.1.3): load by the header's own address fields, whatever the file's format
 * (a flat binary, usually). The text starts header_addr - load_addr before the header; it is
 * loaded to load_end_addr (0: the end of the file), zeroed to bss_end_addr (0: none). */
static int load_by_address_fields(struct machine *m, const char *path, const uint8_t *img,
                                  size_t len, long header, uint32_t *entry,
                                  struct extent *image) {
  uint32_t f[8];
  if ((size_t)header + sizeof(f) > len)
    return fail(path, "the Multiboot header's address fields run past the end of the file");
  memcpy(f, img + header, sizeof(f));
  uint32_t header_addr = f[3], load_addr = f[4], load_end = f[5], bss_end = f[6];
  if (header_addr < load_addr || header_addr - load_addr > (uint32_t)header)
    return fail(path, "the Multiboot header's header_addr and load_addr do not fit the file");
  size_t text = (size_t)header - (header_addr - load_addr);
  uint64_t load_size = load_end ? (uint64_t)load_end - load_addr : len - text;
  if (load_end && load_end < load_addr)
    return fail(path, "the Multiboot header's load_end_addr is below its load_addr");
  if (text + load_size > len)
    return fail(path, "the Multiboot header asks to load more than the file holds");
  uint64_t size = bss_end ? (uint64_t)bss_end - load_addr : load_size;
  if (bss_end && bss_end < load_addr + load_size)
    return fail(path, "the Multiboot header's bss_end_addr is below its load_end_addr");
  if (load_addr + size > m->mmu.ram_size) {
    fprintf(stderr, "bt386: %s: the image at physical 0x%x-0x%llx does not fit in %llu MiB of "
                    "RAM; give the guest more with -m\n",
            path, load_addr, (unsigned long long)(load_addr + size),
            (unsigned long long)(m->mmu.ram_size >> 20));
    return -EINVAL;
  }
  if (load_addr < MBI_AREA_END && load_addr + size > MBI_ADDR - 0x1000)
    return fail(path, "the image overlaps 0x8000-0x9f000, where the boot information goes");
  uint8_t *dst = mmu_phys_ptr(&m->mmu, load_addr, size);
  memcpy(dst, img + text, load_size);
  memset(dst + load_size, 0, size - load_size);
  *entry = f[7];
  *image = (struct extent){load_addr, load_addr + size};
  return 0;
}

static int load_segments(struct machine *m, const char *path, Elf *elf, uint32_t *entry,
                         struct extent *image) {
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf, &eh))
    return fail(path, elf_errmsg(-1));
  if (gelf_getclass(elf) != ELFCLASS32 || eh.e_machine != EM_386)
    return fail(path, "not a 32-bit x86 ELF file (bt386 loads i386 Multiboot kernels)");
  if (eh.e_type != ET_EXEC)
    return fail(path, "not an ELF executable (ET_EXEC)");
  size_t n;
  if (elf_getphdrnum(elf, &n) != 0 || n == 0)
    return fail(path, "has no program headers to load");
  size_t file_len;
  const uint8_t *file = (const uint8_t *)elf_rawfile(elf, &file_len);
  int loaded = 0;
  *image = (struct extent){UINT64_MAX, 0};
  /* Check every segment before writing any, so a bad file changes nothing. */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      GElf_Phdr ph;
      if (!gelf_getphdr(elf, (int)i, &ph))
        return fail(path, elf_errmsg(-1));
      if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
        continue;
      if (ph.p_filesz > ph.p_memsz || ph.p_offset + ph.p_filesz > file_len)
        return fail(path, "a segment runs past the end of the file");
      if (ph.p_paddr + ph.p_memsz > m->mmu.ram_size) {
        fprintf(stderr,
                "bt386: %s: a segment at physical 0x%llx-0x%llx does not fit in %llu MiB of "
                "RAM; give the guest more with -m\n",
                path, (unsigned long long)ph.p_paddr,
                (unsigned long long)(ph.p_paddr + ph.p_memsz),
                (unsigned long long)(m->mmu.ram_size >> 20));
        return -EINVAL;
      }
      if (ph.p_paddr < MBI_AREA_END && ph.p_paddr + ph.p_memsz > MBI_ADDR - 0x1000)
        return fail(path, "a segment overlaps 0x8000-0x9f000, where the boot information goes");
      if (ph.p_paddr < image->low)
        image->low = ph.p_paddr;
      if (ph.p_paddr + ph.p_memsz > image->high)
        image->high = ph.p_paddr + ph.p_memsz;
      if (pass == 1) {
        uint8_t *dst = mmu_phys_ptr(&m->mmu, ph.p_paddr, ph.p_memsz);
        memcpy(dst, file + ph.p_offset, ph.p_filesz);
        memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
        loaded++;
      }
    }
  }
  if (!loaded)
    return fail(path, "has no loadable segments");
  *entry = (uint32_t)eh.e_entry;
  return 0;
}

/* Multiboot modules: QEMU's -initrd for a Multiboot kernel, "FILE [ARGS],FILE [ARGS]" (",," a
 * comma in a name or argument). Each is loaded where QEMU loads it: page-aligned after the
 * kernel image, in order; its string is its part of the option. */
#define MB_MAX_MODULES 64
struct mb_module {
  uint32_t start, end, string, reserved;
};

struct module_list {
  int n;
  struct mb_module mod[MB_MAX_MODULES];
  char *string[MB_MAX_MODULES]; /* into text */
  char *text;                   /* the option, commas unescaped, each module's part ended */
};

static int parse_modules(const char *spec, struct module_list *ml) {
  ml->n = 0;
  free(ml->text);
  char *out = ml->text = malloc(strlen(spec) + 1);
  if (!out)
    return -ENOMEM;
  while (*spec) {
    if (ml->n == MB_MAX_MODULES)
      return fail(spec, "more Multiboot modules than bt386 takes (64)");
    char *start = out;
    for (; *spec && !(spec[0] == ',' && spec[1] != ','); spec++) {
      if (spec[0] == ',')
        spec++; /* ",," */
      *out++ = *spec;
    }
    *out++ = 0;
    if (*spec)
      spec++;
    if (*start)
      ml->string[ml->n++] = start;
  }
  return 0;
}

#define PAGE_ALIGN(x) (((x) + 0xfffull) & ~0xfffull)

/* QEMU keeps the command lines, the module list and its name after the kernel image and puts
 * the modules after them; so do the first module's address (bt386 keeps those strings with the
 * rest of the information, but a kernel sees its modules where it would under QEMU). */
static uint64_t first_module_offset(const struct module_list *ml, const struct extent *image,
                                    const char *kernel, const char *cmdline) {
  uint64_t strings = strlen(kernel) + 1 + strlen(cmdline) + 1 + strlen("qemu") + 1;
  for (int i = 0; i < ml->n; i++)
    strings += strlen(ml->string[i]) + 1 + sizeof(struct mb_module);
  return PAGE_ALIGN(PAGE_ALIGN(image->high - image->low) + strings);
}

static int load_modules(struct machine *m, struct module_list *ml, const struct extent *image,
                        uint64_t offset, uint64_t ram_top) {
  for (int i = 0; i < ml->n; i++) {
    char file[4096];
    snprintf(file, sizeof(file), "%.*s", (int)strcspn(ml->string[i], " "), ml->string[i]);
    FILE *f = fopen(file, "rb");
    if (!f) {
      fprintf(stderr, "bt386: cannot open Multiboot module %s: %s\n", file, strerror(errno));
      return -ENOENT;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint64_t start = image->low + offset;
    if (size < 0 || start + (uint64_t)size > ram_top) {
      fclose(f);
      fprintf(stderr, "bt386: Multiboot module %s (%ld bytes at 0x%llx) does not fit in %llu MiB "
                      "of RAM; give the guest more with -m\n",
              file, size, (unsigned long long)start, (unsigned long long)(m->mmu.ram_size >> 20));
      return -EINVAL;
    }
    uint8_t *dst = mmu_phys_ptr(&m->mmu, start, (uint64_t)size);
    bool ok = size == 0 || fread(dst, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (!ok)
      return fail(file, "cannot read the Multiboot module");
    ml->mod[i] = (struct mb_module){(uint32_t)start, (uint32_t)(start + (uint64_t)size), 0, 0};
    offset = PAGE_ALIGN(offset + (uint64_t)size);
  }
  return 0;
}

/* The boot information: memory sizes, a BIOS-like memory map, the command line, the modules.
 * The memory map is the one QEMU's Multiboot loader passes on from its BIOS (SeaBIOS), so that
 * a kernel sees the same memory under both: the EBDA below 640 KiB, the BIOS area at 0xF0000,
 * the top 128 KiB of RAM (where that BIOS keeps its tables) and the ROM below 4 GiB reserved,
 * and mem_upper the RAM from 1 MiB to the first reserved range. As GRUB and QEMU do, the
 * command line starts with the kernel's file name. */
#define MB_TOP_RESERVED 0x20000u
#define MBI_SIZE (MBI_AREA_END - MBI_ADDR)

/* Append n bytes to the information area; their guest physical address. */
static uint32_t put(uint8_t *base, uint32_t *off, const void *p, size_t n) {
  uint32_t at = *off;
  memcpy(base + at, p, n);
  *off += (uint32_t)n;
  return MBI_ADDR + at;
}

static uint32_t write_boot_info(struct machine *m, const char *kernel, const char *cmdline,
                                struct module_list *ml) {
  uint8_t *base = mmu_phys_ptr(&m->mmu, MBI_ADDR, MBI_SIZE);
  memset(base, 0, MBI_SIZE);
  struct mb_info mbi = {0};
  uint64_t ram = m->mmu.ram_size;
  uint32_t off = sizeof(mbi);

  struct mb_mmap_entry map[] = {
      {20, 0, 0x9fc00, 1},
      {20, 0x9fc00, 0x400, 2},
      {20, 0xf0000, 0x10000, 2},
      {20, 0x100000, ram - MB_TOP_RESERVED - 0x100000, 1},
      {20, ram - MB_TOP_RESERVED, MB_TOP_RESERVED, 2},
      {20, 0xfffc0000u, 0x40000, 2},
  };
  mbi.mmap_addr = put(base, &off, map, sizeof(map));
  mbi.mmap_length = sizeof(map);
  static const char loader[] = "bt386";
  mbi.boot_loader_name = put(base, &off, loader, sizeof(loader));
  /* The kernel's command line, then the modules' strings. */
  mbi.cmdline = put(base, &off, kernel, strlen(kernel));
  put(base, &off, " ", 1);
  put(base, &off, cmdline, strlen(cmdline) + 1);
  for (int i = 0; i < ml->n; i++)
    ml->mod[i].string = put(base, &off, ml->string[i], strlen(ml->string[i]) + 1);
  off = (off + 3) & ~3u;
  mbi.mods_count = (uint32_t)ml->n;
  mbi.mods_addr = ml->n ? put(base, &off, ml->mod, sizeof(ml->mod[0]) * (size_t)ml->n) : 0;

  mbi.flags = MBI_MEM | MBI_BOOT_DEVICE | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME;
  mbi.boot_device = 0x8000ffffu; /* the first BIOS disk, no partition: what QEMU says */
  mbi.mem_lower = 0x9fc00 / 1024;
  mbi.mem_upper = (uint32_t)((ram - MB_TOP_RESERVED - 0x100000) / 1024);
  memcpy(base, &mbi, sizeof(mbi));
  return MBI_ADDR;
}

int multiboot_load(struct machine *m, const char *path, const char *cmdline,
                   const char *modules) {
  static struct module_list ml;
  if (parse_modules(modules ? modules : "", &ml) < 0)
    return -EINVAL;
  size_t text = strlen(path) + strlen(cmdline ? cmdline : "") + (modules ? strlen(modules) : 0);
  if (text + 4096 > MBI_SIZE)
    return fail(path, "the command line and module names are too long for the boot information "
                      "area (600 KiB)");
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "bt386: cannot open kernel %s: %s\n", path, strerror(errno));
    return -errno;
  }
  int err = -EINVAL;
  elf_version(EV_CURRENT);
  Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
  size_t len = 0;
  const uint8_t *img = elf ? (const uint8_t *)elf_rawfile(elf, &len) : NULL;
  uint32_t flags = 0, entry;
  struct extent image;
  long header = img && len ? find_header(img, len, &flags) : -1;
  if (!img || len == 0) {
    err = fail(path, "cannot read the file");
  } else if (header < 0) {
    err = fail(path, "no Multiboot header in the first 8 KiB (is it a Multiboot v1 kernel?)");
  } else {
    if (flags & MB_VIDEO_MODE)
      fprintf(stderr, "bt386: %s asks for a video mode; bt386 has no framebuffer\n", path);
    if (flags & MB_AOUT_KLUDGE)
      err = load_by_address_fields(m, path, img, len, header, &entry, &image);
    else if (elf_kind(elf) != ELF_K_ELF)
      err = fail(path, "not an ELF file, and its Multiboot header has no address fields (flag 16)");
    else
      err = load_segments(m, path, elf, &entry, &image);
  }
  if (elf)
    elf_end(elf);
  close(fd);
  if (!err)
    err = load_modules(m, &ml, &image, first_module_offset(&ml, &image, path, cmdline ? cmdline : ""),
                       m->mmu.ram_size - MB_TOP_RESERVED);
  if (err)
    return err;
  struct cpu *cpu = &m->cpu;
  cpu_reset_protected_flat(cpu);
  cpu->regs[R_EAX] = MB_BOOT_MAGIC;
  cpu->regs[R_EBX] = write_boot_info(m, path, cmdline ? cmdline : "", &ml);
  cpu->regs[R_ESP] = INITIAL_ESP;
  cpu->eip = entry;
  return 0;
}
