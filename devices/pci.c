/* pci.c - PCI configuration mechanism #1, the bus, BAR decoding, and the i440FX PC's two
 * chipset functions: the 82441FX host bridge and the PIIX3's ISA bridge with its PIRQ router
 * and reset control register (see pci.h).
 *
 * Configuration spaces are plain byte arrays with a write mask and a write-1-to-clear mask per
 * byte, as on hardware where most registers are latches: a write changes only the writable
 * bits, sizing a BAR (all ones, then read) returns the size mask because the BAR's low address
 * bits are not writable. BARs are not mapped anywhere: the host bridge owns an I/O window (and
 * optionally a memory window) and, on each access there, looks for the BAR that decodes the
 * address with its command register enable set, as devices claim cycles on a real bus. So a
 * guest moving a BAR needs no re-registration, at the price of a short scan per access; BARs
 * outside the windows decode nothing (Linux keeps what firmware assigned). */
#include "devices/pci.h"

#include <errno.h>
#include <string.h>

static uint32_t ones(int size) { return size == 4 ? ~0u : (1u << (8 * size)) - 1; }

/* ---- configuration spaces ---- */

static uint32_t config_get(const struct pci_device *d, unsigned off, int size) {
  uint32_t v = 0;
  for (int i = 0; i < size; i++)
    v |= (uint32_t)d->config[off + i] << (8 * i);
  return v;
}

static bool overlaps(unsigned off, int size, unsigned reg, unsigned len) {
  return off < reg + len && reg < off + (unsigned)size;
}

static bool intx_enabled(const struct pci_device *d) {
  return !(pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
}

static void intx_update(struct pci_device *d) {
  if (d->bus && d->bus->intx_changed)
    d->bus->intx_changed(d->bus->chipset, d);
}

uint32_t pci_config_read(struct pci_bus *b, uint8_t bus, uint8_t devfn, unsigned offset,
                         int size) {
  struct pci_device *d = bus == 0 ? b->dev[devfn] : NULL;
  if (!d || (offset & 0xff) + (unsigned)size > 256)
    return ones(size);
  offset &= 0xff;
  uint32_t v = config_get(d, offset, size);
  return d->config_read ? d->config_read(d, offset, size, v) : v;
}

void pci_config_write(struct pci_bus *b, uint8_t bus, uint8_t devfn, unsigned offset, int size,
                      uint32_t value) {
  struct pci_device *d = bus == 0 ? b->dev[devfn] : NULL;
  if (!d || (offset & 0xff) + (unsigned)size > 256)
    return;
  offset &= 0xff;
  bool intx_was = intx_enabled(d);
  for (int i = 0; i < size; i++) {
    unsigned o = offset + (unsigned)i;
    uint8_t v = (uint8_t)(value >> (8 * i));
    d->config[o] = (uint8_t)((d->config[o] & ~d->wmask[o]) | (v & d->wmask[o]));
    d->config[o] &= (uint8_t)~(v & d->w1cmask[o]);
  }
  if (overlaps(offset, size, PCI_COMMAND, 2) && intx_was != intx_enabled(d))
    intx_update(d);
  if (d->config_write)
    d->config_write(d, offset, size, value);
}

void pci_device_setup(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                      uint32_t class_code, uint8_t revision, uint8_t header_type) {
  memset(d, 0, sizeof(*d));
  d->name = name;
  pci_set_word(d->config + PCI_VENDOR_ID, vendor);
  pci_set_word(d->config + PCI_DEVICE_ID, device);
  d->config[PCI_REVISION_ID] = revision;
  d->config[PCI_CLASS_PROG] = (uint8_t)class_code;
  pci_set_word(d->config + PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
  d->config[PCI_HEADER_TYPE] = header_type;
  pci_set_word(d->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                                           PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
                                           PCI_COMMAND_INTX_DISABLE);
  pci_set_word(d->w1cmask + PCI_STATUS, PCI_STATUS_W1C);
  d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
  d->wmask[PCI_LATENCY_TIMER] = 0xff;
  d->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

static bool power_of_two(uint32_t v) { return v && !(v & (v - 1)); }

int pci_bar_init(struct pci_device *d, int n, uint8_t type, uint32_t size, pci_bar_read_fn read,
                 pci_bar_write_fn write, void *opaque) {
  bool io = type & PCI_BAR_IO;
  if (n < 0 || n > 5 || !power_of_two(size) || size < (io ? 4u : 16u) ||
      (io && size > 256) || (!io && (type & ~PCI_BAR_PREFETCH)))
    return -EINVAL;
  d->bar[n] = (struct pci_bar){size, type, read, write, opaque};
  unsigned reg = PCI_BASE_ADDRESS_0 + 4u * (unsigned)n;
  /* I/O BARs decode 16 address bits on a PC: the upper half reads as zero. */
  uint32_t mask = ~(size - 1) & (io ? 0xfffcu : 0xfffffff0u);
  pci_set_long(d->wmask + reg, mask);
  pci_set_long(d->config + reg, type);
  return 0;
}

void pci_bar_set(struct pci_device *d, int n, uint32_t addr) {
  unsigned reg = PCI_BASE_ADDRESS_0 + 4u * (unsigned)n;
  uint32_t mask = pci_get_long(d->wmask + reg);
  pci_set_long(d->config + reg, (addr & mask) | d->bar[n].type);
}

uint32_t pci_bar_addr(const struct pci_device *d, int n) {
  const struct pci_bar *bar = &d->bar[n];
  if (!bar->size)
    return 0;
  uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
  bool io = bar->type & PCI_BAR_IO;
  if (!(cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
    return 0;
  unsigned reg = PCI_BASE_ADDRESS_0 + 4u * (unsigned)n;
  return pci_get_long(d->config + reg) & pci_get_long(d->wmask + reg);
}

int pci_register_device(struct pci_bus *b, struct pci_device *d, uint8_t devfn) {
  if (b->dev[devfn])
    return -EBUSY;
  if (PCI_FUNC(devfn) && !b->dev[devfn & ~7u])
    return -EINVAL;
  d->devfn = devfn;
  d->bus = b;
  b->dev[devfn] = d;
  /* Firmware writes the IRQ a device's INTx# is routed to into its interrupt line register. */
  if (d->config[PCI_INTERRUPT_PIN] && b->intx_route) {
    int irq = b->intx_route(b->chipset, d);
    d->config[PCI_INTERRUPT_LINE] = irq < 0 ? 0xff : (uint8_t)irq;
  }
  return 0;
}

void pci_unregister_device(struct pci_device *d) {
  struct pci_bus *b = d->bus;
  if (!b)
    return;
  if (d->intx) {
    d->intx = false;
    intx_update(d);
  }
  b->dev[d->devfn] = NULL;
  d->bus = NULL;
}

void pci_set_irq(struct pci_device *d, int level) {
  bool l = level != 0;
  uint16_t status = pci_get_word(d->config + PCI_STATUS);
  pci_set_word(d->config + PCI_STATUS,
               (uint16_t)(l ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT));
  if (d->intx == l)
    return;
  d->intx = l;
  intx_update(d);
}

/* ---- BAR decoding in the host bridge's windows ---- */

static const struct pci_bar *decode(struct pci_bus *b, bool io, uint32_t addr, uint32_t *base) {
  for (int devfn = 0; devfn < 256; devfn++) {
    const struct pci_device *d = b->dev[devfn];
    if (!d)
      continue;
    for (int n = 0; n < 6; n++) {
      const struct pci_bar *bar = &d->bar[n];
      if (!bar->size || ((bar->type & PCI_BAR_IO) != 0) != io)
        continue;
      uint32_t a = pci_bar_addr(d, n);
      if (a && addr - a < bar->size) {
        *base = a;
        return bar;
      }
    }
  }
  return NULL;
}

static void report(struct pci_bus *b, bool io, uint32_t addr, bool write) {
  if (b->log)
    fprintf(b->log_file ? b->log_file : stderr,
            "bt386: pci: %s %s 0x%x decoded by no BAR\n", write ? "write to" : "read from",
            io ? "port" : "address", addr);
}

static uint32_t window_read(struct pci_bus *b, bool io, uint32_t addr, int size) {
  uint32_t base;
  const struct pci_bar *bar = decode(b, io, addr, &base);
  if (!bar) {
    report(b, io, addr, false);
    return ones(size);
  }
  if (addr - base + (uint32_t)size <= bar->size)
    return bar->read ? bar->read(bar->opaque, addr - base, size) : ones(size);
  uint32_t v = 0; /* straddles the end of a BAR: byte by byte */
  for (int i = 0; i < size; i++)
    v |= window_read(b, io, addr + (uint32_t)i, 1) << (8 * i);
  return v;
}

static void window_write(struct pci_bus *b, bool io, uint32_t addr, int size, uint32_t value) {
  uint32_t base;
  const struct pci_bar *bar = decode(b, io, addr, &base);
  if (bar && addr - base + (uint32_t)size <= bar->size) {
    if (bar->write)
      bar->write(bar->opaque, addr - base, size, value);
    return;
  }
  if (!bar) {
    report(b, io, addr, true);
    return;
  }
  for (int i = 0; i < size; i++)
    window_write(b, io, addr + (uint32_t)i, 1, (value >> (8 * i)) & 0xff);
}

static uint32_t io_window_read(void *opaque, uint16_t offset, int size) {
  struct pci_bus *b = opaque;
  return window_read(b, true, (uint32_t)b->io_base + offset, size);
}

static void io_window_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  struct pci_bus *b = opaque;
  window_write(b, true, (uint32_t)b->io_base + offset, size, value);
}

static uint32_t mem_window_read(void *opaque, uint32_t offset, int size) {
  struct pci_bus *b = opaque;
  return window_read(b, false, b->mem_base + offset, size);
}

static void mem_window_write(void *opaque, uint32_t offset, int size, uint32_t value) {
  struct pci_bus *b = opaque;
  window_write(b, false, b->mem_base + offset, size, value);
}

/* ---- configuration mechanism #1: 0xCF8-0xCFF ---- */

static uint32_t data_read(struct pci_bus *b, unsigned off, int size) {
  uint32_t a = b->config_address;
  if (!(a & PCI_CONFIG_ENABLE))
    return ones(size);
  return pci_config_read(b, (uint8_t)(a >> 16), (uint8_t)(a >> 8), (a & 0xfc) + off, size);
}

static void data_write(struct pci_bus *b, unsigned off, int size, uint32_t value) {
  uint32_t a = b->config_address;
  if (a & PCI_CONFIG_ENABLE)
    pci_config_write(b, (uint8_t)(a >> 16), (uint8_t)(a >> 8), (a & 0xfc) + off, size, value);
}

/* A byte of 0xCF8-0xCFB that is not part of a dword access to CONFIG_ADDRESS. */
static uint8_t low_byte_read(struct pci_bus *b, unsigned off) {
  if (off == PIIX3_RCR_PORT - PCI_CONFIG_ADDRESS && b->rcr_read)
    return b->rcr_read(b->chipset);
  return 0xff;
}

static uint32_t conf_read(void *opaque, uint16_t offset, int size) {
  struct pci_bus *b = opaque;
  if (offset == 0 && size == 4)
    return b->config_address;
  if (offset >= 4)
    return data_read(b, offset - 4u, size);
  uint32_t v = 0;
  for (int i = 0; i < size; i++) {
    unsigned o = offset + (unsigned)i;
    v |= (uint32_t)(o < 4 ? low_byte_read(b, o) : data_read(b, o - 4, 1)) << (8 * i);
  }
  return v;
}

static void conf_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  struct pci_bus *b = opaque;
  if (offset == 0 && size == 4) {
    /* Reserved bits 30:24 and the type bits 1:0 read back as zero. */
    b->config_address = value & 0x80fffffcu;
    return;
  }
  if (offset >= 4) {
    data_write(b, offset - 4u, size, value);
    return;
  }
  for (int i = 0; i < size; i++) {
    unsigned o = offset + (unsigned)i;
    uint8_t v = (uint8_t)(value >> (8 * i));
    if (o >= 4)
      data_write(b, o - 4, 1, v);
    else if (o == PIIX3_RCR_PORT - PCI_CONFIG_ADDRESS && b->rcr_write)
      b->rcr_write(b->chipset, v);
  }
}

int pci_bus_init(struct pci_bus *b, struct ioports *io, uint16_t io_base, uint32_t io_len,
                 struct mmio *mmio, uint32_t mem_base, uint32_t mem_len) {
  memset(b, 0, sizeof(*b));
  b->io = io;
  b->io_base = io_base;
  b->io_len = io_len;
  int err = ioports_register(io, PCI_CONFIG_ADDRESS, 8, 0, "pci-config", conf_read, conf_write,
                             b);
  if (!err && io_len)
    err = ioports_register(io, io_base, io_len, 0, "pci-io", io_window_read, io_window_write, b);
  if (!err && mmio && mem_len) {
    err = mmio_register(mmio, mem_base, mem_len, "pci-mem", mem_window_read, mem_window_write,
                        b);
    if (!err) {
      b->mmio = mmio;
      b->mem_base = mem_base;
      b->mem_len = mem_len;
    }
  }
  return err;
}

void pci_bus_exit(struct pci_bus *b) {
  for (int devfn = 0; devfn < 256; devfn++)
    if (b->dev[devfn])
      b->dev[devfn]->bus = NULL;
  memset(b->dev, 0, sizeof(b->dev));
  b->intx_changed = NULL;
  b->intx_route = NULL;
  b->rcr_read = NULL;
  b->rcr_write = NULL;
}

void pci_bus_set_log(struct pci_bus *b, bool log, FILE *f) {
  b->log = log;
  b->log_file = f;
}

/* ---- 00:00.0: the 82441FX PCI and memory controller (i440FX host bridge) ---- */

#define I440FX_PAM0 0x59
#define I440FX_SMRAM 0x72

int i440fx_init(struct i440fx *h, struct pci_bus *b) {
  struct pci_device *d = &h->dev;
  pci_device_setup(d, "i440fx", 0x8086, 0x1237, 0x060000, 0x02, 0x00);
  /* PCICMD: memory and bus master are hardwired on; only parity and SERR responses change. */
  pci_set_word(d->config + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  pci_set_word(d->wmask + PCI_COMMAND, PCI_COMMAND_PARITY | PCI_COMMAND_SERR);
  pci_set_word(d->config + PCI_STATUS, PCI_STATUS_FAST_BACK | PCI_STATUS_DEVSEL_MEDIUM);
  d->wmask[PCI_INTERRUPT_LINE] = 0;
  /* The chipset registers (PMCCFG, DRAM control, PAM, DRB, SMRAM, error reporting) hold what
   * is written; none of them changes the machine: RAM is always RAM here. The PAM registers
   * read as a BIOS that shadowed itself leaves them: 0xC0000-0xFFFFF read/write DRAM. */
  memset(d->wmask + 0x50, 0xff, 0x94 - 0x50);
  d->config[I440FX_PAM0] = 0x30;
  memset(d->config + I440FX_PAM0 + 1, 0x33, 6);
  d->config[I440FX_SMRAM] = 0x02; /* C_BASE_SEG: SMRAM at 0xA0000, closed */
  d->wmask[I440FX_SMRAM] = 0x78;  /* D_OPEN, D_CLS, D_LCK, G_SMRAME */
  d->opaque = h;
  return pci_register_device(b, d, PCI_DEVFN(0, 0));
}

void i440fx_exit(struct i440fx *h) { pci_unregister_device(&h->dev); }

/* ---- 00:01.0: the 82371SB PIIX3 PCI-to-ISA bridge ---- */

int piix3_pirq_of(const struct pci_device *d) {
  int pin = d->config[PCI_INTERRUPT_PIN];
  if (pin < 1 || pin > 4)
    return -1;
  return (PCI_SLOT(d->devfn) + pin - 2) & 3;
}

/* The ISA IRQ a PIRQ route register sends its PIRQ to, or -1 (disabled, or an IRQ the PIIX3
 * cannot route to: 0, 1, 2, 8 and 13). */
static int route_irq(uint8_t reg) {
  int irq = reg & 0x0f;
  if (reg & PIIX3_PIRQ_DISABLED || irq < 3 || irq == 8 || irq == 13)
    return -1;
  return irq;
}

static void piix3_update(struct piix3 *s) {
  bool pirq[4] = {false, false, false, false};
  for (int devfn = 0; devfn < 256; devfn++) {
    const struct pci_device *d = s->bus->dev[devfn];
    int p = d ? piix3_pirq_of(d) : -1;
    if (p >= 0 && d->intx && intx_enabled(d))
      pirq[p] = true;
  }
  uint16_t level = 0;
  for (int p = 0; p < 4; p++) {
    int irq = route_irq(s->dev.config[PIIX3_PIRQ_ROUTE + p]);
    if (irq >= 0 && pirq[p])
      level |= (uint16_t)(1u << irq);
  }
  uint16_t changed = level ^ s->isa_level;
  s->isa_level = level;
  for (int irq = 0; irq < 16; irq++)
    if (changed & (1u << irq))
      irq_set(s->isa_irq[irq], (level >> irq) & 1);
}

static void piix3_intx_changed(void *opaque, struct pci_device *d) {
  (void)d;
  piix3_update(opaque);
}

static int piix3_intx_route(void *opaque, const struct pci_device *d) {
  struct piix3 *s = opaque;
  int p = piix3_pirq_of(d);
  return p < 0 ? -1 : route_irq(s->dev.config[PIIX3_PIRQ_ROUTE + p]);
}

static void piix3_config_write(struct pci_device *d, unsigned offset, int size, uint32_t value) {
  (void)value;
  if (overlaps(offset, size, PIIX3_PIRQ_ROUTE, 4))
    piix3_update(d->opaque);
}

static uint8_t piix3_rcr_read(void *opaque) {
  struct piix3 *s = opaque;
  return s->rcr;
}

/* RCR: bit 1 chooses a hard (1) or soft reset, bit 2 starts it. */
static void piix3_rcr_write(void *opaque, uint8_t value) {
  struct piix3 *s = opaque;
  s->rcr = value & 0x02;
  if ((value & 0x04) && s->reset)
    s->reset(s->reset_opaque, (value & 0x02) != 0);
}

int piix3_init(struct piix3 *s, struct pci_bus *b, const struct irq_line *const isa_irq[16],
               const uint8_t pirq[4], piix3_reset_fn reset, void *reset_opaque) {
  memset(s, 0, sizeof(*s));
  struct pci_device *d = &s->dev;
  pci_device_setup(d, "piix3-isa", 0x8086, 0x7000, 0x060100, 0x00, PCI_HEADER_MULTI_FUNCTION);
  /* PCICMD: I/O, memory and bus master hardwired on; special cycles may be turned on. */
  pci_set_word(d->config + PCI_COMMAND,
               PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  pci_set_word(d->wmask + PCI_COMMAND, 0x0008);
  pci_set_word(d->config + PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM);
  d->wmask[PCI_INTERRUPT_LINE] = 0;
  /* Function 0's registers as the datasheet resets them; they are stored, and only the PIRQ
   * routes act (Linux's 440FX quirk sets DLC bit 1, passive release, at 0x82). */
  memset(d->wmask + 0x40, 0xff, 0xc0);
  d->config[0x4c] = 0x4d; /* IORT */
  d->config[0x4e] = 0x03; /* XBCS: RTC, keyboard controller */
  d->config[0x69] = 0x02; /* TOM */
  d->config[0x70] = 0x80; /* MBIRQ0: disabled */
  d->config[0x76] = 0x0c; /* MBDMA0/1: disabled */
  d->config[0x77] = 0x0c;
  d->config[0x78] = 0x02; /* PCSC */
  d->config[0xa0] = 0x08; /* SMICNTL */
  d->config[0xa8] = 0x0f; /* SMIEN */
  for (int p = 0; p < 4; p++) {
    d->config[PIIX3_PIRQ_ROUTE + p] = pirq ? (uint8_t)(pirq[p] & 0x8f) : PIIX3_PIRQ_DISABLED;
    d->wmask[PIIX3_PIRQ_ROUTE + p] = 0x8f;
  }
  for (int i = 0; i < 16; i++)
    s->isa_irq[i] = isa_irq ? isa_irq[i] : NULL;
  s->reset = reset;
  s->reset_opaque = reset_opaque;
  s->bus = b;
  d->opaque = s;
  d->config_write = piix3_config_write;
  int err = pci_register_device(b, d, PCI_DEVFN(1, 0));
  if (err)
    return err;
  b->chipset = s;
  b->intx_changed = piix3_intx_changed;
  b->intx_route = piix3_intx_route;
  b->rcr_read = piix3_rcr_read;
  b->rcr_write = piix3_rcr_write;
  return 0;
}

void piix3_exit(struct piix3 *s) {
  struct pci_bus *b = s->bus;
  if (!b)
    return;
  if (b->chipset == s) {
    b->intx_changed = NULL;
    b->intx_route = NULL;
    b->rcr_read = NULL;
    b->rcr_write = NULL;
    b->chipset = NULL;
  }
  pci_unregister_device(&s->dev);
  s->bus = NULL;
}
