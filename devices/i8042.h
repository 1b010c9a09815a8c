/* i8042.h - the PC's 8042 keyboard controller (data 0x60, status/command 0x64) with a PS/2
 * keyboard and a PS/2 mouse behind it, and system control port A (0x92).
 *
 * The controller answers the commands a BIOS and Linux's i8042 driver use (command byte, self
 * and interface tests, enabling the ports, output port with A20 and reset, loopback through
 * either port, pulsing the reset line); the keyboard and the mouse answer their reset,
 * identify and configuration commands so that Linux's atkbd and psmouse drivers find a
 * standard keyboard and a plain PS/2 mouse. The keyboard output buffer raises an irq_line (IRQ1
 * on a PC), the mouse's another (IRQ12). The CPU reset and A20 gate are callbacks the machine
 * installs.
 *
 * Usage:
 *   i8042_init(&m->kbc, &m->io, pic_irq_line(&m->pic, 1), pic_irq_line(&m->pic, 12));
 *   i8042_set_callbacks(&m->kbc, machine_reset_request, machine_set_a20, m); */
#ifndef BT386_I8042_H
#define BT386_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ioport.h"
#include "devices/irq.h"

#define PS2_QUEUE 16

struct ps2_queue {
  uint16_t data[PS2_QUEUE]; /* a byte; bit 8 set for the aux port (controller queue only) */
  int head, count;
};

struct ps2_keyboard {
  struct ps2_queue q;
  bool scanning;
  uint8_t pending; /* a command waiting for its parameter byte, or 0 */
  uint8_t scan_set;
  uint8_t leds;
  uint8_t last; /* for the resend command */
};

struct ps2_mouse {
  struct ps2_queue q;
  bool reporting, remote, wrap, scale_2_1;
  uint8_t pending;
  uint8_t rate, resolution;
};

typedef void (*i8042_reset_fn)(void *opaque);
typedef void (*i8042_a20_fn)(void *opaque, bool enabled);

struct i8042 {
  uint8_t ram[32];  /* controller RAM; byte 0 is the command byte */
  uint8_t status;   /* the status bits not derived from the output buffer */
  uint8_t outport;  /* output port: bit 0 = not reset, bit 1 = A20 */
  uint8_t port92;   /* system control port A: bit 0 = fast reset, bit 1 = A20 */
  uint8_t pending;  /* a controller command waiting for its data byte, or 0 */
  struct ps2_queue replies;
  bool obf, obf_aux;
  uint8_t out;      /* the output buffer */
  struct ps2_keyboard kbd;
  struct ps2_mouse mouse;
  struct irq_line irq1, irq12;
  int irq1_level, irq12_level;
  bool a20;
  i8042_reset_fn reset;
  i8042_a20_fn a20_changed;
  void *cb_opaque;
};

/* Registers 0x60, 0x64 and 0x92. The controller starts as a BIOS leaves it: self test passed,
 * command byte 0x65 (translation, mouse disabled, keyboard interrupt), A20 enabled. irq1 and
 * irq12 may be NULL. */
int i8042_init(struct i8042 *k, struct ioports *io, const struct irq_line *irq1,
               const struct irq_line *irq12);
void i8042_exit(struct i8042 *k);
/* reset(opaque) runs when the guest pulses the CPU reset line (0xFE and friends, the output
 * port, port 0x92 bit 0); a20(opaque, on) when the A20 gate changes. Either may be NULL. */
void i8042_set_callbacks(struct i8042 *k, i8042_reset_fn reset, i8042_a20_fn a20, void *opaque);
bool i8042_a20(const struct i8042 *k);
/* A byte from the keyboard (a scan code as the guest reads it: set 1 while the command byte
 * asks for translation); dropped while the keyboard does not scan or its buffer is full. */
void i8042_kbd_input(struct i8042 *k, uint8_t byte);

#endif
