/* ide.c - the PIIX3 IDE controller (82371SB function 1) in legacy mode, its SFF-8038i bus
 * master, and ATA hard disks on raw images (see ide.h).
 *
 * The drives follow ATA/ATAPI-7 for what a PC operating system uses: IDENTIFY DEVICE, PIO
 * reads and writes one sector or one "multiple" block per DRQ, the LBA48 EXT commands, DMA
 * through the bus master, FLUSH CACHE, SET FEATURES, INITIALIZE DEVICE PARAMETERS with CHS
 * addressing, the power-management commands, EXECUTE DEVICE DIAGNOSTIC, and the software reset
 * with the ATA signature. Anything else is aborted (ERR, ABRT).
 *
 * Timing: every command completes during the guest's write to the command register (or, for
 * DMA, as soon as both the command and the bus master's start bit are there), and every PIO
 * block is ready as soon as the previous one is taken. BSY is therefore never seen except while
 * SRST is held, and no timer is needed: drivers poll status or wait for INTRQ either way, and a
 * drive that is fast is still a drive. Data reach the image with pwrite before the command
 * reports completion; with the write cache enabled (the default, reported in IDENTIFY) they are
 * durable only after FLUSH CACHE, which calls fdatasync before it completes; with the cache
 * disabled (SET FEATURES 82h) every write command calls fdatasync before completing.
 *
 * INTRQ: a device has an interrupt pending after a command completes or a PIO block is ready
 * (not for the first block of a PIO write, nor after SRST); reading the status register or
 * writing the command register clears it. The channel's IRQ is high while the selected device
 * is present, has one pending and nIEN is clear, so an edge-triggered PIC sees one edge per
 * interrupt. The bus master's interrupt bit latches every rising edge, as on the PIIX.
 *
 * Device 1 missing, device 0 present: device 0 answers for it, with 00h in the status
 * registers (Linux's probe counts on that to tell a phantom device) and its own values in the
 * others, and ignores its commands except EXECUTE DEVICE DIAGNOSTIC. A channel with no device
 * floats; the ATA-mandated pull-down on DD7 makes every register read 7Fh, which libata takes
 * for "nothing here" after one look.
 *
 * The bus master: the PRD table is read from guest RAM when the transfer needs the next entry;
 * device-to-memory data go through mmu_phys_write so that translated code they overwrite is
 * dropped. The direction bit is kept but the command decides the direction, as in QEMU. A PRD
 * table that ends before the command's data leaves the drive waiting (DRQ) and clears Active
 * without an interrupt, as SFF-8038i says; one with room to spare leaves Active set. A PRD
 * entry or table outside RAM (a master abort on the PCI bus) sets the Error bit and PCI status
 * bit 13 and, unlike the hardware, which would leave the drive waiting for a timeout, aborts
 * the command at once. */
#include "devices/ide.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
  CMD_NOP = 0x00,
  CMD_READ = 0x20,
  CMD_READ_NORETRY = 0x21,
  CMD_READ_EXT = 0x24,
  CMD_READ_DMA_EXT = 0x25,
  CMD_READ_MULTIPLE_EXT = 0x29,
  CMD_WRITE = 0x30,
  CMD_WRITE_NORETRY = 0x31,
  CMD_WRITE_EXT = 0x34,
  CMD_WRITE_DMA_EXT = 0x35,
  CMD_WRITE_MULTIPLE_EXT = 0x39,
  CMD_VERIFY = 0x40,
  CMD_VERIFY_NORETRY = 0x41,
  CMD_VERIFY_EXT = 0x42,
  CMD_DIAGNOSTIC = 0x90,
  CMD_INIT_PARAMS = 0x91,
  CMD_READ_MULTIPLE = 0xc4,
  CMD_WRITE_MULTIPLE = 0xc5,
  CMD_SET_MULTIPLE = 0xc6,
  CMD_READ_DMA = 0xc8,
  CMD_READ_DMA_NORETRY = 0xc9,
  CMD_WRITE_DMA = 0xca,
  CMD_WRITE_DMA_NORETRY = 0xcb,
  CMD_STANDBY_IMMEDIATE = 0xe0,
  CMD_IDLE_IMMEDIATE = 0xe1,
  CMD_STANDBY = 0xe2,
  CMD_IDLE = 0xe3,
  CMD_CHECK_POWER = 0xe5,
  CMD_SLEEP = 0xe6,
  CMD_FLUSH = 0xe7,
  CMD_FLUSH_EXT = 0xea,
  CMD_IDENTIFY = 0xec,
  CMD_SET_FEATURES = 0xef,
};

/* SET FEATURES subcommands */
enum {
  SF_WCACHE_ON = 0x02,
  SF_XFER_MODE = 0x03,
  SF_LOOKAHEAD_OFF = 0x55,
  SF_REVERT_OFF = 0x66,
  SF_WCACHE_OFF = 0x82,
  SF_LOOKAHEAD_ON = 0xaa,
  SF_REVERT_ON = 0xcc,
};

enum { POWER_STANDBY = 0x00, POWER_IDLE = 0x80, POWER_ACTIVE = 0xff };

#define IDETIM 0x40 /* primary; the secondary's is at 0x42 */
#define IDETIM_DECODE 0x8000
#define SIDETIM 0x44
#define FLOATING 0x7f         /* an empty channel: DD7 pulled down, the rest floating high */
#define CHS_MAX_SECTORS 16514064u /* 16383 cylinders x 16 heads x 63 sectors */
#define LBA28_MAX 0x0fffffffu

enum access { ACCESS_PIO, ACCESS_MULTIPLE, ACCESS_DMA };

static void bm_run(struct ide_channel *ch);

static uint32_t min32(uint64_t a, uint64_t b) { return (uint32_t)(a < b ? a : b); }

/* ---- interrupts ---- */

static void channel_irq(struct ide_channel *ch) {
  const struct ide_drive *d = &ch->drive[ch->sel];
  bool level = d->present && d->intrq && !(ch->ctl & ATA_NIEN);
  if (level == ch->irq_level)
    return;
  ch->irq_level = level;
  if (level)
    ch->bm.status |= BM_ST_INTR;
  irq_set(ch->irq, level);
}

static void intrq_raise(struct ide_drive *d) {
  d->intrq = true;
  channel_irq(d->ch);
}

/* ---- command completion ---- */

static void finish(struct ide_drive *d, uint8_t extra_status, uint8_t error) {
  d->xfer = IDE_XFER_NONE;
  d->pos = d->len = 0;
  d->error = error;
  d->status = (uint8_t)(ATA_DRDY | ATA_DSC | extra_status | (error ? ATA_ERR : 0));
  intrq_raise(d);
}

static void complete(struct ide_drive *d) { finish(d, 0, 0); }

static void abort_command(struct ide_drive *d) { finish(d, 0, ATA_ABRT); }

/* Write a sector address into the registers the way the command gave it (LBA28, LBA48, CHS):
 * where an error happened. */
static void set_address(struct ide_drive *d, uint64_t lba) {
  struct ata_taskfile *tf = &d->tf;
  if (d->chs && d->heads) {
    uint64_t per_cyl = (uint64_t)d->heads * d->spt;
    uint64_t cyl = lba / per_cyl, rest = lba % per_cyl;
    tf->lbal = (uint8_t)(rest % d->spt + 1);
    tf->lbam = (uint8_t)cyl;
    tf->lbah = (uint8_t)(cyl >> 8);
    tf->device = (uint8_t)((tf->device & 0xf0) | (rest / d->spt));
    return;
  }
  tf->lbal = (uint8_t)lba;
  tf->lbam = (uint8_t)(lba >> 8);
  tf->lbah = (uint8_t)(lba >> 16);
  if (d->lba48) {
    tf->hob_lbal = (uint8_t)(lba >> 24);
    tf->hob_lbam = (uint8_t)(lba >> 32);
    tf->hob_lbah = (uint8_t)(lba >> 40);
  } else {
    tf->device = (uint8_t)((tf->device & 0xf0) | ((lba >> 24) & 0x0f));
  }
}

static void fail_at(struct ide_drive *d, uint64_t lba, uint8_t extra_status, uint8_t error) {
  set_address(d, lba);
  finish(d, extra_status, error);
}

/* The end of a write command: durable first if the write cache is off. */
static void write_done(struct ide_drive *d) {
  if (!d->write_cache && disk_flush(&d->disk) < 0) {
    finish(d, ATA_DF, ATA_ABRT);
    return;
  }
  complete(d);
}

/* ---- the ATA signature, power-on and reset ---- */

static void signature(struct ide_drive *d) {
  struct ata_taskfile *tf = &d->tf;
  memset(tf, 0, sizeof(*tf));
  tf->count = 1;
  tf->lbal = 1; /* LBA mid and high 00h: an ATA device (ATAPI would be 14h EBh) */
  d->error = 0x01; /* diagnostic code: device 0 passed, device 1 passed or absent */
  d->status = ATA_DRDY | ATA_DSC;
  d->xfer = IDE_XFER_NONE;
  d->pos = d->len = 0;
  d->intrq = false;
}

static void default_settings(struct ide_drive *d) {
  d->multiple = IDE_MAX_MULTIPLE;
  d->dma_mode = 0x22; /* MWDMA2, what a PIIX3 BIOS selects */
  d->pio_mode = 4;
  d->write_cache = d->write_cache_default;
  d->read_ahead = true;
  d->cyls = d->dcyls;
  d->heads = d->dheads;
  d->spt = d->dspt;
}

/* The default CHS translation: 16 heads of 63 sectors, as many cylinders as fit (at most
 * 16,383). A disk smaller than one such cylinder gets one head of up to 63 sectors instead, so
 * that it has a geometry at all (its last part is reached by LBA only). */
static void default_geometry(struct ide_drive *d) {
  uint64_t chs = d->disk.sectors < CHS_MAX_SECTORS ? d->disk.sectors : CHS_MAX_SECTORS;
  bool small = chs < 16 * 63;
  d->dheads = small ? 1 : 16;
  d->dspt = small ? (uint16_t)(chs < 63 ? chs : 63) : 63;
  d->dcyls = (uint16_t)(chs / (d->dheads * d->dspt));
}

static void power_on(struct ide_drive *d) {
  default_geometry(d);
  d->revert_on_reset = false;
  default_settings(d);
  d->power = POWER_ACTIVE;
  signature(d);
}

/* ---- IDENTIFY DEVICE ---- */

/* ATA strings: two characters per word, the first in the high byte, padded with spaces. */
static void id_string(uint16_t *id, int word, int words, const char *s) {
  size_t n = strlen(s);
  for (int i = 0; i < words * 2; i++) {
    uint8_t c = (size_t)i < n ? (uint8_t)s[i] : ' ';
    if (i & 1)
      id[word + i / 2] |= c;
    else
      id[word + i / 2] = (uint16_t)(c << 8);
  }
}

static void identify_data(struct ide_drive *d, uint16_t *id) {
  memset(id, 0, 512);
  uint64_t sectors = d->disk.sectors;
  char serial[21];
  snprintf(serial, sizeof(serial), "BT%05d", d->ch->index * 2 + d->unit + 1);
  id[0] = 0x0040;           /* ATA device, fixed */
  id[1] = d->dcyls;
  id[2] = 0xc837;           /* specific configuration: no SET FEATURES spin-up, IDENTIFY whole */
  id[3] = d->dheads;
  id[6] = d->dspt;
  id_string(id, 10, 10, serial);
  id_string(id, 23, 4, "1.0");
  id_string(id, 27, 20, "bt386 HARDDISK");
  id[47] = 0x8000 | IDE_MAX_MULTIPLE;
  id[49] = 0x0f00;          /* IORDY supported and can be disabled, LBA, DMA */
  id[50] = 0x4000;
  id[51] = 0x0200;          /* obsolete PIO and DMA timing modes, as older drivers read them */
  id[52] = 0x0200;
  id[53] = (uint16_t)(0x0006 | (d->heads ? 1 : 0)); /* words 64-70 and 88 valid; 54-58 if CHS */
  if (d->heads) {
    uint32_t cur = (uint32_t)d->cyls * d->heads * d->spt;
    id[54] = d->cyls;
    id[55] = d->heads;
    id[56] = d->spt;
    id[57] = (uint16_t)cur;
    id[58] = (uint16_t)(cur >> 16);
  }
  id[59] = (uint16_t)(0x0100 | d->multiple);
  uint32_t lba28 = min32(sectors, LBA28_MAX);
  id[60] = (uint16_t)lba28;
  id[61] = (uint16_t)(lba28 >> 16);
  id[63] = IDE_MWDMA_MODES;
  if ((d->dma_mode & 0xf8) == 0x20)
    id[63] |= (uint16_t)(0x100 << (d->dma_mode & 7));
  id[64] = 0x0003;          /* PIO 3 and 4 */
  id[65] = 120;             /* ns: MWDMA2 and PIO4 cycle times */
  id[66] = 120;
  id[67] = 120;
  id[68] = 120;
  id[80] = 0x00f0;          /* ATA/ATAPI-4 to -7 */
  id[82] = 0x4000 | 0x0040 | 0x0020 | 0x0008; /* NOP, look-ahead, write cache, power mgmt */
  id[83] = 0x4000 | 0x2000 | 0x1000 | 0x0400; /* FLUSH CACHE EXT, FLUSH CACHE, LBA48 */
  id[84] = 0x4000;
  id[85] = (uint16_t)(0x4000 | 0x0008 | (d->read_ahead ? 0x0040 : 0) |
                      (d->write_cache ? 0x0020 : 0));
  id[86] = 0x2000 | 0x1000 | 0x0400;
  id[87] = 0x4000;
  id[88] = IDE_UDMA_MODES;
  if ((d->dma_mode & 0xf8) == 0x40)
    id[88] |= (uint16_t)(0x100 << (d->dma_mode & 7));
  /* Hardware reset result: bit 0 set, bits 2:1 "by jumper", bit 3 diagnostics passed, bit 6
   * device 1 detected; 80-conductor cable (bit 13) not detected. */
  if (d->unit == 0)
    id[93] = (uint16_t)(0x400b | (d->ch->drive[1].present ? 0x0040 : 0));
  else
    id[93] = 0x4300;
  for (int i = 0; i < 4; i++)
    id[100 + i] = (uint16_t)(sectors >> (16 * i));
  id[106] = 0x4000;         /* one 512-byte logical sector per physical sector */
  /* Integrity word: signature A5h, and a checksum making the 512 bytes sum to zero. */
  uint8_t sum = 0xa5;
  for (int i = 0; i < 255; i++)
    sum = (uint8_t)(sum + (id[i] & 0xff) + (id[i] >> 8));
  id[255] = (uint16_t)(0x00a5 | (uint8_t)(-sum) << 8);
}

static void cmd_identify(struct ide_drive *d) {
  uint16_t id[256];
  identify_data(d, id);
  for (int i = 0; i < 256; i++) {
    d->buf[2 * i] = (uint8_t)id[i];
    d->buf[2 * i + 1] = (uint8_t)(id[i] >> 8);
  }
  d->left = 0;
  d->pos = 0;
  d->len = 512;
  d->xfer = IDE_XFER_PIO_IN;
  d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
  intrq_raise(d);
}

/* ---- addresses ---- */

/* The command's start address: LBA48, LBA28 or CHS. False (IDNF raised) if the CHS address
 * does not exist in the current translation. */
static bool command_address(struct ide_drive *d, uint64_t *lba) {
  const struct ata_taskfile *tf = &d->tf;
  if (d->lba48) {
    *lba = (uint64_t)tf->lbal | (uint64_t)tf->lbam << 8 | (uint64_t)tf->lbah << 16 |
           (uint64_t)tf->hob_lbal << 24 | (uint64_t)tf->hob_lbam << 32 |
           (uint64_t)tf->hob_lbah << 40;
    return true;
  }
  if (!d->chs) {
    *lba = (uint64_t)tf->lbal | (uint64_t)tf->lbam << 8 | (uint64_t)tf->lbah << 16 |
           (uint64_t)(tf->device & 0x0f) << 24;
    return true;
  }
  unsigned cyl = tf->lbam | tf->lbah << 8, head = tf->device & 0x0f, sector = tf->lbal;
  if (!d->heads || sector == 0 || sector > d->spt || head >= d->heads || cyl >= d->cyls) {
    finish(d, 0, ATA_IDNF);
    return false;
  }
  *lba = ((uint64_t)cyl * d->heads + head) * d->spt + sector - 1;
  return true;
}

static uint32_t command_count(const struct ide_drive *d) {
  if (d->lba48) {
    uint32_t n = d->tf.count | (uint32_t)d->tf.hob_count << 8;
    return n ? n : 65536;
  }
  return d->tf.count ? d->tf.count : 256;
}

/* Decode the address and sector count of a media access command (count_fixed: the count
 * the command implies instead, or 0 to take the registers') and check them against what the
 * addressing mode reaches on this disk; false with IDNF raised if they do not fit. */
static bool media_range(struct ide_drive *d, bool lba48, uint32_t count_fixed, uint64_t *lba,
                        uint32_t *count) {
  d->lba48 = lba48;
  d->chs = !lba48 && !(d->tf.device & 0x40);
  *count = count_fixed ? count_fixed : command_count(d);
  if (!command_address(d, lba))
    return false;
  uint64_t limit = d->disk.sectors;
  if (d->chs)
    limit = (uint64_t)d->cyls * d->heads * d->spt;
  else if (!lba48 && limit > LBA28_MAX)
    limit = LBA28_MAX;
  if (*lba >= limit || *count > limit - *lba) {
    fail_at(d, *lba >= limit ? *lba : limit, 0, ATA_IDNF);
    return false;
  }
  d->power = POWER_ACTIVE;
  return true;
}

/* ---- PIO ---- */

static void pio_in_block(struct ide_drive *d) {
  uint32_t n = min32(d->block, d->left);
  if (disk_read(&d->disk, d->lba, d->buf, n) < 0) {
    fail_at(d, d->lba, 0, ATA_UNC);
    return;
  }
  d->lba += n;
  d->left -= n;
  d->pos = 0;
  d->len = n * DISK_SECTOR;
  d->xfer = IDE_XFER_PIO_IN;
  d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
  intrq_raise(d);
}

/* Ready for the host's next block: the first one of a command without an interrupt. */
static void pio_out_block(struct ide_drive *d, bool interrupt) {
  d->blk = min32(d->block, d->left);
  d->pos = 0;
  d->len = d->blk * DISK_SECTOR;
  d->xfer = IDE_XFER_PIO_OUT;
  d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
  if (interrupt)
    intrq_raise(d);
}

static uint16_t data_in(struct ide_drive *d) {
  if (d->xfer != IDE_XFER_PIO_IN)
    return 0xffff;
  uint16_t v = (uint16_t)(d->buf[d->pos] | d->buf[d->pos + 1] << 8);
  d->pos += 2;
  if (d->pos >= d->len) {
    if (d->left) {
      pio_in_block(d);
    } else {
      /* The last block of a PIO data-in command brings no interrupt at its end. */
      d->xfer = IDE_XFER_NONE;
      d->pos = d->len = 0;
      d->status = ATA_DRDY | ATA_DSC;
    }
  }
  return v;
}

static void data_out(struct ide_drive *d, uint16_t v) {
  if (d->xfer != IDE_XFER_PIO_OUT)
    return;
  d->buf[d->pos] = (uint8_t)v;
  d->buf[d->pos + 1] = (uint8_t)(v >> 8);
  d->pos += 2;
  if (d->pos < d->len)
    return;
  if (disk_write(&d->disk, d->lba, d->buf, d->blk) < 0) {
    fail_at(d, d->lba, ATA_DF, ATA_ABRT);
    return;
  }
  d->lba += d->blk;
  d->left -= d->blk;
  if (d->left)
    pio_out_block(d, true);
  else
    write_done(d);
}

/* ---- media access commands ---- */

static void cmd_read_write(struct ide_drive *d, bool write, bool lba48, enum access how) {
  if (how == ACCESS_MULTIPLE && !d->multiple) {
    abort_command(d);
    return;
  }
  uint32_t count;
  uint64_t lba;
  if (!media_range(d, lba48, 0, &lba, &count))
    return;
  d->lba = lba;
  d->left = count;
  d->pos = d->len = 0;
  d->block = how == ACCESS_MULTIPLE ? d->multiple : 1;
  if (how == ACCESS_DMA) {
    d->xfer = write ? IDE_XFER_DMA_OUT : IDE_XFER_DMA_IN;
    d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
    bm_run(d->ch);
  } else if (write) {
    pio_out_block(d, false);
  } else {
    pio_in_block(d);
  }
}

static void cmd_verify(struct ide_drive *d, bool lba48) {
  uint64_t lba;
  uint32_t count;
  if (media_range(d, lba48, 0, &lba, &count))
    complete(d);
}

static void cmd_flush(struct ide_drive *d) {
  if (disk_flush(&d->disk) < 0)
    finish(d, ATA_DF, ATA_ABRT);
  else
    complete(d);
}

/* ---- settings ---- */

static void cmd_set_multiple(struct ide_drive *d) {
  uint8_t n = d->tf.count;
  if (n > IDE_MAX_MULTIPLE || (n & (n - 1))) {
    abort_command(d);
    return;
  }
  d->multiple = n; /* 0 turns multiple mode off */
  complete(d);
}

static void cmd_set_transfer_mode(struct ide_drive *d) {
  uint8_t mode = d->tf.count, n = mode & 7;
  switch (mode & 0xf8) {
  case 0x00: /* PIO default mode, with (0) or without (1) IORDY */
    if (mode > 1) {
      abort_command(d);
      return;
    }
    d->pio_mode = 0;
    break;
  case 0x08: /* PIO flow control mode n */
    if (n > 4) {
      abort_command(d);
      return;
    }
    d->pio_mode = n;
    break;
  case 0x20: /* multiword DMA mode n */
  case 0x40: /* Ultra DMA mode n */
    if (!(((mode & 0xf8) == 0x20 ? IDE_MWDMA_MODES : IDE_UDMA_MODES) & (1u << n))) {
      abort_command(d);
      return;
    }
    d->dma_mode = mode;
    break;
  default: /* single-word DMA and the rest */
    abort_command(d);
    return;
  }
  complete(d);
}

static void cmd_set_features(struct ide_drive *d) {
  switch (d->tf.feature) {
  case SF_WCACHE_ON:
    d->write_cache = true;
    break;
  case SF_WCACHE_OFF:
    /* What the cache holds goes to the media before the command completes. */
    d->write_cache = false;
    if (disk_flush(&d->disk) < 0) {
      finish(d, ATA_DF, ATA_ABRT);
      return;
    }
    break;
  case SF_XFER_MODE:
    cmd_set_transfer_mode(d);
    return;
  case SF_LOOKAHEAD_OFF:
    d->read_ahead = false;
    break;
  case SF_LOOKAHEAD_ON:
    d->read_ahead = true;
    break;
  case SF_REVERT_OFF:
    d->revert_on_reset = false;
    break;
  case SF_REVERT_ON:
    d->revert_on_reset = true;
    break;
  default:
    abort_command(d);
    return;
  }
  complete(d);
}

/* A new CHS translation: sectors per track from the count, heads from the device register. */
static void cmd_init_params(struct ide_drive *d) {
  unsigned spt = d->tf.count, heads = (d->tf.device & 0x0f) + 1u;
  uint64_t chs = d->disk.sectors < CHS_MAX_SECTORS ? d->disk.sectors : CHS_MAX_SECTORS;
  uint64_t cyls = spt ? chs / (heads * spt) : 0;
  if (!cyls) {
    /* Media access by CHS fails with IDNF until a translation that works is set. */
    d->heads = d->spt = d->cyls = 0;
    abort_command(d);
    return;
  }
  d->heads = (uint16_t)heads;
  d->spt = (uint16_t)spt;
  d->cyls = (uint16_t)(cyls < 65535 ? cyls : 65535);
  complete(d);
}

/* ---- commands ---- */

static void log_abort(struct ide_drive *d, uint8_t cmd) {
  struct ide *ide = d->ch->ide;
  if (ide->log)
    fprintf(ide->log_file ? ide->log_file : stderr,
            "bt386: ide: %s: command 0x%02x (features 0x%02x) not supported, aborted\n",
            d->name, cmd, d->tf.feature);
}

static void execute(struct ide_drive *d, uint8_t cmd) {
  d->cmd = cmd;
  switch (cmd) {
  case CMD_IDENTIFY:
    cmd_identify(d);
    break;
  case CMD_READ:
  case CMD_READ_NORETRY:
    cmd_read_write(d, false, false, ACCESS_PIO);
    break;
  case CMD_READ_EXT:
    cmd_read_write(d, false, true, ACCESS_PIO);
    break;
  case CMD_WRITE:
  case CMD_WRITE_NORETRY:
    cmd_read_write(d, true, false, ACCESS_PIO);
    break;
  case CMD_WRITE_EXT:
    cmd_read_write(d, true, true, ACCESS_PIO);
    break;
  case CMD_READ_MULTIPLE:
    cmd_read_write(d, false, false, ACCESS_MULTIPLE);
    break;
  case CMD_READ_MULTIPLE_EXT:
    cmd_read_write(d, false, true, ACCESS_MULTIPLE);
    break;
  case CMD_WRITE_MULTIPLE:
    cmd_read_write(d, true, false, ACCESS_MULTIPLE);
    break;
  case CMD_WRITE_MULTIPLE_EXT:
    cmd_read_write(d, true, true, ACCESS_MULTIPLE);
    break;
  case CMD_READ_DMA:
  case CMD_READ_DMA_NORETRY:
    cmd_read_write(d, false, false, ACCESS_DMA);
    break;
  case CMD_READ_DMA_EXT:
    cmd_read_write(d, false, true, ACCESS_DMA);
    break;
  case CMD_WRITE_DMA:
  case CMD_WRITE_DMA_NORETRY:
    cmd_read_write(d, true, false, ACCESS_DMA);
    break;
  case CMD_WRITE_DMA_EXT:
    cmd_read_write(d, true, true, ACCESS_DMA);
    break;
  case CMD_VERIFY:
  case CMD_VERIFY_NORETRY:
    cmd_verify(d, false);
    break;
  case CMD_VERIFY_EXT:
    cmd_verify(d, true);
    break;
  case CMD_FLUSH:
  case CMD_FLUSH_EXT:
    cmd_flush(d);
    break;
  case CMD_SET_MULTIPLE:
    cmd_set_multiple(d);
    break;
  case CMD_SET_FEATURES:
    cmd_set_features(d);
    break;
  case CMD_INIT_PARAMS:
    cmd_init_params(d);
    break;
  case CMD_STANDBY_IMMEDIATE:
  case CMD_STANDBY:
  case CMD_SLEEP: /* no media to spin down: the power state is all that changes */
  case 0x94:      /* the same, in their ATA-1 encodings */
  case 0x96:
  case 0x99:
    d->power = POWER_STANDBY;
    complete(d);
    break;
  case CMD_IDLE_IMMEDIATE:
  case CMD_IDLE:
  case 0x95:
  case 0x97:
    d->power = POWER_IDLE;
    complete(d);
    break;
  case CMD_CHECK_POWER:
  case 0x98:
    d->tf.count = d->power;
    complete(d);
    break;
  default:
    if ((cmd & 0xf0) == 0x10) { /* RECALIBRATE: nothing to move */
      complete(d);
      break;
    }
    if ((cmd & 0xf0) == 0x70) { /* SEEK: the address must exist */
      uint64_t lba;
      uint32_t count;
      if (media_range(d, false, 1, &lba, &count))
        complete(d);
      break;
    }
    if (cmd != CMD_NOP)
      log_abort(d, cmd);
    abort_command(d); /* NOP too: it always reports ABRT */
    break;
  }
}

/* EXECUTE DEVICE DIAGNOSTIC: both devices run it; device 0 reports for the pair. */
static void diagnostic(struct ide_channel *ch) {
  for (int u = 0; u < 2; u++)
    if (ch->drive[u].present)
      signature(&ch->drive[u]);
  ch->sel = 0;
  intrq_raise(&ch->drive[ch->drive[0].present ? 0 : 1]);
}

static void command(struct ide_channel *ch, uint8_t cmd) {
  struct ide_drive *d = &ch->drive[ch->sel];
  if (cmd == CMD_DIAGNOSTIC && (ch->drive[0].present || ch->drive[1].present)) {
    diagnostic(ch);
    return;
  }
  /* No device, or one still busy with a command or its data: the write is lost. */
  if (!d->present || (d->status & (ATA_BSY | ATA_DRQ)))
    return;
  d->intrq = false;
  channel_irq(ch);
  execute(d, cmd);
}

/* ---- software reset ---- */

static void device_control(struct ide_channel *ch, uint8_t v) {
  uint8_t old = ch->ctl;
  ch->ctl = v & (ATA_HOB | ATA_SRST | ATA_NIEN);
  if ((v & ATA_SRST) && !(old & ATA_SRST)) {
    for (int u = 0; u < 2; u++) {
      struct ide_drive *d = &ch->drive[u];
      if (!d->present)
        continue;
      d->xfer = IDE_XFER_NONE;
      d->pos = d->len = 0;
      d->intrq = false;
      d->status = ATA_BSY;
    }
  } else if (!(v & ATA_SRST) && (old & ATA_SRST)) {
    /* Reset done at once: the signature, and no interrupt (ATA: none after SRST). */
    for (int u = 0; u < 2; u++) {
      struct ide_drive *d = &ch->drive[u];
      if (!d->present)
        continue;
      if (d->revert_on_reset)
        default_settings(d);
      signature(d);
    }
    ch->sel = 0;
  }
  channel_irq(ch);
}

/* ---- the command and control blocks ---- */

static bool decoded(const struct ide_channel *ch) {
  const uint8_t *c = ch->ide->dev.config;
  return (pci_get_word(c + PCI_COMMAND) & PCI_COMMAND_IO) &&
         (pci_get_word(c + IDETIM + 2 * ch->index) & IDETIM_DECODE);
}

/* The device that drives the bus for reads: the selected one, or device 0 standing in for a
 * missing device 1 (*phantom), or NULL for a floating bus. */
static struct ide_drive *responder(struct ide_channel *ch, bool *phantom) {
  *phantom = false;
  if (ch->drive[ch->sel].present)
    return &ch->drive[ch->sel];
  if (ch->sel == 1 && ch->drive[0].present) {
    *phantom = true;
    return &ch->drive[0];
  }
  return NULL;
}

static uint8_t status_read(struct ide_channel *ch, bool clear) {
  bool phantom;
  struct ide_drive *d = responder(ch, &phantom);
  if (!d)
    return FLOATING;
  if (phantom)
    return 0x00;
  uint8_t v = d->status;
  if (clear && d->intrq) {
    d->intrq = false;
    channel_irq(ch);
  }
  return v;
}

static uint8_t reg_read(struct ide_channel *ch, unsigned reg) {
  if (reg == 7)
    return status_read(ch, true);
  bool phantom;
  struct ide_drive *d = responder(ch, &phantom);
  if (!d)
    return FLOATING;
  if (d->status & ATA_BSY)
    return d->status; /* while busy every register reads as status */
  const struct ata_taskfile *tf = &d->tf;
  bool hob = ch->ctl & ATA_HOB;
  switch (reg) {
  case 1:
    return d->error;
  case 2:
    return hob ? tf->hob_count : tf->count;
  case 3:
    return hob ? tf->hob_lbal : tf->lbal;
  case 4:
    return hob ? tf->hob_lbam : tf->lbam;
  case 5:
    return hob ? tf->hob_lbah : tf->lbah;
  default:
    return tf->device;
  }
}

static void reg_write(struct ide_channel *ch, unsigned reg, uint8_t v) {
  ch->ctl &= (uint8_t)~ATA_HOB; /* any command block write clears HOB */
  if (reg == 7) {
    command(ch, v);
    return;
  }
  for (int u = 0; u < 2; u++) {
    struct ata_taskfile *tf = &ch->drive[u].tf;
    switch (reg) {
    case 1:
      tf->hob_feature = tf->feature;
      tf->feature = v;
      break;
    case 2:
      tf->hob_count = tf->count;
      tf->count = v;
      break;
    case 3:
      tf->hob_lbal = tf->lbal;
      tf->lbal = v;
      break;
    case 4:
      tf->hob_lbam = tf->lbam;
      tf->lbam = v;
      break;
    case 5:
      tf->hob_lbah = tf->lbah;
      tf->lbah = v;
      break;
    default:
      tf->device = v;
      break;
    }
  }
  if (reg == 6) {
    ch->sel = (v >> 4) & 1;
    channel_irq(ch); /* INTRQ follows the selected device */
  }
}

static uint16_t data_read(struct ide_channel *ch) {
  struct ide_drive *d = &ch->drive[ch->sel];
  if (!d->present)
    return ch->drive[ch->sel ^ 1].present ? 0xffff : (0xff00 | FLOATING);
  return data_in(d);
}

static void data_write(struct ide_channel *ch, uint16_t v) {
  struct ide_drive *d = &ch->drive[ch->sel];
  if (d->present)
    data_out(d, v);
}

static uint32_t ones(int size) { return size == 4 ? ~0u : (1u << (8 * size)) - 1; }

static uint32_t cmd_block_read(void *opaque, uint16_t offset, int size) {
  struct ide_channel *ch = opaque;
  if (!decoded(ch))
    return ones(size);
  if (offset == 0) {
    uint32_t v = data_read(ch);
    if (size == 4)
      v |= (uint32_t)data_read(ch) << 16;
    return size == 1 ? v & 0xff : v;
  }
  uint32_t v = 0;
  for (int i = 0; i < size; i++)
    v |= (uint32_t)reg_read(ch, offset + (unsigned)i) << (8 * i);
  return v;
}

static void cmd_block_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  struct ide_channel *ch = opaque;
  if (!decoded(ch))
    return;
  if (offset == 0) {
    data_write(ch, (uint16_t)value);
    if (size == 4)
      data_write(ch, (uint16_t)(value >> 16));
    return;
  }
  for (int i = 0; i < size; i++)
    reg_write(ch, offset + (unsigned)i, (uint8_t)(value >> (8 * i)));
}

static uint32_t ctl_block_read(void *opaque, uint16_t offset, int size) {
  struct ide_channel *ch = opaque;
  (void)offset, (void)size;
  return decoded(ch) ? status_read(ch, false) : 0xff;
}

static void ctl_block_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  struct ide_channel *ch = opaque;
  (void)offset, (void)size;
  if (decoded(ch))
    device_control(ch, (uint8_t)value);
}

/* ---- the bus master ---- */

static bool prd_fetch(struct ide_channel *ch) {
  struct ide_bm *bm = &ch->bm;
  const uint8_t *p = mmu_phys_ptr(ch->ide->mmu, bm->prd_next, 8);
  if (!p)
    return false;
  uint32_t addr = pci_get_long(p), count = pci_get_long(p + 4);
  bm->prd_addr = addr & ~1u;
  bm->prd_left = (count & 0xfffe) ? (count & 0xfffe) : 0x10000;
  bm->prd_last = count & 0x80000000u;
  bm->prd_next += 8;
  return true;
}

/* A master abort: the PRD table or a buffer is not memory. */
static void bus_error(struct ide_channel *ch, struct ide_drive *d) {
  uint8_t *status = ch->ide->dev.config + PCI_STATUS;
  pci_set_word(status, pci_get_word(status) | PCI_STATUS_REC_MASTER_ABORT);
  ch->bm.status = (uint8_t)((ch->bm.status | BM_ST_ERROR) & ~BM_ST_ACTIVE);
  abort_command(d);
}

static bool dma_data_done(const struct ide_drive *d) { return !d->left && d->pos == d->len; }

/* Move data between the drive and memory as far as the command and the PRD table go. */
static void bm_run(struct ide_channel *ch) {
  struct ide_bm *bm = &ch->bm;
  struct ide_drive *d = &ch->drive[ch->sel];
  struct mmu *mmu = ch->ide->mmu;
  if (!(bm->cmd & BM_CMD_START) || !(bm->status & BM_ST_ACTIVE) ||
      !(pci_get_word(ch->ide->dev.config + PCI_COMMAND) & PCI_COMMAND_MASTER))
    return;
  if (!d->present || (d->xfer != IDE_XFER_DMA_IN && d->xfer != IDE_XFER_DMA_OUT))
    return;
  bool in = d->xfer == IDE_XFER_DMA_IN;
  while (!dma_data_done(d)) {
    if (!bm->prd_left) {
      if (bm->prd_last) { /* the table ended first: the drive waits, no interrupt */
        bm->status &= (uint8_t)~BM_ST_ACTIVE;
        return;
      }
      if (!prd_fetch(ch)) {
        bus_error(ch, d);
        return;
      }
      continue;
    }
    if (d->pos == d->len) { /* the buffer is empty (in) or not started (out) */
      uint32_t n = min32(d->left, IDE_DMA_CHUNK);
      if (in && disk_read(&d->disk, d->lba, d->buf, n) < 0) {
        fail_at(d, d->lba, 0, ATA_UNC);
        return;
      }
      d->blk = n;
      d->pos = 0;
      d->len = n * DISK_SECTOR;
    }
    uint32_t c = min32(d->len - d->pos, bm->prd_left);
    if (in) {
      if (!mmu_phys_write(mmu, bm->prd_addr, d->buf + d->pos, c)) {
        bus_error(ch, d);
        return;
      }
    } else {
      const uint8_t *src = mmu_phys_ptr(mmu, bm->prd_addr, c);
      if (!src) {
        bus_error(ch, d);
        return;
      }
      memcpy(d->buf + d->pos, src, c);
    }
    d->pos += c;
    bm->prd_addr += c;
    bm->prd_left -= c;
    if (d->pos == d->len) {
      if (!in && disk_write(&d->disk, d->lba, d->buf, d->blk) < 0) {
        fail_at(d, d->lba, ATA_DF, ATA_ABRT);
        return;
      }
      d->lba += d->blk;
      d->left -= d->blk;
      if (d->left)
        d->pos = d->len = 0;
    }
  }
  /* All the command's data moved: Active stays set only if the table had more room. */
  if (!bm->prd_left && bm->prd_last)
    bm->status &= (uint8_t)~BM_ST_ACTIVE;
  if (in)
    complete(d);
  else
    write_done(d);
}

static void bm_command(struct ide_channel *ch, uint8_t v) {
  struct ide_bm *bm = &ch->bm;
  uint8_t old = bm->cmd;
  bm->cmd = v & (BM_CMD_START | BM_CMD_READ);
  if ((v & BM_CMD_START) && !(old & BM_CMD_START)) {
    bm->status |= BM_ST_ACTIVE;
    bm->prd_next = bm->prdt;
    bm->prd_left = 0;
    bm->prd_last = false;
    bm_run(ch);
  } else if (!(v & BM_CMD_START) && (old & BM_CMD_START)) {
    /* Stopped: a transfer not finished stays unfinished (the drive keeps waiting). */
    bm->status &= (uint8_t)~BM_ST_ACTIVE;
  }
}

static uint8_t bm_byte_read(struct ide *ide, unsigned offset) {
  const struct ide_bm *bm = &ide->ch[(offset >> 3) & 1].bm;
  switch (offset & 7) {
  case 0:
    return bm->cmd;
  case 2:
    return bm->status;
  case 4:
  case 5:
  case 6:
  case 7:
    return (uint8_t)(bm->prdt >> (8 * ((offset & 7) - 4)));
  default:
    return 0;
  }
}

static void bm_byte_write(struct ide *ide, unsigned offset, uint8_t v) {
  struct ide_channel *ch = &ide->ch[(offset >> 3) & 1];
  struct ide_bm *bm = &ch->bm;
  unsigned reg = offset & 7;
  if (reg == 0) {
    bm_command(ch, v);
  } else if (reg == 2) {
    /* Drive DMA-capable bits are plain storage; Error and Interrupt are write 1 to clear. */
    uint8_t s = (uint8_t)((bm->status & ~(BM_ST_DMA0 | BM_ST_DMA1)) |
                          (v & (BM_ST_DMA0 | BM_ST_DMA1)));
    bm->status = (uint8_t)(s & ~(v & (BM_ST_ERROR | BM_ST_INTR)));
  } else if (reg >= 4) {
    unsigned shift = 8 * (reg - 4);
    bm->prdt = ((bm->prdt & ~(0xffu << shift)) | (uint32_t)v << shift) & ~3u;
  }
}

static uint32_t bm_read(void *opaque, uint32_t offset, int size) {
  uint32_t v = 0;
  for (int i = 0; i < size; i++)
    v |= (uint32_t)bm_byte_read(opaque, offset + (unsigned)i) << (8 * i);
  return v;
}

static void bm_write(void *opaque, uint32_t offset, int size, uint32_t value) {
  for (int i = 0; i < size; i++)
    bm_byte_write(opaque, offset + (unsigned)i, (uint8_t)(value >> (8 * i)));
}

/* ---- the PCI function ---- */

static void ide_config_write(struct pci_device *dev, unsigned offset, int size, uint32_t value) {
  (void)value;
  struct ide *ide = dev->opaque;
  if (offset < PCI_COMMAND + 2 && offset + (unsigned)size > PCI_COMMAND)
    for (int c = 0; c < 2; c++) /* bus mastering may just have been allowed */
      bm_run(&ide->ch[c]);
}

static void pci_function_setup(struct ide *ide, uint16_t bm_base) {
  struct pci_device *d = &ide->dev;
  /* Mass storage, IDE, prog-if 80h: both channels in legacy mode (fixed), bus master. */
  pci_device_setup(d, "piix3-ide", 0x8086, 0x7010, 0x010180, 0x00, 0x00);
  pci_set_word(d->config + PCI_COMMAND, PCI_COMMAND_IO);
  pci_set_word(d->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
  pci_set_word(d->config + PCI_STATUS, PCI_STATUS_FAST_BACK | PCI_STATUS_DEVSEL_MEDIUM);
  pci_set_word(d->w1cmask + PCI_STATUS, 0x3800); /* target and master aborts */
  d->wmask[PCI_LATENCY_TIMER] = 0xf0;
  d->wmask[PCI_CACHE_LINE_SIZE] = 0;
  pci_bar_init(d, 4, PCI_BAR_IO, 16, bm_read, bm_write, ide);
  pci_bar_set(d, 4, bm_base);
  /* IDETIM for both channels (decode enable, timings) and SIDETIM: firmware leaves both
   * channels decoding, which is what ata_piix looks at (bit 15) before probing a channel. */
  for (int c = 0; c < 2; c++) {
    pci_set_word(d->wmask + IDETIM + 2 * c, 0xf3ff);
    pci_set_word(d->config + IDETIM + 2 * c, IDETIM_DECODE);
  }
  d->wmask[SIDETIM] = 0xff;
  d->opaque = ide;
  d->config_write = ide_config_write;
}

int ide_init(struct ide *ide, struct pci_bus *bus, struct ioports *io, struct mmu *mmu,
             const struct irq_line *irq14, const struct irq_line *irq15, uint16_t bm_base) {
  memset(ide, 0, sizeof(*ide));
  ide->bus = bus;
  ide->mmu = mmu;
  pci_function_setup(ide, bm_base);
  static const uint16_t base[2] = {IDE_PRIMARY_BASE, IDE_SECONDARY_BASE};
  static const uint16_t ctl[2] = {IDE_PRIMARY_CTL, IDE_SECONDARY_CTL};
  for (int c = 0; c < 2; c++) {
    struct ide_channel *ch = &ide->ch[c];
    ch->ide = ide;
    ch->index = c;
    ch->base = base[c];
    ch->ctl_port = ctl[c];
    ch->irq = c ? irq15 : irq14;
    for (int u = 0; u < 2; u++) {
      ch->drive[u].ch = ch;
      ch->drive[u].unit = u;
      ch->drive[u].disk.fd = -1;
    }
  }
  int err = pci_register_device(bus, &ide->dev, IDE_DEVFN);
  if (err)
    return err;
  static const char *names[2][2] = {{"ide0", "ide0-ctl"}, {"ide1", "ide1-ctl"}};
  for (int c = 0; c < 2 && !err; c++) {
    struct ide_channel *ch = &ide->ch[c];
    err = ioports_register(io, ch->base, 8, 0, names[c][0], cmd_block_read, cmd_block_write, ch);
    if (!err)
      err = ioports_register(io, ch->ctl_port, 1, IO_BYTES_ONLY, names[c][1], ctl_block_read,
                             ctl_block_write, ch);
  }
  if (err)
    pci_unregister_device(&ide->dev);
  return err;
}

int ide_attach_disk(struct ide *ide, int channel, int unit, const char *path) {
  if (channel < 0 || channel > 1 || unit < 0 || unit > 1)
    return -EINVAL;
  struct ide_channel *ch = &ide->ch[channel];
  struct ide_drive *d = &ch->drive[unit];
  if (d->present) {
    fprintf(stderr, "bt386: IDE %s %s already has a disk\n", channel ? "secondary" : "primary",
            unit ? "slave" : "master");
    return -EBUSY;
  }
  int err = disk_open(&d->disk, path);
  if (err)
    return err;
  d->buf = malloc((size_t)IDE_DMA_CHUNK * DISK_SECTOR);
  if (!d->buf) {
    disk_close(&d->disk);
    return -ENOMEM;
  }
  snprintf(d->name, sizeof(d->name), "hd%c", 'a' + 2 * channel + unit);
  d->present = true;
  d->write_cache_default = true;
  power_on(d);
  ch->bm.status |= unit ? BM_ST_DMA1 : BM_ST_DMA0; /* firmware found a DMA-capable drive */
  return 0;
}

int ide_attach(struct ide *ide, const struct ide_drive_spec *spec) {
  int index = spec->index;
  for (int i = 0; i < IDE_MAX_DRIVES && index < 0; i++)
    if (!ide->ch[i / 2].drive[i % 2].present)
      index = i;
  if (index < 0) {
    fprintf(stderr, "bt386: no IDE position left for disk image %s (4 at most)\n", spec->file);
    return -EBUSY;
  }
  if (index >= IDE_MAX_DRIVES)
    return -EINVAL;
  int err = ide_attach_disk(ide, index / 2, index % 2, spec->file);
  if (!err && spec->writethrough) {
    struct ide_drive *d = &ide->ch[index / 2].drive[index % 2];
    d->write_cache_default = false;
    d->write_cache = false;
  }
  return err;
}

/* ---- -drive ---- */

static int drive_error(int ret, char *err, size_t errlen, const char *fmt, ...) {
  if (errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return ret;
}

/* A number from min to max, all of val. */
static bool drive_number(const char *val, int min, int max, int *out) {
  char *end;
  long v = strtol(val, &end, 10);
  if (!*val || *end || v < min || v > max)
    return false;
  *out = (int)v;
  return true;
}

static int drive_option(struct ide_drive_spec *spec, const char *key, const char *val,
                        int *index, int *bus, int *unit, char *err, size_t errlen) {
  if (!strcmp(key, "file")) {
    if (!*val || strlen(val) >= sizeof(spec->file))
      return drive_error(-EINVAL, err, errlen, "-drive file=: give the image's path");
    strcpy(spec->file, val);
  } else if (!strcmp(key, "if")) {
    if (strcmp(val, "ide"))
      return drive_error(-ENOTSUP, err, errlen, "-drive if=%s: bt386 has IDE disks only", val);
  } else if (!strcmp(key, "index")) {
    if (!drive_number(val, 0, IDE_MAX_DRIVES - 1, index))
      return drive_error(-EINVAL, err, errlen, "-drive index=%s: give 0 to 3", val);
  } else if (!strcmp(key, "bus")) {
    if (!drive_number(val, 0, 1, bus))
      return drive_error(-EINVAL, err, errlen, "-drive bus=%s: give 0 or 1", val);
  } else if (!strcmp(key, "unit")) {
    if (!drive_number(val, 0, 1, unit))
      return drive_error(-EINVAL, err, errlen, "-drive unit=%s: give 0 or 1", val);
  } else if (!strcmp(key, "media")) {
    if (!strcmp(val, "cdrom"))
      return drive_error(-ENOTSUP, err, errlen, "-drive media=cdrom: bt386 has no CD-ROM drive");
    if (strcmp(val, "disk"))
      return drive_error(-EINVAL, err, errlen, "-drive media=%s: give disk", val);
  } else if (!strcmp(key, "format")) {
    if (strcmp(val, "raw"))
      return drive_error(-ENOTSUP, err, errlen,
                         "-drive format=%s: bt386 reads raw images only (qemu-img convert -O "
                         "raw makes one)",
                         val);
  } else if (!strcmp(key, "cache")) {
    if (!strcmp(val, "writethrough") || !strcmp(val, "directsync"))
      spec->writethrough = true;
    else if (!strcmp(val, "writeback") || !strcmp(val, "none") || !strcmp(val, "unsafe"))
      spec->writethrough = false;
    else
      return drive_error(-EINVAL, err, errlen, "-drive cache=%s: not a cache mode", val);
  } else {
    return drive_error(-EINVAL, err, errlen,
                       "-drive %s=: not an option bt386 knows (file, if, index, bus, unit, "
                       "media, format, cache)",
                       key);
  }
  return 0;
}

int ide_drive_parse(const char *s, struct ide_drive_spec *spec, char *err, size_t errlen) {
  memset(spec, 0, sizeof(*spec));
  spec->index = -1;
  if (errlen)
    err[0] = 0;
  int index = -1, bus = -1, unit = -1;
  char item[sizeof(spec->file) + 16];
  for (const char *p = s; *p;) {
    size_t n = 0;
    for (; *p; p++) {
      if (*p == ',' && p[1] != ',')
        break;
      if (*p == ',')
        p++; /* ",," is a comma */
      if (n + 1 >= sizeof(item))
        return drive_error(-EINVAL, err, errlen, "-drive: an option is too long");
      item[n++] = *p;
    }
    item[n] = 0;
    if (*p == ',')
      p++;
    if (!n)
      continue;
    char *eq = strchr(item, '=');
    if (!eq)
      return drive_error(-EINVAL, err, errlen, "-drive %s: options are key=value", item);
    *eq = 0;
    int ret = drive_option(spec, item, eq + 1, &index, &bus, &unit, err, errlen);
    if (ret)
      return ret;
  }
  if (!spec->file[0])
    return drive_error(-EINVAL, err, errlen, "-drive: file= names no image");
  if (index >= 0 && (bus >= 0 || unit >= 0))
    return drive_error(-EINVAL, err, errlen, "-drive: index= cannot go with bus= and unit=");
  if (bus >= 0 || unit >= 0)
    index = 2 * (bus < 0 ? 0 : bus) + (unit < 0 ? 0 : unit);
  spec->index = index;
  return 0;
}

void ide_exit(struct ide *ide) {
  pci_unregister_device(&ide->dev);
  for (int c = 0; c < 2; c++) {
    struct ide_channel *ch = &ide->ch[c];
    if (ch->irq_level)
      irq_set(ch->irq, 0);
    ch->irq_level = false;
    for (int u = 0; u < 2; u++) {
      struct ide_drive *d = &ch->drive[u];
      if (!d->present)
        continue;
      disk_close(&d->disk);
      free(d->buf);
      d->buf = NULL;
      d->present = false;
    }
  }
}

void ide_set_log(struct ide *ide, bool log, FILE *f) {
  ide->log = log;
  ide->log_file = f;
}
