/* multiboot.c - loading a Multiboot v1 kernel (an ELF file, read with libelf) the way a
 * Multiboot boot loader would (Multiboot specification 0.6.96): segments at their physical
 * addresses, a multiboot_info structure with the memory map and command line, and the
 * machine state of section 3.2 (EAX = 0x2BADB002, EBX = the info, flat protected mode). */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
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

static int find_header(const uint8_t *img, size_t len, uint32_t *flags) {
  size_t limit = len < MB_SEARCH ? len : MB_SEARCH;
  for (size_t off = 0; off + 12 <= limit; off += 4) {
    uint32_t h[3];
    memcpy(h, img + off, 12);
    if (h[0] == MB_HEADER_MAGIC && h[0] + h[1] + h[2] == 0) {
      *flags = h[1];
      return 0;
    }
  }
  return -1;
}

static int load_segments(struct machine *m, const char *path, Elf *elf, uint32_t *entry) {
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

/* The boot information: memory sizes, a BIOS-like memory map, the command line. The memory
 * map is the one QEMU's Multiboot loader passes on from its BIOS (SeaBIOS), so that a kernel
 * sees the same memory under both: the EBDA below 640 KiB, the BIOS area at 0xF0000, the top
 * 128 KiB of RAM (where that BIOS keeps its tables) and the ROM below 4 GiB reserved, and
 * mem_upper the RAM from 1 MiB to the first reserved range. As GRUB and QEMU do, the command
 * line starts with the kernel's file name. */
#define MB_TOP_RESERVED 0x20000u
static uint32_t write_boot_info(struct machine *m, const char *kernel, const char *cmdline) {
  uint8_t *base = mmu_phys_ptr(&m->mmu, MBI_ADDR, 0x1000);
  memset(base, 0, 0x1000);
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
  memcpy(base + off, map, sizeof(map));
  mbi.mmap_addr = MBI_ADDR + off;
  mbi.mmap_length = sizeof(map);
  off += sizeof(map);

  static const char loader[] = "bt386";
  memcpy(base + off, loader, sizeof(loader));
  mbi.boot_loader_name = MBI_ADDR + off;
  off += sizeof(loader);

  snprintf((char *)base + off, 0x1000 - off, "%s %s", kernel, cmdline);
  mbi.cmdline = MBI_ADDR + off;

  mbi.flags = MBI_MEM | MBI_BOOT_DEVICE | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME;
  mbi.boot_device = 0x8000ffffu; /* the first BIOS disk, no partition: what QEMU says */
  mbi.mem_lower = 0x9fc00 / 1024;
  mbi.mem_upper = (uint32_t)((ram - MB_TOP_RESERVED - 0x100000) / 1024);
  mbi.mods_count = 0;
  mbi.mods_addr = 0;
  memcpy(base, &mbi, sizeof(mbi));
  return MBI_ADDR;
}

int multiboot_load(struct machine *m, const char *path, const char *cmdline) {
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
  uint32_t flags, entry;
  if (!img || len == 0) {
    err = fail(path, "cannot read the file");
  } else if (find_header(img, len, &flags) < 0) {
    err = fail(path, "no Multiboot header in the first 8 KiB (is it a Multiboot v1 kernel?)");
  } else if (elf_kind(elf) != ELF_K_ELF) {
    err = fail(path, (flags & MB_AOUT_KLUDGE)
                         ? "a.out-kludge Multiboot images are not supported; link it as ELF"
                         : "not an ELF file");
  } else {
    if (flags & MB_VIDEO_MODE)
      fprintf(stderr, "bt386: %s asks for a video mode; bt386 has no framebuffer\n", path);
    err = load_segments(m, path, elf, &entry);
  }
  if (elf)
    elf_end(elf);
  close(fd);
  if (err)
    return err;
  struct cpu *cpu = &m->cpu;
  cpu_reset_protected_flat(cpu);
  cpu->regs[R_EAX] = MB_BOOT_MAGIC;
  cpu->regs[R_EBX] = write_boot_info(m, path, cmdline ? cmdline : "");
  cpu->regs[R_ESP] = INITIAL_ESP;
  cpu->eip = entry;
  return 0;
}
