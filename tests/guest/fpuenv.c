/* fpuenv.c - fnstenv/fstenv and fnsave/fsave in their 32-bit (28- and 108-byte) and 16-bit
 * (14- and 94-byte) protected-mode forms, frstor and fldenv of what they stored, and page
 * faults on the way. Printed: the control, status and tag words (their low 16 bits: the
 * reserved high words are 0xffff on hardware, 0 in QEMU), the registers of the save area,
 * and whether FIP, FCS, FDP and FDS are either 0 (bt386: docs/translator.md) or the guest's
 * own values (the last x87 instruction's EIP and CS, its operand's offset and DS: QEMU) - never
 * anything else, such as a host address. FOP is not looked at (hosts differ). A fault leaves
 * the instruction undone: FCW keeps its unmasked exceptions, fnsave does not reinitialize.
 * Not printed: FCW after fnstenv, which masks all exceptions (SDM vol. 2A, FSTENV) in bt386
 * and on hardware but not in QEMU 7.2 (test_diff_x87 checks it on bt386). */
#include <stdbool.h>

#include "lib/guest.h"

static uint8_t area[128] __attribute__((aligned(16)));
static uint8_t frames[1][4096] __attribute__((aligned(4096)));

static const double two = 2.0;
static const uint16_t cw_unmasked = 0x0372; /* #Z, #O unmasked, 53-bit precision */
static uint32_t last_ip; /* the address of the last non-control x87 instruction */

static uint16_t read_cs(void) { uint16_t v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
static uint16_t read_ds(void) { uint16_t v; __asm__ volatile("mov %%ds, %0" : "=r"(v)); return v; }

/* fninit, then three values pushed, the last by fadd from memory at label 1 (last_ip). */
#define LOAD_STACK                                                                           \
  "fninit\n\t fldcw %[cw]\n\t fld1\n\t fldz\n\t fld1\n\t"                                  \
  "1: faddl %[two]\n\t movl $1b, %[ip]\n\t"

/* `buf` filled with 0x5a, the stack loaded, then the FPU state stored in `buf` by `insn`. */
#define STORE_AFTER_LOAD(insn, buf)                                                          \
  do {                                                                                       \
    memset(buf, 0x5a, sizeof(buf));                                                          \
    __asm__ volatile(LOAD_STACK insn " %[a]"                                                 \
                     : [a] "=m"(buf), [ip] "=m"(last_ip)                                     \
                     : [cw] "m"(cw_unmasked), [two] "m"(two));                               \
  } while (0)

static const char *pointer(uint32_t v, uint32_t guest, uint32_t mask) {
  if (v == 0)
    return "0 or the guest's";
  if (v == (guest & mask))
    return "0 or the guest's";
  return "something else";
}

/* The environment at `a` in the 32-bit (28-byte) or 16-bit (14-byte) layout. */
static void show_env(const char *what, const uint8_t *a, bool form16) {
  uint16_t w[14];
  memcpy(w, a, form16 ? 14 : 28);
  uint32_t fip, fcs, fdp, fds;
  if (form16) {
    printf("%s: fcw %04x fsw %04x ftw %04x\n", what, w[0], w[1], w[2]);
    fip = w[3], fcs = w[4], fdp = w[5], fds = w[6];
  } else {
    printf("%s: fcw %04x fsw %04x ftw %04x\n", what, w[0], w[2], w[4]);
    fip = w[6] | (uint32_t)w[7] << 16;
    fcs = w[8];
    fdp = w[10] | (uint32_t)w[11] << 16;
    fds = w[12];
  }
  uint32_t mask = form16 ? 0xffffu : 0xffffffffu;
  printf("  fip %s, fcs %s, fdp %s, fds %s\n", pointer(fip, last_ip, mask),
         pointer(fcs, read_cs(), 0xffff), pointer(fdp, (uint32_t)&two, mask),
         pointer(fds, read_ds(), 0xffff));
}

static void show_regs(const uint8_t *a) {
  for (int i = 0; i < 8; i++) {
    char name[16];
    snprintf(name, sizeof(name), "  r%d", i);
    hexdump(name, a + 10 * i, 10);
  }
}

static void after(const char *what) {
  uint16_t cw, sw;
  __asm__ volatile("fnstcw %0\n\t fnstsw %1" : "=m"(cw), "=m"(sw));
  printf("  after %s: fcw %04x fsw %04x\n", what, cw, sw);
}

static void environments(void) {
  STORE_AFTER_LOAD("fnstenv", area);
  show_env("fnstenv", area, false);
  /* (FCW afterwards is not printed: fnstenv masks all exceptions, QEMU 7.2 does not) */
  printf("  byte 28: %02x\n", area[28]);

  STORE_AFTER_LOAD("fstenv", area);
  show_env("fstenv", area, false);

  STORE_AFTER_LOAD("data16 fnstenv", area);
  show_env("16-bit fnstenv", area, true);
  printf("  byte 14: %02x\n", area[14]);

  /* fldenv of a changed 32-bit environment: FCW 0x0f7f */
  STORE_AFTER_LOAD("fnstenv", area);
  area[0] = 0x7f, area[1] = 0x0f;
  __asm__ volatile("fldenv %0" : : "m"(area));
  after("fldenv with fcw 0f7f");
  __asm__ volatile("fninit");
}

static void saves(void) {
  static uint8_t save[112], save16[96];
  STORE_AFTER_LOAD("fnsave", save);
  show_env("fnsave", save, false);
  show_regs(save + 28);
  printf("  byte 108: %02x\n", save[108]);
  after("fnsave");
  /* frstor of it, then the top of the stack */
  uint8_t top[10];
  __asm__ volatile("frstor %1\n\t fstpt %0" : "=m"(top) : "m"(save));
  hexdump("  frstor, then st0", top, 10);
  after("frstor and fstp");
  __asm__ volatile("fninit");

  STORE_AFTER_LOAD("data16 fsave", save16);
  show_env("16-bit fsave", save16, true);
  show_regs(save16 + 14);
  printf("  byte 94: %02x\n", save16[94]);
  __asm__ volatile("data16 frstor %1\n\t fstpt %0" : "=m"(top) : "m"(save16));
  hexdump("  16-bit frstor, then st0", top, 10);
  __asm__ volatile("fninit");
}

static void faults(void) {
  window_paging_on();
  struct site s;
  static const char *const insns[] = {"fnstenv", "16-bit fnstenv", "fnsave", "16-bit fnsave"};
  for (int i = 0; i < 4; i++) {
    for (int across = 0; across < 2; across++) {
      /* the whole area on a missing page, or its first 8 bytes on a present one */
      window_map(WINDOW_BASE, frames[0]);
      window_map(WINDOW_BASE + 0x1000, 0);
      uint32_t p = WINDOW_BASE + 0x1000 - (across ? 8 : 0);
      __asm__ volatile(LOAD_STACK : [ip] "=m"(last_ip) : [cw] "m"(cw_unmasked), [two] "m"(two));
      switch (i) {
      case 0: FAULTING(s, "fnstenv (%[p])", : [p] "r"(p) : "memory"); break;
      case 1: FAULTING(s, "data16 fnstenv (%[p])", : [p] "r"(p) : "memory"); break;
      case 2: FAULTING(s, "fnsave (%[p])", : [p] "r"(p) : "memory"); break;
      default: FAULTING(s, "data16 fnsave (%[p])", : [p] "r"(p) : "memory"); break;
      }
      char what[80];
      snprintf(what, sizeof(what), "%s %s", insns[i],
               across ? "across into a missing page" : "to a missing page");
      print_trap(what, s.start);
      uint32_t cr2 = read_cr2();
      /* a byte of the area on the missing page: QEMU names the first, a host may name another
       * (an AMD host names the last); the SDM does not say which */
      static const uint32_t size[] = {28, 14, 108, 94};
      printf("  cr2 %s\n", cr2 - (WINDOW_BASE + 0x1000) < p + size[i] - (WINDOW_BASE + 0x1000)
                                ? "in the area, on the missing page"
                                : "elsewhere");
      uint8_t top[10];
      after("the fault");
      __asm__ volatile("fstpt %0" : "=m"(top));
      hexdump("  st0", top, 10);
      __asm__ volatile("fninit");
    }
  }
}

int main(void) {
  traps_init();
  environments();
  saves();
  faults();
  return 0;
}
