/* test_ide.c - the PIIX3 IDE function and ATA disks on temporary image files, driven through
 * the I/O ports as a driver does: IDENTIFY, PIO and DMA reads and writes checked against the
 * file from a second descriptor, LBA48 past 2^28 sectors on a sparse file, FLUSH reaching
 * fdatasync, the error paths, INTRQ and nIEN, the soft reset, and the absent devices. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/ide.h"

#define RAM (2u << 20)
#define SECTORS 4096u /* the primary master's image: 2 MiB */
#define PRDT 0x10000u
#define BUF 0x20000u
#define BM IDE_BM_BASE
#define BIG (((uint64_t)1 << 28) + 4096) /* sectors of the sparse LBA48 image */

static struct ioports io;
static struct mmu mmu;
static struct pci_bus bus;
static struct i440fx host;
static struct piix3 isa;
static struct ide ide;
static char dir[64], img[128];
static int level[16], edges[16];
static struct irq_line lines[16];

static void line_set(void *opaque, int pin, int l) {
  (void)opaque;
  if (l && !level[pin])
    edges[pin]++;
  level[pin] = l;
}

static void outb(uint16_t p, uint8_t v) { ioports_write(&io, p, 1, v); }
static void outw(uint16_t p, uint16_t v) { ioports_write(&io, p, 2, v); }
static void outl(uint16_t p, uint32_t v) { ioports_write(&io, p, 4, v); }
static uint8_t inb(uint16_t p) { return (uint8_t)ioports_read(&io, p, 1); }
static uint16_t inw(uint16_t p) { return (uint16_t)ioports_read(&io, p, 2); }
static uint32_t inl(uint16_t p) { return ioports_read(&io, p, 4); }

static uint8_t pattern(uint64_t lba, unsigned i) {
  return (uint8_t)(lba * 31 + i * 7 + (lba >> 8) + 1);
}

static void make_image(const char *path, uint64_t sectors, bool fill) {
  int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(ftruncate(fd, (off_t)(sectors * 512)), 0);
  if (fill) {
    uint8_t s[512];
    for (uint64_t lba = 0; lba < sectors; lba++) {
      for (unsigned i = 0; i < 512; i++)
        s[i] = pattern(lba, i);
      ck_assert_int_eq(pwrite(fd, s, 512, (off_t)(lba * 512)), 512);
    }
  }
  close(fd);
}

/* What the file holds, through a descriptor of its own. */
static void file_read(const char *path, uint64_t lba, void *buf, size_t len) {
  int fd = open(path, O_RDONLY);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(pread(fd, buf, len, (off_t)(lba * 512)), (ssize_t)len);
  close(fd);
}

static void check_pattern(const uint8_t *buf, uint64_t lba, unsigned sectors) {
  for (unsigned s = 0; s < sectors; s++)
    for (unsigned i = 0; i < 512; i++)
      ck_assert_msg(buf[s * 512 + i] == pattern(lba + s, i), "sector %llu byte %u",
                    (unsigned long long)(lba + s), i);
}

static void cfg_write(uint8_t devfn, unsigned reg, int len, uint32_t v) {
  outl(0xcf8, 0x80000000u | (uint32_t)devfn << 8 | (reg & 0xfc));
  ioports_write(&io, (uint16_t)(0xcfc + (reg & 3)), len, v);
}

static uint32_t cfg_read(uint8_t devfn, unsigned reg, int len) {
  outl(0xcf8, 0x80000000u | (uint32_t)devfn << 8 | (reg & 0xfc));
  return ioports_read(&io, (uint16_t)(0xcfc + (reg & 3)), len);
}

/* ---- a driver's view of a channel ---- */

static uint16_t cb = IDE_PRIMARY_BASE, ctl = IDE_PRIMARY_CTL;

static void select_dev(int dev) { outb(cb + 6, (uint8_t)(0xe0 | dev << 4)); }
static uint8_t status(void) { return inb(cb + 7); }
static uint8_t altstatus(void) { return inb(ctl); }
static uint8_t error_reg(void) { return inb(cb + 1); }
static void command(uint8_t c) { outb(cb + 7, c); }

static void lba28(uint32_t lba, uint8_t count) {
  outb(cb + 2, count);
  outb(cb + 3, (uint8_t)lba);
  outb(cb + 4, (uint8_t)(lba >> 8));
  outb(cb + 5, (uint8_t)(lba >> 16));
  outb(cb + 6, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
}

static void lba48(uint64_t lba, uint16_t count) {
  outb(cb + 2, (uint8_t)(count >> 8));
  outb(cb + 3, (uint8_t)(lba >> 24));
  outb(cb + 4, (uint8_t)(lba >> 32));
  outb(cb + 5, (uint8_t)(lba >> 40));
  outb(cb + 2, (uint8_t)count);
  outb(cb + 3, (uint8_t)lba);
  outb(cb + 4, (uint8_t)(lba >> 8));
  outb(cb + 5, (uint8_t)(lba >> 16));
  outb(cb + 6, 0x40);
}

static uint32_t reg_lba28(void) {
  return (uint32_t)inb(cb + 3) | (uint32_t)inb(cb + 4) << 8 | (uint32_t)inb(cb + 5) << 16 |
         (uint32_t)(inb(cb + 6) & 0x0f) << 24;
}

static void pio_in(uint8_t *buf, unsigned bytes) {
  for (unsigned i = 0; i < bytes; i += 2) {
    uint16_t w = inw(cb);
    buf[i] = (uint8_t)w;
    buf[i + 1] = (uint8_t)(w >> 8);
  }
}

static void pio_out(const uint8_t *buf, unsigned bytes) {
  for (unsigned i = 0; i < bytes; i += 2)
    outw(cb, (uint16_t)(buf[i] | buf[i + 1] << 8));
}

static void identify(uint16_t *id) {
  command(0xec);
  ck_assert_uint_eq(status(), 0x58);
  for (int i = 0; i < 256; i++)
    id[i] = inw(cb);
  ck_assert_uint_eq(altstatus(), 0x50);
}

static void id_string(const uint16_t *id, int word, int words, char *out) {
  for (int i = 0; i < words; i++) {
    out[2 * i] = (char)(id[word + i] >> 8);
    out[2 * i + 1] = (char)id[word + i];
  }
  out[2 * words] = 0;
  for (int i = 2 * words - 1; i >= 0 && out[i] == ' '; i--)
    out[i] = 0;
}

/* A non-data command: the status it completes with, its interrupt taken. */
static uint8_t simple(uint8_t cmd) {
  command(cmd);
  ck_assert_int_eq(level[cb == IDE_PRIMARY_BASE ? 14 : 15], 1);
  return status();
}

static void prd(int i, uint32_t addr, uint32_t count, bool last) {
  uint8_t e[8];
  pci_set_long(e, addr);
  pci_set_long(e + 4, (count & 0xffff) | (last ? 0x80000000u : 0));
  ck_assert(mmu_phys_write(&mmu, PRDT + 8u * (unsigned)i, e, 8));
}

static void bus_master_on(void) {
  cfg_write(IDE_DEVFN, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
}

static struct ide_drive *hda(void) { return &ide.ch[0].drive[0]; }

/* The images live in one folder made before the tests fork and removed after they all ran,
 * so a failing test (whose teardown does not run) leaves nothing behind. */
static void make_dir(void) {
  strcpy(dir, "/tmp/bt386-ide-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", dir);
}

static void setup(void) {
  cb = IDE_PRIMARY_BASE;
  ctl = IDE_PRIMARY_CTL;
  snprintf(img, sizeof(img), "%s/hda.img", dir);
  make_image(img, SECTORS, true);
  for (int i = 0; i < 16; i++) {
    lines[i] = (struct irq_line){line_set, NULL, i};
    level[i] = edges[i] = 0;
  }
  ck_assert_int_eq(mmu_init(&mmu, RAM), 0);
  ioports_init(&io, false, NULL);
  ck_assert_int_eq(pci_bus_init(&bus, &io, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_LEN, NULL, 0, 0), 0);
  ck_assert_int_eq(i440fx_init(&host, &bus), 0);
  ck_assert_int_eq(piix3_init(&isa, &bus, NULL, PIIX3_BIOS_PIRQ, NULL, NULL), 0);
  ck_assert_int_eq(ide_init(&ide, &bus, &io, &mmu, &lines[14], &lines[15], IDE_BM_BASE), 0);
  ck_assert_int_eq(ide_attach_disk(&ide, 0, 0, img), 0);
}

static void teardown(void) {
  ide_exit(&ide);
  piix3_exit(&isa);
  i440fx_exit(&host);
  pci_bus_exit(&bus);
  mmu_exit(&mmu);
}

START_TEST(identify_reports_the_disk) {
  ck_assert_uint_eq(altstatus(), 0x50);
  select_dev(0);
  command(0xec);
  ck_assert_uint_eq(altstatus(), 0x58);
  ck_assert_int_eq(level[14], 1);
  ck_assert_uint_eq(status(), 0x58);
  ck_assert_int_eq(level[14], 0);
  uint16_t id[256];
  for (int i = 0; i < 256; i++)
    id[i] = inw(cb);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_int_eq(edges[14], 1);

  char s[41];
  id_string(id, 27, 20, s);
  ck_assert_str_eq(s, "bt386 HARDDISK");
  id_string(id, 10, 10, s);
  ck_assert_str_eq(s, "BT00001");
  id_string(id, 23, 4, s);
  ck_assert_str_eq(s, "1.0");
  ck_assert_uint_eq(id[0], 0x0040);
  ck_assert_uint_eq(id[1], SECTORS / (16 * 63));
  ck_assert_uint_eq(id[3], 16);
  ck_assert_uint_eq(id[6], 63);
  ck_assert_uint_eq(id[53] & 7, 7);
  ck_assert_uint_eq(id[54], SECTORS / (16 * 63));
  ck_assert_uint_eq(id[57] | (uint32_t)id[58] << 16, (SECTORS / 1008) * 1008);
  ck_assert_uint_eq(id[47], 0x8010);
  ck_assert_uint_eq(id[59], 0x0110);
  ck_assert_uint_eq(id[49] & 0x0300, 0x0300); /* LBA and DMA */
  ck_assert_uint_eq(id[60] | (uint32_t)id[61] << 16, SECTORS);
  uint64_t lba48_cap = 0;
  for (int i = 0; i < 4; i++)
    lba48_cap |= (uint64_t)id[100 + i] << (16 * i);
  ck_assert_uint_eq(lba48_cap, SECTORS);
  ck_assert_uint_eq(id[83] & 0xc400, 0x4400); /* LBA48 supported */
  ck_assert_uint_eq(id[86] & 0x0400, 0x0400); /* and enabled */
  ck_assert_uint_eq(id[83] & 0x3000, 0x3000); /* FLUSH CACHE and FLUSH CACHE EXT */
  ck_assert_uint_eq(id[82] & 0x0020, 0x0020); /* write cache, */
  ck_assert_uint_eq(id[85] & 0x0020, 0x0020); /* enabled */
  ck_assert_uint_eq(id[80] & 0x0040, 0x0040); /* ATA-6 or later */
  /* DMA modes: MWDMA 0-2 with mode 2 selected, UDMA 0-2 none selected: one mode selected */
  ck_assert_uint_eq(id[63], 0x0407);
  ck_assert_uint_eq(id[88], 0x0007);
  ck_assert_uint_eq(id[64], 0x0003);
  ck_assert_uint_eq(id[93] & 0x6000, 0x4000); /* no 80-conductor cable claimed */
  uint8_t sum = 0;
  for (int i = 0; i < 256; i++)
    sum = (uint8_t)(sum + (id[i] & 0xff) + (id[i] >> 8));
  ck_assert_uint_eq(id[255] & 0xff, 0xa5);
  ck_assert_uint_eq(sum, 0);
}
END_TEST

START_TEST(pio_write_then_read) {
  uint8_t data[3 * 512], back[3 * 512];
  for (unsigned i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i * 13 + 5);
  lba28(100, 3);
  command(0x30);
  ck_assert_uint_eq(altstatus(), 0x58);
  ck_assert_int_eq(edges[14], 0); /* no interrupt before the first block of a PIO write */
  for (int b = 0; b < 3; b++) {
    pio_out(data + 512 * b, 512);
    ck_assert_int_eq(edges[14], b + 1);
    ck_assert_uint_eq(status(), b < 2 ? 0x58 : 0x50);
  }
  file_read(img, 100, back, sizeof(back));
  ck_assert_mem_eq(back, data, sizeof(data));
  file_read(img, 99, back, 512);
  check_pattern(back, 99, 1);
  file_read(img, 103, back, 512);
  check_pattern(back, 103, 1);

  memset(back, 0, sizeof(back));
  lba28(100, 3);
  command(0x20);
  for (int b = 0; b < 3; b++) {
    ck_assert_int_eq(level[14], 1);
    ck_assert_uint_eq(status(), 0x58);
    pio_in(back + 512 * b, 512);
  }
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_int_eq(level[14], 0);
  ck_assert_int_eq(edges[14], 6);
  ck_assert_mem_eq(back, data, sizeof(data));
}
END_TEST

START_TEST(pio_dword_transfers) {
  uint8_t back[512];
  lba28(7, 1);
  command(0x20);
  ck_assert_uint_eq(status(), 0x58);
  for (int i = 0; i < 128; i++) {
    uint32_t v = inl(cb);
    memcpy(back + 4 * i, &v, 4);
  }
  ck_assert_uint_eq(status(), 0x50);
  check_pattern(back, 7, 1);
}
END_TEST

START_TEST(multiple_mode_blocks) {
  outb(cb + 2, 4);
  ck_assert_uint_eq(simple(0xc6), 0x50);
  uint16_t id[256];
  identify(id);
  ck_assert_uint_eq(id[59], 0x0104);

  uint8_t buf[10 * 512];
  int e0 = edges[14];
  lba28(10, 10);
  command(0xc4);
  unsigned blocks[3] = {4, 4, 2}, off = 0;
  for (int b = 0; b < 3; b++) {
    ck_assert_int_eq(edges[14], e0 + b + 1); /* one interrupt per block */
    ck_assert_uint_eq(status(), 0x58);
    pio_in(buf + off, blocks[b] * 512);
    off += blocks[b] * 512;
  }
  ck_assert_uint_eq(status(), 0x50);
  check_pattern(buf, 10, 10);

  uint8_t data[6 * 512];
  for (unsigned i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i ^ 0x5a);
  e0 = edges[14];
  lba28(20, 6);
  command(0xc5);
  ck_assert_uint_eq(altstatus(), 0x58);
  pio_out(data, 4 * 512);
  ck_assert_int_eq(edges[14], e0 + 1);
  ck_assert_uint_eq(status(), 0x58);
  pio_out(data + 4 * 512, 2 * 512);
  ck_assert_int_eq(edges[14], e0 + 2);
  ck_assert_uint_eq(status(), 0x50);
  file_read(img, 20, buf, sizeof(data));
  ck_assert_mem_eq(buf, data, sizeof(data));

  outb(cb + 2, 3); /* not a power of two */
  ck_assert_uint_eq(simple(0xc6), 0x51);
  ck_assert_uint_eq(error_reg(), 0x04);
  outb(cb + 2, 32); /* more than IDENTIFY word 47 allows */
  ck_assert_uint_eq(simple(0xc6), 0x51);
  outb(cb + 2, 0); /* multiple mode off: READ MULTIPLE is aborted */
  ck_assert_uint_eq(simple(0xc6), 0x50);
  lba28(0, 1);
  ck_assert_uint_eq(simple(0xc4), 0x51);
  ck_assert_uint_eq(error_reg(), 0x04);
  identify(id);
  ck_assert_uint_eq(id[59], 0x0100);
}
END_TEST

/* Put a sparse disk of BIG sectors on the secondary master and talk to it. */
static char big[128];

static void use_big_disk(void) {
  snprintf(big, sizeof(big), "%s/big.img", dir);
  make_image(big, BIG, false);
  ck_assert_int_eq(ide_attach_disk(&ide, 1, 0, big), 0);
  cb = IDE_SECONDARY_BASE;
  ctl = IDE_SECONDARY_CTL;
}

START_TEST(lba48_beyond_2_28) {
  use_big_disk();
  uint16_t id[256];
  select_dev(0);
  identify(id);
  ck_assert_int_eq(edges[15], 1);
  ck_assert_int_eq(edges[14], 0);
  ck_assert_uint_eq(id[60] | (uint32_t)id[61] << 16, 0x0fffffffu);
  uint64_t cap = 0;
  for (int i = 0; i < 4; i++)
    cap |= (uint64_t)id[100 + i] << (16 * i);
  ck_assert_uint_eq(cap, BIG);
  ck_assert_uint_eq(id[1], 16383);

  uint64_t lba = ((uint64_t)1 << 28) + 5;
  uint8_t data[2 * 512], back[2 * 512];
  for (unsigned i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i * 3 + 1);
  lba48(lba, 2);
  /* HOB: the previous writes read back */
  outb(ctl, 0x80);
  ck_assert_uint_eq(inb(cb + 3), (uint8_t)(lba >> 24));
  ck_assert_uint_eq(inb(cb + 2), 0);
  outb(ctl, 0x00);
  ck_assert_uint_eq(inb(cb + 3), (uint8_t)lba);
  ck_assert_uint_eq(inb(cb + 2), 2);
  command(0x34);
  ck_assert_uint_eq(altstatus(), 0x58);
  pio_out(data, 512);
  ck_assert_uint_eq(status(), 0x58);
  pio_out(data + 512, 512);
  ck_assert_uint_eq(status(), 0x50);
  file_read(big, lba, back, sizeof(back));
  ck_assert_mem_eq(back, data, sizeof(data));
  file_read(big, lba & 0x0fffffff, back, 512); /* not where a 28-bit address would land */
  for (int i = 0; i < 512; i++)
    ck_assert_uint_eq(back[i], 0);

  memset(back, 0, sizeof(back));
  lba48(lba, 2);
  command(0x24);
  ck_assert_uint_eq(status(), 0x58);
  pio_in(back, 512);
  ck_assert_uint_eq(status(), 0x58);
  pio_in(back + 512, 512);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_mem_eq(back, data, sizeof(data));

  /* DMA through the secondary channel's half of the bus master */
  bus_master_on();
  prd(0, BUF, 1024, true);
  outl(BM + 8 + 4, PRDT);
  outb(BM + 8, 0x08);
  lba48(lba, 2);
  command(0x25);
  outb(BM + 8, 0x09);
  ck_assert_uint_eq(inb(BM + 8 + 2) & 0x07, 0x04);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_mem_eq(mmu_phys_ptr(&mmu, BUF, 1024), data, sizeof(data));

  /* 28-bit commands reach sector 0x0FFFFFFE and no further */
  lba28(0x0ffffffe, 1);
  command(0x20);
  ck_assert_uint_eq(status(), 0x58);
  pio_in(back, 512);
  lba28(0x0fffffff, 1);
  ck_assert_uint_eq(simple(0x20), 0x51);
  ck_assert_uint_eq(error_reg(), 0x10);
  /* past the end of the disk: IDNF, the first missing sector in the registers */
  lba48(BIG - 1, 2);
  ck_assert_uint_eq(simple(0x24), 0x51);
  ck_assert_uint_eq(error_reg(), 0x10);
  uint64_t at = inb(cb + 3) | (uint64_t)inb(cb + 4) << 8 | (uint64_t)inb(cb + 5) << 16;
  outb(ctl, 0x80);
  at |= (uint64_t)inb(cb + 3) << 24 | (uint64_t)inb(cb + 4) << 32 | (uint64_t)inb(cb + 5) << 40;
  outb(ctl, 0x00);
  ck_assert_uint_eq(at, BIG);
}
END_TEST

/* Prepare a DMA read of n sectors at lba into a two-entry PRD table: 512 bytes at BUF, the
 * rest at BUF + 0x1000. */
static void dma_setup(uint8_t bm_cmd) {
  outl(BM + 4, PRDT);
  outb(BM + 2, inb(BM + 2)); /* clear Error and Interrupt, as libata does */
  outb(BM, bm_cmd);
}

START_TEST(dma_read_and_write) {
  bus_master_on();
  ck_assert_uint_eq(inb(BM + 2), 0x20); /* drive 0 DMA capable, as firmware found it */
  prd(0, BUF, 512, false);
  prd(1, BUF + 0x1000, 1024, true);
  dma_setup(0x08);
  lba28(200, 3);
  command(0xc8);
  ck_assert_uint_eq(altstatus(), 0x58); /* waiting for the bus master */
  ck_assert_int_eq(level[14], 0);
  outb(BM, 0x09);
  ck_assert_uint_eq(inb(BM + 2), 0x24); /* Active clear (the table ended with the data), INTR */
  ck_assert_int_eq(level[14], 1);
  ck_assert_uint_eq(status(), 0x50);
  outb(BM, 0x08);
  outb(BM + 2, inb(BM + 2)); /* ata_bmdma_irq_clear() */
  ck_assert_uint_eq(inb(BM + 2), 0x20);
  outb(BM + 2, 0x00); /* the DMA-capable bits are plain storage */
  ck_assert_uint_eq(inb(BM + 2), 0x00);
  outb(BM + 2, 0x20);
  check_pattern(mmu_phys_ptr(&mmu, BUF, 512), 200, 1);
  check_pattern(mmu_phys_ptr(&mmu, BUF + 0x1000, 1024), 201, 2);

  uint8_t data[3 * 512], back[3 * 512];
  for (unsigned i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i * 11 + 3);
  ck_assert(mmu_phys_write(&mmu, BUF, data, 512));
  ck_assert(mmu_phys_write(&mmu, BUF + 0x1000, data + 512, 1024));
  dma_setup(0x00);
  lba28(300, 3);
  command(0xca);
  outb(BM, 0x01);
  ck_assert_uint_eq(inb(BM + 2), 0x24);
  ck_assert_uint_eq(status(), 0x50);
  outb(BM, 0x00);
  file_read(img, 300, back, sizeof(back));
  ck_assert_mem_eq(back, data, sizeof(data));

  /* WRITE DMA EXT and READ DMA EXT */
  for (unsigned i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)~data[i];
  ck_assert(mmu_phys_write(&mmu, BUF, data, 512));
  ck_assert(mmu_phys_write(&mmu, BUF + 0x1000, data + 512, 1024));
  dma_setup(0x00);
  lba48(400, 3);
  command(0x35);
  outb(BM, 0x01);
  ck_assert_uint_eq(status(), 0x50);
  file_read(img, 400, back, sizeof(back));
  ck_assert_mem_eq(back, data, sizeof(data));
  memset(mmu_phys_ptr(&mmu, BUF, 0x2000), 0, 0x2000);
  dma_setup(0x08);
  lba48(400, 3);
  command(0x25);
  outb(BM, 0x09);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_mem_eq(mmu_phys_ptr(&mmu, BUF, 512), data, 512);
  ck_assert_mem_eq(mmu_phys_ptr(&mmu, BUF + 0x1000, 1024), data + 512, 1024);
}
END_TEST

START_TEST(dma_needs_bus_mastering_and_start) {
  prd(0, BUF, 1024, true);
  dma_setup(0x08);
  lba28(50, 2);
  command(0xc8);
  outb(BM, 0x09);
  /* bus mastering is still off in the command register: nothing moves */
  ck_assert_uint_eq(altstatus(), 0x58);
  ck_assert_uint_eq(inb(BM + 2), 0x21);
  ck_assert_uint_eq(mmu_phys_ptr(&mmu, BUF, 1)[0], 0);
  bus_master_on();
  ck_assert_uint_eq(inb(BM + 2), 0x24);
  ck_assert_uint_eq(status(), 0x50);
  check_pattern(mmu_phys_ptr(&mmu, BUF, 1024), 50, 2);

  /* the bus master started before the command: the data move when the command comes */
  outb(BM, 0x08);
  memset(mmu_phys_ptr(&mmu, BUF, 1024), 0, 1024);
  dma_setup(0x09);
  ck_assert_uint_eq(inb(BM + 2), 0x21);
  lba28(60, 2);
  command(0xc8);
  ck_assert_uint_eq(status(), 0x50);
  check_pattern(mmu_phys_ptr(&mmu, BUF, 1024), 60, 2);
  /* a DMA command while the drive waits for its data is lost */
}
END_TEST

START_TEST(dma_prd_table_longer_or_shorter) {
  bus_master_on();
  /* more room than data: Active stays set, the interrupt comes */
  prd(0, BUF, 4096, true);
  dma_setup(0x08);
  lba28(0, 2);
  command(0xc8);
  outb(BM, 0x09);
  ck_assert_uint_eq(inb(BM + 2), 0x25);
  ck_assert_uint_eq(status(), 0x50);
  outb(BM, 0x08);
  ck_assert_uint_eq(inb(BM + 2) & 1, 0);

  /* less room than data: Active clears, no interrupt, the drive keeps waiting */
  prd(0, BUF, 512, true);
  dma_setup(0x08);
  lba28(0, 2);
  int e0 = edges[14];
  command(0xc8);
  outb(BM, 0x09);
  ck_assert_uint_eq(inb(BM + 2), 0x20);
  ck_assert_int_eq(edges[14], e0);
  ck_assert_uint_eq(altstatus(), 0x58);
  /* the driver gives it the rest */
  outb(BM, 0x08);
  prd(0, BUF + 0x1000, 512, true);
  outb(BM, 0x09);
  ck_assert_uint_eq(inb(BM + 2), 0x24);
  ck_assert_uint_eq(status(), 0x50);
  check_pattern(mmu_phys_ptr(&mmu, BUF, 512), 0, 1);
  check_pattern(mmu_phys_ptr(&mmu, BUF + 0x1000, 512), 1, 1);

  /* a count of 0 is 64 KiB */
  prd(0, BUF, 0, true);
  dma_setup(0x08);
  lba28(1000, 128);
  command(0xc8);
  outb(BM, 0x09);
  ck_assert_uint_eq(inb(BM + 2), 0x24);
  ck_assert_uint_eq(status(), 0x50);
  check_pattern(mmu_phys_ptr(&mmu, BUF, 65536), 1000, 128);
}
END_TEST

START_TEST(dma_outside_ram_is_a_master_abort) {
  bus_master_on();
  prd(0, 0x40000000u, 1024, true);
  dma_setup(0x08);
  lba28(0, 2);
  command(0xc8);
  outb(BM, 0x09);
  ck_assert_uint_eq(inb(BM + 2) & 0x07, 0x06); /* Error, not Active, and the drive's interrupt */
  ck_assert_uint_eq(status(), 0x51);
  ck_assert_uint_eq(error_reg(), 0x04);
  ck_assert_uint_eq(cfg_read(IDE_DEVFN, PCI_STATUS, 2) & PCI_STATUS_REC_MASTER_ABORT,
                    PCI_STATUS_REC_MASTER_ABORT);
  /* a PRD table outside RAM too */
  outb(BM, 0x00);
  outl(BM + 4, 0x7ffff000u);
  outb(BM + 2, 0x06);
  lba28(0, 1);
  command(0xc8);
  outb(BM, 0x09);
  ck_assert_uint_eq(inb(BM + 2) & 0x03, 0x02);
  ck_assert_uint_eq(status(), 0x51);
}
END_TEST

static int code_writes;
static uint32_t code_page_hit;
static void on_code_write(void *opaque, uint32_t page) {
  (void)opaque;
  code_writes++;
  code_page_hit = page;
}

START_TEST(dma_over_translated_code_drops_it) {
  mmu.code_write = on_code_write;
  mmu.code_page[(BUF + 0x1000) >> 12] = 1;
  bus_master_on();
  prd(0, BUF, 512, false);
  prd(1, BUF + 0x1000, 512, true);
  dma_setup(0x08);
  lba28(5, 2);
  command(0xc8);
  outb(BM, 0x09);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_int_eq(code_writes, 1);
  ck_assert_uint_eq(code_page_hit, (BUF + 0x1000) >> 12);
}
END_TEST

START_TEST(flush_reaches_the_file) {
  uint8_t data[512], back[512];
  for (unsigned i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(0xa0 ^ i);
  lba28(42, 1);
  command(0x30);
  pio_out(data, 512);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_uint_eq(hda()->disk.stat_flushes, 0); /* write cache on: no sync yet */
  ck_assert_uint_eq(simple(0xe7), 0x50);
  ck_assert_uint_eq(hda()->disk.stat_flushes, 1);
  file_read(img, 42, back, 512);
  ck_assert_mem_eq(back, data, 512);
  ck_assert_uint_eq(simple(0xea), 0x50);
  ck_assert_uint_eq(hda()->disk.stat_flushes, 2);

  /* write cache off: SET FEATURES flushes, and so does every write */
  outb(cb + 1, 0x82);
  ck_assert_uint_eq(simple(0xef), 0x50);
  ck_assert_uint_eq(hda()->disk.stat_flushes, 3);
  uint16_t id[256];
  identify(id);
  ck_assert_uint_eq(id[85] & 0x20, 0);
  lba28(43, 1);
  command(0x30);
  pio_out(data, 512);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_uint_eq(hda()->disk.stat_flushes, 4);

  /* fdatasync failing (a pipe cannot be synced) fails the FLUSH */
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  ck_assert_int_ge(dup2(p[1], hda()->disk.fd), 0);
  ck_assert_uint_eq(simple(0xe7), 0x71); /* DRDY DF DSC ERR */
  ck_assert_uint_eq(error_reg(), 0x04);
}
END_TEST

START_TEST(write_error_is_a_device_fault) {
  int ro = open(img, O_RDONLY);
  ck_assert_int_ge(ro, 0);
  ck_assert_int_ge(dup2(ro, hda()->disk.fd), 0);
  uint8_t data[512] = {1, 2, 3};
  lba28(77, 1);
  command(0x30);
  pio_out(data, 512);
  ck_assert_int_eq(level[14], 1);
  ck_assert_uint_eq(status(), 0x71);
  ck_assert_uint_eq(error_reg(), 0x04);
  ck_assert_uint_eq(reg_lba28(), 77);
  /* reads still work */
  uint8_t back[512];
  lba28(77, 1);
  command(0x20);
  ck_assert_uint_eq(status(), 0x58);
  pio_in(back, 512);
  check_pattern(back, 77, 1);
}
END_TEST

START_TEST(bad_addresses_and_commands) {
  lba28(SECTORS, 1);
  ck_assert_uint_eq(simple(0x20), 0x51);
  ck_assert_uint_eq(error_reg(), 0x10); /* IDNF */
  ck_assert_uint_eq(reg_lba28(), SECTORS);
  ck_assert_int_eq(level[14], 0);
  lba28(SECTORS - 1, 2);
  ck_assert_uint_eq(simple(0x30), 0x51);
  ck_assert_uint_eq(error_reg(), 0x10);
  ck_assert_uint_eq(reg_lba28(), SECTORS);
  lba28(SECTORS - 1, 2);
  ck_assert_uint_eq(simple(0xc8), 0x51);
  ck_assert_uint_eq(error_reg(), 0x10);
  lba28(SECTORS - 1, 1);
  command(0x20);
  ck_assert_uint_eq(status(), 0x58);
  uint8_t back[512];
  pio_in(back, 512);
  check_pattern(back, SECTORS - 1, 1);
  ck_assert_uint_eq(status(), 0x50);

  static const uint8_t unknown[] = {0xff, 0x00, 0xa1, 0xa0, 0x08, 0xb0, 0xf8, 0x27, 0x2f};
  for (unsigned i = 0; i < sizeof(unknown); i++) {
    ck_assert_uint_eq(simple(unknown[i]), 0x51);
    ck_assert_uint_eq(error_reg(), 0x04);
  }
  /* SET FEATURES: an unknown subcommand, single-word DMA, modes beyond what is advertised */
  static const uint8_t features[][2] = {{0x42, 0}, {0x03, 0x12}, {0x03, 0x45}, {0x03, 0x23},
                                         {0x03, 0x0d}};
  for (unsigned i = 0; i < sizeof(features) / 2; i++) {
    outb(cb + 1, features[i][0]);
    outb(cb + 2, features[i][1]);
    ck_assert_uint_eq(simple(0xef), 0x51);
    ck_assert_uint_eq(error_reg(), 0x04);
  }
  /* a good command clears the error */
  ck_assert_uint_eq(simple(0xe5), 0x50);
  ck_assert_uint_eq(error_reg(), 0x00);
}
END_TEST

static char *capture_attach(int channel, int unit, const char *path, int *ret) {
  char log[160];
  snprintf(log, sizeof(log), "%s/stderr.txt", dir);
  fflush(stderr);
  int saved = dup(2);
  int fd = open(log, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  dup2(fd, 2);
  *ret = ide_attach_disk(&ide, channel, unit, path);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  static char text[512];
  memset(text, 0, sizeof(text));
  FILE *f = fopen(log, "r");
  if (f) {
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = 0;
    fclose(f);
  }
  return text;
}

START_TEST(bad_images_are_refused) {
  int ret;
  char path[160];
  snprintf(path, sizeof(path), "%s/missing.img", dir);
  char *msg = capture_attach(1, 0, path, &ret);
  ck_assert_int_eq(ret, -ENOENT);
  ck_assert_ptr_nonnull(strstr(msg, path));
  ck_assert_ptr_nonnull(strstr(msg, "No such file"));

  snprintf(path, sizeof(path), "%s/odd.img", dir);
  int fd = open(path, O_CREAT | O_WRONLY, 0644);
  ck_assert_int_eq(ftruncate(fd, 1024 * 1024 + 100), 0);
  close(fd);
  msg = capture_attach(1, 0, path, &ret);
  ck_assert_int_eq(ret, -EINVAL);
  ck_assert_ptr_nonnull(strstr(msg, path));
  ck_assert_ptr_nonnull(strstr(msg, "not a whole number of 512-byte sectors"));

  snprintf(path, sizeof(path), "%s/tiny.img", dir);
  make_image(path, 0, false);
  msg = capture_attach(1, 0, path, &ret);
  ck_assert_int_eq(ret, -EINVAL);
  ck_assert_ptr_nonnull(strstr(msg, path));
  ck_assert_ptr_nonnull(strstr(msg, "empty"));

  msg = capture_attach(1, 0, dir, &ret); /* a directory */
  ck_assert_int_lt(ret, 0);
  ck_assert_ptr_nonnull(strstr(msg, dir));

  msg = capture_attach(1, 0, img, &ret); /* in use: the primary master has it */
  ck_assert_int_eq(ret, -EBUSY);
  ck_assert_ptr_nonnull(strstr(msg, "in use"));

  make_image(path, 1000, false); /* less than a cylinder of 16 x 63: 1 head, 63 sectors */
  capture_attach(1, 0, path, &ret);
  ck_assert_int_eq(ret, 0);
  capture_attach(1, 0, path, &ret);
  ck_assert_int_eq(ret, -EBUSY);
  ck_assert_int_eq(ide_attach_disk(&ide, 2, 0, path), -EINVAL);
  /* nothing was left behind by the refusals: the secondary master works */
  cb = IDE_SECONDARY_BASE;
  ctl = IDE_SECONDARY_CTL;
  uint16_t id[256];
  identify(id);
  ck_assert_uint_eq(id[60], 1000);
  ck_assert_uint_eq(id[1], 15); /* 15 x 1 x 63 = 945 sectors by CHS, all 1,000 by LBA */
  ck_assert_uint_eq(id[3], 1);
  ck_assert_uint_eq(id[6], 63);
}
END_TEST

START_TEST(interrupt_line_nien_and_selection) {
  outb(ctl, 0x02); /* nIEN */
  command(0xe5);
  ck_assert_int_eq(level[14], 0);
  ck_assert_uint_eq(altstatus(), 0x50);
  outb(ctl, 0x00); /* the pending interrupt shows once INTRQ is enabled */
  ck_assert_int_eq(level[14], 1);
  ck_assert_uint_eq(altstatus(), 0x50); /* the alternate status does not clear it */
  ck_assert_int_eq(level[14], 1);
  ck_assert_uint_eq(inb(BM + 2) & 0x04, 0x04); /* the bus master saw the edge */
  status();
  ck_assert_int_eq(level[14], 0);

  command(0xe5);
  ck_assert_int_eq(level[14], 1);
  select_dev(1); /* device 0 releases INTRQ when not selected */
  ck_assert_int_eq(level[14], 0);
  select_dev(0);
  ck_assert_int_eq(level[14], 1);
  ck_assert_int_eq(edges[14], 3);
  command(0xe5); /* writing the command register clears the old one first */
  ck_assert_int_eq(edges[14], 4);
  status();
  ck_assert_int_eq(level[14], 0);
  ck_assert_int_eq(level[15], 0);
}
END_TEST

START_TEST(soft_reset_gives_the_signature) {
  outb(cb + 1, 0x12);
  outb(cb + 2, 0x34);
  outb(cb + 3, 0x56);
  outb(cb + 4, 0x78);
  outb(cb + 5, 0x9a);
  lba28(10, 2);
  command(0x20); /* in the middle of a PIO read */
  ck_assert_uint_eq(status(), 0x58);
  outb(ctl, 0x04 | 0x02);
  ck_assert_uint_eq(altstatus(), 0x80);
  ck_assert_uint_eq(inb(cb + 2), 0x80); /* busy: registers read as status */
  command(0xec); /* ignored while busy */
  outb(ctl, 0x02);
  ck_assert_uint_eq(altstatus(), 0x50);
  ck_assert_uint_eq(inb(cb + 1), 0x01);
  ck_assert_uint_eq(inb(cb + 2), 0x01);
  ck_assert_uint_eq(inb(cb + 3), 0x01);
  ck_assert_uint_eq(inb(cb + 4), 0x00);
  ck_assert_uint_eq(inb(cb + 5), 0x00);
  ck_assert_uint_eq(inb(cb + 6), 0x00);
  outb(ctl, 0x00);
  ck_assert_int_eq(level[14], 0); /* no interrupt after SRST */
  ck_assert_uint_eq(inw(cb), 0xffff); /* the aborted transfer is gone */
  ck_assert_uint_eq(status(), 0x50);
  /* settings survive it (revert to defaults is off) */
  outb(cb + 2, 8);
  ck_assert_uint_eq(simple(0xc6), 0x50);
  outb(ctl, 0x04);
  outb(ctl, 0x00);
  uint16_t id[256];
  identify(id);
  ck_assert_uint_eq(id[59], 0x0108);
  /* ... unless SET FEATURES CCh asked for the defaults back */
  outb(cb + 1, 0xcc);
  ck_assert_uint_eq(simple(0xef), 0x50);
  outb(ctl, 0x04);
  outb(ctl, 0x00);
  identify(id);
  ck_assert_uint_eq(id[59], 0x0110);
  /* EXECUTE DEVICE DIAGNOSTIC: the signature again, with an interrupt */
  outb(cb + 2, 0x77);
  select_dev(1);
  command(0x90);
  ck_assert_int_eq(level[14], 1);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_uint_eq(inb(cb + 1), 0x01);
  ck_assert_uint_eq(inb(cb + 2), 0x01);
}
END_TEST

START_TEST(absent_devices) {
  /* device 1 of the primary: device 0 answers with status 00h, as libata expects */
  select_dev(1);
  ck_assert_uint_eq(status(), 0x00);
  ck_assert_uint_eq(altstatus(), 0x00);
  outb(cb + 2, 0x55);
  outb(cb + 3, 0xaa);
  ck_assert_uint_eq(inb(cb + 2), 0x55);
  ck_assert_uint_eq(inb(cb + 3), 0xaa);
  command(0xec); /* nobody executes it */
  ck_assert_int_eq(level[14], 0);
  ck_assert_uint_eq(status(), 0x00);
  select_dev(0);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_int_eq(edges[14], 0);

  /* the secondary channel has no device: the bus floats at 7Fh, ata_devchk fails */
  cb = IDE_SECONDARY_BASE;
  ctl = IDE_SECONDARY_CTL;
  for (int dev = 0; dev < 2; dev++) {
    select_dev(dev);
    outb(cb + 2, 0x55);
    outb(cb + 3, 0xaa);
    outb(cb + 2, 0xaa);
    outb(cb + 3, 0x55);
    outb(cb + 2, 0x55);
    outb(cb + 3, 0xaa);
    ck_assert(inb(cb + 2) != 0x55 || inb(cb + 3) != 0xaa);
    ck_assert_uint_eq(status(), 0x7f);
    ck_assert_uint_eq(altstatus(), 0x7f);
  }
  outb(ctl, 0x04);
  outb(ctl, 0x00);
  command(0xec);
  ck_assert_uint_eq(status(), 0x7f);
  ck_assert_int_eq(edges[15], 0);
  ck_assert_uint_eq(inb(BM + 8 + 2), 0x00); /* no DMA-capable drive there */
  /* the channel's decode off in IDETIM: nothing answers at all */
  cfg_write(IDE_DEVFN, 0x42, 2, 0x0000);
  ck_assert_uint_eq(status(), 0xff);
  cb = IDE_PRIMARY_BASE;
  ck_assert_uint_eq(status(), 0x50);
}
END_TEST

START_TEST(chs_addressing) {
  /* INITIALIZE DEVICE PARAMETERS: 16 heads, 63 sectors per track */
  outb(cb + 2, 63);
  outb(cb + 6, 0xa0 | 15);
  ck_assert_uint_eq(simple(0x91), 0x50);
  /* cylinder 1, head 2, sector 3 */
  outb(cb + 2, 1);
  outb(cb + 3, 3);
  outb(cb + 4, 1);
  outb(cb + 5, 0);
  outb(cb + 6, 0xa0 | 2);
  command(0x20);
  ck_assert_uint_eq(status(), 0x58);
  uint8_t back[512];
  pio_in(back, 512);
  check_pattern(back, (1 * 16 + 2) * 63 + 2, 1);
  /* sector 0 does not exist */
  outb(cb + 3, 0);
  outb(cb + 6, 0xa0);
  ck_assert_uint_eq(simple(0x20), 0x51);
  ck_assert_uint_eq(error_reg(), 0x10);
  /* a different translation shows in IDENTIFY */
  outb(cb + 2, 32);
  outb(cb + 6, 0xa0 | 7);
  ck_assert_uint_eq(simple(0x91), 0x50);
  uint16_t id[256];
  identify(id);
  ck_assert_uint_eq(id[55], 8);
  ck_assert_uint_eq(id[56], 32);
  ck_assert_uint_eq(id[54], SECTORS / (8 * 32));
  ck_assert_uint_eq(id[1], SECTORS / 1008); /* the default one does not change */
  /* an impossible one: CHS access fails, LBA still works */
  outb(cb + 2, 0);
  outb(cb + 6, 0xa0);
  ck_assert_uint_eq(simple(0x91), 0x51);
  outb(cb + 2, 1);
  outb(cb + 3, 1);
  outb(cb + 4, 0);
  outb(cb + 5, 0);
  outb(cb + 6, 0xa0);
  ck_assert_uint_eq(simple(0x20), 0x51);
  ck_assert_uint_eq(error_reg(), 0x10);
  identify(id);
  ck_assert_uint_eq(id[53] & 1, 0);
  lba28(3, 1);
  command(0x20);
  ck_assert_uint_eq(status(), 0x58);
}
END_TEST

START_TEST(transfer_modes_and_power) {
  uint16_t id[256];
  outb(cb + 1, 0x03);
  outb(cb + 2, 0x42); /* UDMA2 */
  ck_assert_uint_eq(simple(0xef), 0x50);
  identify(id);
  ck_assert_uint_eq(id[88], 0x0407);
  ck_assert_uint_eq(id[63], 0x0007);
  outb(cb + 1, 0x03);
  outb(cb + 2, 0x21); /* MWDMA1 */
  ck_assert_uint_eq(simple(0xef), 0x50);
  identify(id);
  ck_assert_uint_eq(id[88], 0x0007);
  ck_assert_uint_eq(id[63], 0x0207);
  outb(cb + 1, 0x03);
  outb(cb + 2, 0x0c); /* PIO4 with flow control */
  ck_assert_uint_eq(simple(0xef), 0x50);
  outb(cb + 1, 0x55); /* read look-ahead off */
  ck_assert_uint_eq(simple(0xef), 0x50);
  identify(id);
  ck_assert_uint_eq(id[85] & 0x40, 0);

  ck_assert_uint_eq(simple(0xe5), 0x50);
  ck_assert_uint_eq(inb(cb + 2), 0xff); /* active */
  ck_assert_uint_eq(simple(0xe0), 0x50); /* STANDBY IMMEDIATE */
  ck_assert_uint_eq(simple(0xe5), 0x50);
  ck_assert_uint_eq(inb(cb + 2), 0x00);
  ck_assert_uint_eq(simple(0xe3), 0x50); /* IDLE */
  ck_assert_uint_eq(simple(0xe5), 0x50);
  ck_assert_uint_eq(inb(cb + 2), 0x80);
  ck_assert_uint_eq(simple(0xe2), 0x50); /* STANDBY */
  ck_assert_uint_eq(simple(0xe1), 0x50); /* IDLE IMMEDIATE */
  ck_assert_uint_eq(simple(0xe6), 0x50); /* SLEEP */
  lba28(0, 1); /* media access wakes it */
  ck_assert_uint_eq(simple(0x40), 0x50); /* READ VERIFY */
  ck_assert_uint_eq(simple(0xe5), 0x50);
  ck_assert_uint_eq(inb(cb + 2), 0xff);
  ck_assert_uint_eq(simple(0x10), 0x50); /* RECALIBRATE */
}
END_TEST

START_TEST(drive_option_lists) {
  struct ide_drive_spec spec;
  char err[200];
  ck_assert_int_eq(ide_drive_parse("file=a.img,if=ide,format=raw", &spec, err, sizeof(err)), 0);
  ck_assert_str_eq(spec.file, "a.img");
  ck_assert_int_eq(spec.index, -1);
  ck_assert(!spec.writethrough);
  ck_assert_int_eq(ide_drive_parse("index=2,file=a,,b.img,media=disk", &spec, err, 200), 0);
  ck_assert_str_eq(spec.file, "a,b.img");
  ck_assert_int_eq(spec.index, 2);
  ck_assert_int_eq(ide_drive_parse("file=x,bus=1,unit=1,cache=writethrough", &spec, err, 200),
                   0);
  ck_assert_int_eq(spec.index, 3);
  ck_assert(spec.writethrough);
  ck_assert_int_eq(ide_drive_parse("file=x,cache=none", &spec, err, 200), 0);
  ck_assert(!spec.writethrough);

  static const struct {
    const char *arg;
    int ret;
    const char *says;
  } bad[] = {
      {"file=x,if=virtio", -ENOTSUP, "if=virtio"},
      {"file=x,format=qcow2", -ENOTSUP, "raw"},
      {"file=x,media=cdrom", -ENOTSUP, "CD-ROM"},
      {"file=x,index=4", -EINVAL, "index=4"},
      {"file=x,index=1,bus=0", -EINVAL, "index="},
      {"index=0", -EINVAL, "file="},
      {"file=x,snapshot=on", -EINVAL, "snapshot"},
      {"x.img", -EINVAL, "key=value"},
      {"file=x,cache=sometimes", -EINVAL, "cache=sometimes"},
  };
  for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_int_eq(ide_drive_parse(bad[i].arg, &spec, err, sizeof(err)), bad[i].ret);
    ck_assert_msg(strstr(err, bad[i].says), "%s: %s", bad[i].arg, err);
  }
}
END_TEST

START_TEST(master_and_slave) {
  struct ide_drive_spec spec;
  char path[160], err[200];
  snprintf(path, sizeof(path), "file=%s/hdb.img,cache=writethrough", dir);
  ck_assert_int_eq(ide_drive_parse(path, &spec, err, sizeof(err)), 0);
  make_image(spec.file, 2048, false);
  ck_assert_int_eq(ide_attach(&ide, &spec), 0); /* the first free place: primary slave */
  ck_assert(ide.ch[0].drive[1].present);
  ck_assert_uint_eq(inb(BM + 2), 0x60);

  uint16_t id[256];
  select_dev(0);
  identify(id);
  ck_assert_uint_eq(id[93] & 0x0040, 0x0040); /* device 0 saw device 1 */
  ck_assert_uint_eq(id[60], SECTORS);
  select_dev(1);
  ck_assert_uint_eq(status(), 0x50); /* a real device 1 now, not a phantom */
  identify(id);
  ck_assert_uint_eq(id[60], 2048);
  ck_assert_uint_eq(id[85] & 0x20, 0); /* cache=writethrough */
  char s[41];
  id_string(id, 10, 10, s);
  ck_assert_str_eq(s, "BT00002");

  /* each device keeps its own results: an error on device 1 ... */
  lba28(5000, 1);
  outb(cb + 6, 0xf0);
  ck_assert_uint_eq(simple(0x20), 0x51);
  ck_assert_uint_eq(error_reg(), 0x10);
  /* ... is not device 0's */
  select_dev(0);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_uint_ne(error_reg(), 0x10);
  /* a write to device 1 goes to its image, synced at once */
  uint8_t data[512], back[512];
  memset(data, 0x3c, sizeof(data));
  uint64_t flushes = ide.ch[0].drive[1].disk.stat_flushes;
  lba28(9, 1);
  outb(cb + 6, 0xf0);
  command(0x30);
  pio_out(data, 512);
  ck_assert_uint_eq(status(), 0x50);
  ck_assert_uint_eq(ide.ch[0].drive[1].disk.stat_flushes, flushes + 1);
  file_read(spec.file, 9, back, 512);
  ck_assert_mem_eq(back, data, 512);
  file_read(img, 9, back, 512);
  check_pattern(back, 9, 1);

  /* two more fill the secondary; a fifth finds no place */
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof(path), "file=%s/hd%d.img", dir, i);
    ck_assert_int_eq(ide_drive_parse(path, &spec, err, sizeof(err)), 0);
    make_image(spec.file, 2048, false);
    ck_assert_int_eq(ide_attach(&ide, &spec), 0);
  }
  ck_assert(ide.ch[1].drive[1].present);
  snprintf(path, sizeof(path), "file=%s/hd9.img", dir);
  ck_assert_int_eq(ide_drive_parse(path, &spec, err, sizeof(err)), 0);
  make_image(spec.file, 2048, false);
  ck_assert_int_eq(ide_attach(&ide, &spec), -EBUSY);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ide");
  TCase *tc = tcase_create("ide");
  tcase_add_unchecked_fixture(tc, make_dir, remove_dir);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, identify_reports_the_disk);
  tcase_add_test(tc, pio_write_then_read);
  tcase_add_test(tc, pio_dword_transfers);
  tcase_add_test(tc, multiple_mode_blocks);
  tcase_add_test(tc, lba48_beyond_2_28);
  tcase_add_test(tc, dma_read_and_write);
  tcase_add_test(tc, dma_needs_bus_mastering_and_start);
  tcase_add_test(tc, dma_prd_table_longer_or_shorter);
  tcase_add_test(tc, dma_outside_ram_is_a_master_abort);
  tcase_add_test(tc, dma_over_translated_code_drops_it);
  tcase_add_test(tc, flush_reaches_the_file);
  tcase_add_test(tc, write_error_is_a_device_fault);
  tcase_add_test(tc, bad_addresses_and_commands);
  tcase_add_test(tc, bad_images_are_refused);
  tcase_add_test(tc, interrupt_line_nien_and_selection);
  tcase_add_test(tc, soft_reset_gives_the_signature);
  tcase_add_test(tc, absent_devices);
  tcase_add_test(tc, chs_addressing);
  tcase_add_test(tc, transfer_modes_and_power);
  tcase_add_test(tc, drive_option_lists);
  tcase_add_test(tc, master_and_slave);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
