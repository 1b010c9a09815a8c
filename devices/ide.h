/* ide.h - the PIIX3's IDE function (PCI 00:01.1, 8086:7010) with its two ATA channels in
 * legacy ("compatibility") mode, the SFF-8038i bus master that does their DMA, and ATA hard
 * disks on raw image files.
 *
 *   primary    0x1F0-0x1F7 command block, 0x3F6 control block, IRQ 14
 *   secondary  0x170-0x177 command block, 0x376 control block, IRQ 15
 *   bus master BAR4, 16 ports: +0 command, +2 status, +4 PRD table address (primary); +8.. the
 *              same for the secondary
 *
 * Register map of a command block (offset from 0x1F0):
 *   0 data (16-bit, or two words per 32-bit access)
 *   1 read: error                      write: features
 *   2 sector count     3 LBA low (sector)    4 LBA mid (cylinder low)    5 LBA high (cyl. high)
 *   6 device: bit 4 selects device 1, bit 6 LBA addressing, bits 3:0 LBA 27:24 or the head
 *   7 read: status (clears the pending interrupt)      write: command
 * and of a control block: read alternate status (no side effect), write device control
 * (bit 1 nIEN masks INTRQ, bit 2 SRST resets both devices, bit 7 HOB reads the LBA48 high
 * bytes). Count, LBA and features are two deep for LBA48: a write pushes the old value into the
 * "previous" byte, which reads back with HOB set.
 *
 * Usage (the machine wires it, on the vCPU thread):
 *   ide_init(&m->ide, &m->pci, &m->io, &m->mmu, isa_irq_line(&m->isa, IDE_PRIMARY_IRQ),
 *            isa_irq_line(&m->isa, IDE_SECONDARY_IRQ), IDE_BM_BASE);
 *   ide_attach(&m->ide, &spec);          // for each -hda..-hdd / -drive, see ide_drive_parse()
 *   ...
 *   ide_exit(&m->ide); */
#ifndef BT386_IDE_H
#define BT386_IDE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/disk.h"
#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "mmu/mmu.h"

#define IDE_PRIMARY_BASE 0x1f0
#define IDE_PRIMARY_CTL 0x3f6
#define IDE_PRIMARY_IRQ 14
#define IDE_SECONDARY_BASE 0x170
#define IDE_SECONDARY_CTL 0x376
#define IDE_SECONDARY_IRQ 15
#define IDE_DEVFN PCI_DEVFN(1, 1)
#define IDE_BM_BASE 0xc000 /* where firmware puts BAR4, as SeaBIOS does on QEMU's i440FX */

/* Status register */
#define ATA_BSY 0x80
#define ATA_DRDY 0x40
#define ATA_DF 0x20
#define ATA_DSC 0x10
#define ATA_DRQ 0x08
#define ATA_ERR 0x01
/* Error register */
#define ATA_UNC 0x40
#define ATA_IDNF 0x10
#define ATA_ABRT 0x04
/* Device control register */
#define ATA_NIEN 0x02
#define ATA_SRST 0x04
#define ATA_HOB 0x80
/* Bus master command and status */
#define BM_CMD_START 0x01
#define BM_CMD_READ 0x08 /* the bus master writes memory (a device-to-host transfer) */
#define BM_ST_ACTIVE 0x01
#define BM_ST_ERROR 0x02
#define BM_ST_INTR 0x04
#define BM_ST_DMA0 0x20 /* drive 0 DMA capable (set by firmware) */
#define BM_ST_DMA1 0x40

#define IDE_MAX_MULTIPLE 16   /* sectors per DRQ block for READ/WRITE MULTIPLE */
#define IDE_DMA_CHUNK 128     /* sectors read or written per host call in DMA */
#define IDE_UDMA_MODES 0x07   /* UDMA 0-2: what a 40-conductor cable carries */
#define IDE_MWDMA_MODES 0x07  /* multiword DMA 0-2, all the PIIX3 does */

enum ide_xfer {
  IDE_XFER_NONE,
  IDE_XFER_PIO_IN,   /* DRQ: the host reads the buffer */
  IDE_XFER_PIO_OUT,  /* DRQ: the host fills the buffer */
  IDE_XFER_DMA_IN,   /* waiting for the bus master to take data to memory */
  IDE_XFER_DMA_OUT,  /* waiting for the bus master to bring data from memory */
};

/* A device's copy of the command block registers. */
struct ata_taskfile {
  uint8_t feature, count, lbal, lbam, lbah;
  uint8_t hob_feature, hob_count, hob_lbal, hob_lbam, hob_lbah; /* the previous writes */
  uint8_t device;
};

struct ide_channel;

struct ide_drive {
  struct ide_channel *ch;
  int unit;
  bool present;
  struct disk disk;
  char name[8]; /* hda.. */
  struct ata_taskfile tf;
  uint8_t status, error;
  bool intrq; /* interrupt pending: INTRQ asserted while selected and nIEN is clear */

  /* Settings: SET FEATURES, SET MULTIPLE MODE, INITIALIZE DEVICE PARAMETERS. */
  uint8_t multiple;   /* sectors per block of READ/WRITE MULTIPLE; 0: multiple mode off */
  uint8_t dma_mode;   /* SET FEATURES transfer mode value of the selected DMA mode (0x2n MWDMA,
                         0x4n UDMA) */
  uint8_t pio_mode;
  bool write_cache, read_ahead, revert_on_reset;
  bool write_cache_default; /* what power-on and a reverting reset give write_cache */
  uint16_t cyls, heads, spt;    /* current CHS translation (heads = 0: none valid) */
  uint16_t dcyls, dheads, dspt; /* default translation */
  uint8_t power;                /* CHECK POWER MODE answer: 0xFF active, 0x80 idle, 0 standby */

  /* The command in progress. */
  uint8_t cmd;
  enum ide_xfer xfer;
  bool lba48, chs;
  uint64_t lba;      /* next sector to read from or write to the image */
  uint32_t left;     /* sectors of the command not yet read from or written to the image */
  uint32_t block;    /* sectors per DRQ block (PIO) */
  uint32_t blk;      /* sectors in the buffer's current block */
  uint8_t *buf;      /* IDE_DMA_CHUNK sectors */
  uint32_t pos, len; /* bytes of buf done, bytes of buf in the current block */
};

struct ide_bm {
  uint8_t cmd, status;
  uint32_t prdt;       /* PRD table address register */
  uint32_t prd_next;   /* the next PRD to fetch */
  uint32_t prd_addr;   /* the current PRD's remaining memory */
  uint32_t prd_left;
  bool prd_last;       /* the current PRD had EOT */
};

struct ide_channel {
  struct ide *ide;
  int index;
  uint16_t base, ctl_port;
  const struct irq_line *irq;
  bool irq_level;
  uint8_t ctl;     /* device control */
  int sel;         /* DEV bit of the last write to the device register */
  struct ide_drive drive[2];
  struct ide_bm bm;
};

struct ide {
  struct pci_device dev; /* 00:01.1 */
  struct pci_bus *bus;
  struct mmu *mmu;
  struct ide_channel ch[2];
  bool log;     /* report aborted commands (-d unimp) */
  FILE *log_file;
};

/* A disk from the command line: -hda FILE is {FILE, 0}, -hdb {FILE, 1}, -hdc {FILE, 2}, -hdd
 * {FILE, 3}; -drive goes through ide_drive_parse(). */
#define IDE_MAX_DRIVES 4
struct ide_drive_spec {
  char file[4096];
  int index;         /* 2 * channel + unit (hda = 0 ... hdd = 3); -1: the first free one */
  bool writethrough; /* cache=writethrough/directsync: the write cache starts disabled */
};

/* Parse QEMU's -drive option list: file=PATH (",," for a comma in it), if=ide, index=0-3 or
 * bus=0-1 with unit=0-1, media=disk, format=raw, cache=writeback|none|unsafe (the guest sees a
 * write cache it must flush) or cache=writethrough|directsync (it sees none). Returns 0,
 * -EINVAL (a malformed or unknown option; err says which) or -ENOTSUP (something QEMU has and
 * bt386 has not: other interfaces, CD-ROMs, image formats other than raw, ...). err is a
 * message without a "bt386:" prefix; errlen may be 0. */
int ide_drive_parse(const char *s, struct ide_drive_spec *spec, char *err, size_t errlen);

/* Registers the function at 00:01.1 (on a bus that has the PIIX3's function 0), the legacy
 * ports of both channels and BAR4 at bm_base, left as firmware leaves them: I/O decoding on,
 * both channels' decode enabled in IDETIM, bus mastering off until the driver turns it on.
 * irq14 and irq15 are the channels' interrupt lines (edge-triggered ISA IRQs). -errno. */
int ide_init(struct ide *ide, struct pci_bus *bus, struct ioports *io, struct mmu *mmu,
             const struct irq_line *irq14, const struct irq_line *irq15, uint16_t bm_base);
/* Put a hard disk on the raw image at path as device unit (0 master, 1 slave) of a channel
 * (0 primary, 1 secondary). -errno with a message naming the file and the problem. */
int ide_attach_disk(struct ide *ide, int channel, int unit, const char *path);
/* ide_attach_disk() at spec->index (the first free position if -1), then the write cache
 * setting. -EBUSY if all four are taken. */
int ide_attach(struct ide *ide, const struct ide_drive_spec *spec);
void ide_exit(struct ide *ide);
void ide_set_log(struct ide *ide, bool log, FILE *f);

#endif
