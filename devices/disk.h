/* disk.h - a raw disk image: the 512-byte sectors of a disk, in order, in a host file or block
 * device, read with pread and written with pwrite (so data written reaches the host's page
 * cache before the guest hears of it) and made durable with fdatasync.
 *
 * An image is refused, with a message that names the file and the problem, when it cannot be
 * opened read-write, is not a regular file or block device, is not a whole number of sectors,
 * is empty, or is locked by another program (flock, as QEMU locks its images). A disk
 * smaller than one cylinder of the usual 16-head, 63-sector translation (504 KiB) is fine:
 * QEMU takes any size (xv6's file system image is 1,000 sectors), and the IDE drive gives it
 * a smaller default geometry. */
#ifndef BT386_DISK_H
#define BT386_DISK_H

#include <stdint.h>

#define DISK_SECTOR 512u
#define DISK_MIN_SECTORS 1u
#define DISK_MAX_SECTORS (1ull << 48) /* what LBA48 addresses */

struct disk {
  int fd;          /* -1 when closed */
  uint64_t sectors;
  char *path;
  uint64_t stat_reads, stat_writes, stat_flushes; /* calls that reached the file */
};

/* -errno, with a message on stderr: -ENOENT/-EACCES/... from open, -EINVAL for a size that is
 * no disk, -EBUSY when another program holds the image. */
int disk_open(struct disk *d, const char *path);
void disk_close(struct disk *d);

/* n sectors at lba; 0 or -errno (-EIO for a short transfer). The caller checks the range. */
int disk_read(struct disk *d, uint64_t lba, void *buf, uint32_t n);
int disk_write(struct disk *d, uint64_t lba, const void *buf, uint32_t n);
/* fdatasync: everything written so far is on stable storage when it returns 0. */
int disk_flush(struct disk *d);

#endif
