/* disk.c - raw disk images (see disk.h). */
#define _GNU_SOURCE
#include "devices/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse(struct disk *d, int err) {
  close(d->fd);
  d->fd = -1;
  return err;
}

int disk_open(struct disk *d, const char *path) {
  memset(d, 0, sizeof(*d));
  d->fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (d->fd < 0) {
    int err = errno;
    fprintf(stderr, "bt386: cannot open disk image %s for reading and writing: %s\n", path,
            strerror(err));
    return -err;
  }
  struct stat st;
  if (fstat(d->fd, &st) < 0) {
    int err = errno;
    fprintf(stderr, "bt386: disk image %s: %s\n", path, strerror(err));
    return refuse(d, -err);
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    fprintf(stderr, "bt386: disk image %s is not a regular file or a block device\n", path);
    return refuse(d, -EINVAL);
  }
  /* Back to blocking I/O: O_NONBLOCK only kept open() from waiting on a special file. */
  fcntl(d->fd, F_SETFL, fcntl(d->fd, F_GETFL) & ~O_NONBLOCK);
  off_t size = lseek(d->fd, 0, SEEK_END);
  if (size < 0) {
    int err = errno;
    fprintf(stderr, "bt386: cannot find the size of disk image %s: %s\n", path, strerror(err));
    return refuse(d, -err);
  }
  unsigned long long bytes = (unsigned long long)size;
  if (bytes % DISK_SECTOR) {
    fprintf(stderr,
            "bt386: disk image %s is %llu bytes, not a whole number of %u-byte sectors "
            "(%llu bytes too many)\n",
            path, bytes, DISK_SECTOR, bytes % DISK_SECTOR);
    return refuse(d, -EINVAL);
  }
  if (bytes < (unsigned long long)DISK_MIN_SECTORS * DISK_SECTOR) {
    fprintf(stderr, "bt386: disk image %s is empty: a disk needs at least one %u-byte sector\n",
            path, DISK_SECTOR);
    return refuse(d, -EINVAL);
  }
  if (bytes / DISK_SECTOR > DISK_MAX_SECTORS) {
    fprintf(stderr, "bt386: disk image %s is larger than LBA48 addresses (2^48 sectors)\n",
            path);
    return refuse(d, -EFBIG);
  }
  if (flock(d->fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
    fprintf(stderr, "bt386: disk image %s is in use by another program (it holds a lock)\n",
            path);
    return refuse(d, -EBUSY);
  }
  d->path = strdup(path);
  if (!d->path)
    return refuse(d, -ENOMEM);
  d->sectors = bytes / DISK_SECTOR;
  return 0;
}

void disk_close(struct disk *d) {
  if (d->fd >= 0)
    close(d->fd);
  d->fd = -1;
  free(d->path);
  d->path = NULL;
}

int disk_read(struct disk *d, uint64_t lba, void *buf, uint32_t n) {
  d->stat_reads++;
  uint8_t *p = buf;
  size_t left = (size_t)n * DISK_SECTOR;
  off_t off = (off_t)(lba * DISK_SECTOR);
  while (left) {
    ssize_t r = pread(d->fd, p, left, off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0)
      return -EIO; /* the file shrank under us */
    p += r;
    off += r;
    left -= (size_t)r;
  }
  return 0;
}

int disk_write(struct disk *d, uint64_t lba, const void *buf, uint32_t n) {
  d->stat_writes++;
  const uint8_t *p = buf;
  size_t left = (size_t)n * DISK_SECTOR;
  off_t off = (off_t)(lba * DISK_SECTOR);
  while (left) {
    ssize_t r = pwrite(d->fd, p, left, off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0)
      return -EIO;
    p += r;
    off += r;
    left -= (size_t)r;
  }
  return 0;
}

int disk_flush(struct disk *d) {
  d->stat_flushes++;
  while (fdatasync(d->fd) < 0) {
    if (errno != EINTR)
      return -errno;
  }
  return 0;
}
