/* acpi.c - the ACPI tables and the power management I/O block (see acpi.h).
 *
 * Tables, after the ACPI 2.0 specification, in forms Linux has read since 2.6 and still
 * reads (6.1): an ACPI 1.0 RSDP (revision 0, 20 bytes) pointing at an RSDT; a revision 3
 * (ACPI 2.0, 244-byte) FADT, whose 32-bit block addresses and X_ generic addresses agree and
 * whose RESET_REG needs revision 3; a FACS; a DSDT holding only \_S5; with the APICs, a
 * revision 1 MADT. PM1 registers follow the ACPI fixed hardware model with the PIIX4's layout;
 * TMR_STS is set each time bit 31 of the 32-bit timer changes. */
#include "devices/acpi.h"

#include <errno.h>
#include <string.h>

#include "devices/le.h"

/* ---- the PM block ---- */

#define STS_WRITABLE                                                                         \
  (ACPI_PM1_TMR | ACPI_PM1_BM | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN |            \
   ACPI_PM1_RTC | ACPI_PM1_WAK)
#define EN_WRITABLE                                                                          \
  (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC)
#define CNT_WRITABLE (ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP)
#define SCI_SOURCES EN_WRITABLE
#define TMR_MSB_SHIFT 31

static uint64_t ns_to_tick(uint64_t ns) {
  return (uint64_t)((unsigned __int128)ns * ACPI_PM_TIMER_HZ / 1000000000u);
}

/* The first nanosecond at which the count reaches t. */
static uint64_t tick_to_ns(uint64_t t) {
  return (uint64_t)(((unsigned __int128)t * 1000000000u + ACPI_PM_TIMER_HZ - 1) /
                    ACPI_PM_TIMER_HZ);
}

static uint64_t now_tick(const struct acpi_pm *pm) {
  uint64_t now = pm->clock();
  return now > pm->clock_base ? ns_to_tick(now - pm->clock_base) : 0;
}

uint32_t acpi_pm_timer(const struct acpi_pm *pm) { return (uint32_t)now_tick(pm); }

/* TMR_STS: bit 31 of the count changed since we last looked. */
static void tmr_update(struct acpi_pm *pm) {
  uint64_t t = now_tick(pm);
  if (t >> TMR_MSB_SHIFT != pm->tmr_checked >> TMR_MSB_SHIFT)
    pm->sts |= ACPI_PM1_TMR;
  if (t > pm->tmr_checked)
    pm->tmr_checked = t;
}

static void sci_update(struct acpi_pm *pm) {
  int level = (pm->sts & pm->en & SCI_SOURCES) != 0;
  if (level != pm->sci_level) {
    pm->sci_level = level;
    irq_set(&pm->sci, level);
  }
}

/* With TMR_EN set, a timer marks the next change of bit 31 so that the SCI rises on time. */
static void tmr_arm(struct acpi_pm *pm) {
  if (!(pm->en & ACPI_PM1_TMR)) {
    timer_del(pm->timers, &pm->tmr_timer);
    return;
  }
  uint64_t next = ((pm->tmr_checked >> TMR_MSB_SHIFT) + 1) << TMR_MSB_SHIFT;
  timer_mod(pm->timers, &pm->tmr_timer, pm->clock_base + tick_to_ns(next));
}

static void tmr_fired(void *opaque) {
  struct acpi_pm *pm = opaque;
  tmr_update(pm);
  sci_update(pm);
  tmr_arm(pm);
}

static uint32_t pm_read(void *opaque, uint16_t offset, int size) {
  struct acpi_pm *pm = opaque;
  tmr_update(pm);
  sci_update(pm);
  uint8_t regs[ACPI_PM_LEN] = {0};
  put16(regs + 0, pm->sts);
  put16(regs + 2, pm->en);
  put16(regs + 4, pm->cnt); /* SLP_EN and GBL_RLS are write-only: never stored */
  put32(regs + 8, acpi_pm_timer(pm));
  uint32_t v = 0;
  for (int i = 0; i < size && offset + i < (int)ACPI_PM_LEN; i++)
    v |= (uint32_t)regs[offset + i] << (8 * i);
  return v;
}

/* The part of an access of size bytes at offset that falls in the 16-bit register at reg. */
static uint16_t reg_part(uint16_t offset, int size, uint32_t value, unsigned reg,
                         uint16_t *mask) {
  uint16_t v = 0, m = 0;
  for (int i = 0; i < size; i++) {
    unsigned b = offset + (unsigned)i;
    if (b >= reg && b < reg + 2) {
      unsigned shift = 8 * (b - reg);
      v |= (uint16_t)(((value >> (8 * i)) & 0xff) << shift);
      m |= (uint16_t)(0xff << shift);
    }
  }
  *mask = m;
  return v;
}

static void sleep_state(struct acpi_pm *pm, unsigned slp_typ) {
  if (slp_typ == ACPI_S5_SLP_TYP) {
    if (pm->power_off)
      pm->power_off(pm->cb_opaque);
    return;
  }
  pm->sts |= ACPI_PM1_WAK; /* no other sleep state: the machine wakes at once */
}

static void pm_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  struct acpi_pm *pm = opaque;
  uint16_t mask, v;
  tmr_update(pm);

  v = reg_part(offset, size, value, 0, &mask);
  pm->sts &= (uint16_t)~(v & mask & STS_WRITABLE);

  v = reg_part(offset, size, value, 2, &mask);
  if (mask) {
    pm->en = (uint16_t)((pm->en & ~mask) | (v & mask & EN_WRITABLE));
    tmr_arm(pm);
  }

  v = reg_part(offset, size, value, 4, &mask);
  if (mask) {
    pm->cnt = (uint16_t)((pm->cnt & ~(mask & CNT_WRITABLE)) | (v & mask & CNT_WRITABLE));
    if (v & mask & ACPI_PM1_SLP_EN)
      sleep_state(pm, (pm->cnt & ACPI_PM1_SLP_TYP) >> ACPI_PM1_SLP_TYP_SHIFT);
  }
  sci_update(pm);
}

static void reset_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  struct acpi_pm *pm = opaque;
  if ((uint8_t)value == pm->reset_value && pm->reset)
    pm->reset(pm->cb_opaque);
}

static uint32_t reset_read(void *opaque, uint16_t offset, int size) { return 0; }

int acpi_pm_init(struct acpi_pm *pm, struct ioports *io, const struct irq_line *sci,
                 struct timer_list *timers, uint16_t base) {
  memset(pm, 0, sizeof(*pm));
  pm->base = base;
  if (sci)
    pm->sci = *sci;
  pm->timers = timers;
  pm->clock = clock_ns;
  pm->clock_base = clock_ns();
  pm->cnt = ACPI_PM1_SCI_EN; /* no SMI_CMD: always in ACPI mode */
  timer_init(&pm->tmr_timer, tmr_fired, pm);
  return ioports_register(io, base, ACPI_PM_LEN, 0, "acpi-pm", pm_read, pm_write, pm);
}

void acpi_pm_exit(struct acpi_pm *pm) { timer_del(pm->timers, &pm->tmr_timer); }

void acpi_pm_set_callbacks(struct acpi_pm *pm, acpi_event_fn power_off, acpi_event_fn reset,
                           void *opaque) {
  pm->power_off = power_off;
  pm->reset = reset;
  pm->cb_opaque = opaque;
}

void acpi_pm_set_clock(struct acpi_pm *pm, uint64_t (*clock)(void)) {
  pm->clock = clock;
  pm->clock_base = clock();
  pm->tmr_checked = 0;
  tmr_arm(pm);
}

void acpi_pm_power_button(struct acpi_pm *pm) {
  pm->sts |= ACPI_PM1_PWRBTN;
  sci_update(pm);
}

int acpi_pm_claim_reset_port(struct acpi_pm *pm, struct ioports *io, uint16_t port,
                             uint8_t value) {
  int err = ioports_register(io, port, 1, IO_BYTES_ONLY, "acpi-reset", reset_read,
                             reset_write, pm);
  if (err)
    return err;
  pm->reset_port = port;
  pm->reset_value = value;
  return 0;
}

/* ---- the tables ---- */

#define RSDP_LEN 20
#define HEADER_LEN 36
#define FACS_LEN 64
#define FADT_LEN 244
#define FADT_REVISION 3
#define OEM_ID "BT386 "
#define OEM_TABLE_ID "BT386PC "
#define CREATOR_ID "BTPC"

/* FADT flags (ACPI 2.0, table 5-9). */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_SLP_BUTTON (1u << 5) /* no sleep button (PWR_BUTTON clear: a fixed power button) */
#define FADT_FIX_RTC (1u << 6)    /* no RTC wake status in the fixed registers */
#define FADT_TMR_VAL_EXT (1u << 8)
#define FADT_RESET_REG_SUP (1u << 10)
/* IAPC_BOOT_ARCH. */
#define BOOT_LEGACY_DEVICES (1u << 0)
#define BOOT_8042 (1u << 1)

#define GAS_SYSTEM_IO 1

/* MADT (ACPI 2.0, section 5.2.10.4). */
#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_OVERRIDE 2
#define MADT_LAPIC_NMI 4
#define MPS_INTI_ACTIVE_LOW 3u /* polarity, bits 1:0 */
#define MPS_INTI_LEVEL (3u << 2) /* trigger mode, bits 3:2 */

/* AML opcodes (ACPI 2.0, section 16). */
#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_PACKAGE 0x12
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_DWORD_PREFIX 0x0c
#define AML_EXT_PREFIX 0x5b
#define AML_DEVICE 0x82 /* after AML_EXT_PREFIX */

void acpi_config_default(struct acpi_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->pm_base = ACPI_PM_BASE;
  cfg->sci_irq = ACPI_SCI_IRQ;
  cfg->reset_port = 0xcf9;
  cfg->reset_value = 0x06; /* PIIX RCR: SYS_RST | RST_CPU, a hard reset */
  cfg->i8042 = true;
  cfg->lapic_addr = 0xfee00000u;
  cfg->lapic_id = 0;
  cfg->ioapic_addr = 0xfec00000u;
  cfg->ioapic_id = 1;
  cfg->pci = true;
  cfg->pci_mem_base = 0xe0000000u;
  cfg->pci_mem_len = 0x1ec00000u;
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t revision) {
  memcpy(t, sig, 4);
  put32(t + 4, len);
  t[8] = revision;
  memcpy(t + 10, OEM_ID, 6);
  memcpy(t + 16, OEM_TABLE_ID, 8);
  put32(t + 24, 1); /* OEM revision */
  memcpy(t + 28, CREATOR_ID, 4);
  put32(t + 32, 1); /* creator revision */
}

/* A generic address structure for an I/O port block of `bits` bits. */
static void gas_io(uint8_t *p, uint8_t bits, uint32_t port) {
  p[0] = GAS_SYSTEM_IO;
  p[1] = bits;
  p[2] = 0; /* bit offset */
  p[3] = 0; /* reserved in ACPI 2.0 (access size from 3.0 on: 0 = undefined) */
  put64(p + 4, port);
}

static size_t build_facs(uint8_t *t) {
  memcpy(t, "FACS", 4);
  put32(t + 4, FACS_LEN);
  /* hardware signature, waking vectors, global lock, flags: 0 */
  t[32] = 1; /* version (ACPI 2.0) */
  return FACS_LEN;
}

static size_t build_fadt(uint8_t *t, const struct acpi_config *c, uint32_t facs,
                         uint32_t dsdt) {
  header(t, "FACP", FADT_LEN, FADT_REVISION);
  put32(t + 36, facs);              /* FIRMWARE_CTRL */
  put32(t + 40, dsdt);              /* DSDT */
  t[44] = c->apic ? 1 : 0;          /* ACPI 1.0 INT_MODEL: 1 = multiple APIC */
  t[45] = 0;                        /* Preferred_PM_Profile: unspecified */
  put16(t + 46, c->sci_irq);        /* SCI_INT */
  put32(t + 48, 0);                 /* SMI_CMD: none, always in ACPI mode */
  put32(t + 56, c->pm_base);        /* PM1a_EVT_BLK */
  put32(t + 64, c->pm_base + 4u);   /* PM1a_CNT_BLK */
  put32(t + 76, c->pm_base + 8u);   /* PM_TMR_BLK */
  t[88] = 4;                        /* PM1_EVT_LEN */
  t[89] = 2;                        /* PM1_CNT_LEN */
  t[91] = 4;                        /* PM_TMR_LEN */
  put16(t + 96, 101);               /* P_LVL2_LAT > 100: no C2 */
  put16(t + 98, 1001);              /* P_LVL3_LAT > 1000: no C3 */
  t[108] = c->century;              /* CENTURY */
  put16(t + 109, (uint16_t)(BOOT_LEGACY_DEVICES | (c->i8042 ? BOOT_8042 : 0)));
  uint32_t flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC |
                   FADT_TMR_VAL_EXT;
  if (c->reset_port) {
    flags |= FADT_RESET_REG_SUP;
    gas_io(t + 116, 8, c->reset_port); /* RESET_REG */
    t[128] = c->reset_value;           /* RESET_VALUE */
  }
  put32(t + 112, flags);
  put64(t + 132, 0);                   /* X_FIRMWARE_CTRL: the 32-bit field is used */
  put64(t + 140, dsdt);                /* X_DSDT */
  gas_io(t + 148, 32, c->pm_base);     /* X_PM1a_EVT_BLK */
  gas_io(t + 172, 16, c->pm_base + 4u); /* X_PM1a_CNT_BLK */
  gas_io(t + 208, 32, c->pm_base + 8u); /* X_PM_TMR_BLK */
  return FADT_LEN;
}

static size_t madt_entry(uint8_t *p, uint8_t type, uint8_t len) {
  p[0] = type;
  p[1] = len;
  return len;
}

static size_t build_madt(uint8_t *t, const struct acpi_config *c) {
  size_t n = HEADER_LEN;
  put32(t + n, c->lapic_addr);
  put32(t + n + 4, MADT_PCAT_COMPAT); /* the 8259A pair is there too */
  n += 8;

  uint8_t *e = t + n;
  e[2] = 0;                           /* ACPI processor ID */
  e[3] = c->lapic_id;
  put32(e + 4, 1);                    /* enabled */
  n += madt_entry(e, MADT_LAPIC, 8);

  e = t + n;
  e[2] = c->ioapic_id;
  e[3] = 0;
  put32(e + 4, c->ioapic_addr);
  put32(e + 8, 0);                    /* global system interrupt base */
  n += madt_entry(e, MADT_IOAPIC, 12);

  e = t + n;                          /* the 8254 on IRQ0 is wired to IOAPIC input 2 */
  e[2] = 0;                           /* bus: ISA */
  e[3] = 0;                           /* source IRQ */
  put32(e + 4, 2);                    /* global system interrupt */
  put16(e + 8, 0);                    /* flags: conforms to the bus (edge, active high) */
  n += madt_entry(e, MADT_OVERRIDE, 10);

  e = t + n;                          /* the SCI: level-triggered, active low */
  e[2] = 0;
  e[3] = c->sci_irq;
  put32(e + 4, c->sci_irq);
  put16(e + 8, MPS_INTI_ACTIVE_LOW | MPS_INTI_LEVEL);
  n += madt_entry(e, MADT_OVERRIDE, 10);

  e = t + n;                          /* NMI on LINT1 of every local APIC */
  e[2] = 0xff;
  put16(e + 3, 0);                    /* flags: conforms */
  e[5] = 1;                           /* LINT# */
  n += madt_entry(e, MADT_LAPIC_NMI, 6);

  header(t, "APIC", (uint32_t)n, 1);
  return n;
}

/* An AML Integer data object for a small value: ZeroOp, OneOp or BytePrefix ByteData. */
static size_t aml_integer(uint8_t *p, uint8_t v) {
  if (v <= 1) {
    p[0] = v ? AML_ONE : AML_ZERO;
    return 1;
  }
  p[0] = AML_BYTE_PREFIX;
  p[1] = v;
  return 2;
}

/* Name (_S5, Package () { SLP_TYPa, SLP_TYPb, 0, 0 }), in the root scope:
 *
 *   08              NameOp
 *   5F 53 35 5F     NameSeg "_S5_"
 *   12              PackageOp
 *   nn              PkgLength, one byte (bits 7:6 = 0): the length of itself, NumElements
 *                   and the elements, at most 63
 *   04              NumElements
 *   ..              SLP_TYPa, SLP_TYPb (PM1a_CNT and PM1b_CNT), two reserved values: each
 *                   ZeroOp (00), OneOp (01) or BytePrefix (0A) and a byte
 *
 * With SLP_TYP 0 that is 08 5F 53 35 5F 12 06 04 00 00 00 00. */
static size_t aml_s5(uint8_t *p) {
  size_t n = 0;
  p[n++] = AML_NAME;
  memcpy(p + n, "_S5_", 4);
  n += 4;
  p[n++] = AML_PACKAGE;
  size_t pkglength = n++;
  p[n++] = 4;
  n += aml_integer(p + n, ACPI_S5_SLP_TYP);
  n += aml_integer(p + n, ACPI_S5_SLP_TYP);
  n += aml_integer(p + n, 0);
  n += aml_integer(p + n, 0);
  p[pkglength] = (uint8_t)(n - pkglength);
  return n;
}

/* A two-byte PkgLength (bits 7:6 = 1 more byte, bits 3:0 the low nibble) for a package that
 * starts at p and ends at end: what Scope, Device and Buffer need here, all longer than 63
 * bytes and shorter than 4096. */
static void aml_pkglength2(uint8_t *p, const uint8_t *end) {
  size_t len = (size_t)(end - p);
  p[0] = (uint8_t)(0x40 | (len & 0x0f));
  p[1] = (uint8_t)(len >> 4);
}

/* Word address space descriptor (ACPI 2.0, 6.4.3.5.3): a producer with fixed minimum and
 * maximum; type 1 = I/O (type flags 3: ISA and non-ISA ranges), 2 = bus numbers. */
static size_t res_word(uint8_t *p, uint8_t type, uint16_t min, uint16_t max) {
  p[0] = 0x88;
  put16(p + 1, 13);
  p[3] = type;
  p[4] = 0x0c; /* MinFixed, MaxFixed, positive decode, producer */
  p[5] = type == 1 ? 3 : 0;
  put16(p + 6, 0);          /* granularity */
  put16(p + 8, min);
  put16(p + 10, max);
  put16(p + 12, 0);         /* translation offset */
  put16(p + 14, (uint16_t)(max - min + 1));
  return 16;
}

/* DWord memory descriptor (6.4.3.5.2): a cacheable read/write producer range. */
static size_t res_dword_mem(uint8_t *p, uint32_t min, uint32_t len) {
  p[0] = 0x87;
  put16(p + 1, 23);
  p[3] = 0;                 /* memory */
  p[4] = 0x0c;
  p[5] = 0x03;              /* read/write, cacheable */
  put32(p + 6, 0);
  put32(p + 10, min);
  put32(p + 14, min + len - 1);
  put32(p + 18, 0);
  put32(p + 22, len);
  return 26;
}

/* The root bridge's resources: what iasl makes of
 *   WordBusNumber (0x00-0xFF), IO (Decode16, 0xCF8, 0xCF8, 1, 8),
 *   WordIO (0x0000-0x0CF7), WordIO (0x0D00-0xFFFF),
 *   DWordMemory (0xA0000-0xBFFFF), DWordMemory (the PCI hole), EndTag. */
static size_t pci_crs(uint8_t *p, const struct acpi_config *c) {
  size_t n = 0;
  n += res_word(p + n, 2, 0x00, 0xff);
  static const uint8_t cfg_io[8] = {0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08};
  memcpy(p + n, cfg_io, sizeof(cfg_io));
  n += sizeof(cfg_io);
  n += res_word(p + n, 1, 0x0000, 0x0cf7);
  n += res_word(p + n, 1, 0x0d00, 0xffff);
  n += res_dword_mem(p + n, 0xa0000, 0x20000);
  n += res_dword_mem(p + n, c->pci_mem_base, c->pci_mem_len);
  p[n++] = 0x79; /* end tag; checksum 0: none */
  p[n++] = 0;
  return n;
}

/* Scope (\_SB) { Device (PCI0) { Name (_HID, EisaId ("PNP0A03")) Name (_UID, 0)
 *                                 Name (_CRS, ResourceTemplate () {...}) } } */
static size_t aml_pci0(uint8_t *p, const struct acpi_config *c) {
  size_t n = 0;
  p[n++] = AML_SCOPE;
  size_t scope_len = n;
  n += 2;
  memcpy(p + n, "_SB_", 4);
  n += 4;
  p[n++] = AML_EXT_PREFIX;
  p[n++] = AML_DEVICE;
  size_t dev_len = n;
  n += 2;
  memcpy(p + n, "PCI0", 4);
  n += 4;
  static const uint8_t hid[] = {AML_NAME, '_', 'H', 'I', 'D', AML_DWORD_PREFIX,
                                0x41, 0xd0, 0x0a, 0x03}; /* EisaId ("PNP0A03") */
  memcpy(p + n, hid, sizeof(hid));
  n += sizeof(hid);
  static const uint8_t uid[] = {AML_NAME, '_', 'U', 'I', 'D', AML_ZERO};
  memcpy(p + n, uid, sizeof(uid));
  n += sizeof(uid);
  p[n++] = AML_NAME;
  memcpy(p + n, "_CRS", 4);
  n += 4;
  p[n++] = AML_BUFFER;
  size_t buf_len = n;
  n += 2;
  p[n++] = AML_BYTE_PREFIX;
  size_t buf_size = n++;
  size_t crs = pci_crs(p + n, c);
  p[buf_size] = (uint8_t)crs;
  n += crs;
  aml_pkglength2(p + buf_len, p + n);
  aml_pkglength2(p + dev_len, p + n);
  aml_pkglength2(p + scope_len, p + n);
  return n;
}

static size_t build_dsdt(uint8_t *t, const struct acpi_config *c) {
  size_t n = HEADER_LEN;
  n += aml_s5(t + n);
  if (c->pci)
    n += aml_pci0(t + n, c);
  header(t, "DSDT", (uint32_t)n, 1); /* revision 1: 32-bit AML integers */
  return n;
}

static size_t align(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

/* The largest tables we write, for the size check before writing anything. */
#define MADT_MAX (HEADER_LEN + 8 + 8 + 12 + 10 + 10 + 6)
#define DSDT_MAX (HEADER_LEN + 16 + 160)

int acpi_build_tables(void *buf, size_t size, uint32_t phys, const struct acpi_config *cfg) {
  if (phys & 15)
    return -EINVAL;
  size_t facs = align(phys + RSDP_LEN, 64) - phys;
  size_t rsdt = align(facs + FACS_LEN, 16);
  int ntables = cfg->apic ? 2 : 1;
  size_t rsdt_len = HEADER_LEN + 4u * (size_t)ntables;
  size_t fadt = align(rsdt + rsdt_len, 16);
  size_t madt = align(fadt + FADT_LEN, 16);
  size_t dsdt_max = align(madt + (cfg->apic ? MADT_MAX : 0), 16);
  if (dsdt_max + DSDT_MAX > size)
    return -ENOSPC;
  uint8_t *b = buf;
  memset(b, 0, dsdt_max + DSDT_MAX);

  size_t end = madt;
  if (cfg->apic) {
    size_t len = build_madt(b + madt, cfg);
    put_checksum(b + madt, len, 9);
    end = madt + len;
  }
  size_t dsdt = align(end, 16);
  size_t dsdt_len = build_dsdt(b + dsdt, cfg);
  put_checksum(b + dsdt, dsdt_len, 9);

  build_facs(b + facs);
  build_fadt(b + fadt, cfg, phys + (uint32_t)facs, phys + (uint32_t)dsdt);
  put_checksum(b + fadt, FADT_LEN, 9);

  header(b + rsdt, "RSDT", (uint32_t)rsdt_len, 1);
  put32(b + rsdt + HEADER_LEN, phys + (uint32_t)fadt);
  if (cfg->apic)
    put32(b + rsdt + HEADER_LEN + 4, phys + (uint32_t)madt);
  put_checksum(b + rsdt, rsdt_len, 9);

  memcpy(b, "RSD PTR ", 8);
  memcpy(b + 9, OEM_ID, 6);
  b[15] = 0; /* revision: ACPI 1.0 RSDP, RSDT only */
  put32(b + 16, phys + (uint32_t)rsdt);
  put_checksum(b, RSDP_LEN, 8);
  return (int)(dsdt + dsdt_len);
}
