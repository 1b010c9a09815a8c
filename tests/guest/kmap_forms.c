/* kmap_forms.c - the instruction forms a kernel uses on memory (mov, movzx/movsx, the ALU
 * group with carry in, neg/not/inc/dec, xchg, test/cmp, sign-extended immediates, 16-bit and
 * high-byte registers, a locked and, an access at the page's last byte), each at one site
 * that reaches a global window page mapped to a new frame every round and flushed with
 * invlpg (as kmap.c): registers, flags and memory after each, for 24 rounds. bt386 does these
 * sites in C once the window counts as remapped at every use (docs/system.md): the results
 * must be the CPU's. */
#include "lib/guest.h"

#define P 0x001u
#define W 0x002u
#define G 0x100u
#define WINDOW WINDOW_BASE


#define SITES(X) \
  X(s0, "movsbl 1(%eax), %edx") X(s1, "movzwl 2(%eax), %edx") X(s2, "adcl %edx, (%eax)") \
  X(s3, "sbbw %dx, 2(%eax)") X(s4, "negb 3(%eax)") X(s5, "notl (%eax)") X(s6, "incw 1(%eax)") \
  X(s7, "decb (%eax)") X(s8, "xchgl %edx, (%eax)") X(s9, "testb %dh, 1(%eax)") \
  X(s10, "cmpl $-3, (%eax)") X(s11, "addl $-1, (%eax)") X(s12, "orb %dh, 2(%eax)") \
  X(s13, "xorw $0x8001, (%eax)") X(s14, "movb 3(%eax), %dh") X(s15, "subl (%eax), %edx") \
  X(s16, "movsbw 3(%eax), %dx") X(s17, "lock andl %edx, (%eax)") X(s18, "movl (%eax), %edx") \
  X(s19, "addb %dh, 4095(%eax)")

#define DECL(n, i) void n(void);
SITES(DECL)
#define DEF(n, i) ".globl " #n "\n" #n ": " i "; pushf; popl %ecx; ret\n"
__asm__(SITES(DEF));
typedef void (*site_fn)(void);
#define PTR(n, i) n,
static site_fn sites[] = {SITES(PTR)};

int main(void) {
  traps_init();
  window_paging_on();
  write_cr4(read_cr4() | 0x80u);
  write_cr0(read_cr0() | 0x80010000u);
  uint32_t crc = 0;
  for (int r = 0; r < 24; r++) {
    uint32_t *frame = (uint32_t *)(0x400000u + (uint32_t)r * 4096u);
    *window_entry(WINDOW) = (uint32_t)frame | P | W | G;
    for (unsigned s = 0; s < sizeof sites / sizeof sites[0]; s++) {
      frame[0] = 0x80ff7f01u * (uint32_t)(r + 1) + s;
      frame[1023] = 0x12345678u * (uint32_t)(s + 1);
      uint32_t eax = WINDOW, edx = 0x9c3f80ffu + (uint32_t)r * 77u, ecx, fl = (r & 1) ? 0x8d5u : 0x2u;
      __asm__ volatile("pushl %[fl]; popf; call *%[fn]"
                       : "+a"(eax), "+d"(edx), "=c"(ecx)
                       : [fn] "r"(sites[s]), [fl] "r"(fl)
                       : "memory", "cc");
      uint32_t res[5] = {eax, edx, ecx & 0x8d5u, frame[0], frame[1023]};
      if (r == 23)
        printf("site %u: edx %08x flags %03x mem %08x %08x\n", s, edx, ecx & 0x8d5u, frame[0], frame[1023]);
      crc = crc32_update(crc, res, sizeof res);
    }
    *window_entry(WINDOW) = 0;
    invlpg(WINDOW);
  }
  printf("crc %08x\n", crc);
  return 0;
}
