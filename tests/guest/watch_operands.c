/* watch_operands.c - data breakpoints met (or not) by operands whose address is not just what
 * the instruction encodes: xlat's AL, a bit string's register offset (bts), the repetitions a
 * repe cmpsb really makes, pop to an ESP-based operand (the address after the pop), hints and
 * fxsave's image, an IRET to the same level (three slots, not five). Compared with QEMU. */
#include "lib/guest.h"

static volatile uint8_t table[16];
static volatile uint32_t bitmap[4];
static char s1[9] = "abcdefgh", s2[9] = "abXdefgh";
static volatile uint32_t var_n;
static uint8_t fxbuf[512] __attribute__((aligned(16)));

int main(void) {
  watch_init();
  uint32_t r;

  set_dr(0, (uint32_t)&table[5]);
  set_dr(7, dr7_for(0, 3, 1));
  WATCHED("xlat al=5, watch table[5]", "movl %[t], %%ebx\n\tmovl $5, %%eax\n\txlat", , "=m"(r)
          : [t] "r"(table) : "eax", "ebx");
  set_dr(0, (uint32_t)&table[0]);
  WATCHED("xlat al=5, watch table[0]", "movl %[t], %%ebx\n\tmovl $5, %%eax\n\txlat", , "=m"(r)
          : [t] "r"(table) : "eax", "ebx");

  set_dr(0, (uint32_t)&bitmap[2]);
  set_dr(7, dr7_for(0, 1, 4));
  WATCHED("bts reg 70, watch bitmap[2]", "movl $70, %%eax\n\tbtsl %%eax, %[b]", , [b] "+m"(bitmap[0]) :: "eax", "memory");
  set_dr(0, (uint32_t)&bitmap[0]);
  WATCHED("bts reg 70, watch bitmap[0]", "movl $70, %%eax\n\tbtsl %%eax, %[b]", , [b] "+m"(bitmap[0]) :: "eax", "memory");

  set_dr(0, (uint32_t)&s1[6]);
  set_dr(7, dr7_for(0, 3, 1));
  WATCHED("repe cmpsb stops at 2, watch s1[6]",
          "movl %[s], %%esi\n\tmovl %[d], %%edi\n\tcld\n\tmovl $8, %%ecx\n\trepe cmpsb", , "=m"(r)
          : [s] "r"(s1), [d] "r"(s2) : "ecx", "esi", "edi", "cc", "memory");

  WATCHED("pop (%%esp): writes old esp+4",
          "pushl $1\n\tpushl $2\n\tleal 4(%%esp), %%eax\n\tmov %%eax, %%dr0\n\tmovl $0x000d0001, %%eax\n\tmov %%eax, %%dr7\n\t"
          "popl (%%esp)\n\txorl %%eax,%%eax\n\tmov %%eax, %%dr7\n\taddl $4, %%esp", , "=m"(r) :: "eax");

  set_dr(0, (uint32_t)&var_n);
  set_dr(7, dr7_for(0, 3, 4));
  WATCHED("nopl (eax) on watched", "nopl (%%eax)", , "=m"(r) : "a"(&var_n));
  WATCHED("prefetcht0 on watched", "prefetcht0 (%%eax)", , "=m"(r) : "a"(&var_n));

  set_dr(0, (uint32_t)&fxbuf[12]);
  set_dr(7, dr7_for(0, 1, 4));
  WATCHED("fxsave, watch byte 12", "fxsave %[b]", , [b] "=m"(fxbuf));
  set_dr(7, 0);

  /* rep string instructions: a #DB after each repetition that meets the breakpoint, the
   * instruction resuming after it (ECX, ESI and EDI where that repetition left them). */
  static uint8_t buf[64], src[64];
  set_dr(0, (uint32_t)&buf[40]);
  set_dr(7, dr7_for(0, 1, 4));
  uint32_t ecx_left = 0;
  WATCHED("rep stosb over a watched dword",
          "movl %[d], %%edi\n\tcld\n\tmovl $64, %%ecx\n\trep stosb\n\tmovl %%ecx, %[e]",
          , [e] "=m"(ecx_left) : [d] "r"(buf), "a"(0x55) : "ecx", "edi", "memory");
  WATCHED("rep stosb backwards (DF=1)",
          "movl %[d], %%edi\n\tstd\n\tmovl $64, %%ecx\n\trep stosb\n\tcld", , "=m"(r)
          : [d] "r"(buf + 63), "a"(0x66) : "ecx", "edi", "memory");
  WATCHED("rep movsl over it",
          "movl %[s], %%esi\n\tmovl %[d], %%edi\n\tcld\n\tmovl $16, %%ecx\n\trep movsl", , "=m"(r)
          : [s] "r"(src), [d] "r"(buf) : "ecx", "esi", "edi", "memory");
  set_dr(0, (uint32_t)&src[20]);
  set_dr(7, dr7_for(0, 3, 2));
  WATCHED("rep movsb reading a watched word",
          "movl %[s], %%esi\n\tmovl %[d], %%edi\n\tcld\n\tmovl $64, %%ecx\n\trep movsb", , "=m"(r)
          : [s] "r"(src), [d] "r"(buf) : "ecx", "esi", "edi", "memory");
  set_dr(7, 0);
  printf("buf[40] %02x buf[0] %02x ecx left %u\n", buf[40], buf[0], ecx_left);

  /* iret to the same privilege: reads 12 bytes, not 20. Watch the dword just above the frame. */
  WATCHED("iret same-priv, watch above frame",
          "movl %%esp, %%eax\n\tmov %%eax, %%dr0\n\tmovl $0x000f0001, %%eax\n\tmov %%eax, %%dr7\n\t"
          "pushfl\n\tpushl %%cs\n\tpushl $1f\n\tiret\n1:\n\txorl %%eax,%%eax\n\tmov %%eax, %%dr7",
          , "=m"(r) :: "eax");

  set_dr(7, 0);
  return 0;
}
