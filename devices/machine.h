/* machine.h - the virtual PC: guest RAM, one CPU, the translator and the devices, and the
 * order they are brought up and torn down in. */
#ifndef BT386_MACHINE_H
#define BT386_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu/cpu.h"
#include "devices/acpi.h"
#include "devices/debugcon.h"
#include "devices/i8042.h"
#include "devices/ide.h"
#include "devices/ioapic.h"
#include "devices/ioport.h"
#include "devices/isairq.h"
#include "devices/lapic.h"
#include "devices/mmio.h"
#include "devices/console.h"
#include "devices/pci.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/port80.h"
#include "devices/crtc.h"
#include "devices/rtc.h"
#include "devices/uart.h"
#include "devices/timer.h"
#include "mmu/mmu.h"
#include "translator/translator.h"

struct machine_config {
  uint64_t ram_bytes;
  struct tc_config tc;
  bool log_unimp;  /* -d unimp */
  bool log_in_asm, log_out_asm; /* -d in_asm, -d out_asm */
  FILE *log;       /* -D file, or stderr */
  FILE *perf_map;  /* -perfmap: /tmp/perf-PID.map, or NULL */
  FILE *debugcon;  /* where port 0xE9 output goes */
  uint16_t debug_exit_port;
  int debug_exit_size;
  struct chardev_spec serial; /* COM1's backend (-serial); CHARDEV_NONE: no COM1 */
  bool no_reboot;             /* -no-reboot: a guest reboot ends bt386 */
  bool no_acpi;               /* -no-acpi: no ACPI tables and no PM block */
  bool no_apic;               /* --no-apic: no local APIC, IOAPIC or MP table (8259A only) */
  bool no_vga;                /* -nodefaults, -vga none: no text display's CRT controller */
  struct ide_drive_spec drives[IDE_MAX_DRIVES]; /* -hda.. / -drive, in command-line order */
  int n_drives;
};

/* Wakes the vCPU when the earliest device timer is due (devices/machine.c). */
struct timer_thread {
  int fd;             /* timerfd armed at the earliest deadline */
  uint64_t armed;     /* the deadline it is armed for, UINT64_MAX if none */
  bool running;
  unsigned long thread; /* pthread_t */
};

struct machine {
  struct machine_config cfg;
  struct mmu mmu;
  struct cpu cpu;
  struct ioports io;
  struct mmio mmio;
  struct tcache *tc;
  struct timer_list timers;
  struct timer_thread ticker;
  struct debugcon debugcon;
  struct debug_exit debug_exit;
  struct pic pic;
  struct lapic lapic;
  struct ioapic ioapic;
  bool has_apic;
  struct isa_irqs isa;
  struct pci_bus pci;
  struct i440fx i440fx;
  struct piix3 piix3;
  struct ide ide;
  struct acpi_pm acpi;
  bool has_acpi;
  struct pit pit;
  struct rtc rtc;
  struct i8042 kbc;
  struct port80 port80;
  struct crtc crtc;
  struct chardev serial;
  struct uart com1;
  bool has_com1;
  int stage; /* how far machine_init got, for machine_exit */
  bool err_reported; /* machine_init's failure was explained already */
};

void machine_config_default(struct machine_config *cfg);
int machine_init(struct machine *m, const struct machine_config *cfg);
void machine_exit(struct machine *m);
/* Run until the guest stops; returns the status bt386 should exit with, or MACHINE_REBOOT
 * when the guest asked for a reset and -no-reboot was not given (the caller builds the
 * machine again from the same configuration). */
#define MACHINE_REBOOT (-1)
int machine_run(struct machine *m);

/* devices/multiboot.c: load a Multiboot v1 ELF kernel and set the CPU up to enter it. */
/* Has the file a Multiboot header in its first 8 KiB? */
bool multiboot_file(const char *path);
/* modules: QEMU's -initrd for a Multiboot kernel, "FILE [ARGS],..." (NULL: none). */
int multiboot_load(struct machine *m, const char *path, const char *cmdline,
                   const char *modules);

/* devices/linuxboot.c: load a Linux bzImage (boot protocol 2.02 or later) at 1 MiB with its
 * zero page, command line and an optional initrd (NULL for none), and set the CPU up for the
 * 32-bit entry. Checks everything before writing guest memory; -errno with a message. */
int linux_load(struct machine *m, const char *path, const char *initrd, const char *cmdline);

/* What kind of kernel file path is, by its content: one of these, or -errno (with a message)
 * if it cannot be read. */
enum { KERNEL_UNKNOWN, KERNEL_ELF, KERNEL_BZIMAGE };
int kernel_format(const char *path);

#endif
