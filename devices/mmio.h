/* mmio.h - memory-mapped I/O: devices register physical address ranges with one call.
 *
 * A device registers (base, length, read, write, opaque) for guest physical addresses that are
 * not RAM (the local APIC at 0xFEE00000, the IOAPIC at 0xFEC00000, PCI BARs...). Guest
 * accesses there reach the callbacks with the offset into the range and the access size (1, 2,
 * 4; wider ones are split into 4-byte accesses here). Like port I/O, nothing registered reads
 * as all ones. */
#ifndef BT386_MMIO_H
#define BT386_MMIO_H

#include <stdbool.h>
#include <stdint.h>

typedef uint32_t (*mmio_read_fn)(void *opaque, uint32_t offset, int size);
typedef void (*mmio_write_fn)(void *opaque, uint32_t offset, int size, uint32_t value);

struct mmio_region {
  uint32_t base, len;
  const char *name;
  mmio_read_fn read;
  mmio_write_fn write;
  void *opaque;
};

#define MMIO_MAX_REGIONS 16

struct mmio {
  struct mmio_region regions[MMIO_MAX_REGIONS];
  int n;
};

void mmio_init(struct mmio *m);
/* -EBUSY if it overlaps a registered range, -ENOSPC if the table is full. */
int mmio_register(struct mmio *m, uint32_t base, uint32_t len, const char *name,
                  mmio_read_fn read, mmio_write_fn write, void *opaque);
/* The region holding physical address pa, or NULL. */
const struct mmio_region *mmio_find(const struct mmio *m, uint32_t pa);
/* Accesses by physical address (size 1, 2, 4 or 8); false if nothing is registered there. */
bool mmio_read(const struct mmio *m, uint32_t pa, int size, uint64_t *value);
bool mmio_write(const struct mmio *m, uint32_t pa, int size, uint64_t value);

#endif
