/* i8042.c - the 8042 keyboard controller, a PS/2 keyboard and mouse, and port 0x92 (see
 * i8042.h).
 *
 * The controller's single output buffer is fed from three queues in order: the controller's own
 * replies, the keyboard (unless its port is disabled in the command byte) and the mouse (same).
 * Reading port 0x60 empties the buffer, which lowers the interrupt line, and refills it from
 * the queues, which raises it again: one edge per byte, as the edge-triggered IRQ1 and IRQ12
 * inputs need. Writes to 0x60 without a pending controller command go to the keyboard and, as
 * on real controllers, re-enable its port. The controller does not translate scan codes: the
 * keyboard answers its identify and scan-set queries in the translated form while the command
 * byte asks for translation, and i8042_kbd_input() takes codes as the guest reads them. Typematic
 * rate, LEDs and mouse parameters are accepted and kept but have no effect; the mouse reports
 * no movement and identifies as a standard PS/2 mouse (ID 0). */
#include "devices/i8042.h"

#include <string.h>

enum {
  ST_OBF = 0x01, ST_SYS = 0x04, ST_CMD = 0x08, ST_UNLOCKED = 0x10, ST_AUX_OBF = 0x20,
};
enum {
  CTR_KBD_INT = 0x01, CTR_AUX_INT = 0x02, CTR_SYS = 0x04, CTR_KBD_DISABLE = 0x10,
  CTR_AUX_DISABLE = 0x20, CTR_XLATE = 0x40,
};
enum { OUT_RESET = 0x01, OUT_A20 = 0x02, OUT_OBF = 0x10, OUT_AUX_OBF = 0x20 };
enum { ACK = 0xfa, RESEND = 0xfe, BAT_OK = 0xaa, AUX_BIT = 0x100 };

static void push(struct ps2_queue *q, uint16_t v) {
  if (q->count == PS2_QUEUE)
    return;
  q->data[(q->head + q->count) % PS2_QUEUE] = v;
  q->count++;
}

static uint16_t pop(struct ps2_queue *q) {
  uint16_t v = q->data[q->head];
  q->head = (q->head + 1) % PS2_QUEUE;
  q->count--;
  return v;
}

static void clear(struct ps2_queue *q) { q->head = q->count = 0; }

static void update_irqs(struct i8042 *k) {
  int kbd = k->obf && !k->obf_aux && (k->ram[0] & CTR_KBD_INT);
  int aux = k->obf && k->obf_aux && (k->ram[0] & CTR_AUX_INT);
  if (kbd != k->irq1_level) {
    k->irq1_level = kbd;
    irq_set(&k->irq1, kbd);
  }
  if (aux != k->irq12_level) {
    k->irq12_level = aux;
    irq_set(&k->irq12, aux);
  }
}

/* Move the next byte into an empty output buffer. */
static void refill(struct i8042 *k) {
  if (k->obf)
    return;
  uint16_t v;
  if (k->replies.count)
    v = pop(&k->replies);
  else if (k->kbd.q.count && !(k->ram[0] & CTR_KBD_DISABLE))
    v = pop(&k->kbd.q);
  else if (k->mouse.q.count && !(k->ram[0] & CTR_AUX_DISABLE))
    v = (uint16_t)(pop(&k->mouse.q) | AUX_BIT);
  else
    return;
  k->out = (uint8_t)v;
  k->obf = true;
  k->obf_aux = v & AUX_BIT;
}

static void settle(struct i8042 *k) {
  refill(k);
  update_irqs(k);
}

static void reply(struct i8042 *k, uint16_t v) { push(&k->replies, v); }

static void update_a20(struct i8042 *k) {
  bool on = (k->outport & OUT_A20) || (k->port92 & 0x02);
  if (on != k->a20) {
    k->a20 = on;
    if (k->a20_changed)
      k->a20_changed(k->cb_opaque, on);
  }
}

static void request_reset(struct i8042 *k) {
  if (k->reset)
    k->reset(k->cb_opaque);
}

static void write_outport(struct i8042 *k, uint8_t v) {
  k->outport = v;
  update_a20(k);
  if (!(v & OUT_RESET))
    request_reset(k);
}

/* --- the keyboard --- */

static void kbd_send(struct i8042 *k, uint8_t v) {
  push(&k->kbd.q, v);
  k->kbd.last = v;
}

static void kbd_defaults(struct ps2_keyboard *kb) {
  kb->scan_set = 2;
  kb->leds = 0;
}

static void kbd_parameter(struct i8042 *k, uint8_t cmd, uint8_t v) {
  struct ps2_keyboard *kb = &k->kbd;
  switch (cmd) {
  case 0xed: /* set LEDs */
    kb->leds = v & 7;
    kbd_send(k, ACK);
    break;
  case 0xf0: /* get or set the scan code set */
    if (v == 0) {
      static const uint8_t translated[] = {0, 0x43, 0x41, 0x3f};
      kbd_send(k, ACK);
      kbd_send(k, (k->ram[0] & CTR_XLATE) ? translated[kb->scan_set] : kb->scan_set);
    } else if (v <= 3) {
      kb->scan_set = v;
      kbd_send(k, ACK);
    } else {
      kbd_send(k, RESEND);
    }
    break;
  default: /* 0xf3: typematic rate and delay */
    kbd_send(k, ACK);
    break;
  }
}

static void kbd_write(struct i8042 *k, uint8_t v) {
  struct ps2_keyboard *kb = &k->kbd;
  if (kb->pending) {
    uint8_t cmd = kb->pending;
    kb->pending = 0;
    kbd_parameter(k, cmd, v);
    return;
  }
  switch (v) {
  case 0xed:
  case 0xf0:
  case 0xf3:
    kb->pending = v;
    kbd_send(k, ACK);
    break;
  case 0xee: /* echo */
    kbd_send(k, 0xee);
    break;
  case 0xf2: /* identify: an MF2 keyboard */
    kbd_send(k, ACK);
    kbd_send(k, 0xab);
    kbd_send(k, (k->ram[0] & CTR_XLATE) ? 0x41 : 0x83);
    break;
  case 0xf4:
    kb->scanning = true;
    kbd_send(k, ACK);
    break;
  case 0xf5: /* disable scanning and restore defaults */
    kb->scanning = false;
    kbd_defaults(kb);
    kbd_send(k, ACK);
    break;
  case 0xf6:
    kbd_defaults(kb);
    kbd_send(k, ACK);
    break;
  case 0xfe:
    push(&kb->q, kb->last);
    break;
  case 0xff: /* reset and self test */
    clear(&kb->q);
    kbd_defaults(kb);
    kb->scanning = true;
    kbd_send(k, ACK);
    kbd_send(k, BAT_OK);
    break;
  default:
    kbd_send(k, RESEND);
    break;
  }
}

void i8042_kbd_input(struct i8042 *k, uint8_t byte) {
  if (!k->kbd.scanning)
    return;
  push(&k->kbd.q, byte);
  settle(k);
}

/* --- the mouse --- */

static void mouse_defaults(struct ps2_mouse *m) {
  m->reporting = false;
  m->remote = false;
  m->scale_2_1 = false;
  m->rate = 100;
  m->resolution = 2;
}

static void mouse_send(struct i8042 *k, uint8_t v) { push(&k->mouse.q, v); }

static void mouse_write(struct i8042 *k, uint8_t v) {
  struct ps2_mouse *m = &k->mouse;
  if (m->wrap && v != 0xec && v != 0xff) {
    mouse_send(k, v);
    return;
  }
  if (m->pending) {
    if (m->pending == 0xf3)
      m->rate = v;
    else
      m->resolution = v & 3;
    m->pending = 0;
    mouse_send(k, ACK);
    return;
  }
  switch (v) {
  case 0xe6:
  case 0xe7:
    m->scale_2_1 = v == 0xe7;
    mouse_send(k, ACK);
    break;
  case 0xe8: /* set resolution */
  case 0xf3: /* set sample rate */
    m->pending = v;
    mouse_send(k, ACK);
    break;
  case 0xe9: /* status request */
    mouse_send(k, ACK);
    mouse_send(k, (uint8_t)(m->remote << 6 | m->reporting << 5 | m->scale_2_1 << 4));
    mouse_send(k, m->resolution);
    mouse_send(k, m->rate);
    break;
  case 0xea:
  case 0xf0:
    m->remote = v == 0xf0;
    mouse_send(k, ACK);
    break;
  case 0xeb: /* read data: no buttons, no movement */
    mouse_send(k, ACK);
    mouse_send(k, 0x08);
    mouse_send(k, 0x00);
    mouse_send(k, 0x00);
    break;
  case 0xec:
  case 0xee:
    m->wrap = v == 0xee;
    mouse_send(k, ACK);
    break;
  case 0xf2: /* identify: a standard PS/2 mouse */
    mouse_send(k, ACK);
    mouse_send(k, 0x00);
    break;
  case 0xf4:
  case 0xf5:
    m->reporting = v == 0xf4;
    mouse_send(k, ACK);
    break;
  case 0xf6:
    mouse_defaults(m);
    mouse_send(k, ACK);
    break;
  case 0xff:
    clear(&m->q);
    mouse_defaults(m);
    m->wrap = false;
    mouse_send(k, ACK);
    mouse_send(k, BAT_OK);
    mouse_send(k, 0x00);
    break;
  default:
    mouse_send(k, RESEND);
    break;
  }
}

/* --- the controller --- */

static void write_command_byte(struct i8042 *k, uint8_t v) {
  k->ram[0] = v;
  k->status = (uint8_t)((k->status & ~ST_SYS) | (v & CTR_SYS));
}

static void controller_command(struct i8042 *k, uint8_t cmd) {
  if (cmd >= 0x20 && cmd <= 0x3f) {
    reply(k, k->ram[cmd & 0x1f]);
    return;
  }
  if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4)) {
    k->pending = cmd;
    return;
  }
  if (cmd >= 0xf0) { /* pulse the output port lines whose bits are 0; bit 0 is CPU reset */
    if (!(cmd & 1))
      request_reset(k);
    return;
  }
  switch (cmd) {
  case 0xa4: /* is a password installed? */
    reply(k, 0xf1);
    break;
  case 0xa7:
    k->ram[0] |= CTR_AUX_DISABLE;
    break;
  case 0xa8:
    k->ram[0] &= ~CTR_AUX_DISABLE;
    break;
  case 0xa9: /* aux interface test: no error */
  case 0xab: /* keyboard interface test */
    reply(k, 0x00);
    break;
  case 0xaa: /* controller self test */
    k->status |= ST_SYS;
    reply(k, 0x55);
    break;
  case 0xad:
    k->ram[0] |= CTR_KBD_DISABLE;
    break;
  case 0xae:
    k->ram[0] &= ~CTR_KBD_DISABLE;
    break;
  case 0xc0: /* input port: keyboard not inhibited */
    reply(k, 0x80);
    break;
  case 0xd0: {
    uint8_t v = k->outport & ~(OUT_OBF | OUT_AUX_OBF);
    if (k->obf)
      v |= k->obf_aux ? OUT_AUX_OBF : OUT_OBF;
    reply(k, v);
    break;
  }
  case 0xdd:
    write_outport(k, k->outport & ~OUT_A20);
    break;
  case 0xdf:
    write_outport(k, k->outport | OUT_A20);
    break;
  case 0xe0: /* test inputs */
    reply(k, 0x00);
    break;
  default:
    break;
  }
}

static void controller_data(struct i8042 *k, uint8_t v) {
  uint8_t cmd = k->pending;
  k->pending = 0;
  switch (cmd) {
  case 0:
    k->ram[0] &= ~CTR_KBD_DISABLE;
    kbd_write(k, v);
    break;
  case 0xd1:
    write_outport(k, v);
    break;
  case 0xd2: /* as if the keyboard had sent it */
    reply(k, v);
    break;
  case 0xd3: /* as if the mouse had sent it */
    reply(k, v | AUX_BIT);
    break;
  case 0xd4:
    mouse_write(k, v);
    break;
  default: /* 0x60-0x7f */
    if (cmd == 0x60)
      write_command_byte(k, v);
    else
      k->ram[cmd & 0x1f] = v;
    break;
  }
}

static uint32_t status_read(void *opaque, uint16_t offset, int size) {
  (void)offset, (void)size;
  struct i8042 *k = opaque;
  uint8_t st = k->status;
  if (k->obf)
    st |= ST_OBF | (k->obf_aux ? ST_AUX_OBF : 0);
  return st;
}

static uint32_t data_read(void *opaque, uint16_t offset, int size) {
  (void)offset, (void)size;
  struct i8042 *k = opaque;
  uint8_t v = k->out; /* an empty buffer reads its last byte again */
  if (k->obf) {
    k->obf = false;
    update_irqs(k);
    settle(k);
  }
  return v;
}

static void command_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)offset, (void)size;
  struct i8042 *k = opaque;
  k->status |= ST_CMD;
  controller_command(k, (uint8_t)value);
  settle(k);
}

static void data_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)offset, (void)size;
  struct i8042 *k = opaque;
  k->status &= ~ST_CMD;
  controller_data(k, (uint8_t)value);
  settle(k);
}

static uint32_t port92_read(void *opaque, uint16_t offset, int size) {
  (void)offset, (void)size;
  struct i8042 *k = opaque;
  return k->port92;
}

/* Port 0x92: bit 1 gates A20 (ORed with the output port's), a 0 -> 1 write of bit 0 resets. */
static void port92_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)offset, (void)size;
  struct i8042 *k = opaque;
  uint8_t old = k->port92;
  k->port92 = (uint8_t)value;
  update_a20(k);
  if ((value & 1) && !(old & 1))
    request_reset(k);
}

int i8042_init(struct i8042 *k, struct ioports *io, const struct irq_line *irq1,
               const struct irq_line *irq12) {
  memset(k, 0, sizeof(*k));
  if (irq1)
    k->irq1 = *irq1;
  if (irq12)
    k->irq12 = *irq12;
  k->ram[0] = CTR_XLATE | CTR_AUX_DISABLE | CTR_SYS | CTR_KBD_INT;
  k->status = ST_SYS | ST_CMD | ST_UNLOCKED;
  k->outport = 0xc0 | OUT_A20 | OUT_RESET;
  k->a20 = true;
  kbd_defaults(&k->kbd);
  k->kbd.scanning = true;
  mouse_defaults(&k->mouse);
  int err = ioports_register(io, 0x60, 1, IO_BYTES_ONLY, "i8042-data", data_read, data_write, k);
  if (!err)
    err = ioports_register(io, 0x64, 1, IO_BYTES_ONLY, "i8042-cmd", status_read, command_write, k);
  if (!err)
    err = ioports_register(io, 0x92, 1, IO_BYTES_ONLY, "port92", port92_read, port92_write, k);
  return err;
}

void i8042_exit(struct i8042 *k) {
  k->reset = NULL;
  k->a20_changed = NULL;
}

void i8042_set_callbacks(struct i8042 *k, i8042_reset_fn reset, i8042_a20_fn a20, void *opaque) {
  k->reset = reset;
  k->a20_changed = a20;
  k->cb_opaque = opaque;
}

bool i8042_a20(const struct i8042 *k) { return k->a20; }
