/* views.c - the kernel and user views as the guest's TLB, while paging is on.
 *
 * A view maps guest linear page L at view.base + L to the guest physical page the guest's page
 * tables give, with the rights the guest allows at that view's privilege: the kernel view holds
 * what CPL 0 may touch, the user view what CPL 3 may touch. Pages are mapped when an access
 * faults on them (the walk sets the guest's A bit, as hardware does on a TLB fill), read-only
 * until the guest's D bit is set, and dropped on invlpg and mov cr3 (global pages survive a
 * mov cr3 while CR4.PGE is set), just as the TLB entries they stand for. Like a TLB, a view
 * does not notice a page-table write until the guest flushes.
 *
 * A reverse map lists every view mapping of each physical page, so that a page that comes to
 * hold translated code is made read-only in all of its aliases. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu/cpu.h"
#include "mmu/mmu.h"
#include "mmu/walk.h"

#define VIEW_PAGES (1u << 20)
/* A global page (the kernel's own, the same in every address space) whose kernel-view mapping
 * an invlpg has found changed this often is remapped at every use (mmu.h, remaps): a kernel
 * instruction that faults on it is done in C from then on if it can be (translator/run.c,
 * on_volatile_page) instead of mapping the page. User pages, which change at every
 * copy-on-write, are never global. */
#define VOLATILE_REMAPS 8u

/* The smallest large page: 2 MiB (PAE); m->large_pages is the current one's size in pages. */
#define MIN_LARGE_PAGES 512u

static void *alloc_table(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static struct view *all_views(struct mmu *m, int i) {
  return i < MMU_KERNEL_VIEWS ? &m->kernel_views[i] : &m->user_view;
}

int views_init(struct mmu *m) {
  for (int i = 0; i <= MMU_KERNEL_VIEWS; i++) {
    struct view *w = all_views(m, i);
    w->id = (uint32_t)i;
    w->mode = i < MMU_KERNEL_VIEWS ? VIEW_KERNEL : VIEW_USER;
    w->base = i < MMU_KERNEL_VIEWS ? (uintptr_t)m->kview + (uintptr_t)i * 2 * VIEW_SIZE : 0;
    w->entry = alloc_table(VIEW_PAGES * sizeof(uint32_t));
    w->slot = alloc_table(VIEW_PAGES * sizeof(uint32_t));
    w->mapped = alloc_table(VIEW_PAGES * sizeof(uint32_t));
    if (!w->entry || !w->slot || !w->mapped)
      return -ENOMEM;
  }
  m->large_pages = 1024;
  m->views[VIEW_KERNEL] = &m->kernel_views[0];
  m->views[VIEW_USER] = &m->user_view;
  m->rmap_head = calloc(m->npages, sizeof(uint32_t));
  m->scratch = alloc_table(VIEW_PAGES * sizeof(uint32_t));
  m->global_seen = alloc_table(VIEW_PAGES / 8);
  m->remaps = alloc_table(VIEW_PAGES);
  for (int i = 0; i < MMU_KERNEL_VIEWS; i++)
    m->kernel_views[i].global_seen = m->global_seen;
  return m->rmap_head && m->scratch && m->global_seen && m->remaps ? 0 : -ENOMEM;
}

void views_exit(struct mmu *m) {
  for (int i = 0; i <= MMU_KERNEL_VIEWS; i++) {
    struct view *w = all_views(m, i);
    if (w->entry)
      munmap(w->entry, VIEW_PAGES * sizeof(uint32_t));
    if (w->slot)
      munmap(w->slot, VIEW_PAGES * sizeof(uint32_t));
    if (w->mapped)
      munmap(w->mapped, VIEW_PAGES * sizeof(uint32_t));
    for (int r = 0; r < 1024; r++)
      free(w->memo[r]);
    memset(w, 0, sizeof(*w));
  }
  m->views[VIEW_KERNEL] = m->views[VIEW_USER] = NULL;
  if (m->scratch)
    munmap(m->scratch, VIEW_PAGES * sizeof(uint32_t));
  m->scratch = NULL;
  if (m->global_seen)
    munmap(m->global_seen, VIEW_PAGES / 8);
  m->global_seen = NULL;
  if (m->remaps)
    munmap(m->remaps, VIEW_PAGES);
  m->remaps = NULL;
  free(m->rmap_head);
  free(m->rmap);
  m->rmap_head = NULL;
  m->rmap = NULL;
}

uintptr_t mmu_kernel_view_base(const struct mmu *m) { return m->views[VIEW_KERNEL]->base; }

/* ---- reverse map ---- */

static int rmap_add(struct mmu *m, uint32_t ppn, uint32_t view_id, uint32_t lin_page) {
  if (!m->rmap_free) {
    uint32_t cap = m->rmap_cap ? m->rmap_cap * 2 : 65536;
    struct rmap_node *n = realloc(m->rmap, cap * sizeof(*n));
    if (!n)
      return -ENOMEM;
    for (uint32_t i = m->rmap_cap; i < cap; i++)
      n[i].next = i + 1 < cap ? i + 2 : 0;
    m->rmap_free = m->rmap_cap + 1;
    m->rmap = n;
    m->rmap_cap = cap;
  }
  uint32_t idx = m->rmap_free;
  struct rmap_node *node = &m->rmap[idx - 1];
  m->rmap_free = node->next;
  *node = (struct rmap_node){lin_page, view_id, m->rmap_head[ppn]};
  m->rmap_head[ppn] = idx;
  return 0;
}

static void rmap_remove(struct mmu *m, uint32_t ppn, uint32_t view_id, uint32_t lin_page) {
  for (uint32_t *pp = &m->rmap_head[ppn]; *pp; pp = &m->rmap[*pp - 1].next) {
    struct rmap_node *node = &m->rmap[*pp - 1];
    if (node->lin_page == lin_page && node->view == view_id) {
      uint32_t idx = *pp;
      *pp = node->next;
      node->next = m->rmap_free;
      m->rmap_free = idx;
      return;
    }
  }
}

/* ---- mapping and unmapping ---- */

static void *host_addr(const struct view *w, uint32_t lin_page) {
  return (void *)(w->base + ((uintptr_t)lin_page << PAGE_SHIFT));
}

static int prot_of(const struct mmu *m, uint32_t entry) {
  bool writable = (entry & VE_WRITE) && !m->code_page[entry >> PAGE_SHIFT];
  return writable ? PROT_READ | PROT_WRITE : PROT_READ;
}

/* Replace host pages with inaccessible reserved memory (munmap would let other mappings in). */
static void reserve_again(struct mmu *m, const struct view *w, uint32_t lin_page,
                          uint32_t pages) {
  m->stat_reserves++;
  mmap(host_addr(w, lin_page), (size_t)pages << PAGE_SHIFT, PROT_NONE,
       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

/* Page-table memos (see struct table_memo). */
static void memo_forget(struct view *w, uint32_t p);
static void memo_forget_all(struct view *w);

/* mapped[] lists the non-global pages first, [0, n_local), then the global ones, so that a
 * mov cr3 looks at the first part only. */
static void list_add(struct view *w, uint32_t p, bool global) {
  memo_forget(w, p);
  if (global && w->global_seen)
    w->global_seen[p / 8] |= (uint8_t)(1u << (p % 8));
  if (global) {
    w->slot[p] = w->n_mapped;
    w->mapped[w->n_mapped++] = p;
    return;
  }
  if (w->n_local < w->n_mapped) { /* the first global page moves to the end */
    uint32_t g = w->mapped[w->n_local];
    w->slot[g] = w->n_mapped;
    w->mapped[w->n_mapped] = g;
  }
  w->slot[p] = w->n_local;
  w->mapped[w->n_local++] = p;
  w->n_mapped++;
}

static void list_remove(struct view *w, uint32_t p, bool global) {
  uint32_t hole = w->slot[p];
  if (!global) { /* the last non-global page fills the hole, the last page that one's place */
    uint32_t l = w->mapped[--w->n_local];
    w->mapped[hole] = l;
    w->slot[l] = hole;
    hole = w->n_local;
  }
  uint32_t last = w->mapped[--w->n_mapped];
  if (hole != w->n_mapped) {
    w->mapped[hole] = last;
    w->slot[last] = hole;
  }
}

static void forget(struct mmu *m, struct view *w, uint32_t lin_page) {
  uint32_t e = w->entry[lin_page];
  if (!e)
    return;
  if (!(e & VE_ONES))
    rmap_remove(m, e >> PAGE_SHIFT, w->id, lin_page);
  w->entry[lin_page] = 0;
  list_remove(w, lin_page, e & VE_GLOBAL);
  m->stat_unmaps++;
}

/* Unmap the page (or the whole large page it is part of). */
static void drop(struct mmu *m, struct view *w, uint32_t lin_page) {
  uint32_t e = w->entry[lin_page];
  if (!e)
    return;
  uint32_t first = lin_page, count = 1;
  if (e & VE_LARGE) {
    first = lin_page & ~(m->large_pages - 1);
    count = m->large_pages;
  }
  for (uint32_t p = first; p < first + count; p++)
    forget(m, w, p);
  reserve_again(m, w, first, count);
}

static void unmap_page(struct mmu *m, int view, uint32_t lin_page) {
  if (!m->views[view]->entry[lin_page])
    return;
  drop(m, m->views[view], lin_page);
  if (m->mapping_changed)
    m->mapping_changed(m->code_write_opaque, view, lin_page);
}

/* Drop every mapping of a view (all but global ones if keep_global). */
static void unmap_all_of(struct mmu *m, struct view *w, bool keep_global) {
  memo_forget_all(w);
  if (!keep_global) {
    while (w->n_mapped)
      forget(m, w, w->mapped[w->n_mapped - 1]);
    if (w->mode == VIEW_USER)
      mmap((void *)m->user_min, VIEW_SIZE - m->user_min, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    else
      reserve_again(m, w, 0, VIEW_PAGES);
  } else {
    for (uint32_t i = 0; i < w->n_mapped;) {
      uint32_t p = w->mapped[i];
      if (w->entry[p] & VE_GLOBAL)
        i++;
      else
        drop(m, w, p); /* moves another page into slot i */
    }
  }
  w->cr3 = 0;
}

/* ... of the user view, or of every kernel view. */
static void unmap_all(struct mmu *m, int view, bool keep_global) {
  if (view == VIEW_USER) {
    unmap_all_of(m, &m->user_view, keep_global);
  } else {
    for (int i = 0; i < MMU_KERNEL_VIEWS; i++)
      if (m->kernel_views[i].n_mapped || &m->kernel_views[i] == m->views[VIEW_KERNEL])
        unmap_all_of(m, &m->kernel_views[i], keep_global);
    if (!keep_global)
      memset(m->global_seen, 0, VIEW_PAGES / 8);
  }
  m->stat_flushes++;
  if (m->mapping_changed)
    m->mapping_changed(m->code_write_opaque, view, MMU_ALL_PAGES);
}

/* Map a run of pages. touch_now says the guest is about to use them (the page a fault asked
 * for, a working-set page), so the host page tables are filled with the mapping: on this
 * host the first touch of each 4 KiB page of a new mapping is a fault of its own (~10 us),
 * filling it in the mmap costs ~1 us, and a filled entry costs ~3 us more to tear down when
 * it goes (../shared/HOST.md). So pages mapped on speculation (fault-around, of which 1 in 6
 * to 1 in 10 get used) are not filled. A 4 MiB page (the kernel's direct map, which the
 * guest fills with page cache) is filled too, ~0.2 ms for all 1,024 pages: writing 50 MB to
 * the disk went from 0.50 to 0.37 s. Filling allocates the guest RAM behind the pages, which
 * their use allocates anyway. */
static int map_run(struct mmu *m, int view, uint32_t lin_page, uint32_t ppn, uint32_t pages,
                   uint32_t flags, bool touch_now) {
  struct view *w = m->views[view];
  int prot = (flags & VE_WRITE) ? PROT_READ | PROT_WRITE : PROT_READ;
  void *want = host_addr(w, lin_page);
  int populate = touch_now || pages >= m->large_pages ? MAP_POPULATE : 0;
  void *p = mmap(want, (size_t)pages << PAGE_SHIFT, prot, MAP_SHARED | MAP_FIXED | populate,
                 m->memfd, (off_t)ppn << PAGE_SHIFT);
  if (p == MAP_FAILED)
    return -errno;
  for (uint32_t i = 0; i < pages; i++) {
    uint32_t e = (ppn + i) << PAGE_SHIFT | flags | VE_MAPPED;
    if (w->entry[lin_page + i])
      forget(m, w, lin_page + i);
    w->entry[lin_page + i] = e;
    list_add(w, lin_page + i, flags & VE_GLOBAL);
    if (rmap_add(m, ppn + i, w->id, lin_page + i) < 0)
      return -ENOMEM;
    /* Translated code stays read-only in every alias. */
    if ((flags & VE_WRITE) && m->code_page[ppn + i])
      mprotect(host_addr(w, lin_page + i), PAGE_SIZE, PROT_READ);
  }
  m->stat_maps++;
  return 0;
}

/* ---- what the CPU changes ---- */

static void activate_kernel_view(struct mmu *m, struct view *w) {
  w->last_used = ++m->view_clock;
  if (m->views[VIEW_KERNEL] == w)
    return;
  m->views[VIEW_KERNEL] = w;
  if (m->kernel_view_switched)
    m->kernel_view_switched(m->code_write_opaque, w->base);
}

static void revalidate_every_entry(struct mmu *m, const struct cpu *cpu, struct view *w);

void mmu_paging_changed(struct mmu *m, const struct cpu *cpu) {
  bool paging = cpu->cr0 & CR0_PG;
  bool wp = cpu->cr0 & CR0_WP, pge = cpu->cr4 & CR4_PGE, pse = cpu->cr4 & CR4_PSE;
  bool pae = cpu->cr4 & CR4_PAE, nxe = cpu->efer & EFER_NXE;
  if (paging == m->paging && wp == m->wp && pge == m->pge && pse == m->pse && pae == m->pae &&
      nxe == m->nxe)
    return;
  m->nxe = nxe;
  bool large_changed = pse != m->pse || pae != m->pae;
  m->wp = wp;
  m->pge = pge;
  m->pse = pse;
  m->pae = pae;
  m->large_pages = pae ? 512 : 1024; /* 2 MiB or 4 MiB */
  if (paging != m->paging) {
    m->paging = paging;
    if (paging) {
      /* Leave the identity map behind: from now on pages come in as they are touched. */
      reserve_again(m, m->views[VIEW_KERNEL], 0, VIEW_PAGES);
      m->views[VIEW_KERNEL]->cr3 = cpu->cr3;
    } else {
      unmap_all(m, VIEW_KERNEL, false);
      unmap_all(m, VIEW_USER, false);
      activate_kernel_view(m, &m->kernel_views[0]);
      mmap(m->kview, m->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m->memfd, 0);
      for (uint32_t p = 0; p < m->npages; p++)
        if (m->code_page[p])
          mprotect(m->kview + (uint64_t)p * PAGE_SIZE, PAGE_SIZE, PROT_READ);
    }
    if (m->mapping_changed) {
      m->mapping_changed(m->code_write_opaque, VIEW_KERNEL, MMU_ALL_PAGES);
      m->mapping_changed(m->code_write_opaque, VIEW_USER, MMU_ALL_PAGES);
    }
    return;
  }
  if (!m->paging)
    return;
  if (large_changed) { /* what a large page is changes: start afresh (once, at boot) */
    unmap_all(m, VIEW_KERNEL, false);
    unmap_all(m, VIEW_USER, false);
  } else {
    for (int i = 0; i < MMU_KERNEL_VIEWS; i++)
      revalidate_every_entry(m, cpu, &m->kernel_views[i]);
    revalidate_every_entry(m, cpu, &m->user_view);
    m->stat_flushes++;
    if (m->mapping_changed) {
      m->mapping_changed(m->code_write_opaque, VIEW_KERNEL, MMU_ALL_PAGES);
      m->mapping_changed(m->code_write_opaque, VIEW_USER, MMU_ALL_PAGES);
    }
  }
  m->views[VIEW_KERNEL]->cr3 = cpu->cr3;
}

/* The entry a view should hold for lin_page now, if the one it holds (e) is still a TLB entry
 * the tables produce: the same frame (a large page still one), rights the mapping does not
 * exceed, A and, for a writable mapping, D set. Global or not as CR4.PGE and the page now
 * say; 0 if the entry has to go. */
static uint32_t entry_now(const struct mmu *m, const struct cpu *cpu, int view, uint32_t lin_page,
                          uint32_t e) {
  struct walk w;
  if ((e & VE_ONES) || !page_peek(m, cpu, lin_page << PAGE_SHIFT, &w) || !w.accessed ||
      w.large != (bool)(e & VE_LARGE) || (w.pa >> PAGE_SHIFT) != (e >> PAGE_SHIFT))
    return 0;
  if (view == VIEW_USER && !w.user)
    return 0;
  bool may_write = w.writable || (view == VIEW_KERNEL && !(cpu->cr0 & CR0_WP));
  if ((e & VE_WRITE) && (!may_write || !w.dirty))
    return 0;
  return (e & ~VE_GLOBAL) | (w.global && m->pge ? VE_GLOBAL : 0);
}

/* Would a TLB entry the new tables produce be the one this view holds? Only if it maps the
 * same frame with rights the mapping does not exceed, and the guest's A bit (and D, for a
 * writable mapping) is already set, so that keeping it hides no A/D update. A mov cr3 drops
 * large entries that are not global (the view keeps global ones without asking). */
static bool still_valid(const struct mmu *m, const struct cpu *cpu, int view, uint32_t lin_page,
                        uint32_t e) {
  return !(e & VE_LARGE) && entry_now(m, cpu, view, lin_page, e) == e;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t quiet_entry(const struct mmu *m, const struct cpu *cpu, int view,
                            uint32_t lin_page);

/* mov cr3: a TLB flush of non-global entries. Entries the new tables give unchanged are kept
 * (shared kernel mappings, pages shared between processes), the rest go back to reserved
 * memory with one mmap per run, a run bridging short gaps that hold no mapping (reserving
 * those again changes nothing). */
#define BRIDGE_PAGES 256u
static bool gap_is_empty(const struct view *w, uint32_t a, uint32_t b) {
  if (b - a > BRIDGE_PAGES)
    return false;
  for (uint32_t p = a + 1; p < b; p++)
    if (w->entry[p])
      return false;
  return true;
}

/* Put the pages in gone (unsorted) back to reserved memory, one mmap per run. */
static void reserve_gone(struct mmu *m, struct view *w, uint32_t *gone, uint32_t n_gone) {
  qsort(gone, n_gone, sizeof(gone[0]), cmp_u32);
  for (uint32_t i = 0; i < n_gone;) {
    uint32_t j = i + 1;
    while (j < n_gone && gap_is_empty(w, gone[j - 1], gone[j]))
      j++;
    reserve_again(m, w, gone[i], gone[j - 1] - gone[i] + 1);
    i = j;
  }
}

/* Page-table memos. A mov cr3 checks each non-global entry of a view against the new tables,
 * one walk each; a kernel whose address spaces each have their own copy of the kernel's page
 * tables, not global (xv6), keeps thousands of entries in a view, and switches address space
 * twice per context switch. So a view remembers, per 4 MiB of linear space, the directory
 * entry and the page table its entries there were last found valid against. A valid memo
 * means: every non-global 4 KiB entry of the region was walked against exactly these tables
 * at the last mov cr3, and none was added or changed since (list_add forgets the memo). Then,
 * if the new tables have the same directory entry and a byte-identical page table, every one
 * of them is still valid, and a memcmp replaces the walks. An entry's validity depends on
 * nothing else but the view's mode (fixed), CR0.WP, CR4.PGE and EFER.NXE (whose changes forget
 * every memo, revalidate_every_entry) and CR4.PSE/PAE (whose changes empty the views; PAE
 * paging goes entry by entry). */
struct table_memo {
  bool valid;
  uint32_t pde;
  uint32_t pte[1024];
};

static void memo_forget(struct view *w, uint32_t p) {
  struct table_memo *t = w->memo[p >> 10];
  if (t)
    t->valid = false;
}

static void memo_forget_all(struct view *w) {
  for (int r = 0; r < 1024; r++)
    if (w->memo[r])
      w->memo[r]->valid = false;
}

/* The new tables' directory entry and page table for region r, or false if there is no page
 * table in RAM there. */
static bool region_tables(struct mmu *m, const struct cpu *cpu, uint32_t r, uint32_t *pde,
                          const uint32_t **table) {
  const uint32_t *d = (const uint32_t *)mmu_phys_ptr(m, (cpu->cr3 & ~0xfffu) + r * 4u, 4);
  if (!d || !(*d & PTE_P) || (*d & PTE_PS))
    return false;
  *pde = *d;
  *table = (const uint32_t *)mmu_phys_ptr(m, *d & ~0xfffu, PAGE_SIZE);
  return *table != NULL;
}

static bool memo_matches(struct mmu *m, const struct cpu *cpu, const struct view *w,
                             uint32_t r) {
  const struct table_memo *t = w->memo[r];
  uint32_t pde;
  const uint32_t *table;
  return t && t->valid && region_tables(m, cpu, r, &pde, &table) && pde == t->pde &&
         !memcmp(table, t->pte, sizeof(t->pte));
}

static void memo_take(struct mmu *m, const struct cpu *cpu, struct view *w, uint32_t r) {
  uint32_t pde;
  const uint32_t *table;
  if (!region_tables(m, cpu, r, &pde, &table)) {
    memo_forget(w, r << 10);
    return;
  }
  if (!w->memo[r] && !(w->memo[r] = malloc(sizeof(struct table_memo))))
    return;
  w->memo[r]->valid = true;
  w->memo[r]->pde = pde;
  memcpy(w->memo[r]->pte, table, sizeof(w->memo[r]->pte));
}

enum { REGION_UNSEEN, REGION_UNCHANGED, REGION_CHECKED };

static void revalidate(struct mmu *m, const struct cpu *cpu, struct view *w) {
  /* A copy of the list: dropping a large page also forgets the pages of its range already
   * looked at (4 KiB ones mapped after its directory entry became a page table), and
   * list_remove would move a page not yet looked at into their slots. */
  uint32_t *pages = m->scratch, n = w->n_local, n_gone = 0;
  uint8_t region[1024] = {0};
  bool use_memos = !m->pae;
  memcpy(pages, w->mapped, n * sizeof(pages[0]));
  for (uint32_t i = 0; i < n; i++) { /* global pages stay (only mapped with CR4.PGE) */
    uint32_t p = pages[i], e = w->entry[p], r = p >> 10;
    if (!e)
      continue; /* went with its large page */
    if (use_memos && !(e & (VE_LARGE | VE_ONES))) {
      if (region[r] == REGION_UNSEEN)
        region[r] = memo_matches(m, cpu, w, r) ? REGION_UNCHANGED : REGION_CHECKED;
      if (region[r] == REGION_UNCHANGED)
        continue;
    }
    if (still_valid(m, cpu, w->mode, p, e))
      continue;
    if (e & VE_LARGE) {
      drop(m, w, p);
      continue;
    }
    forget(m, w, p);
    pages[n_gone++] = p; /* n_gone <= i: only slots already read are reused */
  }
  w->cr3 = cpu->cr3;
  m->stat_flushes++;
  if (m->mapping_changed)
    m->mapping_changed(m->code_write_opaque, w->mode, MMU_NONGLOBAL_PAGES);
  reserve_gone(m, w, pages, n_gone);
  /* What is left of a checked region was just found valid against its tables as they are. */
  for (uint32_t r = 0; r < 1024; r++)
    if (region[r] == REGION_CHECKED)
      memo_take(m, cpu, w, r);
}

/* Make lin_page's entry global or not, moving it in the view's list. */
static void set_global(struct view *w, uint32_t lin_page, bool global) {
  uint32_t e = w->entry[lin_page];
  if ((bool)(e & VE_GLOBAL) == global)
    return;
  list_remove(w, lin_page, e & VE_GLOBAL);
  w->entry[lin_page] = global ? e | VE_GLOBAL : e & ~VE_GLOBAL;
  list_add(w, lin_page, global);
}

/* CR4.PGE or CR0.WP changed with paging on: a flush of every TLB entry, global ones too (Linux
 * flushes its global pages by toggling PGE, 82 times in the Debian boot). As at mov cr3, a view
 * keeps the entries the tables still give unchanged (the kernel's 4 MiB direct map above all,
 * judged once per large page), now global or not as PGE says, and the rest go back to reserved
 * memory. Dropping everything instead cost every view a host fault per 4 MiB page and a first
 * touch per 4 KiB page afterwards (~10 us each here). A view not in use is judged by the
 * current tables too: what it keeps is either global (the same in every address space) or
 * revalidated against its own address space when it is next used. */
static void revalidate_every_entry(struct mmu *m, const struct cpu *cpu, struct view *w) {
  memo_forget_all(w); /* CR0.WP or CR4.PGE changed: what an entry allows is judged anew */
  uint32_t *pages = m->scratch, n = w->n_mapped, n_gone = 0;
  uint32_t large_seen[VIEW_PAGES / MIN_LARGE_PAGES / 32] = {0};
  memcpy(pages, w->mapped, n * sizeof(pages[0]));
  for (uint32_t i = 0; i < n; i++) {
    uint32_t p = pages[i], e = w->entry[p];
    if (!e)
      continue; /* went with its large page */
    if (e & VE_LARGE) {
      uint32_t big = p / m->large_pages, first = big * m->large_pages;
      if (large_seen[big / 32] & 1u << big % 32)
        continue;
      large_seen[big / 32] |= 1u << big % 32;
      uint32_t now = entry_now(m, cpu, w->mode, p, e);
      if (!now)
        drop(m, w, p);
      else
        for (uint32_t q = first; q < first + m->large_pages; q++)
          if (w->entry[q])
            set_global(w, q, now & VE_GLOBAL);
      continue;
    }
    uint32_t now = entry_now(m, cpu, w->mode, p, e);
    if (now) {
      set_global(w, p, now & VE_GLOBAL);
    } else {
      forget(m, w, p);
      pages[n_gone++] = p; /* n_gone <= i: only slots already read are reused */
    }
  }
  reserve_gone(m, w, pages, n_gone);
}

/* Would the active kernel view lose nothing under the new tables? If it holds few non-global
 * pages and the new tables give every one of them unchanged, it serves the new address space
 * too, without a GS base switch (an arch_prctl, ~7-10 us here), unless that address space
 * has a view of its own with more pages in it (the idle task's tables, say, and then a
 * process's). Address spaces that share their pages, as a test's two copies of one page
 * directory do, then cost no switch. Allowing even 4 lost pages cost the Debian boot 7,000
 * more host faults (the kernel's temporary mm for code patching took a process's view and
 * dropped its pages, 17,500 times), more than the switches it saved. */
#define VIEW_FIT_PAGES 64u
static bool view_fits(const struct mmu *m, const struct cpu *cpu, const struct view *w) {
  if (w->n_local > VIEW_FIT_PAGES)
    return false;
  for (uint32_t i = 0; i < w->n_local; i++) {
    uint32_t p = w->mapped[i];
    if (!still_valid(m, cpu, w->mode, p, w->entry[p]))
      return false;
  }
  return true;
}

/* ---- user working sets ----
 *
 * There is one user view, at host address 0 where user-mode translations address memory
 * directly, so a switch to another process drops the pages of the one before and a process
 * finds its own pages gone when it runs again: two processes taking turns through a pipe
 * refaulted their stack and buffer pages at every switch (a host fault and an mmap each).
 * Each recent address space remembers the user pages it faulted in, and a switch back maps
 * those its tables still give without an A/D update, as a TLB may prefetch: an mmap each
 * instead of a host fault and an mmap. */

static struct user_working_set *working_set_of(struct mmu *m, uint32_t cr3) {
  struct user_working_set *lru = &m->ws[0];
  for (int i = 0; i < MMU_WS_SPACES; i++) {
    if (m->ws[i].cr3 == cr3 && m->ws[i].last_used)
      return &m->ws[i];
    if (m->ws[i].last_used < lru->last_used)
      lru = &m->ws[i];
  }
  *lru = (struct user_working_set){.cr3 = cr3};
  return lru;
}

/* A user page the current address space faulted in goes to the front of its set. */
static void working_set_note(struct mmu *m, uint32_t lin_page) {
  struct user_working_set *ws = m->ws_current;
  if (!ws)
    return;
  uint32_t i = 0;
  while (i < ws->n && ws->page[i] != lin_page)
    i++;
  if (i == ws->n && ws->n < MMU_WS_PAGES)
    ws->n++;
  if (i == MMU_WS_PAGES)
    i--; /* the least recent one goes */
  memmove(&ws->page[1], &ws->page[0], i * sizeof(ws->page[0]));
  ws->page[0] = lin_page;
}

static void fill_working_set(struct mmu *m, const struct cpu *cpu) {
  struct view *u = &m->user_view;
  struct user_working_set *ws = m->ws_current = working_set_of(m, cpu->cr3);
  ws->last_used = ++m->view_clock;
  for (uint32_t i = 0; i < ws->n;) {
    uint32_t p = ws->page[i];
    uint32_t e = ((uint64_t)p << PAGE_SHIFT) < m->user_min ? 0 : quiet_entry(m, cpu, VIEW_USER, p);
    if (!e) { /* gone from the tables, or not used since: forget it */
      memmove(&ws->page[i], &ws->page[i + 1], (ws->n - i - 1) * sizeof(ws->page[0]));
      ws->n--;
      continue;
    }
    if (u->entry[p] != e &&
        map_run(m, VIEW_USER, p, e >> PAGE_SHIFT, 1, e & (VE_WRITE | VE_GLOBAL), true) == 0)
      m->stat_ws_filled++;
    i++;
  }
}

/* The kernel view that last held the address space at cr3, if one still does. */
static struct view *kernel_view_of(struct mmu *m, uint32_t cr3) {
  for (int i = 0; i < MMU_KERNEL_VIEWS; i++)
    if (m->kernel_views[i].cr3 == cr3)
      return &m->kernel_views[i];
  return NULL;
}

/* The kernel view used longest ago, for an address space that has none (its global pages,
 * the kernel's own, stay valid). */
static struct view *least_recent_kernel_view(struct mmu *m) {
  struct view *lru = &m->kernel_views[0];
  for (int i = 1; i < MMU_KERNEL_VIEWS; i++)
    if (m->kernel_views[i].last_used < lru->last_used)
      lru = &m->kernel_views[i];
  m->stat_view_recycled++;
  return lru;
}

/* A new CR3 switches to that address space's kernel view, which keeps what the kernel had
 * mapped of the process (its user memory, through copy_to/from_user) while others ran: a
 * switch back revalidates those pages, as a TLB with address-space tags would keep them,
 * instead of mapping them again one by one. Like any TLB flush, it re-verifies every
 * non-global entry: the tables may have changed while the view was not in use. */
void mmu_cr3_written(struct mmu *m, const struct cpu *cpu) {
  if (!m->paging)
    return;
  struct view *k = m->views[VIEW_KERNEL];
  if (k->cr3 != cpu->cr3) {
    /* A view that holds more of this address space's pages is worth the switch back. */
    struct view *own = kernel_view_of(m, cpu->cr3);
    if ((!own || own->n_local <= k->n_local) && view_fits(m, cpu, k)) {
      if (own) /* the active view becomes this address space's */
        own->cr3 = 0;
    } else {
      k = own ? own : least_recent_kernel_view(m);
      m->stat_view_switches++;
    }
  }
  revalidate(m, cpu, k);
  activate_kernel_view(m, k);
  /* The working set first: a page of it at an address the last process used too (its stack)
   * replaces that mapping with one mmap instead of being dropped and mapped again. */
  fill_working_set(m, cpu);
  revalidate(m, cpu, &m->user_view);
}

/* A global page's mapping changed under invlpg (mmu.h: remaps). The counts are halved every
 * REMAP_EPOCH such events, so that a page is volatile only if it is remapped often (a kmap
 * slot, thousands of times a second), not after a few reuses of its address over a long run
 * (vmalloc), which would turn instructions into callouts for good. */
#define REMAP_EPOCH 4096u
static void count_remap(struct mmu *m, uint32_t page) {
  if (m->remaps[page] < UINT8_MAX)
    m->remaps[page]++;
  if (++m->remap_events % REMAP_EPOCH)
    return;
  uint64_t *counts = (uint64_t *)m->remaps;
  for (size_t i = 0; i < VIEW_PAGES / 8; i++)
    if (counts[i]) /* (pages of the table never written stay unallocated) */
      counts[i] = (counts[i] >> 1) & 0x7f7f7f7f7f7f7f7full;
}

/* Map lin into a view now, as a TLB fill would, if the guest's tables allow the access and
 * their A bit (and D, for a write) is set already: nothing the guest can see changes. */
static void fill_quietly(struct mmu *m, struct cpu *cpu, int view, uint32_t lin, bool write) {
  struct walk w;
  if (!page_peek(m, cpu, lin, &w) || !w.accessed || (write && !w.dirty) ||
      (view == VIEW_USER && !w.user))
    return;
  bool may_write = w.writable || (view == VIEW_KERNEL && !(cpu->cr0 & CR0_WP));
  if (write && !may_write)
    return;
  struct pending_event saved = cpu->pending;
  views_fill(m, cpu, lin, write, view);
  cpu->pending = saved;
}

void mmu_invlpg(struct mmu *m, struct cpu *cpu, uint32_t lin) {
  if (!m->paging)
    return;
  uint32_t page = lin >> PAGE_SHIFT;
  struct view *k = m->views[VIEW_KERNEL];
  /* Global entries are shared by every address space, so the kernel views not in use drop
   * theirs too; their other entries are re-verified when they are next used. */
  for (int i = 0; i < MMU_KERNEL_VIEWS && (m->global_seen[page / 8] & (1u << (page % 8))); i++) {
    struct view *w = &m->kernel_views[i];
    if (w != k && (w->entry[page] & VE_GLOBAL))
      drop(m, w, page);
  }
  uint32_t u = m->views[VIEW_USER]->entry[page];
  if (u && !still_valid(m, cpu, VIEW_USER, page, u))
    unmap_page(m, VIEW_USER, page);
  /* Code runs from translations, not through the views: a page code was translated from may
   * have changed even where no view maps it, or where a view keeps its entry (the views hold
   * no execute right: an XD bit set with A and D kept leaves the entry valid for data). */
  if (m->mapping_changed) {
    m->mapping_changed(m->code_write_opaque, VIEW_USER, page);
    m->mapping_changed(m->code_write_opaque, VIEW_KERNEL, page);
  }
  /* A kernel invalidates what it changed to use it next: when the new translation can be
   * mapped quietly, one mmap replaces the old page instead of an unmap and a fault. */
  uint32_t e = k->entry[page];
  /* A PTE rewritten with what it held (the A or D bit set by software, rights unchanged):
   * the mapping is what a TLB fill would produce, and keeping it hides nothing. */
  if (e && still_valid(m, cpu, VIEW_KERNEL, page, e))
    return;
  if (e & VE_GLOBAL)
    count_remap(m, page);
  if (cpu->cpl == 0 && e && !(e & (VE_LARGE | VE_ONES))) {
    forget(m, k, page);
    fill_quietly(m, cpu, VIEW_KERNEL, lin, false);
    if (!k->entry[page])
      reserve_again(m, k, page, 1);
    return;
  }
  unmap_page(m, VIEW_KERNEL, page);
  if (cpu->cpl == 0)
    fill_quietly(m, cpu, VIEW_KERNEL, lin, false);
}

void mmu_refill(struct mmu *m, struct cpu *cpu) {
  if (!m->refill.valid || cpu->eip != m->refill.eip)
    return;
  m->refill.valid = false;
  if (!m->paging || cpu->cr3 != m->refill.cr3 || (cpu->cpl == 3) != (m->refill.view == VIEW_USER))
    return;
  if (m->views[m->refill.view]->entry[m->refill.lin >> PAGE_SHIFT] & VE_MAPPED)
    return;
  /* The instruction accesses the page as soon as it runs, setting A (and D) anyway. */
  struct walk w;
  unsigned access = (m->refill.write ? MMU_WRITE : 0) |
                    (m->refill.view == VIEW_USER ? MMU_USER : 0);
  struct pending_event saved = cpu->pending;
  if (page_peek(m, cpu, m->refill.lin, &w) && page_walk(m, cpu, m->refill.lin, access, &w))
    views_fill(m, cpu, m->refill.lin, m->refill.write, m->refill.view);
  cpu->pending = saved;
}

/* Write-protect (or release) every alias of a physical page that now holds code. */
void views_code_protection(struct mmu *m, uint32_t ppn, bool code) {
  if (!m->paging) {
    mprotect(m->kview + (uint64_t)ppn * PAGE_SIZE, PAGE_SIZE,
             code ? PROT_READ : PROT_READ | PROT_WRITE);
    return;
  }
  for (uint32_t i = m->rmap_head[ppn]; i; i = m->rmap[i - 1].next) {
    const struct rmap_node *n = &m->rmap[i - 1];
    const struct view *w = all_views(m, (int)n->view);
    uint32_t e = w->entry[n->lin_page];
    if (e & VE_WRITE)
      mprotect(host_addr(w, n->lin_page), PAGE_SIZE, prot_of(m, e));
  }
}

/* ---- filling a view after a fault ---- */

/* Unassigned physical memory reads as all ones (a private page each time it is mapped). */
/* Writable only as a RAM page would be (the guest allows the write and D is set), so that a
 * write the guest's tables forbid, or one that must set D, still faults. */
static enum mmu_fault_result map_unassigned(struct mmu *m, struct cpu *cpu, int view,
                                            uint32_t lin, uint32_t pa, bool writable) {
  struct view *w = m->views[view];
  uint32_t lin_page = lin >> PAGE_SHIFT;
  if (w->entry[lin_page])
    drop(m, w, lin_page);
  if (mmu_map_unassigned(m, host_addr(w, lin_page), writable) < 0) {
    cpu_stop(cpu, SHUTDOWN_ERROR, "cannot map unassigned memory at 0x%08x", pa);
    return MMU_FAULT_UNASSIGNED;
  }
  w->entry[lin_page] = VE_ONES | VE_MAPPED;
  list_add(w, lin_page, false);
  return MMU_FAULT_RETRY;
}

/* The entry a fill of lin_page would make without changing the guest's tables (A already
 * set, and D for a writable mapping), or 0 if it would need a walk that sets bits, would
 * fault, or is not plain RAM. */
static uint32_t quiet_entry(const struct mmu *m, const struct cpu *cpu, int view,
                            uint32_t lin_page) {
  struct walk w;
  if (!page_peek(m, cpu, lin_page << PAGE_SHIFT, &w) || !w.accessed || w.large ||
      (view == VIEW_USER && !w.user) || w.pa >= m->ram_size || mmu_is_mmio(m, w.pa))
    return 0;
  bool may_write = w.writable || (view == VIEW_KERNEL && !(cpu->cr0 & CR0_WP));
  uint32_t flags = (w.dirty && may_write ? VE_WRITE : 0) | (w.global && m->pge ? VE_GLOBAL : 0);
  return (w.pa & ~(PAGE_SIZE - 1)) | flags | VE_MAPPED;
}

/* Fault-around: a host fault costs far more than an mmap here (../shared/HOST.md), so after
 * one, map the pages around it that the guest has already used (A set) in the same aligned
 * 64 KiB, as a TLB may prefetch: nothing the guest can see changes. Runs of consecutive
 * frames with the same rights go in with one mmap. */
#define AROUND_PAGES 16u
static void fault_around(struct mmu *m, const struct cpu *cpu, int view, uint32_t lin_page) {
  struct view *w = m->views[view];
  uint32_t first = lin_page & ~(AROUND_PAGES - 1);
  for (uint32_t p = first; p < first + AROUND_PAGES;) {
    uint32_t e = w->entry[p] ? 0 : quiet_entry(m, cpu, view, p);
    if (!e || (view == VIEW_USER && ((uint64_t)p << PAGE_SHIFT) < m->user_min)) {
      p++;
      continue;
    }
    uint32_t n = 1;
    while (p + n < first + AROUND_PAGES && !w->entry[p + n] &&
           quiet_entry(m, cpu, view, p + n) == e + (n << PAGE_SHIFT))
      n++;
    if (map_run(m, view, p, e >> PAGE_SHIFT, n, e & (VE_WRITE | VE_GLOBAL), false) < 0)
      return;
    m->stat_around += n;
    p += n;
  }
}

enum mmu_fault_result views_fill(struct mmu *m, struct cpu *cpu, uint32_t lin, bool write,
                                 int view) {
  unsigned access = (write ? MMU_WRITE : 0) | (view == VIEW_USER ? MMU_USER : 0);
  struct walk wk;
  if (!page_walk(m, cpu, lin, access, &wk)) {
    m->refill = (typeof(m->refill)){true, write, view, lin, cpu->eip, cpu->cr3};
    m->fill_kind = &m->stat_fault[MMU_FAULT_GUEST_PF][view];
    return MMU_FAULT_GUEST;
  }
  if (mmu_is_mmio(m, wk.pa))
    return MMU_FAULT_MMIO;
  /* Writable once dirty, if the guest allows writes at this view's privilege. */
  bool may_write = wk.writable || (view == VIEW_KERNEL && !(cpu->cr0 & CR0_WP));
  if (wk.pa >= m->ram_size)
    return map_unassigned(m, cpu, view, lin, wk.pa, wk.dirty && may_write);
  uint32_t ppn = wk.pa >> PAGE_SHIFT;
  if (write && m->code_page[ppn])
    return MMU_FAULT_CODE_WRITE;
  uint32_t have = m->views[view]->entry[lin >> PAGE_SHIFT];
  if (m->defer_volatile && !have && !wk.large && wk.global && m->pge &&
      m->remaps[lin >> PAGE_SHIFT] >= VOLATILE_REMAPS) {
    m->stat_volatile++;
    m->volatile_lin = lin;
    m->volatile_write = write;
    return MMU_FAULT_VOLATILE;
  }
  if ((have & VE_MAPPED) && !(have & VE_ONES) && (have >> PAGE_SHIFT) == ppn &&
      (!write || (have & VE_WRITE))) {
    /* Mapped as the guest allows, yet it faulted: retrying would loop for ever. */
    cpu_stop(cpu, SHUTDOWN_ERROR,
             "internal error: a %s of guest linear 0x%08x at EIP 0x%08x faults on a mapped page",
             write ? "write" : "read", lin, cpu->eip);
    return MMU_FAULT_UNASSIGNED;
  }
  bool clean_write = (have & VE_MAPPED) && (have >> PAGE_SHIFT) == ppn;
  m->fill_kind = &m->stat_fault[clean_write ? MMU_FAULT_CLEAN_WRITE : MMU_FAULT_NOT_HELD][view];
  uint32_t flags = (wk.dirty && may_write ? VE_WRITE : 0) | (wk.global && m->pge ? VE_GLOBAL : 0);
  uint32_t lin_page = lin >> PAGE_SHIFT, pages = 1;
  if (wk.large) {
    /* A large page goes in as one mapping, as far as it is RAM. */
    uint32_t first_ppn = ppn & ~(m->large_pages - 1);
    lin_page &= ~(m->large_pages - 1);
    pages = m->large_pages;
    if ((uint64_t)(first_ppn + pages) > m->npages)
      pages = m->npages > first_ppn ? m->npages - first_ppn : 0;
    ppn = first_ppn;
    flags |= VE_LARGE;
  }
  if (pages == 0)
    return MMU_FAULT_UNASSIGNED;
  int err = map_run(m, view, lin_page, ppn, pages, flags, true);
  if (err == -ENOMEM) {
    /* Out of host mappings (vm.max_map_count): start the views afresh. */
    unmap_all(m, VIEW_USER, false);
    unmap_all(m, VIEW_KERNEL, false);
    m->views[VIEW_KERNEL]->cr3 = cpu->cr3;
    err = map_run(m, view, lin_page, ppn, pages, flags, true);
  }
  if (err) {
    cpu_stop(cpu, SHUTDOWN_ERROR, "cannot map guest page 0x%08x into the %s view: %s", lin,
             view == VIEW_USER ? "user" : "kernel", strerror(-err));
    return MMU_FAULT_UNASSIGNED;
  }
  if (view == VIEW_USER && !wk.large)
    working_set_note(m, lin_page);
  if (!wk.large)
    fault_around(m, cpu, view, lin_page);
  return MMU_FAULT_RETRY;
}
