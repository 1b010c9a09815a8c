/* mmu.h - guest memory: RAM in a memfd, mapped into host views instead of a software TLB.
 *
 *   kernel view  [base, base + 4 GiB)    guest linear addresses as CPL 0 sees them; translated
 *                kernel code reaches it as gs:[addr32] (the host GS base is the active kernel
 *                view's). One per recent address space (CR3), so that a switch back to a
 *                process finds what the kernel had mapped of it (its user memory, which
 *                copy_to/from_user touch) instead of mapping it all again; kernel view 0 at
 *                kview is the one used with paging off. A 4 GiB guard of PROT_NONE on each
 *                side of each catches string instructions that wrap.
 *   user view    [0, 4 GiB)              guest linear addresses CPL 3 may touch (reserved here,
 *                                        filled by the paging code)
 *   physical     [phys, phys + RAM)      guest RAM in physical order, for loaders, devices,
 *                                        page walks and the monitor's own accesses
 *
 * With paging off the kernel view is the physical address space: RAM at its physical address,
 * nothing above it. Pages that hold translated code are read-only in every view that maps
 * them, so a guest write to one faults and its translations are dropped. */
#ifndef BT386_MMU_H
#define BT386_MMU_H

#include <stdbool.h>
#include <stdint.h>

#define VIEW_SIZE (1ull << 32)
#define PAGE_SIZE 4096u
#define PAGE_SHIFT 12

struct cpu;

enum { VIEW_KERNEL, VIEW_USER, VIEW_COUNT };
/* What a host page fault in a view was (mmu.stat_fault). */
enum { MMU_FAULT_GUEST_PF, MMU_FAULT_NOT_HELD, MMU_FAULT_CLEAN_WRITE, MMU_FAULT_KINDS };
/* Kernel views, one per recent address space (CR3), each a 4 GiB range with guards between. */
#define MMU_KERNEL_VIEWS 8

/* A view's own page table: which guest linear pages are mapped at base + linear, to what. */
#define VE_MAPPED 0x1u  /* mapped (read-only unless VE_WRITE and the page holds no code) */
#define VE_WRITE 0x2u   /* the guest allows writes and the page is dirty */
#define VE_GLOBAL 0x4u  /* a global page: survives mov cr3 while CR4.PGE is set */
#define VE_LARGE 0x8u   /* part of a large page, mapped and unmapped as a whole */
#define VE_ONES 0x10u   /* unassigned physical memory: a private all-ones page */
struct table_memo;

struct view {
  int mode;           /* VIEW_KERNEL or VIEW_USER: whose accesses it serves */
  uint32_t id;        /* in rmap nodes: kernel views 0.., the user view MMU_KERNEL_VIEWS */
  uint32_t cr3;       /* a kernel view: the address space it was last revalidated for */
  uint64_t last_used; /* a kernel view: when it was last made the active one */
  uintptr_t base;     /* host address of guest linear 0 */
  uint32_t *entry;    /* per linear page: VE_* | physical page << 12, 0 when unmapped */
  uint32_t *slot;     /* per linear page: its index in mapped[] */
  uint32_t *mapped;   /* linear pages currently mapped: the non-global ones first */
  uint32_t n_mapped;
  uint32_t n_local;   /* how many are not global */
  uint8_t *global_seen; /* a kernel view: the bitmap of mmu.global_seen */
  struct table_memo *memo[1024]; /* per 4 MiB of linear space: see struct table_memo (views.c) */
};

/* Reverse map: every view mapping of a physical page, to write-protect all aliases of code. */
struct rmap_node {
  uint32_t lin_page;
  uint32_t view;
  uint32_t next; /* index + 1 in the pool, 0 at the end */
};

/* Working sets: address spaces remembered, user pages per address space. */
#define MMU_WS_SPACES 16
#define MMU_WS_PAGES 4

#define PHYS_CHUNK_SHIFT 22

struct mmu {
  int memfd;
  uint64_t ram_size;
  uint8_t *phys;   /* physical view */
  /* The 4 MiB chunks of the physical view whose host page tables are filled (mmu_fill_phys). */
  uint8_t phys_filled[(3ull << 30) >> PHYS_CHUNK_SHIFT];
  uint8_t *kview;  /* kernel view base, a multiple of 4 GiB */
  uint8_t *kreserve;
  uint64_t kreserve_len;
  bool user_reserved;
  uint64_t user_min; /* lowest host address of the user view (vm.mmap_min_addr) */
  uint32_t npages;     /* RAM pages */
  int ones_fd;         /* one page of 0xff: what unassigned physical memory reads as */
  bool log_unassigned; /* -d unimp: report the first access to unassigned memory */
  bool reported_unassigned;
  uint8_t *code_page;  /* per RAM page: translations exist, page is write-protected */
  /* Called when code on a physical page is about to change (translator's invalidation). */
  void (*code_write)(void *opaque, uint32_t phys_page);
  void *code_write_opaque;
  /* Called when the guest may have changed what a view's linear pages map (lin_page,
   * MMU_NONGLOBAL_PAGES or MMU_ALL_PAGES), whether or not the view had them mapped (code runs
   * from translations, so a code page often never is): translations reached through linear
   * addresses there (chains, indirect-branch caches) must be checked again. */
  void (*mapping_changed)(void *opaque, int view, uint32_t lin_page);
  /* Is this physical page device memory (never mapped: every access is emulated)? */
  bool (*is_mmio)(void *opaque, uint32_t pa);
  void *is_mmio_opaque;

  /* Paging: the views as a TLB (views.c). */
  bool paging;      /* the views hold CR0.PG translations, not the identity */
  bool wp, pge, pse, pae, nxe;
  uint32_t large_pages; /* 4 KiB pages in a large page: 1024 (4 MiB), 512 with PAE (2 MiB) */
  struct view *views[VIEW_COUNT]; /* the active kernel view and the user view */
  struct view kernel_views[MMU_KERNEL_VIEWS];
  struct view user_view;
  uint64_t view_clock;
  /* Called when another kernel view becomes the active one: translated kernel code must
   * reach guest linear addresses at base from now on. */
  void (*kernel_view_switched)(void *opaque, uintptr_t base);
  uint32_t *rmap_head; /* per RAM page: index + 1 of its first rmap_node */
  struct rmap_node *rmap;
  uint32_t rmap_cap, rmap_free;
  uint32_t *scratch;   /* a page list for flushes */
  /* The last #PF a view fault raised: when the guest has fixed its tables and resumes at the
   * faulting instruction, the page is mapped before it runs instead of faulting again. */
  struct {
    bool valid, write;
    int view;
    uint32_t lin, eip, cr3;
  } refill;
  /* The user pages each recent address space faulted in (views.c: working sets): mapped
   * again when it is switched back to, instead of faulting for each. */
  struct user_working_set {
    uint32_t cr3, n;
    uint64_t last_used;
    uint32_t page[MMU_WS_PAGES]; /* most recently faulted in first */
  } ws[MMU_WS_SPACES];
  struct user_working_set *ws_current;
  uint64_t stat_ws_filled; /* pages mapped from working sets */
  uint64_t stat_maps, stat_unmaps, stat_flushes;
  uint64_t stat_reserves; /* mmaps that put reserved memory back over dropped pages */
  uint64_t stat_around; /* pages mapped by fault-around */
  uint64_t stat_view_switches; /* mov cr3s that made another kernel view active */
  uint64_t stat_view_recycled; /* ... one that held another address space */
  /* Host page faults in a view, by what they were (indexed by view): a guest #PF, a page
   * the view did not hold (a TLB miss), or a write to a page held read-only until the guest's
   * D bit is set. */
  uint64_t stat_fault[MMU_FAULT_KINDS][VIEW_COUNT];
  uint64_t *fill_kind; /* which of those the last views_fill was */
  /* Per linear page, a bit: some kernel view may hold it as a global page (set when one
   * does, cleared only when all are emptied), so that invlpg of any other page need not look
   * at every kernel view's entry (each a likely cache miss). */
  uint8_t *global_seen;
  /* Per linear page, how often an invlpg found the kernel view's global mapping of it gone or
   * pointing elsewhere (saturating): a kernel's temporary-mapping window (Linux's kmap_local
   * slots, for highmem pages and HIGHPTE page tables) remaps its pages at every use, each an
   * mmap and a host fault here. */
  uint8_t *remaps;
  uint64_t remap_events;
  bool defer_volatile; /* views_fill may answer MMU_FAULT_VOLATILE */
  uint32_t volatile_lin; /* ... the access it answered so */
  bool volatile_write;
  uint64_t stat_volatile; /* faults left to C that way */
};

#define MMU_ALL_PAGES UINT32_MAX
/* mapping_changed's lin_page after a mov cr3: any non-global mapping may have changed (global
 * ones stayed if CR4.PGE is set), including those of pages the view never mapped. */
#define MMU_NONGLOBAL_PAGES (UINT32_MAX - 1)

/* Reserve the views and create guest RAM; -errno on failure, with a message on stderr. */
int mmu_init(struct mmu *m, uint64_t ram_size);
void mmu_exit(struct mmu *m);

/* Host pointer for guest physical [pa, pa+len) in RAM, or NULL if it is not all RAM. */
void mmu_fill_phys(struct mmu *m, uint64_t pa, uint64_t len);

static inline uint8_t *mmu_phys_ptr(struct mmu *m, uint64_t pa, uint64_t len) {
  if (pa + len < pa || pa + len > m->ram_size)
    return 0;
  if (len && !(m->phys_filled[pa >> PHYS_CHUNK_SHIFT] &
               m->phys_filled[(pa + len - 1) >> PHYS_CHUNK_SHIFT]))
    mmu_fill_phys(m, pa, len);
  return m->phys + pa;
}

/* Guest linear to physical for the CPU's current mode, checking the access (MMU_WRITE,
 * MMU_USER, MMU_FETCH). Raises #PF on the CPU and returns false when the guest would fault. */
#define MMU_WRITE 1u
#define MMU_USER 2u
#define MMU_FETCH 4u
bool mmu_translate(struct mmu *m, struct cpu *cpu, uint32_t lin, unsigned access, uint32_t *pa);
/* ... as the tables say now, checking nothing, changing nothing, raising nothing: false if
 * lin is not mapped. */
bool mmu_peek_phys(const struct mmu *m, const struct cpu *cpu, uint32_t lin, uint32_t *pa);

/* The CPU's accesses to guest linear memory (descriptor tables, exception frames, callouts).
 * They raise #PF (or stop the VM on unassigned memory) and return false on failure. */
bool mmu_read(struct mmu *m, struct cpu *cpu, uint32_t lin, void *buf, unsigned len,
              unsigned access);
/* The host address of len bytes of plain RAM at lin (within one page), after the walk an
 * access would make (A set, and D for MMU_WRITE; a write to translated code drops its
 * translations first). NULL with *faulted set: the walk raised #PF (cpu->pending); NULL
 * without: not plain RAM (device memory, unassigned), to be done an access at a time. */
uint8_t *mmu_linear_span(struct mmu *m, struct cpu *cpu, uint32_t lin, unsigned len,
                         unsigned access, bool *faulted);
bool mmu_write(struct mmu *m, struct cpu *cpu, uint32_t lin, const void *buf, unsigned len,
               unsigned access);

/* Write to guest physical memory on behalf of a device or loader: drops translations of any
 * code it overwrites. Returns false if the range is not RAM. */
bool mmu_phys_write(struct mmu *m, uint64_t pa, const void *buf, uint64_t len);

/* Mark a physical page as holding translated code (write-protect it), or release it. */
void mmu_protect_code(struct mmu *m, uint32_t phys_page);
void mmu_unprotect_code(struct mmu *m, uint32_t phys_page);

/* Back an unassigned physical page at a host address with a private page of all ones, as a
 * PC's open bus reads; writes (if writable) go nowhere the guest can see again. */
int mmu_map_unassigned(struct mmu *m, void *host, bool writable);

/* PAE paging: load the four PDPTEs at cr3 into the CPU, as a load of CR3 does (and a change of
 * CR0.PG/CD/NW or CR4.PAE/PGE/PSE with PAE paging on). False, loading nothing, if a present
 * one has reserved bits set: the instruction raises #GP(0). */
bool mmu_load_pdptes(struct mmu *m, struct cpu *cpu, uint32_t cr3);
/* The same check without the load: the four PDPTEs at cr3 into out. */
bool mmu_read_pdptes(struct mmu *m, uint32_t cr3, uint64_t out[4]);

/* views.c: the CPU changed CR0/CR3/CR4 or executed invlpg. */
void mmu_paging_changed(struct mmu *m, const struct cpu *cpu); /* CR0.PG/WP, CR4.PGE/PSE/PAE */
void mmu_cr3_written(struct mmu *m, const struct cpu *cpu);     /* re-verify non-global entries */
void mmu_invlpg(struct mmu *m, struct cpu *cpu, uint32_t lin);
/* Before resuming guest code at cpu->eip: map the page a #PF was raised for, if the guest
 * now maps it and this is the instruction that faulted. */
void mmu_refill(struct mmu *m, struct cpu *cpu);
int views_init(struct mmu *m);
uintptr_t mmu_kernel_view_base(const struct mmu *m); /* the active kernel view's */
void views_exit(struct mmu *m);
/* Map the page containing lin into a view after a fault (paging on). */
void views_code_protection(struct mmu *m, uint32_t ppn, bool code);

/* What a host fault in a view means for the guest. */
enum mmu_fault_result {
  MMU_FAULT_RETRY,      /* the view was repaired; re-execute the host instruction */
  MMU_FAULT_CODE_WRITE, /* a write to translated code: translations dropped, page writable */
  MMU_FAULT_GUEST,      /* deliver the exception now pending on the CPU */
  MMU_FAULT_UNASSIGNED, /* could not be mapped: the CPU has been stopped with a message */
  MMU_FAULT_MMIO,       /* device memory: emulate the instruction (cpu/emulate.h) */
  MMU_FAULT_VOLATILE,   /* a page remapped at every use (a kernel's kmap window): not mapped;
                         * the instruction is better done in C (translator/run.c) */
};

static inline bool mmu_is_mmio(const struct mmu *m, uint32_t pa) {
  return pa >= m->ram_size && m->is_mmio && m->is_mmio(m->is_mmio_opaque, pa);
}
/* views.c: map the page containing lin into a view after a fault (paging on). */
enum mmu_fault_result views_fill(struct mmu *m, struct cpu *cpu, uint32_t lin, bool write,
                                 int view);
/* may_defer: the instruction may be done in C instead if the page is volatile
 * (MMU_FAULT_VOLATILE), rather than mapped. */
enum mmu_fault_result mmu_handle_fault(struct mmu *m, struct cpu *cpu, uint32_t lin, bool write,
                                       bool user_view, bool may_defer);

#endif
