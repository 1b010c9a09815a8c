/* cr3_reload.c - a mov to CR3 flushes every non-global translation (SDM vol. 3A, 4.10.4.1),
 * whatever the page tables went through before it: two address spaces with their own page
 * tables for one window, a table entry changed with invlpg, then changed back without one
 * (the TLB may keep the newer translation until the flush), then CR3 reloaded or switched
 * away and back: the old frame is seen again. Also: a table entry rewritten with what it held
 * keeps its translation, and one changed in the space not in use is seen when it is next
 * used. */
#include "lib/guest.h"

#define V 0x40000000u
#define PTE_PWU 0x7u

static uint32_t pd_a[1024] __attribute__((aligned(4096)));
static uint32_t pd_b[1024] __attribute__((aligned(4096)));
static uint32_t pt_a[1024] __attribute__((aligned(4096)));
static uint32_t pt_b[1024] __attribute__((aligned(4096)));
static uint32_t frame[3][1024] __attribute__((aligned(4096)));

static uint32_t at_v(void) { return *(volatile uint32_t *)V; }

static void set_pte(uint32_t *pt, uint32_t v) { *(volatile uint32_t *)&pt[0] = v; }

int main(void) {
  for (int i = 0; i < 3; i++)
    frame[i][0] = 0xf00 + (uint32_t)i;
  for (uint32_t *pd = pd_a; pd; pd = pd == pd_a ? pd_b : NULL) {
    pd[0] = 0x000000 | 0x83; /* 4 MiB identity pages: P W PS */
    pd[1] = 0x400000 | 0x83;
  }
  pd_a[V >> 22] = (uint32_t)pt_a | PTE_PWU;
  pd_b[V >> 22] = (uint32_t)pt_b | PTE_PWU;
  set_pte(pt_a, (uint32_t)frame[0] | PTE_PWU);
  set_pte(pt_b, (uint32_t)frame[1] | PTE_PWU);
  write_cr4(read_cr4() | 0x10); /* PSE */
  write_cr3((uint32_t)pd_a);
  write_cr0(read_cr0() | 0x80000000u);

  printf("A: %x\n", at_v());
  write_cr3((uint32_t)pd_b);
  printf("B: %x\n", at_v());
  write_cr3((uint32_t)pd_a);
  printf("A again: %x\n", at_v());
  for (int round = 0; round < 3; round++) {
    uint32_t held = pt_a[0];
    set_pte(pt_a, (uint32_t)frame[2] | PTE_PWU | 0x20); /* A set: mapped at the invlpg */
    invlpg(V);
    printf("round %d: A after invlpg: %x\n", round, at_v());
    set_pte(pt_a, held); /* back as it was, without invlpg */
    if (round == 0) {
      write_cr3((uint32_t)pd_a);
      printf("round %d: A after reloading CR3: %x\n", round, at_v());
    } else {
      write_cr3((uint32_t)pd_b);
      printf("round %d: B: %x\n", round, at_v());
      write_cr3((uint32_t)pd_a);
      printf("round %d: A after B: %x\n", round, at_v());
    }
  }
  set_pte(pt_a, pt_a[0]); /* rewritten with what it held */
  write_cr3((uint32_t)pd_a);
  printf("A, entry rewritten unchanged: %x\n", at_v());
  write_cr3((uint32_t)pd_b);
  set_pte(pt_a, (uint32_t)frame[1] | PTE_PWU); /* changed while B runs */
  printf("B: %x\n", at_v());
  write_cr3((uint32_t)pd_a);
  printf("A, entry changed while B ran: %x\n", at_v());
  return 0;
}
