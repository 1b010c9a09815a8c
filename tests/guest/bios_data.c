/* bios_data.c - what a PC BIOS leaves in low memory for a kernel booted without calling it:
 * the BIOS data area (the EBDA's segment at 0x40e, the base memory size at 0x413), the EBDA's
 * size byte, and an MP floating pointer found where the MP specification 1.4 (section 4) and
 * kernels such as xv6 look for it: the EBDA's first KiB, else the last KiB of base memory,
 * then the BIOS ROM at 0xF0000-0xFFFFF. The pointer and the configuration table it names must
 * have valid checksums; the table lists one processor (the bootstrap one), an I/O APIC and
 * the ISA bus. */
#include "lib/guest.h"

/* (in asm: the compiler takes a pointer below 4 KiB for a null one) */
static uint16_t word_at(uint32_t pa) {
  uint16_t v;
  __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(pa) : "memory");
  return v;
}

static int sums_to_zero(const uint8_t *p, uint32_t len) {
  uint8_t sum = 0;
  for (uint32_t i = 0; i < len; i++)
    sum = (uint8_t)(sum + p[i]);
  return sum == 0;
}

static const uint8_t *search(uint32_t start, uint32_t len) {
  for (uint32_t p = start; p + 16 <= start + len; p += 16) {
    const uint8_t *f = (const uint8_t *)p;
    if (!memcmp(f, "_MP_", 4) && sums_to_zero(f, 16))
      return f;
  }
  return 0;
}

/* The search order of the MP specification (and xv6's mpsearch). */
static const uint8_t *find_mp(const char **where) {
  uint32_t ebda = (uint32_t)word_at(0x40e) << 4, base_kib = word_at(0x413);
  const uint8_t *f;
  if (ebda) {
    *where = "the EBDA";
    if ((f = search(ebda, 1024)))
      return f;
  } else if (base_kib) {
    *where = "the last KiB of base memory";
    if ((f = search(base_kib * 1024 - 1024, 1024)))
      return f;
  }
  *where = "the BIOS ROM";
  return search(0xf0000, 0x10000);
}

int main(void) {
  uint32_t ebda = (uint32_t)word_at(0x40e) << 4;
  printf("EBDA at %05x, base memory %u KiB, EBDA size %u KiB\n", ebda, word_at(0x413),
         ebda ? *(volatile uint8_t *)ebda : 0);
  const char *where = "nowhere";
  const uint8_t *f = find_mp(&where);
  if (!f) {
    printf("no MP floating pointer\n");
    return 1;
  }
  printf("MP floating pointer in %s: length %u, spec 1.%u, feature byte 1 %u\n", where,
         f[8] * 16, f[9], f[11]);
  uint32_t table;
  memcpy(&table, f + 4, 4);
  const uint8_t *t = (const uint8_t *)table;
  uint16_t len;
  memcpy(&len, t + 4, 2);
  printf("configuration table: signature %s, checksum %s\n",
         memcmp(t, "PCMP", 4) ? "wrong" : "PCMP", sums_to_zero(t, len) ? "good" : "bad");
  uint16_t count;
  memcpy(&count, t + 34, 2);
  int cpus = 0, bsp = 0, ioapics = 0, isa = 0;
  const uint8_t *e = t + 44;
  for (int i = 0; i < count; i++) {
    switch (e[0]) {
    case 0: /* processor */
      cpus++;
      bsp += (e[3] & 2) != 0;
      e += 20;
      break;
    case 1: /* bus */
      isa += !memcmp(e + 2, "ISA   ", 6);
      e += 8;
      break;
    case 2: /* I/O APIC */
      ioapics += (e[3] & 1) != 0;
      e += 8;
      break;
    default: /* interrupt assignments */
      e += 8;
      break;
    }
  }
  printf("processors %d (bootstrap %d), I/O APICs %d, ISA buses %d\n", cpus, bsp, ioapics, isa);
  return 0;
}
