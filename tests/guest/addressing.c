/* addressing.c - the ways an x86 instruction names memory (the forms are in addressing_asm.S,
 * each loaded, incremented in memory and loaded again): absolute [disp32], [reg+disp8/32],
 * [ebp+...] and [esp+...] (the encodings with special cases), SIB with every scale, a
 * negative index, index without base, 32-bit address wrap-around, the moffs forms (A0-A3),
 * segment override prefixes, xlat, lea, and 16-bit addressing ([bx+si], [bp+di] through SS,
 * [disp16], wrap at 64 KiB) in a 64 KiB data segment. */
#include "lib/guest.h"

uint32_t addr_table[64];
uint8_t addr_bytes[256];
uint32_t addr_results[2 * 48];
static uint16_t window[0x8000]; /* 64 KiB: each word holds its own offset */
#define SEL_WIN (3 << 3)

void addr_cases32(void);
void addr_cases16(uint16_t sel);

static const char *const names[48] = {
    "absolute", "[ebx]", "[ebx+8]", "[ebx+0x80]", "[ebx-16]", "[edi-0x7c]",
    "[ebx+ecx*1] unaligned", "[ebx+ecx*2+4]", "[ebx+ecx*4+8]", "[ebx+ecx*8-4]",
    "[ebx+esi*4] esi=-3", "[disp32+ecx*4]", "[disp32+ecx*8]", "[ebx+ecx] wraps",
    "[ebx+0xf0000000] wraps", "[ebx+ecx*4] wraps", "[ebp]", "[ebp+12]", "[ebp+0x100]",
    "[ebp+esi*4-8]", "[esp]", "[esp+4]", "[esp-0x80]", "[esp+esi*4]", "[esp+esi*2+0x10]",
    "moffs al / ax", "moffs eax after store", "es:[ebx]", "ss:[ebx+4]", "ds:[esp]",
    "cs:[disp32]", "xlat", "[bx+si]", "[bx+di]", "[bp+si]", "[bp+di]", "[si]", "[di]",
    "[bx+0x10]", "[bp+0x1234]", "[bx+si-2]", "[disp16]", "[bx+si] wraps", "[bx+0x30] wraps",
    "[bp+4] wraps", "lea addr16 / lea16", "lea wraps / lea [esp+big]", "unused",
};

int main(void) {
  traps_init();
  for (int i = 0; i < 64; i++)
    addr_table[i] = 0x1000u * (uint32_t)i + 0x11;
  for (int i = 0; i < 256; i++)
    addr_bytes[i] = (uint8_t)(255 - i);
  for (int i = 0; i < 0x8000; i++)
    window[i] = (uint16_t)(2 * i);
  addr_cases32();
  gdt_set(SEL_WIN >> 3, (uint32_t)window, 0xffff, 0x92, 0x4);
  addr_cases16(SEL_WIN);
  for (int n = 0; n < 47; n++)
    printf("%s: %x %x\n", names[n], addr_results[2 * n], addr_results[2 * n + 1]);
  printf("table %08x bytes %08x window %08x\n", crc32_update(0, addr_table, sizeof(addr_table)),
         crc32_update(0, addr_bytes, sizeof(addr_bytes)), crc32_update(0, window, sizeof(window)));
  return 0;
}
