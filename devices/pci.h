/* pci.h - the PCI bus of a PC: configuration mechanism #1, devices with 256-byte configuration
 * spaces, BARs decoded through the host bridge's windows, INTx routed by the PIIX3's PIRQ
 * registers; and the two chipset functions every i440FX PC has:
 *
 *   00:00.0  Intel 82441FX PMC, the i440FX host bridge      8086:1237  class 0600  rev 02
 *   00:01.0  Intel 82371SB PIIX3, function 0: ISA bridge    8086:7000  class 0601  (multi-fn)
 *
 * (00:01.1, the PIIX3's IDE function, lives in ide.c.)
 *
 * Configuration mechanism #1: CONFIG_ADDRESS is the dword at 0xCF8 (enable bit 31, bus 23:16,
 * device 15:11, function 10:8, register 7:2); CONFIG_DATA at 0xCFC-0xCFF takes byte, word and
 * dword accesses at any offset that stays inside the dword. Only bus 0 exists (type-0 cycles):
 * other buses, absent functions and a clear enable bit read as all ones. Accesses to 0xCF8 that
 * are not dwords are not CONFIG_ADDRESS, as on the 82441FX: a byte at 0xCF9 is the PIIX3's reset
 * control register, the rest reads as all ones.
 *
 * Devices start as a PC BIOS leaves them, since bt386 runs none: BARs assigned, I/O decoding
 * enabled, the PIIX3's PIRQ lines routed, and the interrupt line register of every device with
 * an interrupt pin holding the ISA IRQ its PIRQ goes to.
 *
 * Usage (on the vCPU thread, like every device):
 *   pci_bus_init(&m->pci, &m->io, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_LEN,
 *                &m->mmio, PCI_MEM_WINDOW_BASE, PCI_MEM_WINDOW_LEN);   (NULL, 0, 0: no MMIO)
 *   i440fx_init(&m->i440fx, &m->pci);
 *   const struct irq_line *isa[16];
 *   for (int i = 0; i < 16; i++) isa[i] = isa_irq_line(&m->isa, i);    (or pic_irq_line)
 *   piix3_init(&m->piix3, &m->pci, isa, PIIX3_BIOS_PIRQ, reset_fn, m);
 *   ide_init(&m->ide, &m->pci, ...);                                    (00:01.1, ide.h)
 *   teardown in reverse: ide_exit, piix3_exit, i440fx_exit, pci_bus_exit.
 * The PIIX3 owns port 0xCF9 (its reset control register, which the FADT's reset register
 * names), so nothing else may claim it. */
#ifndef BT386_PCI_H
#define BT386_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/mmio.h"

/* Standard configuration registers (type 0 header). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_ROM_ADDRESS 0x30
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_PARITY 0x0040
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_FAST_BACK 0x0080
#define PCI_STATUS_DEVSEL_MEDIUM 0x0200
#define PCI_STATUS_REC_MASTER_ABORT 0x2000
#define PCI_STATUS_W1C 0xf900 /* parity, SERR, master/target aborts: write 1 to clear */

#define PCI_HEADER_MULTI_FUNCTION 0x80

#define PCI_BAR_IO 0x01         /* BAR bit 0: I/O space */
#define PCI_BAR_MEM32 0x00      /* 32-bit memory, anywhere */
#define PCI_BAR_PREFETCH 0x08

#define PCI_DEVFN(slot, fn) ((uint8_t)(((slot) << 3) | (fn)))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn) ((devfn) & 7)

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_CONFIG_ENABLE 0x80000000u

/* Where PCI I/O BARs are decoded: SeaBIOS's PCI I/O range on QEMU's i440FX, above the ACPI
 * PM block at 0xB000. Linux keeps the addresses firmware assigned; a BAR a guest moves below
 * 0xC000 decodes nothing (with -d unimp the port accesses are reported as unassigned). */
#define PCI_IO_WINDOW_BASE 0xc000
#define PCI_IO_WINDOW_LEN 0x4000
/* Where memory BARs would be decoded: the i440FX's PCI hole below the IOAPIC. */
#define PCI_MEM_WINDOW_BASE 0xe0000000u
#define PCI_MEM_WINDOW_LEN 0x1ec00000u

/* A BAR's registers: offset into the BAR, access size 1, 2 or 4. */
typedef uint32_t (*pci_bar_read_fn)(void *opaque, uint32_t offset, int size);
typedef void (*pci_bar_write_fn)(void *opaque, uint32_t offset, int size, uint32_t value);

struct pci_bar {
  uint32_t size; /* a power of two; 0: not implemented (reads 0, ignores writes) */
  uint8_t type;  /* PCI_BAR_IO, or PCI_BAR_MEM32 [| PCI_BAR_PREFETCH] */
  pci_bar_read_fn read;   /* NULL: reads as all ones */
  pci_bar_write_fn write; /* NULL: writes ignored */
  void *opaque;
};

struct pci_bus;
struct pci_device;

/* Called after a guest write has been applied to the configuration space (with the value as
 * written, before the write mask), so the device can act on it. */
typedef void (*pci_config_write_fn)(struct pci_device *d, unsigned offset, int size,
                                    uint32_t value);
/* Called for a guest read with what the configuration space holds; returns what the guest
 * sees. Rarely needed: most devices keep config[] up to date instead. */
typedef uint32_t (*pci_config_read_fn)(struct pci_device *d, unsigned offset, int size,
                                       uint32_t value);

struct pci_device {
  uint8_t config[256];
  uint8_t wmask[256];   /* bits a guest write changes */
  uint8_t w1cmask[256]; /* bits a guest write of 1 clears */
  struct pci_bar bar[6];
  const char *name;
  uint8_t devfn;
  bool intx;            /* the level the device drives on its INTx# pin */
  struct pci_bus *bus;  /* set while registered */
  pci_config_read_fn config_read;
  pci_config_write_fn config_write;
  void *opaque;         /* the device model owning this function */
};

/* Maps a device's INTx pin level to the interrupt controller: the PIIX3. */
typedef void (*pci_intx_fn)(void *opaque, struct pci_device *d);
typedef void (*pci_rcr_write_fn)(void *opaque, uint8_t value);
typedef uint8_t (*pci_rcr_read_fn)(void *opaque);

struct pci_bus {
  uint32_t config_address;
  struct pci_device *dev[256]; /* by devfn */
  struct ioports *io;
  struct mmio *mmio;
  uint16_t io_base;
  uint32_t io_len, mem_base, mem_len;
  bool log;            /* report accesses that no BAR decodes (-d unimp) */
  FILE *log_file;
  /* Set by the PIIX3. */
  pci_intx_fn intx_changed;
  int (*intx_route)(void *opaque, const struct pci_device *d); /* ISA IRQ or -1 */
  pci_rcr_read_fn rcr_read;
  pci_rcr_write_fn rcr_write;
  void *chipset;
};

/* Registers ports 0xCF8-0xCFF, the I/O window [io_base, io_base + io_len) in which I/O BARs
 * decode, and, if mmio is not NULL, the memory window for memory BARs. -errno (-EBUSY when a
 * port or address is taken). */
int pci_bus_init(struct pci_bus *b, struct ioports *io, uint16_t io_base, uint32_t io_len,
                 struct mmio *mmio, uint32_t mem_base, uint32_t mem_len);
void pci_bus_exit(struct pci_bus *b);
void pci_bus_set_log(struct pci_bus *b, bool log, FILE *f);

/* Fill in a function's identity and the standard write masks of a type-0 header: command
 * (I/O, memory, bus master, parity, SERR, INTx disable), status (W1C bits), cache line size,
 * latency timer, interrupt line. class_code is base << 16 | sub << 8 | prog-if. Everything
 * else reads as 0 and ignores writes until the device says otherwise. */
void pci_device_setup(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                      uint32_t class_code, uint8_t revision, uint8_t header_type);
/* Declare BAR n: its size (a power of two, >= 4 for I/O, >= 16 for memory) and registers.
 * The BAR's address bits become writable; sizing (write all ones, read back) then works. */
int pci_bar_init(struct pci_device *d, int n, uint8_t type, uint32_t size, pci_bar_read_fn read,
                 pci_bar_write_fn write, void *opaque);
/* Assign BAR n an address, as firmware does. */
void pci_bar_set(struct pci_device *d, int n, uint32_t addr);
/* The address BAR n decodes at, or 0 if unassigned or decoding is off in the command register. */
uint32_t pci_bar_addr(const struct pci_device *d, int n);

/* Put a function on the bus at devfn: -EBUSY if taken, -EINVAL if devfn 0 of its slot is
 * missing (functions 1-7 are found only through function 0). */
int pci_register_device(struct pci_bus *b, struct pci_device *d, uint8_t devfn);
void pci_unregister_device(struct pci_device *d);

/* A device drives its INTx# pin (the one in its interrupt pin register). */
void pci_set_irq(struct pci_device *d, int level);

/* Configuration accesses as the host bridge performs them (what CONFIG_DATA reaches); offset
 * + size must stay inside the dword. Absent functions read as all ones. */
uint32_t pci_config_read(struct pci_bus *b, uint8_t bus, uint8_t devfn, unsigned offset,
                         int size);
void pci_config_write(struct pci_bus *b, uint8_t bus, uint8_t devfn, unsigned offset, int size,
                      uint32_t value);

/* Little-endian accessors for config[]. */
static inline uint16_t pci_get_word(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t pci_get_long(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void pci_set_word(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void pci_set_long(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- 00:00.0, the i440FX host bridge ---- */

struct i440fx {
  struct pci_device dev;
};

int i440fx_init(struct i440fx *h, struct pci_bus *b);
void i440fx_exit(struct i440fx *h);

/* ---- 00:01.0, the PIIX3 ISA bridge, its PIRQ router and reset control register ---- */

#define PIIX3_PIRQ_ROUTE 0x60 /* PIRQRC[A:D], 0x60-0x63: bit 7 disables, bits 3:0 the IRQ */
#define PIIX3_PIRQ_DISABLED 0x80
/* What SeaBIOS programs on QEMU's i440FX machine: PIRQA/B to IRQ 10, PIRQC/D to IRQ 11 (those
 * IRQs must then be level-triggered in the ELCR, as the BIOS sets them). */
#define PIIX3_BIOS_PIRQ ((const uint8_t[4]){10, 10, 11, 11})
#define PIIX3_RCR_PORT 0xcf9

typedef void (*piix3_reset_fn)(void *opaque, bool hard);

struct piix3 {
  struct pci_device dev;
  struct pci_bus *bus;
  const struct irq_line *isa_irq[16];
  uint16_t isa_level;  /* the level each ISA IRQ is driven at by PIRQs */
  uint8_t rcr;         /* reset control register, bit 1 (system reset) kept */
  piix3_reset_fn reset;
  void *reset_opaque;
};

/* isa_irq[i] is the interrupt controller's input for ISA IRQ i (NULL entries are not
 * connected); pirq the route registers as firmware leaves them (NULL: all disabled, as at
 * power-on); reset(opaque, hard) is what a write of RCR bit 2 requests (NULL: nothing). */
int piix3_init(struct piix3 *s, struct pci_bus *b, const struct irq_line *const isa_irq[16],
               const uint8_t pirq[4], piix3_reset_fn reset, void *reset_opaque);
void piix3_exit(struct piix3 *s);
/* Which PIRQ (0-3 = A-D) a device's INTx pin drives: the board's swizzle, (slot + pin - 2) & 3
 * as on QEMU's i440FX machine, so slot 1's INTA# is PIRQA. */
int piix3_pirq_of(const struct pci_device *d);

#endif
