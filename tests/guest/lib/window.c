/* window.c - paging for tests that need pages to come and go: the first 8 MiB identity-mapped
 * with 4 MiB pages, and one page table at WINDOW_BASE whose entries window_map sets. Linked by
 * the tests that use it (tests.cmake). */
#include "lib/guest.h"

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[1024] __attribute__((aligned(4096)));

void window_paging_on(void) {
  pd[0] = 0x000000 | 0x83; /* 4 MiB identity pages: P W PS */
  pd[1] = 0x400000 | 0x83;
  pd[WINDOW_BASE >> 22] = (uint32_t)pt | 3;
  __asm__ volatile("mov %0, %%cr4" : : "r"(read_cr4() | 0x10)); /* PSE */
  __asm__ volatile("mov %0, %%cr3" : : "r"(pd) : "memory");
  __asm__ volatile("mov %0, %%cr0" : : "r"(read_cr0() | 0x80000000u) : "memory");
}

volatile uint32_t *window_entry(uint32_t lin) { return &pt[(lin >> 12) & 0x3ff]; }

void window_map(uint32_t lin, const void *frame) {
  *window_entry(lin) = frame ? (uint32_t)frame | 3 : 0;
  __asm__ volatile("invlpg (%0)" : : "r"(lin) : "memory");
}
