/* multiboot.c - what a Multiboot v1 loader hands the kernel (the Multiboot 0.6.96
 * specification, section 3.3): the magic in EAX, and in the information structure the flags,
 * memory sizes, the memory map, the command line and the modules (their file names from the
 * last '/' on, the folders being the build's). */
#include "lib/guest.h"

struct mb_info {
  uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct mb_mmap_entry {
  uint32_t size;
  uint64_t addr, len;
  uint32_t type;
} __attribute__((packed));

/* A module's string from its last '/' on: the file name's folder is the build's. */
static const char *strrchr_slash(const char *s) {
  const char *last = s;
  for (; *s && *s != ' '; s++)
    if (*s == '/')
      last = s + 1;
  return last;
}

int main(void) {
  const struct mb_info *mbi = boot_info;
  printf("magic %08x\n", boot_magic);
  printf("flags %08x, boot_device %08x\n", mbi->flags, mbi->boot_device);
  printf("mem_lower %u KiB, mem_upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
  if (mbi->flags & 4)
    printf("cmdline \"%s\"\n", strrchr_slash((const char *)mbi->cmdline));
  if (mbi->flags & 8) {
    printf("modules %u\n", mbi->mods_count);
    const uint32_t *mod = (const uint32_t *)mbi->mods_addr;
    for (uint32_t i = 0; i < mbi->mods_count; i++, mod += 4) {
      const char *name = (const char *)mod[2];
      const char *base = strrchr_slash(name);
      printf("module %u: %08x-%08x (%u bytes), \"%s\", starts \"", i, mod[0], mod[1],
             mod[1] - mod[0], base);
      for (uint32_t b = mod[0]; b < mod[1] && b < mod[0] + 16; b++)
        putchar_e9(*(const char *)b >= ' ' ? *(const char *)b : '.');
      printf("\"\n");
    }
  }
  if (mbi->flags & 0x40) {
    uint32_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
    while (p < end) {
      const struct mb_mmap_entry *e = (const void *)p;
      printf("mmap %08x%08x + %08x%08x type %u\n", (uint32_t)(e->addr >> 32), (uint32_t)e->addr,
             (uint32_t)(e->len >> 32), (uint32_t)e->len, e->type);
      p += e->size + 4;
    }
  }
  return 0;
}
