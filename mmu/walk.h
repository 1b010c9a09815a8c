/* walk.h - the guest page walk, with what a TLB entry would record. */
#ifndef BT386_WALK_H
#define BT386_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/mmu.h"

/* Directory and table entry bits (SDM vol. 3, 4.3 and 4.4). */
#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u
#define PTE_G 0x100u

struct walk {
  uint32_t pa;
  bool writable; /* W at every level */
  bool user;     /* U at every level */
  bool global;
  bool executable; /* no XD at any level (XD needs PAE paging and IA32_EFER.NXE) */
  bool large;    /* a 4 MiB page (2 MiB with PAE) */
  bool dirty;    /* D is set (after this walk) */
  bool accessed; /* A is set (page_peek: before any access) */
};

/* Walk the guest's tables for an access (MMU_WRITE/MMU_USER/MMU_FETCH), setting A and, for
 * writes, D as the hardware does. Raises #PF and returns false when the access faults. */
bool page_walk(struct mmu *m, struct cpu *cpu, uint32_t lin, unsigned access, struct walk *w);

/* What the guest's tables say about lin now, changing nothing and raising nothing: false if
 * the page is not present. */
bool page_peek(const struct mmu *m, const struct cpu *cpu, uint32_t lin, struct walk *w);

#endif
