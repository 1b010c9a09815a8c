/* fxsave.c - fxsave and fxrstor as a 32-bit CPU runs them. fxsave writes the 288 bytes of the
 * legacy x87/SSE image with XMM0-7 and nothing in the XMM8-15 slots or the rest of the
 * 512-byte area (a 64-bit host's fxsave fills bytes 288-415 with its own registers);
 * MXCSR_MASK is the P6's; the last-instruction and operand pointers (FIP, FCS, FDP, FDS) are
 * 0, as QEMU stores them (bt386 does not track them: docs/translator.md). FOP, which QEMU
 * does not write, and the reserved bytes of the register slots are not compared. fxrstor
 * loads what fxsave stored. Page faults: the first access is a write of the area's first
 * bytes, an area that crosses into a missing page faults at that page's first byte, and one
 * whose first 288 bytes end at a missing page does not fault; a misaligned area raises #GP. */
#include <stdbool.h>

#include "lib/guest.h"

static uint8_t area[512] __attribute__((aligned(16)));
static uint8_t area2[512] __attribute__((aligned(16)));
static uint8_t frames[2][4096] __attribute__((aligned(4096)));

/* The fields of an image (its bytes 288-511 too, if `tail`). */
static void show_fields(const char *what, const uint8_t *a, bool tail) {
  printf("%s\n", what);
  hexdump("  fcw fsw ftw", a, 6);
  hexdump("  fip fcs fdp fds", a + 8, 16);
  hexdump("  mxcsr mask", a + 24, 8);
  for (int i = 0; i < 8; i++) {
    char name[16];
    snprintf(name, sizeof(name), "  st%d", i);
    hexdump(name, a + 32 + 16 * i, 10);
  }
  for (int i = 0; i < 8; i++) {
    char name[16];
    snprintf(name, sizeof(name), "  xmm%d", i);
    hexdump(name, a + 160 + 16 * i, 16);
  }
  if (!tail)
    return;
  int written = 0;
  for (int i = 288; i < 512; i++)
    if (a[i] != 0x5a)
      written++;
  printf("  wrote %d of the bytes 288-511\n", written);
}

static void show(const char *what, const uint8_t *a) { show_fields(what, a, true); }

static const uint32_t pattern[8][4] __attribute__((aligned(16))) = {
    {0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f}, {0x11111111, 0x22222222, 0x33333333, 0x44444444},
    {0xdeadbeef, 0xcafebabe, 0x01234567, 0x89abcdef}, {0x3f800000, 0x40000000, 0x40400000, 0x40800000},
    {0xffffffff, 0, 0xffffffff, 0},                   {0x80000000, 0x7fffffff, 0x00ff00ff, 0xff00ff00},
    {0x5555aaaa, 0xaaaa5555, 0x12121212, 0x34343434}, {0x9abcdef0, 0x13579bdf, 0x2468ace0, 0x0f0f0f0f},
};

static void load_xmm(const uint32_t p[8][4]) {
  __asm__ volatile("movdqa 0(%0), %%xmm0\n\t movdqa 16(%0), %%xmm1\n\t movdqa 32(%0), %%xmm2\n\t"
                   "movdqa 48(%0), %%xmm3\n\t movdqa 64(%0), %%xmm4\n\t movdqa 80(%0), %%xmm5\n\t"
                   "movdqa 96(%0), %%xmm6\n\t movdqa 112(%0), %%xmm7"
                   : : "r"(p) : "memory"); /* (no SSE code of the compiler's here) */
}

static void fxsave(uint8_t *a) { __asm__ volatile("fxsave %0" : "=m"(*(uint8_t(*)[512])a)); }
static void fxrstor(const uint8_t *a) { __asm__ volatile("fxrstor %0" : : "m"(*(const uint8_t(*)[512])a)); }

static void save_and_show(void) {
  static const double one = 1.0, three = 3.0;
  static const uint32_t mxcsr = 0x3f80; /* round toward zero */
  load_xmm(pattern);
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
  memset(area, 0x5a, sizeof(area));
  __asm__ volatile("fninit\n\t"
                   "fldl %[one]\n\t"
                   "fldpi\n\t"
                   "faddl %[three]\n\t"
                   "fldz\n\t"
                   "fnclex\n\t" /* QEMU keeps no exception flags (PE from fldpi) */
                   "fxsave %[area]\n\t"
                   "fstp %%st(0)\n\t fstp %%st(0)\n\t fstp %%st(0)"
                   : [area] "=m"(area)
                   : [one] "m"(one), [three] "m"(three));
  show("fxsave after fninit, fld1, fldpi, fadd, fldz, xmm0-7 loaded, mxcsr 3f80", area);
}

/* fxrstor of a changed image, then fxsave of what it loaded. */
static void restore_and_save(void) {
  memcpy(area2, area, sizeof(area2));
  area2[0] = 0x7f, area2[1] = 0x0e;  /* FCW: round up, double precision */
  area2[24] = 0x80, area2[25] = 0x5f; /* MXCSR: round up */
  area2[4] = 0x03;                    /* FTW: only the two top registers of TOP 6... */
  area2[3] = (area2[3] & ~0x38) | (6 << 3); /* FSW.TOP = 6 */
  for (int i = 0; i < 16; i++)
    area2[160 + 16 * 3 + i] = (uint8_t)(0xa0 + i); /* XMM3 */
  memset(area2 + 288, 0xee, 224); /* ignored by a 32-bit CPU */
  fxrstor(area2);
  uint16_t fcw;
  uint32_t mxcsr;
  uint8_t x3[16] __attribute__((aligned(16)));
  __asm__ volatile("fnstcw %0\n\t stmxcsr %1\n\t movdqa %%xmm3, %2" : "=m"(fcw), "=m"(mxcsr), "=m"(x3));
  printf("after fxrstor: fcw %04x mxcsr %08x\n", fcw, mxcsr);
  hexdump("  xmm3", x3, 16);
  memset(area, 0x5a, sizeof(area));
  fxsave(area);
  show("fxsave after that fxrstor", area);
  __asm__ volatile("fninit");
  static const uint32_t mxcsr_default = 0x1f80;
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_default));
}

static void faults(void) {
  window_paging_on();
  struct site s;
  /* the whole area on a missing page */
  window_map(WINDOW_BASE, 0);
  FAULTING(s, "fxsave (%[p])", : [p] "r"(WINDOW_BASE) : "memory");
  print_trap("fxsave to a missing page", s.start);
  printf("  cr2 = base + %x\n", read_cr2() - WINDOW_BASE);
  /* bytes 0-159 on a present page, the rest on a missing one */
  window_map(WINDOW_BASE, frames[0]);
  window_map(WINDOW_BASE + 0x1000, 0);
  memset(frames[0], 0x5a, 4096);
  FAULTING(s, "fxsave (%[p])", : [p] "r"(WINDOW_BASE + 0x1000 - 160) : "memory");
  print_trap("fxsave across into a missing page", s.start);
  printf("  cr2 = base + %x\n", read_cr2() - WINDOW_BASE);
  /* bytes 0-287 on a present page, 288-511 on a missing one: a 32-bit CPU writes no further */
  window_map(WINDOW_BASE + 0x1000, frames[1]);
  window_map(WINDOW_BASE + 0x2000, 0);
  memset(frames[1], 0x5a, 4096);
  FAULTING(s, "fxsave (%[p])", : [p] "r"(WINDOW_BASE + 0x2000 - 288) : "memory");
  print_trap("fxsave whose first 288 bytes end at a missing page", s.start);
  show_fields("  what it wrote", frames[1] + 4096 - 288, false);
  /* misaligned */
  FAULTING(s, "fxsave (%[p])", : [p] "r"(area + 8) : "memory");
  print_trap("fxsave to a misaligned area", s.start);
  FAULTING(s, "fxrstor (%[p])", : [p] "r"(area + 8) : "memory");
  print_trap("fxrstor from a misaligned area", s.start);
}

int main(void) {
  traps_init();
  __asm__ volatile("mov %0, %%cr4" : : "r"(read_cr4() | 0x600)); /* OSFXSR OSXMMEXCPT */
  save_and_show();
  restore_and_save();
  faults();
  return 0;
}
