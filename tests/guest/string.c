/* string.c - string instructions: movs stos lods cmps scas in byte, word and dword forms,
 * alone and with rep/repe/repne, forwards and with DF=1, with ECX = 0, overlapping copies,
 * repe cmps and repne scas stopping early, a source segment override (FS with a non-zero
 * base), and the 16-bit address-size forms that use SI, DI and CX. Prints ESI/EDI as offsets
 * into the buffers, ECX, the flags and a CRC of the memory they touched. */
#include "lib/guest.h"

#define BUF 256
static uint8_t src[BUF + 64], dst[BUF + 64];
#define SEL_FS (3 << 3)

static void fill(void) {
  for (int i = 0; i < BUF + 64; i++) {
    src[i] = (uint8_t)(i * 7 + 3);
    dst[i] = (uint8_t)(0xa0 ^ i);
  }
}

struct regs {
  uint32_t esi, edi, ecx, eax, flags;
};

/* "src[n]" or "dst[n]" for an address in (or just around) one of the buffers */
static const char *where(uint32_t a) {
  static char bufs[2][24];
  static int next;
  char *b = bufs[next++ & 1];
  int in_dst = a >= (uint32_t)dst && a < (uint32_t)dst + sizeof(dst);
  snprintf(b, 24, "%s[%d]", in_dst ? "dst" : "src",
           (int)(a - (in_dst ? (uint32_t)dst : (uint32_t)src)));
  return b;
}

static void show(const char *what, const struct regs *r) {
  printf("%s: esi %s edi %s ecx %x eax %x %s mem %08x %08x\n", what, where(r->esi),
         where(r->edi), r->ecx, r->eax, flags_str(r->flags, FL_ARITH),
         crc32_update(0, src, sizeof(src)), crc32_update(0, dst, sizeof(dst)));
}

/* Run one string instruction with ESI, EDI, ECX, EAX and DF (std when `down`) as given. */
#define STRING(name, insn)                                                                   \
  static void name(struct regs *r, int down) {                                               \
    __asm__ volatile("pushl $0\n\tpopf\n\t"                                                  \
                     "testl %[d], %[d]\n\t"                                                   \
                     "jz 1f\n\t"                                                             \
                     "std\n"                                                                 \
                     "1: " insn "\n\t"                                                       \
                     "pushf\n\t"                                                             \
                     "cld\n\t"                                                               \
                     "pop %[fo]"                                                             \
                     : "+S"(r->esi), "+D"(r->edi), "+c"(r->ecx), "+a"(r->eax),                \
                       [fo] "=&r"(r->flags)                                                  \
                     : [d] "r"(down)                                                         \
                     : "cc", "memory");                                                      \
  }

STRING(movsb, "movsb")
STRING(movsw, "movsw")
STRING(movsl, "movsl")
STRING(rep_movsb, "rep movsb")
STRING(rep_movsw, "rep movsw")
STRING(rep_movsl, "rep movsl")
STRING(stosb, "stosb")
STRING(rep_stosb, "rep stosb")
STRING(rep_stosw, "rep stosw")
STRING(rep_stosl, "rep stosl")
STRING(lodsb, "lodsb")
STRING(lodsl, "lodsl")
STRING(rep_lodsw, "rep lodsw")
STRING(cmpsb, "cmpsb")
STRING(cmpsl, "cmpsl")
STRING(repe_cmpsb, "repe cmpsb")
STRING(repe_cmpsl, "repe cmpsl")
STRING(repne_cmpsb, "repne cmpsb")
STRING(scasb, "scasb")
STRING(scasw, "scasw")
STRING(repne_scasb, "repne scasb")
STRING(repne_scasl, "repne scasl")
STRING(repe_scasb, "repe scasb")
STRING(fs_rep_movsb, "rep movsb %%fs:(%%esi), %%es:(%%edi)")
STRING(fs_lodsl, "lodsl %%fs:(%%esi), %%eax")
STRING(fs_repe_cmpsb, "repe cmpsb %%es:(%%edi), %%fs:(%%esi)")

typedef void (*string_fn)(struct regs *r, int down);

/* Start at src+so / dst+do with ECX = n; prints the registers and memory after. */
static void run(const char *what, string_fn fn, int so, int d_o, uint32_t n, uint32_t eax,
                int down) {
  fill();
  struct regs r = {(uint32_t)src + (uint32_t)so, (uint32_t)dst + (uint32_t)d_o, n, eax, 0};
  fn(&r, down);
  char name[80];
  snprintf(name, sizeof(name), "%s%s n=%u", what, down ? " std" : "", n);
  show(name, &r);
}

static void moves_and_stores(void) {
  for (int down = 0; down <= 1; down++) {
    int s = down ? 200 : 8, d = down ? 196 : 4;
    run("movsb", movsb, s, d, 5, 0, down);
    run("movsw", movsw, s, d, 5, 0, down);
    run("movsl", movsl, s, d, 5, 0, down);
    run("rep movsb", rep_movsb, s, d, 37, 0, down);
    run("rep movsw", rep_movsw, s, d, 37, 0, down);
    run("rep movsl", rep_movsl, s, d, 37, 0, down);
    run("rep movsl", rep_movsl, s, d, 0, 0, down);
    run("stosb", stosb, s, d, 9, 0x11223344, down);
    run("rep stosb", rep_stosb, s, d, 41, 0x11223344, down);
    run("rep stosw", rep_stosw, s, d, 41, 0x11223344, down);
    run("rep stosl", rep_stosl, s, d, 41, 0x11223344, down);
    run("rep stosl", rep_stosl, s, d, 0, 0x11223344, down);
    run("lodsb", lodsb, s, d, 3, 0xffffffff, down);
    run("lodsl", lodsl, s, d, 3, 0xffffffff, down);
    run("rep lodsw", rep_lodsw, s, d, 10, 0xffffffff, down);
  }
}

/* rep movsb copies byte by byte: a destination one above the source repeats the first. */
static void overlapping(void) {
  fill();
  struct regs r = {(uint32_t)dst + 10, (uint32_t)dst + 11, 50, 0, 0};
  rep_movsb(&r, 0);
  show("rep movsb dst=src+1", &r);
  fill();
  r = (struct regs){(uint32_t)dst + 60, (uint32_t)dst + 56, 10, 0, 0};
  rep_movsl(&r, 0);
  show("rep movsl dst=src-4", &r);
}

static void compares(void) {
  for (int down = 0; down <= 1; down++) {
    int at = down ? 150 : 20;
    fill();
    memcpy(dst, src, sizeof(dst));
    dst[at + (down ? -13 : 13)] ^= 0x40; /* the 14th byte differs */
    const char *tag = down ? " std" : "";
    struct regs r;
    r = (struct regs){(uint32_t)src + at, (uint32_t)dst + at, 100, 0, 0};
    repe_cmpsb(&r, down);
    printf("repe cmpsb%s, 14th differs:", tag), show("", &r);
    r = (struct regs){(uint32_t)src + at, (uint32_t)dst + at, 10, 0, 0};
    repe_cmpsb(&r, down);
    printf("repe cmpsb%s, ecx runs out:", tag), show("", &r);
    r = (struct regs){(uint32_t)src + at, (uint32_t)dst + at, 100, 0, 0};
    repe_cmpsl(&r, down);
    printf("repe cmpsl%s:", tag), show("", &r);
    r = (struct regs){(uint32_t)src + at, (uint32_t)dst + at, 0, 0, 0};
    repe_cmpsb(&r, down);
    printf("repe cmpsb%s, ecx 0:", tag), show("", &r);
    r = (struct regs){(uint32_t)src + at, (uint32_t)src + at + 5, 30, 0, 0};
    repne_cmpsb(&r, down);
    printf("repne cmpsb%s:", tag), show("", &r);
    r = (struct regs){(uint32_t)src + at, (uint32_t)dst + at, 0, 0, 0};
    cmpsb(&r, down);
    printf("cmpsb%s:", tag), show("", &r);
    cmpsl(&r, down);
    printf("cmpsl%s:", tag), show("", &r);
  }
}

static void scans(void) {
  for (int down = 0; down <= 1; down++) {
    int at = down ? 150 : 20;
    const char *tag = down ? " std" : "";
    fill();
    uint8_t want = dst[at + (down ? -30 : 30)];
    struct regs r = {0, (uint32_t)dst + at, 200, want, 0};
    repne_scasb(&r, down);
    printf("repne scasb%s found:", tag), show("", &r);
    r = (struct regs){0, (uint32_t)dst + at, 20, want, 0};
    repne_scasb(&r, down);
    printf("repne scasb%s not found:", tag), show("", &r);
    memset(dst + 100, 0x5a, 40);
    r = (struct regs){0, (uint32_t)dst + (down ? 139 : 100), 60, 0x5a, 0};
    repe_scasb(&r, down);
    printf("repe scasb%s:", tag), show("", &r);
    uint32_t word;
    memcpy(&word, dst + at + (down ? -8 : 8), 4);
    r = (struct regs){0, (uint32_t)dst + at, 20, word, 0};
    repne_scasl(&r, down);
    printf("repne scasl%s:", tag), show("", &r);
    r = (struct regs){0, (uint32_t)dst + at, 0, 0x1234, 0};
    scasb(&r, down);
    printf("scasb%s:", tag), show("", &r);
    scasw(&r, down);
    printf("scasw%s:", tag), show("", &r);
  }
}

/* FS's base is src - 0x1000: an FS-relative source offset is its address + 0x1000. */
static void fs_source(void) {
  gdt_set(SEL_FS >> 3, (uint32_t)src - 0x1000, 0xfffff, 0x92, 0xc);
  __asm__ volatile("mov %0, %%fs" : : "r"(SEL_FS));
  fill();
  struct regs r = {0x1000 + 16, (uint32_t)dst + 8, 33, 0, 0};
  fs_rep_movsb(&r, 0);
  r.esi = r.esi - 0x1000 + (uint32_t)src;
  show("rep movsb fs:", &r);
  r = (struct regs){0x1000 + 200, (uint32_t)dst, 0, 0, 0};
  fs_lodsl(&r, 1);
  r.esi = r.esi - 0x1000 + (uint32_t)src;
  show("lodsl fs: std", &r);
  fill();
  memcpy(dst, src, sizeof(dst));
  dst[40] = 0;
  r = (struct regs){0x1000 + 10, (uint32_t)dst + 10, 100, 0, 0};
  fs_repe_cmpsb(&r, 0);
  r.esi = r.esi - 0x1000 + (uint32_t)src;
  show("repe cmpsb fs:", &r);
  __asm__ volatile("mov %0, %%fs" : : "r"(SEL_DATA));
}

/* 16-bit addressing: SI, DI and CX, wrapping at 64 KiB, with DS = ES = a segment whose base
 * is a 64 KiB window of our own (loaded only around the instruction). The upper halves of
 * ESI, EDI and ECX must stay. */
static uint8_t window[0x10000] __attribute__((aligned(16)));
#define SEL_WIN (4 << 3)

#define STRING16(name, insn)                                                                 \
  static void name(struct regs *r, int down) {                                               \
    __asm__ volatile("pushl $0\n\t"                                                          \
                     "popf\n\t"                                                              \
                     "pushl %[win]\n\t"                                                      \
                     "popl %%ds\n\t"                                                         \
                     "pushl %[win]\n\t"                                                      \
                     "popl %%es\n\t"                                                         \
                     "testl %[d], %[d]\n\t"                                                  \
                     "jz 1f\n\t"                                                             \
                     "std\n"                                                                 \
                     "1: " insn "\n\t"                                                       \
                     "pushf\n\t"                                                             \
                     "cld\n\t"                                                               \
                     "pushl %[flat]\n\t"                                                     \
                     "popl %%ds\n\t"                                                         \
                     "pushl %[flat]\n\t"                                                     \
                     "popl %%es\n\t"                                                         \
                     "pop %[fo]"                                                             \
                     : "+S"(r->esi), "+D"(r->edi), "+c"(r->ecx), "+a"(r->eax),                \
                       [fo] "=&r"(r->flags)                                                  \
                     : [d] "r"(down), [win] "i"(SEL_WIN), [flat] "i"(SEL_DATA)                \
                     : "cc", "memory");                                                      \
  }

STRING16(a16_rep_movsb, "addr16 rep movsb")
STRING16(a16_rep_stosw, "addr16 rep stosw")
STRING16(a16_repne_scasb, "addr16 repne scasb")
STRING16(a16_lodsb, "addr16 lodsb")
STRING16(a16_rep_movsl, "addr16 rep movsl")

static void run16(const char *what, string_fn fn, uint32_t si, uint32_t di, uint32_t cx,
                  uint32_t eax, int down) {
  for (uint32_t i = 0; i < sizeof(window); i++)
    window[i] = (uint8_t)(i ^ (i >> 8));
  struct regs r = {0xabcd0000 | si, 0x12340000 | di, 0x55550000 | cx, eax, 0};
  fn(&r, down);
  printf("%s%s: esi %x edi %x ecx %x eax %x %s window %08x\n", what, down ? " std" : "", r.esi,
         r.edi, r.ecx, r.eax, flags_str(r.flags, FL_ARITH), crc32_update(0, window, sizeof(window)));
}

static void address16(void) {
  gdt_set(SEL_WIN >> 3, (uint32_t)window, 0xffff, 0x92, 0x4);
  run16("addr16 rep movsb", a16_rep_movsb, 0xfff8, 0x0100, 16, 0, 0);
  run16("addr16 rep movsb", a16_rep_movsb, 0x0004, 0x0008, 12, 0, 1);
  run16("addr16 rep movsl", a16_rep_movsl, 0x2000, 0xfff0, 8, 0, 0);
  run16("addr16 rep stosw", a16_rep_stosw, 0, 0xfffc, 4, 0xbeef, 0);
  run16("addr16 rep stosw", a16_rep_stosw, 0, 0x0002, 4, 0xbeef, 1);
  run16("addr16 repne scasb", a16_repne_scasb, 0, 0xfff0, 0x40, 0x1f, 0);
  run16("addr16 lodsb", a16_lodsb, 0x0000, 0, 0, 0xffffffff, 1);
  run16("addr16 rep movsb cx=0", a16_rep_movsb, 0x10, 0x20, 0, 0, 0);
}

int main(void) {
  traps_init();
  moves_and_stores();
  overlapping();
  compares();
  scans();
  fs_source();
  address16();
  return 0;
}
