/* elfcode.c - find the code in a 32-bit x86 ELF file with libelf.
 *
 * The code is every section with SHF_EXECINSTR that has bytes in the file; an ELF without
 * section headers (a stripped boot image, say) falls back to its PT_LOAD segments with PF_X.
 * Symbols come from .symtab: a decompressed Linux vmlinux has none (the kernel's build strips
 * it), so its sites are named by section and offset. */
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/pgscan/elfcode.h"

static const char *elf_type_name(unsigned type) {
  switch (type) {
  case ET_REL: return "relocatable";
  case ET_EXEC: return "executable";
  case ET_DYN: return "shared object";
  case ET_CORE: return "core file";
  default: return "unknown type";
  }
}

static int add_region(struct pg_elf *e, const char *name, uint64_t addr, const uint8_t *data,
                      size_t size, size_t shndx) {
  struct pg_region *r = realloc(e->regions, (e->nregions + 1) * sizeof(*r));
  if (!r)
    return -ENOMEM;
  e->regions = r;
  r += e->nregions++;
  snprintf(r->name, sizeof(r->name), "%s", name);
  r->addr = addr;
  r->data = data;
  r->size = size;
  r->shndx = shndx;
  return 0;
}

static int find_sections(struct pg_elf *e, uint8_t *buf, size_t size) {
  size_t shstrndx;
  if (elf_getshdrstrndx(e->elf, &shstrndx) < 0)
    shstrndx = 0;
  for (Elf_Scn *scn = elf_nextscn(e->elf, NULL); scn; scn = elf_nextscn(e->elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) || sh.sh_type == SHT_NOBITS ||
        sh.sh_size == 0)
      continue;
    if (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset)
      return -EINVAL;
    const char *name = shstrndx ? elf_strptr(e->elf, shstrndx, sh.sh_name) : NULL;
    char fallback[32];
    if (!name) {
      snprintf(fallback, sizeof(fallback), "section%zu", elf_ndxscn(scn));
      name = fallback;
    }
    int rc = add_region(e, name, sh.sh_addr, buf + sh.sh_offset, sh.sh_size, elf_ndxscn(scn));
    if (rc < 0)
      return rc;
  }
  return 0;
}

static int find_segments(struct pg_elf *e, uint8_t *buf, size_t size) {
  size_t n;
  if (elf_getphdrnum(e->elf, &n) < 0)
    return 0;
  for (size_t i = 0; i < n; i++) {
    GElf_Phdr ph;
    if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
        ph.p_filesz == 0)
      continue;
    if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
      return -EINVAL;
    char name[32];
    snprintf(name, sizeof(name), "LOAD%zu", i);
    int rc = add_region(e, name, ph.p_vaddr, buf + ph.p_offset, ph.p_filesz, 0);
    if (rc < 0)
      return rc;
  }
  e->from_segments = true;
  return 0;
}

static bool in_regions(const struct pg_elf *e, size_t shndx) {
  for (size_t i = 0; i < e->nregions; i++)
    if (e->regions[i].shndx == shndx)
      return true;
  return false;
}

static int cmp_sym(const void *a, const void *b) {
  const struct pg_symbol *x = a, *y = b;
  if (x->shndx != y->shndx)
    return x->shndx < y->shndx ? -1 : 1;
  if (x->addr != y->addr)
    return x->addr < y->addr ? -1 : 1;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  return strcmp(y->name, x->name);
}

/* Keep the named symbols of the code sections (labels, functions, objects). */
static int read_symbols(struct pg_elf *e) {
  for (Elf_Scn *scn = elf_nextscn(e->elf, NULL); scn; scn = elf_nextscn(e->elf, scn)) {
    GElf_Shdr sh;
    Elf_Data *d;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !(d = elf_getdata(scn, NULL)) ||
        sh.sh_entsize == 0)
      continue;
    size_t n = sh.sh_size / sh.sh_entsize;
    if (n == 0)
      continue;
    struct pg_symbol *s = realloc(e->syms, (e->nsyms + n) * sizeof(*s));
    if (!s)
      return -ENOMEM;
    e->syms = s;
    for (size_t i = 0; i < n; i++) {
      GElf_Sym sym;
      if (!gelf_getsym(d, (int)i, &sym))
        continue;
      int type = GELF_ST_TYPE(sym.st_info);
      if (type != STT_FUNC && type != STT_NOTYPE && type != STT_OBJECT)
        continue;
      if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE ||
          !in_regions(e, sym.st_shndx))
        continue;
      const char *name = elf_strptr(e->elf, sh.sh_link, sym.st_name);
      if (!name || !name[0])
        continue;
      int rank = (type == STT_FUNC) * 2 + (GELF_ST_BIND(sym.st_info) != STB_LOCAL);
      e->syms[e->nsyms++] = (struct pg_symbol){sym.st_value, sym.st_shndx, rank, name};
    }
  }
  if (e->nsyms)
    qsort(e->syms, e->nsyms, sizeof(*e->syms), cmp_sym);
  return 0;
}

static int check_header(struct pg_elf *e, char *err, size_t errlen) {
  if (elf_kind(e->elf) != ELF_K_ELF) {
    snprintf(err, errlen, "not an ELF object");
    return -EINVAL;
  }
  GElf_Ehdr eh;
  if (!gelf_getehdr(e->elf, &eh)) {
    snprintf(err, errlen, "bad ELF header: %s", elf_errmsg(-1));
    return -EINVAL;
  }
  if (gelf_getclass(e->elf) != ELFCLASS32) {
    snprintf(err, errlen, "a 64-bit ELF file: pgscan scans 32-bit x86 code (ELFCLASS32, "
             "EM_386)");
    return -ENOTSUP;
  }
  if (eh.e_machine != EM_386) {
    snprintf(err, errlen, "an ELF file for machine %u, not for i386 (EM_386)", eh.e_machine);
    return -ENOTSUP;
  }
  e->type = elf_type_name(eh.e_type);
  return 0;
}

int pg_elf_open(uint8_t *buf, size_t size, struct pg_elf *e, char *err, size_t errlen) {
  memset(e, 0, sizeof(*e));
  if (elf_version(EV_CURRENT) == EV_NONE) {
    snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
    return -EINVAL;
  }
  e->elf = elf_memory((char *)buf, size);
  if (!e->elf) {
    snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
    return -EINVAL;
  }
  int rc = check_header(e, err, errlen);
  if (rc < 0)
    goto fail;
  size_t nsec = 0;
  if (elf_getshdrnum(e->elf, &nsec) < 0)
    nsec = 0;
  rc = nsec > 0 ? find_sections(e, buf, size) : find_segments(e, buf, size);
  if (rc == -EINVAL) {
    snprintf(err, errlen, "a code section or segment lies outside the file (truncated ELF?)");
    goto fail;
  }
  if (rc == 0 && !e->from_segments)
    rc = read_symbols(e);
  if (rc < 0) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  if (e->nregions == 0) {
    snprintf(err, errlen, "no executable %s", nsec ? "sections" : "PT_LOAD segments");
    rc = -ENOENT;
    goto fail;
  }
  return 0;
fail:
  pg_elf_close(e);
  return rc;
}

void pg_elf_close(struct pg_elf *e) {
  if (e->elf)
    elf_end(e->elf);
  free(e->regions);
  free(e->syms);
  memset(e, 0, sizeof(*e));
}

const struct pg_symbol *pg_elf_symbol(const struct pg_elf *e, const struct pg_region *r,
                                      uint64_t addr) {
  size_t lo = 0, hi = e->nsyms; /* first symbol after (r->shndx, addr) */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const struct pg_symbol *s = &e->syms[mid];
    if (s->shndx < r->shndx || (s->shndx == r->shndx && s->addr <= addr))
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0 || e->syms[lo - 1].shndx != r->shndx || r->shndx == 0)
    return NULL;
  return &e->syms[lo - 1];
}
