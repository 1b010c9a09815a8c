/* mmio.c - the memory-mapped I/O registry (see mmio.h). */
#include "devices/mmio.h"

#include <errno.h>
#include <string.h>

void mmio_init(struct mmio *m) { memset(m, 0, sizeof(*m)); }

int mmio_register(struct mmio *m, uint32_t base, uint32_t len, const char *name,
                  mmio_read_fn read, mmio_write_fn write, void *opaque) {
  if (m->n == MMIO_MAX_REGIONS)
    return -ENOSPC;
  if (len == 0 || (uint64_t)base + len > (1ull << 32))
    return -EINVAL;
  for (int i = 0; i < m->n; i++) {
    const struct mmio_region *r = &m->regions[i];
    if (base < r->base + r->len && r->base < base + len)
      return -EBUSY;
  }
  m->regions[m->n++] = (struct mmio_region){base, len, name, read, write, opaque};
  return 0;
}

const struct mmio_region *mmio_find(const struct mmio *m, uint32_t pa) {
  for (int i = 0; i < m->n; i++)
    if (pa - m->regions[i].base < m->regions[i].len)
      return &m->regions[i];
  return NULL;
}

static uint32_t read_part(const struct mmio_region *r, uint32_t pa, int size) {
  return r->read ? r->read(r->opaque, pa - r->base, size)
                 : (size == 4 ? ~0u : (1u << (size * 8)) - 1);
}

bool mmio_read(const struct mmio *m, uint32_t pa, int size, uint64_t *value) {
  const struct mmio_region *r = mmio_find(m, pa);
  if (!r)
    return false;
  if (size == 8)
    *value = read_part(r, pa, 4) | (uint64_t)read_part(r, pa + 4, 4) << 32;
  else
    *value = read_part(r, pa, size);
  return true;
}

bool mmio_write(const struct mmio *m, uint32_t pa, int size, uint64_t value) {
  const struct mmio_region *r = mmio_find(m, pa);
  if (!r)
    return false;
  if (!r->write)
    return true;
  if (size == 8) {
    r->write(r->opaque, pa - r->base, 4, (uint32_t)value);
    r->write(r->opaque, pa + 4 - r->base, 4, (uint32_t)(value >> 32));
  } else {
    r->write(r->opaque, pa - r->base, size, (uint32_t)value);
  }
  return true;
}
