/* cr3_skip.c - after a mov to CR3 every non-global translation is walked afresh (SDM vol. 3A,
 * 4.10.4.1), also when the flush drops a large page that a 4 KiB page of the same 4 MiB went
 * into after the directory entry changed (4 MiB page, then a page table, no invlpg): the
 * page at V_S, whose table entry changed without invlpg, shows its new frame after the
 * reload, and after a second one. */
#include "lib/guest.h"

#define P 0x001u
#define W 0x002u
#define A 0x020u
#define D 0x040u
#define PS 0x080u

#define V_R 0x40000000u /* a 4 MiB page, then a page table */
#define V_S 0x80000000u /* a page table all along */
#define BIG 0x00800000u /* the 4 MiB page's frames: 8-12 MiB, touched by nothing else */

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t low_pt[2][1024] __attribute__((aligned(4096)));
static uint32_t pt_r[1024] __attribute__((aligned(4096)));
static uint32_t pt_s[1024] __attribute__((aligned(4096)));
static uint32_t frame[5][1024] __attribute__((aligned(4096)));

static void set(uint32_t *e, uint32_t v) {
  *(volatile uint32_t *)e = v;
  __asm__ volatile("" ::: "memory");
}
static uint32_t rd(uint32_t lin) { return *(volatile uint32_t *)lin; }
static void wr(uint32_t lin, uint32_t v) { *(volatile uint32_t *)lin = v; }

int main(void) {
  for (int i = 0; i < 5; i++)
    frame[i][0] = 0xf00 + (uint32_t)i;
  for (int t = 0; t < 2; t++)
    for (int i = 0; i < 1024; i++)
      low_pt[t][i] = ((uint32_t)t << 22) | ((uint32_t)i << 12) | P | W | A | D;
  pd[0] = (uint32_t)low_pt[0] | P | W | A;
  pd[1] = (uint32_t)low_pt[1] | P | W | A;
  pd[V_R >> 22] = BIG | P | W | A | PS; /* not dirty: mapped read-only */
  pd[V_S >> 22] = (uint32_t)pt_s | P | W | A;
  set(&pt_s[0], (uint32_t)frame[0] | P | W | A | D);
  set(&pt_s[1], (uint32_t)frame[1] | P | W | A | D);
  write_cr4(read_cr4() | 0x10); /* PSE */
  write_cr3((uint32_t)pd);
  write_cr0(read_cr0() | 0x80000000u);
  printf("S: %x %x\n", rd(V_S), rd(V_S + 4096));

  uint32_t r1 = rd(V_R); /* the 4 MiB page */
  set(&pt_r[5], (uint32_t)frame[4] | P | W | A | D);
  set(&pd[V_R >> 22], (uint32_t)pt_r | P | W | A); /* a page table now, no invlpg */
  wr(V_R + 5 * 4096, 0x1234); /* a write, where the 4 MiB page is read-only */
  set(&pt_s[0], (uint32_t)frame[2] | P | W | A | D);
  invlpg(V_S);
  uint32_t s1 = rd(V_S);
  set(&pt_s[0], (uint32_t)frame[3] | P | W | A | D); /* no invlpg: the reload flushes it */
  write_cr3((uint32_t)pd);
  uint32_t s2 = rd(V_S);
  write_cr3((uint32_t)pd);
  uint32_t s3 = rd(V_S);
  printf("R: %x\n", r1);
  printf("S after invlpg: %x\n", s1);
  printf("S after reloading CR3: %x\n", s2);
  printf("S after reloading it again: %x\n", s3);
  printf("frame written: %x\n", frame[4][0]);
  return 0;
}
