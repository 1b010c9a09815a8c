/* string_pages.c - rep movs going down (DF set) where pages end, as the SDM describes string
 * instructions (vol. 2B, MOVS; vol. 3A, 4.7 for the #PF): a first element that straddles two
 * linear pages reaches the frame the second one maps (not the frame after the first), and
 * faults if that page is not present; a fault part-way reports the element it stopped at in
 * CR2, with ECX, ESI and EDI at that element. Through an fs: source override, which bt386
 * runs in C (insn_string, a page at a time). */
#include "lib/guest.h"

static uint8_t frames[3][4096] __attribute__((aligned(4096)));
static uint32_t src[16] __attribute__((aligned(16)));
static uint32_t buf[16] __attribute__((aligned(16)));

#define W0 WINDOW_BASE
#define W1 (WINDOW_BASE + 0x1000u)
#define W2 (WINDOW_BASE + 0x2000u)

/* std; fs rep movsl; cld, resuming after a fault with the registers as they were left. */
static void movs_down(uint32_t *edi, uint32_t *esi, uint32_t *ecx) {
  trap_count = 0;
  __asm__ volatile("movl $9999f, trap_resume\n\t"
                   "std\n\t"
                   ".byte 0x64\n\t"
                   "rep movsl\n"
                   "9999: cld\n\t"
                   "movl $0, trap_resume"
                   : "+D"(*edi), "+S"(*esi), "+c"(*ecx)
                   :
                   : "memory");
}

static void dump(const char *what) {
  printf("%s: end of frame0 %02x%02x%02x%02x%02x%02x, start of frame1 (phys next) %02x%02x%02x%02x, "
         "start of frame2 (linear next) %02x%02x%02x%02x\n",
         what, frames[0][0xffa], frames[0][0xffb], frames[0][0xffc], frames[0][0xffd],
         frames[0][0xffe], frames[0][0xfff], frames[1][0], frames[1][1], frames[1][2],
         frames[1][3], frames[2][0], frames[2][1], frames[2][2], frames[2][3]);
}

int main(void) {
  traps_init();
  window_paging_on();
  for (int i = 0; i < 16; i++)
    src[i] = 0xa0b0c0d0u + (uint32_t)i * 0x01010101u;

  /* A: rep movsd backwards whose first element straddles W0/W1, W1 -> frame 2. */
  memset(frames, 0x11, sizeof frames);
  window_map(W0, frames[0]);
  window_map(W1, frames[2]);
  uint32_t edi = W0 + 0xffe, esi = (uint32_t)&src[1], ecx = 2;
  movs_down(&edi, &esi, &ecx);
  printf("A: traps %d, edi %08x esi-src %d ecx %u\n", trap_count, edi, (int)(esi - (uint32_t)src), ecx);
  dump("A");

  /* B: the same with W1 not present: #PF at the first element. */
  memset(frames, 0x11, sizeof frames);
  window_map(W1, 0);
  edi = W0 + 0xffe, esi = (uint32_t)&src[1], ecx = 2;
  movs_down(&edi, &esi, &ecx);
  printf("B: traps %d, cr2 %08x, edi %08x ecx %u\n", trap_count, read_cr2(), edi, ecx);
  print_trap("B", 0);
  dump("B");

  /* C: backwards from the middle of a page that is not present: CR2 is the first element. */
  window_map(W2, 0);
  edi = (uint32_t)&buf[12], esi = W2 + 0x800, ecx = 4;
  movs_down(&edi, &esi, &ecx);
  printf("C: traps %d, cr2 %08x (source first element %08x), ecx %u\n", trap_count, read_cr2(),
         W2 + 0x800, ecx);
  edi = W2 + 0x800, esi = (uint32_t)&src[12], ecx = 4;
  movs_down(&edi, &esi, &ecx);
  printf("D: traps %d, cr2 %08x (dest first element %08x), ecx %u\n", trap_count, read_cr2(),
         W2 + 0x800, ecx);
  printf("done\n");
  return 0;
}
