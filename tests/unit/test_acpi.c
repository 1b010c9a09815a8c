/* test_acpi.c - the ACPI tables parsed back the way a kernel finds them (RSDP scan, RSDT,
 * checksums, FADT fields, the \_S5 package in the DSDT's AML, MADT entries), and the PM block
 * through its I/O ports: the PM timer's rate, PM1 status/enable, the SCI, S5 power-off. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi.h"
#include "tests/unit/table_bytes.h"

#define PHYS 0xe0000u
#define AREA 0x20000u /* 0xE0000-0xFFFFF, where kernels look for the RSDP */

static uint8_t mem[AREA];

/* Guest physical address to our copy of the BIOS area. */
static const uint8_t *at(uint64_t pa, size_t len) {
  ck_assert_msg(pa >= PHYS && pa + len <= PHYS + AREA, "0x%llx outside the area",
                (unsigned long long)pa);
  return mem + (pa - PHYS);
}

/* As ACPICA's acpi_tb_scan_memory_for_rsdp: 16-byte steps, signature and checksum. */
static const uint8_t *find_rsdp(void) {
  for (size_t off = 0; off + 20 <= AREA; off += 16)
    if (memcmp(mem + off, "RSD PTR ", 8) == 0 && sum(mem + off, 20) == 0)
      return mem + off;
  return NULL;
}

static const uint8_t *table(uint64_t pa, const char *sig) {
  const uint8_t *t = at(pa, 36);
  ck_assert_msg(memcmp(t, sig, 4) == 0, "expected %s", sig);
  uint32_t len = get32(t + 4);
  ck_assert_uint_ge(len, 36);
  at(pa, len);
  ck_assert_msg(sum(t, len) == 0, "%s checksum", sig);
  return t;
}

/* The RSDT's table of that signature, or NULL. */
static const uint8_t *find_table(const char *sig) {
  const uint8_t *rsdp = find_rsdp();
  ck_assert_ptr_nonnull(rsdp);
  const uint8_t *rsdt = table(get32(rsdp + 16), "RSDT");
  for (uint32_t i = 36; i < get32(rsdt + 4); i += 4) {
    const uint8_t *t = at(get32(rsdt + i), 36);
    if (memcmp(t, sig, 4) == 0)
      return table(get32(rsdt + i), sig);
  }
  return NULL;
}

static int build(bool apic) {
  struct acpi_config cfg;
  acpi_config_default(&cfg);
  cfg.apic = apic;
  memset(mem, 0, sizeof(mem));
  return acpi_build_tables(mem, ACPI_TABLES_SIZE, PHYS, &cfg);
}

START_TEST(rsdp_is_found_by_the_bios_area_scan) {
  int n = build(true);
  ck_assert_int_gt(n, 0);
  ck_assert_int_le(n, ACPI_TABLES_SIZE);
  const uint8_t *rsdp = find_rsdp();
  ck_assert_ptr_eq(rsdp, mem);
  ck_assert_uint_eq(rsdp[15], 0); /* ACPI 1.0 RSDP: RSDT only */
  ck_assert_mem_eq(rsdp + 9, "BT386 ", 6);
  const uint8_t *rsdt = table(get32(rsdp + 16), "RSDT");
  ck_assert_uint_eq(rsdt[8], 1);
  ck_assert_uint_eq(get32(rsdt + 4), 36 + 2 * 4);
  ck_assert_ptr_nonnull(find_table("FACP"));
  ck_assert_ptr_nonnull(find_table("APIC"));
}
END_TEST

START_TEST(fadt_fields) {
  ck_assert_int_gt(build(true), 0);
  const uint8_t *f = find_table("FACP");
  ck_assert_uint_eq(get32(f + 4), 244);
  ck_assert_uint_eq(f[8], 3);
  ck_assert_uint_eq(get16(f + 46), 9);      /* SCI_INT */
  ck_assert_uint_eq(get32(f + 48), 0);      /* SMI_CMD: always in ACPI mode */
  ck_assert_uint_eq(get32(f + 56), 0xb000); /* PM1a_EVT_BLK */
  ck_assert_uint_eq(get32(f + 60), 0);      /* PM1b_EVT_BLK */
  ck_assert_uint_eq(get32(f + 64), 0xb004); /* PM1a_CNT_BLK */
  ck_assert_uint_eq(get32(f + 68), 0);
  ck_assert_uint_eq(get32(f + 76), 0xb008); /* PM_TMR_BLK */
  ck_assert_uint_eq(get32(f + 80), 0);      /* no GPE blocks */
  ck_assert_uint_eq(f[88], 4);              /* PM1_EVT_LEN */
  ck_assert_uint_eq(f[89], 2);              /* PM1_CNT_LEN */
  ck_assert_uint_eq(f[91], 4);              /* PM_TMR_LEN */
  ck_assert_uint_eq(f[92], 0);
  ck_assert_uint_gt(get16(f + 96), 100);    /* no C2 */
  ck_assert_uint_gt(get16(f + 98), 1000);   /* no C3 */
  ck_assert_uint_eq(get16(f + 109) & 3, 3); /* legacy devices, 8042 */
  uint32_t flags = get32(f + 112);
  ck_assert_uint_eq(flags & (1u << 8), 1u << 8);   /* TMR_VAL_EXT: 32 bits */
  ck_assert_uint_eq(flags & (1u << 10), 1u << 10); /* RESET_REG_SUP */
  ck_assert_uint_eq(flags & (1u << 4), 0);         /* a fixed power button */
  /* RESET_REG: SystemIO, 8 bits, 0xCF9, value 6. */
  ck_assert_uint_eq(f[116], 1);
  ck_assert_uint_eq(f[117], 8);
  ck_assert_uint_eq(get64(f + 120), 0xcf9);
  ck_assert_uint_eq(f[128], 6);
  /* The X_ blocks agree with the 32-bit ones. */
  ck_assert_uint_eq(get64(f + 140), get32(f + 40));
  static const struct { unsigned x, legacy, len; } blocks[] = {{148, 56, 88}, {172, 64, 89},
                                                               {208, 76, 91}};
  for (unsigned i = 0; i < 3; i++) {
    const uint8_t *g = f + blocks[i].x;
    ck_assert_uint_eq(g[0], 1);
    ck_assert_uint_eq(g[1], 8u * f[blocks[i].len]);
    ck_assert_uint_eq(get64(g + 4), get32(f + blocks[i].legacy));
  }
  ck_assert_uint_eq(get64(f + 160), 0); /* X_PM1b */
  /* The FACS: 64-byte aligned, 64 bytes. */
  uint32_t facs = get32(f + 36);
  ck_assert_uint_eq(facs % 64, 0);
  const uint8_t *fa = at(facs, 64);
  ck_assert_mem_eq(fa, "FACS", 4);
  ck_assert_uint_eq(get32(fa + 4), 64);
}
END_TEST

/* Just enough of an AML reader for the DSDT we write: NameOp NameSeg PackageOp. */
static unsigned aml_int(const uint8_t **p) {
  uint8_t op = *(*p)++;
  if (op == 0x00 || op == 0x01)
    return op;
  ck_assert_uint_eq(op, 0x0a); /* BytePrefix */
  return *(*p)++;
}

START_TEST(dsdt_defines_s5) {
  ck_assert_int_gt(build(false), 0);
  const uint8_t *f = find_table("FACP");
  const uint8_t *d = table(get32(f + 40), "DSDT");
  uint32_t len = get32(d + 4);
  const uint8_t *p = d + 36, *end = d + len;
  bool found = false;
  while (p < end) {
    if (*p == 0x10) { /* ScopeOp (\_SB, see pci_root_bridge): skip it by its PkgLength */
      ck_assert_uint_eq(p[1] >> 6, 1);
      p += 1 + ((p[1] & 0x0f) | p[2] << 4);
      continue;
    }
    ck_assert_uint_eq(*p++, 0x08); /* NameOp: the other terms at the root */
    char name[5] = {0};
    memcpy(name, p, 4);
    p += 4;
    ck_assert_uint_eq(*p++, 0x12); /* PackageOp */
    uint8_t pkglen = *p;
    ck_assert_uint_eq(pkglen >> 6, 0); /* one-byte PkgLength */
    const uint8_t *pkg_end = p + pkglen;
    p++;
    unsigned count = *p++;
    unsigned v[8];
    for (unsigned i = 0; i < count && i < 8; i++)
      v[i] = aml_int(&p);
    ck_assert_ptr_eq(p, pkg_end);
    if (strcmp(name, "_S5_") == 0) {
      found = true;
      ck_assert_uint_eq(count, 4);
      ck_assert_uint_eq(v[0], ACPI_S5_SLP_TYP);
      ck_assert_uint_eq(v[1], ACPI_S5_SLP_TYP);
    }
  }
  ck_assert(found);
  ck_assert_ptr_eq(p, end);
  /* Byte for byte, as documented in acpi.c for SLP_TYP 0. */
  static const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0};
  ck_assert_mem_eq(d + 36, s5, sizeof(s5));
}
END_TEST

/* Without a PNP0A03 device Linux, once in ACPI mode, finds no PCI bus at all (no IDE disk).
 * The bytes are what iasl -d reads back as Scope (_SB) { Device (PCI0) { _HID, _UID, _CRS } }
 * with the windows of acpi_config_default(). */
START_TEST(dsdt_has_a_pci_root_bridge) {
  ck_assert_int_gt(build(true), 0);
  const uint8_t *f = find_table("FACP");
  const uint8_t *d = table(get32(f + 40), "DSDT");
  uint32_t len = get32(d + 4);
  const uint8_t *p = d + 36 + 12, *end = d + len; /* after \_S5 */
  ck_assert_uint_eq(p[0], 0x10);                 /* ScopeOp */
  ck_assert_ptr_eq(p + 1 + ((p[1] & 0x0f) | p[2] << 4), end);
  ck_assert_mem_eq(p + 3, "_SB_", 4);
  ck_assert_uint_eq(p[7], 0x5b);                 /* DeviceOp */
  ck_assert_uint_eq(p[8], 0x82);
  ck_assert_ptr_eq(p + 9 + ((p[9] & 0x0f) | p[10] << 4), end);
  ck_assert_mem_eq(p + 11, "PCI0", 4);
  static const uint8_t hid[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03};
  ck_assert_mem_eq(p + 15, hid, sizeof(hid));
  static const uint8_t uid[] = {0x08, '_', 'U', 'I', 'D', 0x00};
  ck_assert_mem_eq(p + 25, uid, sizeof(uid));
  const uint8_t *crs = p + 31;
  ck_assert_mem_eq(crs, "\x08_CRS\x11", 6);
  ck_assert_ptr_eq(crs + 6 + ((crs[6] & 0x0f) | crs[7] << 4), end);
  ck_assert_uint_eq(crs[8], 0x0a);
  const uint8_t *r = crs + 10, *rend = r + crs[9];
  ck_assert_ptr_eq(rend, end);
  /* Walk the resource descriptors: bus numbers, the config ports, two I/O and two memory
   * windows, the end tag. */
  int words = 0, dwords = 0;
  bool cfg_io = false, end_tag = false;
  while (r < rend) {
    if (r[0] == 0x88) {
      ck_assert_uint_eq(get16(r + 1), 13);
      if (r[3] == 2)
        ck_assert_uint_eq(get16(r + 10), 0xff);
      else
        ck_assert(get16(r + 10) == 0x0cf7 || get16(r + 10) == 0xffff);
      words++;
      r += 16;
    } else if (r[0] == 0x87) {
      ck_assert_uint_eq(get16(r + 1), 23);
      uint32_t min = get32(r + 10), max = get32(r + 14);
      ck_assert_uint_eq(get32(r + 22), max - min + 1);
      ck_assert(min == 0xa0000 || (min == 0xe0000000u && max == 0xfebfffffu));
      dwords++;
      r += 26;
    } else if (r[0] == 0x47) {
      ck_assert_uint_eq(get16(r + 2), 0xcf8);
      ck_assert_uint_eq(r[7], 8);
      cfg_io = true;
      r += 8;
    } else {
      ck_assert_uint_eq(r[0], 0x79);
      end_tag = true;
      r += 2;
    }
  }
  ck_assert_ptr_eq(r, rend);
  ck_assert_int_eq(words, 3);
  ck_assert_int_eq(dwords, 2);
  ck_assert(cfg_io && end_tag);
}
END_TEST

START_TEST(madt_describes_the_apics_and_overrides) {
  ck_assert_int_gt(build(true), 0);
  const uint8_t *m = find_table("APIC");
  ck_assert_uint_eq(get32(m + 36), 0xfee00000);
  ck_assert_uint_eq(get32(m + 40) & 1, 1); /* PCAT_COMPAT */
  int lapics = 0, ioapics = 0, overrides = 0, nmis = 0;
  bool irq0 = false, sci = false;
  for (uint32_t off = 44; off < get32(m + 4);) {
    const uint8_t *e = m + off;
    ck_assert_uint_ge(e[1], 2);
    switch (e[0]) {
    case 0:
      ck_assert_uint_eq(e[1], 8);
      ck_assert_uint_eq(e[3], 0);              /* APIC ID */
      ck_assert_uint_eq(get32(e + 4) & 1, 1);  /* enabled */
      lapics++;
      break;
    case 1:
      ck_assert_uint_eq(e[1], 12);
      ck_assert_uint_eq(e[2], 1);
      ck_assert_uint_eq(get32(e + 4), 0xfec00000);
      ck_assert_uint_eq(get32(e + 8), 0);      /* GSI base */
      ioapics++;
      break;
    case 2:
      ck_assert_uint_eq(e[1], 10);
      ck_assert_uint_eq(e[2], 0);              /* ISA */
      if (e[3] == 0) {
        ck_assert_uint_eq(get32(e + 4), 2);
        ck_assert_uint_eq(get16(e + 8), 0);
        irq0 = true;
      } else if (e[3] == 9) {
        ck_assert_uint_eq(get32(e + 4), 9);
        ck_assert_uint_eq(get16(e + 8), 0x000f); /* active low, level */
        sci = true;
      }
      overrides++;
      break;
    case 4:
      ck_assert_uint_eq(e[1], 6);
      ck_assert_uint_eq(e[2], 0xff);
      ck_assert_uint_eq(e[5], 1);              /* LINT1 */
      nmis++;
      break;
    default:
      ck_abort_msg("unexpected MADT entry type %u", e[0]);
    }
    off += e[1];
  }
  ck_assert_int_eq(lapics, 1);
  ck_assert_int_eq(ioapics, 1);
  ck_assert_int_eq(overrides, 2);
  ck_assert_int_eq(nmis, 1);
  ck_assert(irq0 && sci);
}
END_TEST

START_TEST(no_madt_without_apics) {
  ck_assert_int_gt(build(false), 0);
  ck_assert_ptr_null(find_table("APIC"));
  const uint8_t *rsdt = table(get32(find_rsdp() + 16), "RSDT");
  ck_assert_uint_eq(get32(rsdt + 4), 36 + 4);
}
END_TEST

START_TEST(bad_placement_is_refused) {
  struct acpi_config cfg;
  acpi_config_default(&cfg);
  cfg.apic = true;
  ck_assert_int_eq(acpi_build_tables(mem, sizeof(mem), PHYS + 8, &cfg), -EINVAL);
  ck_assert_int_eq(acpi_build_tables(mem, 256, PHYS, &cfg), -ENOSPC);
  /* Any 16-byte boundary works: the FACS is aligned within the area. */
  memset(mem, 0, sizeof(mem));
  ck_assert_int_gt(acpi_build_tables(mem + 0x30, sizeof(mem) - 0x30, PHYS + 0x30, &cfg), 0);
  const uint8_t *f = find_table("FACP");
  ck_assert_uint_eq(get32(f + 36) % 64, 0);
}
END_TEST

/* ---- the PM block ---- */

static struct ioports io;
static struct timer_list timers;
static struct acpi_pm pm;
static uint64_t fake_ns;
static int sci_level, sci_edges, power_offs, resets;

static uint64_t fake_clock(void) { return fake_ns; }

static void on_sci(void *opaque, int pin, int level) {
  (void)opaque;
  ck_assert_int_eq(pin, 9);
  if (level && !sci_level)
    sci_edges++;
  sci_level = level;
}

static void on_power_off(void *opaque) {
  ck_assert_ptr_eq(opaque, &pm);
  power_offs++;
}

static void on_reset(void *opaque) {
  ck_assert_ptr_eq(opaque, &pm);
  resets++;
}

static const struct irq_line sci_line = {on_sci, NULL, 9};

static void pm_setup(void) {
  ioports_init(&io, false, NULL);
  timers.head = NULL;
  fake_ns = 5000000000ull;
  sci_level = sci_edges = power_offs = resets = 0;
  ck_assert_int_eq(acpi_pm_init(&pm, &io, &sci_line, &timers, ACPI_PM_BASE), 0);
  acpi_pm_set_clock(&pm, fake_clock);
  acpi_pm_set_callbacks(&pm, on_power_off, on_reset, &pm);
}

static void pm_teardown(void) { acpi_pm_exit(&pm); }

static uint32_t in(uint16_t port, int size) { return ioports_read(&io, port, size); }
static void out(uint16_t port, int size, uint32_t v) { ioports_write(&io, port, size, v); }

#define PM1_STS 0xb000
#define PM1_EN 0xb002
#define PM1_CNT 0xb004
#define PM_TMR 0xb008

START_TEST(pm_timer_counts_at_3579545_hz) {
  ck_assert_uint_eq(in(PM_TMR, 4), 0);
  fake_ns += 1000000000ull;
  ck_assert_uint_eq(in(PM_TMR, 4), 3579545);
  fake_ns += 1000; /* 3.58 ticks */
  ck_assert_uint_eq(in(PM_TMR, 4), 3579548);
  /* Byte reads see the same counter. */
  ck_assert_uint_eq(in(PM_TMR, 1), 3579548 & 0xff);
  ck_assert_uint_eq(in(PM_TMR + 2, 2), 3579548 >> 16);
  /* 32 bits wide: it wraps after 2^32 ticks (about 1200 s). */
  uint64_t wrap_ns = (uint64_t)((((unsigned __int128)1 << 32) * 1000000000u + 3579544) / 3579545);
  fake_ns = 5000000000ull + wrap_ns;
  ck_assert_uint_eq(in(PM_TMR, 4), 0);
  fake_ns -= 1;
  ck_assert_uint_eq(in(PM_TMR, 4), 0xffffffffu);
  out(PM_TMR, 4, 0x1234); /* read-only */
  ck_assert_uint_eq(in(PM_TMR, 4), 0xffffffffu);
}
END_TEST

START_TEST(sci_en_is_set_and_sleep_bits_read_zero) {
  ck_assert_uint_eq(in(PM1_CNT, 2), ACPI_PM1_SCI_EN);
  out(PM1_CNT, 2, 0);
  ck_assert_uint_eq(in(PM1_CNT, 2) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
  out(PM1_CNT, 2, 5u << 10); /* SLP_TYP without SLP_EN */
  ck_assert_uint_eq(in(PM1_CNT, 2), 5u << 10 | ACPI_PM1_SCI_EN);
  ck_assert_int_eq(power_offs, 0);
}
END_TEST

START_TEST(s5_powers_off) {
  /* ACPICA's acpi_hw_legacy_sleep: SLP_TYP first, then SLP_TYP | SLP_EN. */
  out(PM1_STS, 2, 0xffff);
  uint16_t cnt = (uint16_t)in(PM1_CNT, 2);
  cnt = (uint16_t)((cnt & ~ACPI_PM1_SLP_TYP) | ACPI_S5_SLP_TYP << 10);
  out(PM1_CNT, 2, cnt);
  ck_assert_int_eq(power_offs, 0);
  out(PM1_CNT, 2, cnt | ACPI_PM1_SLP_EN);
  ck_assert_int_eq(power_offs, 1);
}
END_TEST

START_TEST(s5_through_a_byte_write_of_the_high_half) {
  out(PM1_CNT + 1, 1, (ACPI_PM1_SLP_EN | ACPI_S5_SLP_TYP << 10) >> 8);
  ck_assert_int_eq(power_offs, 1);
}
END_TEST

START_TEST(other_sleep_types_wake_at_once) {
  out(PM1_CNT, 2, 1u << 10 | ACPI_PM1_SLP_EN);
  ck_assert_int_eq(power_offs, 0);
  ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_WAK, ACPI_PM1_WAK);
  out(PM1_STS, 2, ACPI_PM1_WAK);
  ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_WAK, 0);
}
END_TEST

START_TEST(status_bits_clear_on_writing_one) {
  acpi_pm_power_button(&pm);
  ck_assert_uint_eq(in(PM1_STS, 2), ACPI_PM1_PWRBTN);
  ck_assert_int_eq(sci_level, 0); /* not enabled */
  out(PM1_STS, 2, 0);
  ck_assert_uint_eq(in(PM1_STS, 2), ACPI_PM1_PWRBTN);
  out(PM1_STS, 1, 0xff); /* the low byte only */
  ck_assert_uint_eq(in(PM1_STS, 2), ACPI_PM1_PWRBTN);
  out(PM1_EN, 2, ACPI_PM1_PWRBTN);
  ck_assert_uint_eq(in(PM1_EN, 2), ACPI_PM1_PWRBTN);
  ck_assert_int_eq(sci_level, 1);
  /* A 32-bit write covering status and enable, as on a 4-byte PM1_EVT block. */
  out(PM1_STS, 4, (uint32_t)ACPI_PM1_PWRBTN << 16 | ACPI_PM1_PWRBTN);
  ck_assert_uint_eq(in(PM1_STS, 2), 0);
  ck_assert_int_eq(sci_level, 0);
  ck_assert_uint_eq(in(PM1_STS, 4), (uint32_t)ACPI_PM1_PWRBTN << 16);
  acpi_pm_power_button(&pm);
  ck_assert_int_eq(sci_level, 1);
  ck_assert_int_eq(sci_edges, 2);
  out(PM1_EN, 2, 0);
  ck_assert_int_eq(sci_level, 0);
  out(PM1_EN, 2, 0xffff);
  ck_assert_uint_eq(in(PM1_EN, 2), 0x0721);
}
END_TEST

START_TEST(timer_status_on_bit_31_and_its_sci) {
  out(PM1_EN, 2, ACPI_PM1_TMR);
  uint64_t half_ns = (uint64_t)((((unsigned __int128)1 << 31) * 1000000000u + 3579544) / 3579545);
  ck_assert_uint_eq(timers_next_deadline(&timers), 5000000000ull + half_ns);
  fake_ns = 5000000000ull + half_ns - 1;
  timers_run(&timers, fake_ns);
  ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_TMR, 0);
  ck_assert_int_eq(sci_level, 0);
  fake_ns += 1;
  timers_run(&timers, fake_ns);
  ck_assert_int_eq(sci_level, 1);
  ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_TMR, ACPI_PM1_TMR);
  out(PM1_STS, 2, ACPI_PM1_TMR);
  ck_assert_int_eq(sci_level, 0);
  uint64_t full_ns = (uint64_t)((((unsigned __int128)1 << 32) * 1000000000u + 3579544) / 3579545);
  ck_assert_uint_eq(timers_next_deadline(&timers), 5000000000ull + full_ns);
  /* Disabled, the status still follows the timer but raises no SCI. */
  out(PM1_EN, 2, 0);
  ck_assert_uint_eq(timers_next_deadline(&timers), UINT64_MAX);
  fake_ns += half_ns + 10;
  ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_TMR, ACPI_PM1_TMR);
  ck_assert_int_eq(sci_level, 0);
}
END_TEST

START_TEST(reset_port_when_claimed) {
  ck_assert_int_eq(acpi_pm_claim_reset_port(&pm, &io, 0xcf9, 0x06), 0);
  out(0xcf9, 1, 0x02);
  ck_assert_int_eq(resets, 0);
  out(0xcf9, 1, 0x06);
  ck_assert_int_eq(resets, 1);
  ck_assert_int_eq(acpi_pm_claim_reset_port(&pm, &io, 0xcf9, 0x06), -EBUSY);
}
END_TEST

static Suite *acpi_suite(void) {
  Suite *s = suite_create("acpi");
  TCase *tables = tcase_create("tables");
  tcase_add_test(tables, rsdp_is_found_by_the_bios_area_scan);
  tcase_add_test(tables, fadt_fields);
  tcase_add_test(tables, dsdt_defines_s5);
  tcase_add_test(tables, dsdt_has_a_pci_root_bridge);
  tcase_add_test(tables, madt_describes_the_apics_and_overrides);
  tcase_add_test(tables, no_madt_without_apics);
  tcase_add_test(tables, bad_placement_is_refused);
  suite_add_tcase(s, tables);
  TCase *hw = tcase_create("pm");
  tcase_add_checked_fixture(hw, pm_setup, pm_teardown);
  tcase_add_test(hw, pm_timer_counts_at_3579545_hz);
  tcase_add_test(hw, sci_en_is_set_and_sleep_bits_read_zero);
  tcase_add_test(hw, s5_powers_off);
  tcase_add_test(hw, s5_through_a_byte_write_of_the_high_half);
  tcase_add_test(hw, other_sleep_types_wake_at_once);
  tcase_add_test(hw, status_bits_clear_on_writing_one);
  tcase_add_test(hw, timer_status_on_bit_31_and_its_sci);
  tcase_add_test(hw, reset_port_when_claimed);
  suite_add_tcase(s, hw);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(acpi_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
