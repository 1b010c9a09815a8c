/* test_pci.c - configuration mechanism #1, the bus and the i440FX/PIIX3 functions, probed
 * through ports 0xCF8-0xCFF the way Linux's arch/x86/pci and drivers/pci code does it. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "devices/ide.h"
#include "devices/pci.h"

static struct ioports io;
static struct mmio mmio;
static struct pci_bus bus;
static struct i440fx host;
static struct piix3 isa;
static struct ide ide;

static int level[16], edges[16];
static struct irq_line lines[16];
static const struct irq_line *line_ptrs[16];
static int resets, hard_resets;

static void line_set(void *opaque, int pin, int l) {
  (void)opaque;
  if (l && !level[pin])
    edges[pin]++;
  level[pin] = l;
}

static void on_reset(void *opaque, bool hard) {
  (void)opaque;
  resets++;
  hard_resets += hard;
}

static void outb(uint16_t p, uint8_t v) { ioports_write(&io, p, 1, v); }
static void outw(uint16_t p, uint16_t v) { ioports_write(&io, p, 2, v); }
static void outl(uint16_t p, uint32_t v) { ioports_write(&io, p, 4, v); }
static uint8_t inb(uint16_t p) { return (uint8_t)ioports_read(&io, p, 1); }
static uint16_t inw(uint16_t p) { return (uint16_t)ioports_read(&io, p, 2); }
static uint32_t inl(uint16_t p) { return ioports_read(&io, p, 4); }

static uint32_t conf1_addr(uint8_t b, uint8_t devfn, unsigned reg) {
  return 0x80000000u | (uint32_t)b << 16 | (uint32_t)devfn << 8 | (reg & 0xfc);
}

/* arch/x86/pci/direct.c pci_conf1_read/write */
static uint32_t cfg_read(uint8_t devfn, unsigned reg, int len) {
  outl(0xcf8, conf1_addr(0, devfn, reg));
  switch (len) {
  case 1:
    return inb((uint16_t)(0xcfc + (reg & 3)));
  case 2:
    return inw((uint16_t)(0xcfc + (reg & 2)));
  default:
    return inl(0xcfc);
  }
}

static void cfg_write(uint8_t devfn, unsigned reg, int len, uint32_t v) {
  outl(0xcf8, conf1_addr(0, devfn, reg));
  switch (len) {
  case 1:
    outb((uint16_t)(0xcfc + (reg & 3)), (uint8_t)v);
    break;
  case 2:
    outw((uint16_t)(0xcfc + (reg & 2)), (uint16_t)v);
    break;
  default:
    outl(0xcfc, v);
    break;
  }
}

/* drivers/pci/probe.c __pci_read_base for a 32-bit BAR: the size it computes, or 0. */
static uint32_t bar_size(uint8_t devfn, int n, uint32_t *orig) {
  unsigned reg = PCI_BASE_ADDRESS_0 + 4u * (unsigned)n;
  uint16_t cmd = (uint16_t)cfg_read(devfn, PCI_COMMAND, 2);
  cfg_write(devfn, PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  uint32_t l = cfg_read(devfn, reg, 4);
  cfg_write(devfn, reg, 4, ~0u);
  uint32_t sz = cfg_read(devfn, reg, 4);
  cfg_write(devfn, reg, 4, l);
  cfg_write(devfn, PCI_COMMAND, 2, cmd);
  if (orig)
    *orig = l;
  if (!sz || sz == ~0u)
    return 0;
  uint32_t mask = (l & 1) ? 0xfffcu : 0xfffffff0u;
  uint32_t size = sz & mask;
  return size & ~(size - 1);
}

/* A test device: a 32-byte I/O BAR that reads back offset + 0x100 and records writes, a 4 KiB
 * memory BAR, and INTA#. */
static struct pci_device dummy;
static uint32_t last_write_off, last_write_val;
static int last_write_size;

static uint32_t dummy_read(void *opaque, uint32_t off, int size) {
  (void)opaque;
  return (0x100 + off) & (size == 4 ? ~0u : (1u << (8 * size)) - 1);
}

static void dummy_write(void *opaque, uint32_t off, int size, uint32_t v) {
  (void)opaque;
  last_write_off = off;
  last_write_size = size;
  last_write_val = v;
}

static void add_dummy(uint8_t slot) {
  pci_device_setup(&dummy, "dummy", 0x1234, 0x5678, 0xff0000, 0x01, 0);
  dummy.config[PCI_INTERRUPT_PIN] = 1;
  ck_assert_int_eq(pci_bar_init(&dummy, 0, PCI_BAR_IO, 32, dummy_read, dummy_write, NULL), 0);
  ck_assert_int_eq(pci_bar_init(&dummy, 1, PCI_BAR_MEM32, 4096, dummy_read, dummy_write, NULL),
                   0);
  ck_assert_int_eq(pci_register_device(&bus, &dummy, PCI_DEVFN(slot, 0)), 0);
}

static void setup(void) {
  ioports_init(&io, false, NULL);
  mmio_init(&mmio);
  for (int i = 0; i < 16; i++) {
    lines[i] = (struct irq_line){line_set, NULL, i};
    line_ptrs[i] = &lines[i];
    level[i] = edges[i] = 0;
  }
  resets = hard_resets = 0;
  ck_assert_int_eq(pci_bus_init(&bus, &io, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_LEN, &mmio,
                                PCI_MEM_WINDOW_BASE, PCI_MEM_WINDOW_LEN),
                   0);
  ck_assert_int_eq(i440fx_init(&host, &bus), 0);
  ck_assert_int_eq(piix3_init(&isa, &bus, line_ptrs, PIIX3_BIOS_PIRQ, on_reset, NULL), 0);
  ck_assert_int_eq(ide_init(&ide, &bus, &io, NULL, line_ptrs[14], line_ptrs[15], IDE_BM_BASE),
                   0);
}

static void teardown(void) {
  ide_exit(&ide);
  piix3_exit(&isa);
  i440fx_exit(&host);
  pci_bus_exit(&bus);
}

START_TEST(linux_detects_type1) {
  /* pci_check_type1() */
  outb(0xcfb, 0x01);
  uint32_t tmp = inl(0xcf8);
  outl(0xcf8, 0x80000000u);
  ck_assert_uint_eq(inl(0xcf8), 0x80000000u);
  outl(0xcf8, tmp);
  ck_assert_uint_eq(inl(0xcf8), tmp);
  /* pci_sanity_check(): a host bridge on bus 0 */
  int found = -1;
  for (int devfn = 0; devfn < 256 && found < 0; devfn++)
    if (cfg_read((uint8_t)devfn, PCI_CLASS_DEVICE, 2) == 0x0600)
      found = devfn;
  ck_assert_int_eq(found, 0);
}
END_TEST

START_TEST(config_address_register) {
  outl(0xcf8, 0xffffffffu);
  ck_assert_uint_eq(inl(0xcf8), 0x80fffffcu); /* reserved 30:24 and 1:0 read as zero */
  outl(0xcf8, 0x80000000u);
  outw(0xcf8, 0x1234); /* not a dword: not CONFIG_ADDRESS */
  outb(0xcfa, 0x56);
  ck_assert_uint_eq(inl(0xcf8), 0x80000000u);
  ck_assert_uint_eq(inb(0xcf8), 0xff);
  ck_assert_uint_eq(inw(0xcfa), 0xffff);
}
END_TEST

START_TEST(scan_finds_the_chipset_as_linux_does) {
  /* pci_scan_slot(): function 0 of each slot, functions 1-7 when it is multi-function */
  int n = 0;
  for (int slot = 0; slot < 32; slot++) {
    for (int fn = 0; fn < 8; fn++) {
      uint8_t devfn = PCI_DEVFN(slot, fn);
      uint32_t id = cfg_read(devfn, PCI_VENDOR_ID, 4);
      if (id == ~0u || id == 0) {
        if (fn == 0)
          break;
        continue;
      }
      n++;
      if (fn == 0 && !(cfg_read(devfn, PCI_HEADER_TYPE, 1) & 0x80))
        break;
    }
  }
  ck_assert_int_eq(n, 3);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(0, 0), PCI_VENDOR_ID, 4), 0x12378086u);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 0), PCI_VENDOR_ID, 4), 0x70008086u);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), PCI_VENDOR_ID, 4), 0x70108086u);
  /* class, prog-if, revision */
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(0, 0), 0x08, 4), 0x06000002u);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 0), 0x08, 4), 0x06010000u);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), 0x08, 4), 0x01018000u);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(0, 0), PCI_HEADER_TYPE, 1), 0x00);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 0), PCI_HEADER_TYPE, 1), 0x80);
  /* absent functions, other buses, enable bit clear */
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(2, 0), PCI_VENDOR_ID, 4), ~0u);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 2), PCI_VENDOR_ID, 2), 0xffff);
  outl(0xcf8, conf1_addr(1, 0, 0));
  ck_assert_uint_eq(inl(0xcfc), ~0u);
  outl(0xcf8, PCI_DEVFN(0, 0) << 8);
  ck_assert_uint_eq(inl(0xcfc), ~0u);
}
END_TEST

START_TEST(data_port_takes_any_size_at_any_offset) {
  outl(0xcf8, conf1_addr(0, PCI_DEVFN(1, 1), 0));
  ck_assert_uint_eq(inb(0xcfc), 0x86);
  ck_assert_uint_eq(inb(0xcfd), 0x80);
  ck_assert_uint_eq(inb(0xcfe), 0x10);
  ck_assert_uint_eq(inb(0xcff), 0x70);
  ck_assert_uint_eq(inw(0xcfd), 0x1080); /* a word inside the dword, unaligned */
  ck_assert_uint_eq(inw(0xcfe), 0x7010);
  /* latency timer (0x0D) by a byte write at 0xCFD, then read as part of the dword */
  outl(0xcf8, conf1_addr(0, PCI_DEVFN(1, 1), 0x0c));
  outb(0xcfd, 0x40);
  ck_assert_uint_eq(inl(0xcfc) & 0xff00, 0x4000);
  /* read-only registers ignore writes */
  cfg_write(PCI_DEVFN(0, 0), PCI_VENDOR_ID, 4, 0);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(0, 0), PCI_VENDOR_ID, 4), 0x12378086u);
}
END_TEST

START_TEST(ide_bars_size_as_linux_reads_them) {
  uint32_t orig;
  for (int n = 0; n < 6; n++) {
    uint32_t size = bar_size(PCI_DEVFN(1, 1), n, &orig);
    if (n == 4) {
      ck_assert_uint_eq(size, 16);
      ck_assert_uint_eq(orig, IDE_BM_BASE | 1u);
    } else {
      ck_assert_uint_eq(size, 0);
      ck_assert_uint_eq(orig, 0);
    }
  }
  outl(0xcf8, conf1_addr(0, PCI_DEVFN(1, 1), 0x20));
  outl(0xcfc, ~0u);
  ck_assert_uint_eq(inl(0xcfc), 0x0000fff1u);
  outl(0xcfc, IDE_BM_BASE);
  ck_assert_uint_eq(inl(0xcfc), IDE_BM_BASE | 1u);
  /* no expansion ROM, no BARs on the bridges */
  cfg_write(PCI_DEVFN(1, 1), PCI_ROM_ADDRESS, 4, 0xfffff800u);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), PCI_ROM_ADDRESS, 4), 0);
  ck_assert_uint_eq(bar_size(PCI_DEVFN(0, 0), 0, NULL), 0);
  ck_assert_uint_eq(bar_size(PCI_DEVFN(1, 0), 0, NULL), 0);
}
END_TEST

START_TEST(ide_function_as_firmware_leaves_it) {
  uint16_t cmd = (uint16_t)cfg_read(PCI_DEVFN(1, 1), PCI_COMMAND, 2);
  ck_assert_uint_eq(cmd, PCI_COMMAND_IO);
  /* IDETIM decode enable for both channels: ata_piix's enable bits 0x41.7 and 0x43.7 */
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), 0x41, 1) & 0x80, 0x80);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), 0x43, 1) & 0x80, 0x80);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), PCI_INTERRUPT_PIN, 1), 0);
  /* bus master status: not simplex (bit 7), no drive attached here */
  ck_assert_uint_eq(inb(IDE_BM_BASE + 2) & 0x80, 0);
  /* bus mastering is the driver's to turn on (pci_set_master) */
  cfg_write(PCI_DEVFN(1, 1), PCI_COMMAND, 2, cmd | PCI_COMMAND_MASTER);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MASTER);
  /* the memory enable does not exist on this function */
  cfg_write(PCI_DEVFN(1, 1), PCI_COMMAND, 2, 0xffff);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MASTER);
}
END_TEST

START_TEST(io_enable_gates_the_bar) {
  outb(IDE_BM_BASE + 4, 0x10);
  ck_assert_uint_eq(inl(IDE_BM_BASE + 4), 0x10);
  cfg_write(PCI_DEVFN(1, 1), PCI_COMMAND, 2, 0);
  ck_assert_uint_eq(inl(IDE_BM_BASE + 4), ~0u);
  ck_assert_uint_eq(inb(0x1f7), 0xff); /* legacy ports follow the I/O enable too */
  cfg_write(PCI_DEVFN(1, 1), PCI_COMMAND, 2, PCI_COMMAND_IO);
  ck_assert_uint_eq(inl(IDE_BM_BASE + 4), 0x10);
  /* moved BAR: decoded at the new place only */
  cfg_write(PCI_DEVFN(1, 1), 0x20, 4, 0xd000);
  ck_assert_uint_eq(inl(0xd004), 0x10);
  ck_assert_uint_eq(inl(IDE_BM_BASE + 4), ~0u);
  /* outside the host bridge's I/O window: decoded nowhere */
  cfg_write(PCI_DEVFN(1, 1), 0x20, 4, 0x2000);
  ck_assert_uint_eq(inl(0x2004), ~0u);
}
END_TEST

START_TEST(device_bars_decode_in_both_windows) {
  add_dummy(2);
  uint8_t devfn = PCI_DEVFN(2, 0);
  ck_assert_uint_eq(bar_size(devfn, 0, NULL), 32);
  ck_assert_uint_eq(bar_size(devfn, 1, NULL), 4096);
  cfg_write(devfn, PCI_BASE_ADDRESS_0, 4, 0xe000);
  cfg_write(devfn, PCI_BASE_ADDRESS_0 + 4, 4, 0xe0001000u);
  ck_assert_uint_eq(cfg_read(devfn, PCI_BASE_ADDRESS_0 + 4, 4), 0xe0001000u);
  ck_assert_uint_eq(inl(0xe004), ~0u); /* decoding still off */
  cfg_write(devfn, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
  ck_assert_uint_eq(inl(0xe004), 0x104);
  ck_assert_uint_eq(inw(0xe01e), 0x11e);
  /* straddling the BAR's end: the part outside reads as all ones */
  ck_assert_uint_eq(inl(0xe01e), 0xffff1f1eu);
  outw(0xe010, 0xbeef);
  ck_assert_uint_eq(last_write_off, 0x10);
  ck_assert_int_eq(last_write_size, 2);
  ck_assert_uint_eq(last_write_val, 0xbeef);
  uint64_t v = 0;
  ck_assert(mmio_read(&mmio, 0xe0001008u, 4, &v));
  ck_assert_uint_eq(v, 0x108);
  ck_assert(mmio_write(&mmio, 0xe0001ffcu, 4, 0x12345678u));
  ck_assert_uint_eq(last_write_off, 0xffc);
  ck_assert(mmio_read(&mmio, 0xe0002000u, 4, &v));
  ck_assert_uint_eq(v, 0xffffffffu);
}
END_TEST

START_TEST(status_bits_clear_by_writing_one) {
  uint8_t *status = ide.dev.config + PCI_STATUS;
  pci_set_word(status, pci_get_word(status) | PCI_STATUS_REC_MASTER_ABORT);
  cfg_write(PCI_DEVFN(1, 1), PCI_STATUS, 2, 0);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), PCI_STATUS, 2) & 0x2000, 0x2000);
  cfg_write(PCI_DEVFN(1, 1), PCI_STATUS, 2, 0x2000);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 1), PCI_STATUS, 2), 0x0280);
}
END_TEST

START_TEST(intx_goes_through_the_pirq_routes) {
  add_dummy(2); /* slot 2, INTA# -> PIRQB -> IRQ 10 as firmware routed it */
  uint8_t devfn = PCI_DEVFN(2, 0);
  ck_assert_int_eq(piix3_pirq_of(&dummy), 1);
  ck_assert_uint_eq(cfg_read(devfn, PCI_INTERRUPT_PIN, 1), 1);
  ck_assert_uint_eq(cfg_read(devfn, PCI_INTERRUPT_LINE, 1), 10);
  /* the route registers Linux's pirq_piix_get() reads */
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 0), 0x60, 4), 0x0b0b0a0au);
  pci_set_irq(&dummy, 1);
  ck_assert_int_eq(level[10], 1);
  ck_assert_uint_eq(cfg_read(devfn, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
  /* pirq_piix_set(): PIRQB to IRQ 11 moves the level */
  cfg_write(PCI_DEVFN(1, 0), 0x61, 1, 11);
  ck_assert_int_eq(level[10], 0);
  ck_assert_int_eq(level[11], 1);
  cfg_write(PCI_DEVFN(1, 0), 0x61, 1, 0xff);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 0), 0x61, 1), 0x8f);
  ck_assert_int_eq(level[11], 0);
  cfg_write(PCI_DEVFN(1, 0), 0x61, 1, 13); /* not routable */
  ck_assert_int_eq(level[13], 0);
  cfg_write(PCI_DEVFN(1, 0), 0x61, 1, 11);
  ck_assert_int_eq(level[11], 1);
  /* the command register's INTx disable */
  cfg_write(devfn, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
  ck_assert_int_eq(level[11], 0);
  cfg_write(devfn, PCI_COMMAND, 2, 0);
  ck_assert_int_eq(level[11], 1);
  pci_set_irq(&dummy, 0);
  ck_assert_int_eq(level[11], 0);
  ck_assert_uint_eq(cfg_read(devfn, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
  ck_assert_int_eq(edges[11], 3);
}
END_TEST

START_TEST(piix3_registers_and_reset_control) {
  /* Linux's quirk_passive_release sets DLC bit 1 */
  uint8_t dlc = (uint8_t)cfg_read(PCI_DEVFN(1, 0), 0x82, 1);
  cfg_write(PCI_DEVFN(1, 0), 0x82, 1, dlc | 2);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 0), 0x82, 1), dlc | 2);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(1, 0), PCI_COMMAND, 2), 0x0007);
  /* host bridge: PAM as a shadowing BIOS leaves it, SMRAM */
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(0, 0), 0x59, 1), 0x30);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(0, 0), 0x5f, 1), 0x33);
  ck_assert_uint_eq(cfg_read(PCI_DEVFN(0, 0), 0x72, 1), 0x02);
  /* reboot=pci: 0x02 then 0x06 to 0xCF9 */
  outb(0xcf9, 0x02);
  ck_assert_uint_eq(inb(0xcf9), 0x02);
  ck_assert_int_eq(resets, 0);
  outb(0xcf9, 0x06);
  ck_assert_int_eq(resets, 1);
  ck_assert_int_eq(hard_resets, 1);
  outb(0xcf9, 0x04);
  ck_assert_int_eq(resets, 2);
  ck_assert_int_eq(hard_resets, 1);
}
END_TEST

START_TEST(registration_rules) {
  struct pci_device d;
  pci_device_setup(&d, "x", 1, 2, 0, 0, 0);
  ck_assert_int_eq(pci_register_device(&bus, &d, PCI_DEVFN(0, 0)), -EBUSY);
  ck_assert_int_eq(pci_register_device(&bus, &d, PCI_DEVFN(5, 3)), -EINVAL);
  ck_assert_int_eq(pci_bar_init(&d, 0, PCI_BAR_IO, 24, NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(pci_bar_init(&d, 6, PCI_BAR_IO, 16, NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(pci_bar_init(&d, 0, PCI_BAR_MEM32, 8, NULL, NULL, NULL), -EINVAL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pci");
  TCase *tc = tcase_create("pci");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, linux_detects_type1);
  tcase_add_test(tc, config_address_register);
  tcase_add_test(tc, scan_finds_the_chipset_as_linux_does);
  tcase_add_test(tc, data_port_takes_any_size_at_any_offset);
  tcase_add_test(tc, ide_bars_size_as_linux_reads_them);
  tcase_add_test(tc, ide_function_as_firmware_leaves_it);
  tcase_add_test(tc, io_enable_gates_the_bar);
  tcase_add_test(tc, device_bars_decode_in_both_windows);
  tcase_add_test(tc, status_bits_clear_by_writing_one);
  tcase_add_test(tc, intx_goes_through_the_pirq_routes);
  tcase_add_test(tc, piix3_registers_and_reset_control);
  tcase_add_test(tc, registration_rules);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
