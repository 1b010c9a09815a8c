/* mmu.c - guest RAM, the host views of it, and the CPU's page walks (see mmu.h). */
#define _GNU_SOURCE
#include "mmu/mmu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "mmu/walk.h"

/* Where the kernel view goes: a multiple of 4 GiB, far from anything the host maps. */
#define KVIEW_HINT 0x200000000000ull
#define KVIEW_GUARD VIEW_SIZE

static long min_mmap_addr(void) {
  long v = 65536;
  FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");
  if (f) {
    if (fscanf(f, "%ld", &v) != 1)
      v = 65536;
    fclose(f);
  }
  return v < 4096 ? 4096 : v;
}

static int reserve_kernel_view(struct mmu *m) {
  uint64_t len = KVIEW_GUARD + (uint64_t)MMU_KERNEL_VIEWS * (VIEW_SIZE + KVIEW_GUARD);
  for (uint64_t hint = KVIEW_HINT; hint < 0x700000000000ull; hint += 0x10000000000ull) {
    void *p = mmap((void *)hint, len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
      continue;
    m->kreserve = p;
    m->kreserve_len = len;
    m->kview = (uint8_t *)p + KVIEW_GUARD;
    return 0;
  }
  fprintf(stderr, "bt386: cannot reserve %llu GiB of host address space for the kernel views\n",
          (unsigned long long)(len >> 30));
  return -ENOMEM;
}

/* The user view lives at host [0, 4 GiB): nothing of the monitor may land there. */
static int reserve_user_view(struct mmu *m) {
  long lo = min_mmap_addr();
  void *p = mmap((void *)lo, VIEW_SIZE - lo, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) {
    fprintf(stderr,
            "bt386: host addresses below 4 GiB are in use (%s); bt386 must be built as a\n"
            "       position-independent executable so that the guest's user view fits there\n",
            strerror(errno));
    return -ENOMEM;
  }
  m->user_reserved = true;
  m->user_min = (uint64_t)lo;
  return 0;
}

int mmu_init(struct mmu *m, uint64_t ram_size) {
  memset(m, 0, sizeof(*m));
  m->memfd = -1;
  m->ones_fd = -1;
  if (ram_size < (1u << 20) || ram_size > (3ull << 30) || ram_size % PAGE_SIZE) {
    fprintf(stderr, "bt386: guest RAM must be a multiple of 4 KiB between 1 MiB and 3 GiB\n");
    return -EINVAL;
  }
  m->ram_size = ram_size;
  m->npages = (uint32_t)(ram_size / PAGE_SIZE);
  int err = reserve_user_view(m);
  if (err)
    goto fail;
  err = reserve_kernel_view(m);
  if (err)
    goto fail;
  m->memfd = memfd_create("bt386-ram", MFD_CLOEXEC);
  if (m->memfd < 0 || ftruncate(m->memfd, (off_t)ram_size) < 0) {
    err = -errno;
    fprintf(stderr, "bt386: cannot create %llu MiB of guest RAM: %s\n",
            (unsigned long long)(ram_size >> 20), strerror(errno));
    goto fail;
  }
  m->ones_fd = memfd_create("bt386-unassigned", MFD_CLOEXEC);
  if (m->ones_fd < 0 || ftruncate(m->ones_fd, PAGE_SIZE) < 0) {
    err = -errno;
    goto fail;
  }
  uint8_t ones[PAGE_SIZE];
  memset(ones, 0xff, sizeof(ones));
  if (pwrite(m->ones_fd, ones, sizeof(ones), 0) != (ssize_t)sizeof(ones)) {
    err = -EIO;
    goto fail;
  }
  m->phys = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->memfd, 0);
  if (m->phys == MAP_FAILED) {
    m->phys = NULL;
    err = -errno;
    fprintf(stderr, "bt386: cannot map guest RAM: %s\n", strerror(errno));
    goto fail;
  }
  /* Paging is off at reset: the kernel view is the physical address space. */
  if (mmap(m->kview, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m->memfd, 0) ==
      MAP_FAILED) {
    err = -errno;
    fprintf(stderr, "bt386: cannot map the kernel view: %s\n", strerror(errno));
    goto fail;
  }
  m->code_page = calloc(m->npages, 1);
  if (!m->code_page || views_init(m) < 0) {
    err = -ENOMEM;
    fprintf(stderr, "bt386: out of memory for the guest's page tables\n");
    goto fail;
  }
  return 0;
fail:
  mmu_exit(m);
  return err;
}

void mmu_exit(struct mmu *m) {
  views_exit(m);
  free(m->code_page);
  m->code_page = NULL;
  if (m->phys)
    munmap(m->phys, m->ram_size);
  m->phys = NULL;
  if (m->kreserve)
    munmap(m->kreserve, m->kreserve_len);
  m->kreserve = NULL;
  if (m->user_reserved) {
    long lo = min_mmap_addr();
    munmap((void *)lo, VIEW_SIZE - lo);
    m->user_reserved = false;
  }
  if (m->memfd >= 0)
    close(m->memfd);
  m->memfd = -1;
  if (m->ones_fd >= 0)
    close(m->ones_fd);
  m->ones_fd = -1;
}

/* ---- page walks (SDM vol. 3, 4.3: 32-bit paging; 4.4: PAE paging) ---- */

/* PAE entries: the frame is bits 35:12 (MAXPHYADDR is 36: CPUID has PAE and no leaf
 * 80000008H). Bits 62:36 are reserved, and so is bit 63 (XD) unless IA32_EFER.NXE is set. */
#define PAE_FRAME 0x0000000ffffff000ull
#define PAE_XD (1ull << 63)
#define PAE_RESERVED 0x7ffffff000000000ull
#define PAE_LARGE_RESERVED (PAE_RESERVED | 0x1fe000ull) /* a 2 MiB page: bits 20:13 too */
/* A PDPTE has no R/W, U/S, A, D or XD; bits 2:1 and 8:5 are reserved (4.4.1). */
#define PDPTE_RESERVED (PAE_RESERVED | PAE_XD | 0x1e6ull)

/* bt386's physical address space ends at 4 GiB (RAM, then device memory). A PAE entry may
 * name a frame above it; such a frame reads as unassigned memory, which the last page below
 * 4 GiB is. */
static uint32_t phys32(uint64_t pa) {
  return pa >> 32 ? 0xfffff000u | (uint32_t)(pa & 0xfffu) : (uint32_t)pa;
}

/* Execute-disable applies: PAE paging with IA32_EFER.NXE (4.6). */
static bool nx_enabled(const struct cpu *cpu) {
  return (cpu->cr4 & CR4_PAE) && (cpu->efer & EFER_NXE);
}

/* The error code of SDM vol. 3, 4.7. The I/D bit says an instruction fetch faulted, whatever
 * the reason, but only where execute-disable applies (this CPU has no SMEP). */
enum walk_status { WALK_OK, WALK_NOT_PRESENT, WALK_DENIED, WALK_RESERVED };

static void raise_pf(struct cpu *cpu, uint32_t lin, unsigned access, enum walk_status why) {
  uint32_t err = (why != WALK_NOT_PRESENT ? 1u : 0u) | (access & MMU_WRITE ? 2u : 0u) |
                 (access & MMU_USER ? 4u : 0u) | (why == WALK_RESERVED ? 8u : 0u) |
                 ((access & MMU_FETCH) && nx_enabled(cpu) ? 0x10u : 0u);
  cpu->cr2 = lin;
  cpu_raise(cpu, EXC_PF, true, err);
}

/* An entry in guest RAM (a table outside RAM reads as not present). PAE entries are read as
 * their low dword, which holds every flag a walk sets, and their high dword. */
static uint32_t *entry_ptr(struct mmu *m, uint64_t pa, unsigned size) {
  if (pa >> 32)
    return NULL;
  return (uint32_t *)mmu_phys_ptr(m, pa & ~(uint64_t)(size - 1), size);
}

static uint64_t entry_value(const uint32_t *e, bool pae) {
  return pae ? (uint64_t)e[1] << 32 | e[0] : e[0];
}

/* The entries a walk went through: where to set A and D, and what they grant. */
struct walk_path {
  uint32_t *dir;   /* the page directory entry, when it is not itself the leaf */
  uint32_t *leaf;  /* the entry that maps the page */
  uint32_t rights; /* W and U as every level grants them */
  bool xd;         /* execute-disable at some level */
};

static enum walk_status walk_32bit(struct mmu *m, const struct cpu *cpu, uint32_t lin,
                                   struct walk *w, struct walk_path *p) {
  uint32_t *pde = entry_ptr(m, (cpu->cr3 & ~0xfffu) + (lin >> 22) * 4, 4);
  if (!pde || !(*pde & PTE_P))
    return WALK_NOT_PRESENT;
  uint32_t d = *pde;
  w->large = (d & PTE_PS) && (cpu->cr4 & CR4_PSE);
  if (w->large) {
    *p = (struct walk_path){NULL, pde, d, false};
    w->pa = (d & 0xffc00000u) | (lin & 0x3fffffu);
    return WALK_OK;
  }
  uint32_t *pte = entry_ptr(m, (d & ~0xfffu) + ((lin >> 12) & 0x3ff) * 4, 4);
  if (!pte || !(*pte & PTE_P))
    return WALK_NOT_PRESENT;
  *p = (struct walk_path){pde, pte, d & *pte, false}; /* U and W granted at both levels */
  w->pa = (*pte & ~0xfffu) | (lin & 0xfffu);
  return WALK_OK;
}

/* Entry `index` of the PAE table at `table` and its value: a table outside RAM reads as all
 * ones (present, with reserved bits set). */
static enum walk_status pae_entry(struct mmu *m, uint64_t table, uint32_t index,
                                  uint64_t reserved, uint32_t **entry, uint64_t *value) {
  *entry = entry_ptr(m, table + index * 8u, 8);
  if (!*entry)
    return WALK_RESERVED;
  if (!(**entry & PTE_P))
    return WALK_NOT_PRESENT;
  *value = entry_value(*entry, true);
  return *value & reserved ? WALK_RESERVED : WALK_OK;
}

/* PAE paging: the PDPTEs are the four the CPU loaded with CR3 (cpu->pdpte), not memory. */
static enum walk_status walk_pae(struct mmu *m, const struct cpu *cpu, uint32_t lin,
                                 struct walk *w, struct walk_path *p) {
  uint64_t pdpte = cpu->pdpte[lin >> 30];
  if (!(pdpte & PTE_P))
    return WALK_NOT_PRESENT;
  uint64_t reserved = PAE_RESERVED | (nx_enabled(cpu) ? 0 : PAE_XD);
  uint32_t *pde, *pte;
  uint64_t d, t;
  enum walk_status s = pae_entry(m, pdpte & PAE_FRAME, (lin >> 21) & 0x1ff, reserved, &pde, &d);
  if (s != WALK_OK)
    return s;
  w->large = d & PTE_PS; /* 2 MiB pages need no CR4.PSE */
  if (w->large) {
    if (d & PAE_LARGE_RESERVED)
      return WALK_RESERVED;
    *p = (struct walk_path){NULL, pde, (uint32_t)d, d & PAE_XD};
    w->pa = phys32((d & PAE_FRAME & ~0x1fffffull) | (lin & 0x1fffffu));
    return WALK_OK;
  }
  s = pae_entry(m, d & PAE_FRAME, (lin >> 12) & 0x1ff, reserved, &pte, &t);
  if (s != WALK_OK)
    return s;
  *p = (struct walk_path){pde, pte, (uint32_t)d & (uint32_t)t, (d | t) & PAE_XD};
  w->pa = phys32((t & PAE_FRAME) | (lin & 0xfffu));
  return WALK_OK;
}

static enum walk_status find_page(struct mmu *m, const struct cpu *cpu, uint32_t lin,
                                  struct walk *w, struct walk_path *p) {
  return (cpu->cr4 & CR4_PAE) ? walk_pae(m, cpu, lin, w, p) : walk_32bit(m, cpu, lin, w, p);
}

static void describe(struct walk *w, const struct walk_path *p) {
  w->writable = p->rights & PTE_W;
  w->user = p->rights & PTE_U;
  w->global = *p->leaf & PTE_G;
  w->dirty = *p->leaf & PTE_D;
  w->executable = !p->xd;
}

bool page_walk(struct mmu *m, struct cpu *cpu, uint32_t lin, unsigned access, struct walk *w) {
  bool user = access & MMU_USER, write = access & MMU_WRITE;
  bool wp = cpu->cr0 & CR0_WP;
  struct walk_path p;
  enum walk_status s = find_page(m, cpu, lin, w, &p);
  if (s == WALK_OK &&
      (!((!user || (p.rights & PTE_U)) && (!write || (p.rights & PTE_W) || (!user && !wp))) ||
       ((access & MMU_FETCH) && p.xd)))
    s = WALK_DENIED;
  if (s != WALK_OK) {
    raise_pf(cpu, lin, access, s);
    return false;
  }
  if (p.dir)
    *p.dir |= PTE_A;
  *p.leaf |= PTE_A | (write ? PTE_D : 0);
  describe(w, &p);
  w->accessed = true;
  return true;
}

bool page_peek(const struct mmu *m, const struct cpu *cpu, uint32_t lin, struct walk *w) {
  struct walk_path p;
  if (find_page((struct mmu *)m, cpu, lin, w, &p) != WALK_OK)
    return false;
  describe(w, &p);
  w->accessed = (*p.leaf & PTE_A) && (!p.dir || (*p.dir & PTE_A));
  return true;
}

bool mmu_read_pdptes(struct mmu *m, uint32_t cr3, uint64_t out[4]) {
  for (int i = 0; i < 4; i++) {
    const uint32_t *p = entry_ptr(m, (cr3 & ~0x1fu) + i * 8u, 8);
    out[i] = p ? entry_value(p, true) : ~0ull; /* outside RAM: all ones, reserved bits set */
    if ((out[i] & PTE_P) && (out[i] & PDPTE_RESERVED))
      return false;
  }
  return true;
}

bool mmu_load_pdptes(struct mmu *m, struct cpu *cpu, uint32_t cr3) {
  uint64_t e[4];
  if (!mmu_read_pdptes(m, cr3, e))
    return false;
  memcpy(cpu->pdpte, e, sizeof e);
  return true;
}

bool mmu_peek_phys(const struct mmu *m, const struct cpu *cpu, uint32_t lin, uint32_t *pa) {
  struct walk w = {.pa = lin};
  if ((cpu->cr0 & CR0_PG) && !page_peek(m, cpu, lin, &w))
    return false;
  *pa = w.pa;
  return true;
}

bool mmu_translate(struct mmu *m, struct cpu *cpu, uint32_t lin, unsigned access, uint32_t *pa) {
  if (!(cpu->cr0 & CR0_PG)) {
    *pa = lin;
    return true;
  }
  struct walk w;
  if (!page_walk(m, cpu, lin, access, &w))
    return false;
  *pa = w.pa;
  return true;
}

static void note_unassigned(struct mmu *m, uint32_t pa, bool write, uint32_t eip) {
  if (!m->log_unassigned || m->reported_unassigned)
    return;
  m->reported_unassigned = true;
  fprintf(stderr,
          "bt386: guest %s unassigned physical address 0x%08x at EIP 0x%08x (reads as all "
          "ones; reported once)\n",
          write ? "wrote" : "read", pa, eip);
}

int mmu_map_unassigned(struct mmu *m, void *host, bool writable) {
  int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void *p = mmap(host, PAGE_SIZE, prot, MAP_PRIVATE | MAP_FIXED, m->ones_fd, 0);
  return p == MAP_FAILED ? -errno : 0;
}

/* The host address of len bytes at lin (within one page) if a view already holds the page
 * with the rights the access needs: what the TLB holds, used without a walk (the mapping
 * implies the guest's A bit, and a writable one its D bit). NULL: take the walk. */
static uint8_t *view_ptr(struct mmu *m, uint32_t lin, unsigned len, unsigned access) {
  if (!m->paging || (lin & (PAGE_SIZE - 1)) + len > PAGE_SIZE)
    return NULL;
  const struct view *w = m->views[(access & MMU_USER) ? VIEW_USER : VIEW_KERNEL];
  uint32_t e = w->entry[lin >> PAGE_SHIFT];
  if (!(e & VE_MAPPED) || (e & VE_ONES))
    return NULL;
  uint32_t ppn = e >> PAGE_SHIFT;
  if ((access & MMU_WRITE) && (!(e & VE_WRITE) || m->code_page[ppn]))
    return NULL;
  return m->phys + ((uint64_t)ppn << PAGE_SHIFT) + (lin & (PAGE_SIZE - 1));
}

/* Copy between a buffer and guest linear memory one page at a time. */
static bool linear_copy(struct mmu *m, struct cpu *cpu, uint32_t lin, void *buf, unsigned len,
                        unsigned access) {
  bool write = access & MMU_WRITE;
  uint8_t *b = buf;
  uint8_t *direct = view_ptr(m, lin, len, access);
  if (direct) {
    if (write)
      memcpy(direct, b, len);
    else
      memcpy(b, direct, len);
    return true;
  }
  /* Translate every page first so that a fault leaves memory untouched. */
  uint32_t pas[2];
  unsigned first = PAGE_SIZE - (lin & (PAGE_SIZE - 1));
  if (first > len)
    first = len;
  if (!mmu_translate(m, cpu, lin, access, &pas[0]))
    return false;
  if (first < len && !mmu_translate(m, cpu, lin + first, access, &pas[1]))
    return false;
  for (unsigned part = 0, done = 0; done < len; part++) {
    unsigned n = part == 0 ? first : len - done;
    uint8_t *host = mmu_phys_ptr(m, pas[part], n);
    if (!host && mmu_is_mmio(m, pas[part])) {
      for (unsigned i = 0; i < n; i++) {
        uint64_t v = b[done + i];
        if (write)
          cpu->env.mmio_write(cpu->env.opaque, pas[part] + i, 1, v);
        else if (cpu->env.mmio_read(cpu->env.opaque, pas[part] + i, 1, &v))
          b[done + i] = (uint8_t)v;
      }
      done += n;
      continue;
    }
    if (!host) {
      /* Unassigned memory: reads are all ones, writes are lost. */
      note_unassigned(m, pas[part], write, cpu->eip);
      if (!write)
        memset(b + done, 0xff, n);
      done += n;
      continue;
    }
    if (write) {
      if (m->code_page[pas[part] >> PAGE_SHIFT] && m->code_write)
        m->code_write(m->code_write_opaque, pas[part] >> PAGE_SHIFT);
      memcpy(host, b + done, n);
    } else {
      memcpy(b + done, host, n);
    }
    done += n;
  }
  return true;
}

uint8_t *mmu_linear_span(struct mmu *m, struct cpu *cpu, uint32_t lin, unsigned len,
                         unsigned access, bool *faulted) {
  *faulted = false;
  if ((lin & (PAGE_SIZE - 1)) + len > PAGE_SIZE)
    return NULL;
  uint8_t *direct = view_ptr(m, lin, len, access);
  if (direct)
    return direct;
  uint32_t pa;
  if (!mmu_translate(m, cpu, lin, access, &pa)) {
    *faulted = true;
    return NULL;
  }
  uint8_t *host = mmu_phys_ptr(m, pa, len);
  if (host && (access & MMU_WRITE) && m->code_page[pa >> PAGE_SHIFT] && m->code_write)
    m->code_write(m->code_write_opaque, pa >> PAGE_SHIFT);
  return host;
}

bool mmu_read(struct mmu *m, struct cpu *cpu, uint32_t lin, void *buf, unsigned len,
              unsigned access) {
  return linear_copy(m, cpu, lin, buf, len, access & ~MMU_WRITE);
}

bool mmu_write(struct mmu *m, struct cpu *cpu, uint32_t lin, const void *buf, unsigned len,
               unsigned access) {
  return linear_copy(m, cpu, lin, (void *)buf, len, access | MMU_WRITE);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* The first touch of each 4 KiB page through the physical view would be a host fault of its
 * own (~10 us here): device DMA, the loaders and page walks fill the host page tables of a
 * whole 4 MiB chunk at its first use instead (~0.2 ms, allocating the guest RAM behind it,
 * as the kernel view's 4 MiB pages do). Without MADV_POPULATE_WRITE (Linux before 5.14)
 * pages simply come in as they are touched. */
void mmu_fill_phys(struct mmu *m, uint64_t pa, uint64_t len) {
  for (uint64_t c = pa >> PHYS_CHUNK_SHIFT; c <= (pa + len - 1) >> PHYS_CHUNK_SHIFT; c++) {
    if (m->phys_filled[c])
      continue;
    uint64_t start = c << PHYS_CHUNK_SHIFT, size = 1ull << PHYS_CHUNK_SHIFT;
    if (start + size > m->ram_size)
      size = m->ram_size - start;
    madvise(m->phys + start, size, MADV_POPULATE_WRITE);
    m->phys_filled[c] = 1;
  }
}

bool mmu_phys_write(struct mmu *m, uint64_t pa, const void *buf, uint64_t len) {
  uint8_t *host = mmu_phys_ptr(m, pa, len);
  if (!host)
    return false;
  for (uint64_t page = pa >> PAGE_SHIFT; len && page <= (pa + len - 1) >> PAGE_SHIFT; page++)
    if (m->code_page[page] && m->code_write)
      m->code_write(m->code_write_opaque, (uint32_t)page);
  memcpy(host, buf, len);
  return true;
}

void mmu_protect_code(struct mmu *m, uint32_t phys_page) {
  if (phys_page >= m->npages || m->code_page[phys_page])
    return;
  m->code_page[phys_page] = 1;
  views_code_protection(m, phys_page, true);
}

void mmu_unprotect_code(struct mmu *m, uint32_t phys_page) {
  if (phys_page >= m->npages || !m->code_page[phys_page])
    return;
  m->code_page[phys_page] = 0;
  views_code_protection(m, phys_page, false);
}

enum mmu_fault_result mmu_handle_fault(struct mmu *m, struct cpu *cpu, uint32_t lin, bool write,
                                       bool user_view, bool may_defer) {
  if (m->paging) {
    m->fill_kind = NULL;
    m->defer_volatile = may_defer && !user_view;
    enum mmu_fault_result r = views_fill(m, cpu, lin, write, user_view ? VIEW_USER : VIEW_KERNEL);
    m->defer_volatile = false;
    if (m->fill_kind)
      ++*m->fill_kind;
    if (r == MMU_FAULT_CODE_WRITE) {
      uint32_t pa;
      mmu_translate(m, cpu, lin, MMU_WRITE | (user_view ? MMU_USER : 0), &pa);
      if (m->code_write)
        m->code_write(m->code_write_opaque, pa >> PAGE_SHIFT);
      mmu_unprotect_code(m, pa >> PAGE_SHIFT);
    }
    return r;
  }
  if (user_view) {
    /* Nothing is mapped in the user view while paging is off: CPL 3 then is a guest bug. */
    cpu_stop(cpu, SHUTDOWN_ERROR, "user-mode access to 0x%08x with paging off at EIP 0x%08x",
             lin, cpu->eip);
    return MMU_FAULT_UNASSIGNED;
  }
  uint32_t pa = lin;
  if (mmu_is_mmio(m, pa))
    return MMU_FAULT_MMIO;
  if (pa >= m->ram_size) {
    note_unassigned(m, pa, write, cpu->eip);
    if (mmu_map_unassigned(m, m->kview + (pa & ~(PAGE_SIZE - 1)), true) < 0) {
      cpu_stop(cpu, SHUTDOWN_ERROR, "cannot map unassigned memory at 0x%08x", pa);
      return MMU_FAULT_UNASSIGNED;
    }
    return MMU_FAULT_RETRY;
  }
  uint32_t page = pa >> PAGE_SHIFT;
  if (write && m->code_page[page]) {
    if (m->code_write)
      m->code_write(m->code_write_opaque, page);
    mmu_unprotect_code(m, page);
    return MMU_FAULT_CODE_WRITE;
  }
  /* Identity-mapped RAM that faulted anyway: nothing to repair, so stop rather than loop. */
  cpu_stop(cpu, SHUTDOWN_ERROR, "internal error: unexpected fault on RAM at 0x%08x (EIP 0x%08x)",
           lin, cpu->eip);
  return MMU_FAULT_UNASSIGNED;
}
