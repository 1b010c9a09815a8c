/* uart.c - the 16550A UART (see uart.h for the model and how the machine wires it).
 *
 * Everything here runs on the vCPU thread: register accesses, uart_poll() and the
 * character-timeout timer. The backend's reader thread only ever touches the chardev's queue. */
#include "devices/uart.h"

#include <string.h>

/* Modem inputs of a terminal on the other end of the line: carrier, data set ready, clear to
 * send. */
#define EXTERNAL_LINES (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

/* ---- FIFOs -------------------------------------------------------------------------------- */

static bool fifo_mode(const struct uart *u) { return u->fcr & UART_FCR_ENABLE; }

static unsigned capacity(const struct uart *u) { return fifo_mode(u) ? UART_FIFO_SIZE : 1; }

static void fifo_clear(struct uart_fifo *f) { f->head = f->count = 0; }

static void fifo_push(struct uart_fifo *f, uint8_t b, uint8_t err) {
  unsigned i = (f->head + f->count) % UART_FIFO_SIZE;
  f->data[i] = b;
  f->err[i] = err;
  f->count++;
}

static uint8_t fifo_pop(struct uart_fifo *f) {
  uint8_t b = f->data[f->head];
  f->head = (f->head + 1) % UART_FIFO_SIZE;
  f->count--;
  return b;
}

static unsigned trigger_level(const struct uart *u) {
  static const unsigned levels[4] = {1, 4, 8, 14};
  return levels[u->fcr >> 6];
}

/* ---- interrupts --------------------------------------------------------------------------- */

/* IIR's low nibble: the highest-priority pending interrupt the guest enabled. Priorities (the
 * data sheet's table): line status, received data, character timeout, THR empty, modem
 * status. */
static uint8_t pending_id(const struct uart *u) {
  if ((u->ier & UART_IER_ELSI) && u->lsr_err)
    return UART_IIR_RLSI;
  if (u->ier & UART_IER_ERBFI) {
    if (fifo_mode(u) ? u->rx.count >= trigger_level(u) : u->rx.count > 0)
      return UART_IIR_RDI;
    if (u->timeout_ipending)
      return UART_IIR_CTI;
  }
  if ((u->ier & UART_IER_ETBEI) && u->thr_ipending)
    return UART_IIR_THRI;
  if ((u->ier & UART_IER_EDSSI) && (u->msr & UART_MSR_DELTAS))
    return UART_IIR_MSI;
  return UART_IIR_NONE;
}

static void update_irq(struct uart *u) {
  int level = pending_id(u) != UART_IIR_NONE;
  if (level != u->irq_level) {
    u->irq_level = level;
    irq_set(&u->irq, level);
  }
}

/* ---- timing ------------------------------------------------------------------------------- */

/* One character's time: start bit, data bits, parity, stop bits (1.5 for 5-bit words with
 * LCR bit 2), 16 clocks of the divided 1.8432 MHz crystal per bit. Counted in half bits. A
 * divisor of 0 is undefined on the chip; it counts as 1 here. */
static void update_char_time(struct uart *u) {
  unsigned wlen = 5 + (u->lcr & UART_LCR_WLEN);
  unsigned half_bits = 2 + 2 * wlen + ((u->lcr & UART_LCR_PARITY) ? 2 : 0);
  if (u->lcr & UART_LCR_STOP)
    half_bits += wlen == 5 ? 3 : 4;
  else
    half_bits += 2;
  uint64_t div = u->divisor ? u->divisor : 1;
  u->char_ns = (uint64_t)half_bits * 16 * div * 1000000000ull / (2ull * UART_CLOCK_HZ);
}

static void timeout_fired(void *opaque) {
  struct uart *u = opaque;
  if (fifo_mode(u) && u->rx.count) {
    u->timeout_ipending = true;
    update_irq(u);
  }
}

/* The receive FIFO saw a byte go in or out: restart the four-character timeout. */
static void restart_timeout(struct uart *u) {
  if (!fifo_mode(u) || !u->rx.count) {
    if (u->timers)
      timer_del(u->timers, &u->timeout);
    return;
  }
  if (u->timers)
    timer_mod(u->timers, &u->timeout, clock_ns() + 4 * u->char_ns);
  else
    u->timeout_ipending = true;
}

/* ---- modem lines -------------------------------------------------------------------------- */

static uint8_t modem_inputs(const struct uart *u) {
  if (!(u->mcr & UART_MCR_LOOP))
    return EXTERNAL_LINES;
  uint8_t in = 0;
  if (u->mcr & UART_MCR_RTS)
    in |= UART_MSR_CTS;
  if (u->mcr & UART_MCR_DTR)
    in |= UART_MSR_DSR;
  if (u->mcr & UART_MCR_OUT1)
    in |= UART_MSR_RI;
  if (u->mcr & UART_MCR_OUT2)
    in |= UART_MSR_DCD;
  return in;
}

static void update_modem_inputs(struct uart *u) {
  uint8_t now = modem_inputs(u), old = u->msr & 0xf0, changed = now ^ old;
  uint8_t delta = u->msr & UART_MSR_DELTAS;
  if (changed & UART_MSR_CTS)
    delta |= UART_MSR_DCTS;
  if (changed & UART_MSR_DSR)
    delta |= UART_MSR_DDSR;
  if (changed & UART_MSR_DCD)
    delta |= UART_MSR_DDCD;
  if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
    delta |= UART_MSR_TERI;
  u->msr = now | delta;
}

/* ---- receiver ----------------------------------------------------------------------------- */

/* A character arrives in the receiver; err holds its PE/FE/BI bits. */
static void rx_char(struct uart *u, uint8_t b, uint8_t err) {
  u->rx_bytes++;
  if (u->rx.count == capacity(u)) {
    u->lsr_err |= UART_LSR_OE;
    u->overruns++;
    if (fifo_mode(u))
      return; /* the FIFO keeps its contents; the new character is lost */
    fifo_clear(&u->rx); /* 16450 mode: the new character replaces RBR's */
  }
  fifo_push(&u->rx, b, err);
  if (u->rx.count == 1) /* at the top of the FIFO: its errors show in LSR */
    u->lsr_err |= err;
  if (!u->timeout_ipending)
    restart_timeout(u);
}

size_t uart_can_receive(const struct uart *u) {
  if (u->mcr & UART_MCR_LOOP)
    return 0;
  return capacity(u) - u->rx.count;
}

void uart_receive(struct uart *u, const uint8_t *buf, size_t len) {
  if (u->mcr & UART_MCR_LOOP)
    return;
  for (size_t i = 0; i < len; i++)
    rx_char(u, buf[i], 0);
  update_irq(u);
}

void uart_receive_break(struct uart *u) {
  if (u->mcr & UART_MCR_LOOP)
    return;
  rx_char(u, 0, UART_LSR_BI);
  update_irq(u);
}

static uint8_t read_rbr(struct uart *u) {
  if (!u->rx.count)
    return u->rbr_last;
  u->rbr_last = fifo_pop(&u->rx);
  if (u->rx.count)
    u->lsr_err |= u->rx.err[u->rx.head];
  u->timeout_ipending = false;
  restart_timeout(u);
  return u->rbr_last;
}

/* ---- transmitter -------------------------------------------------------------------------- */

/* Hand what the transmit FIFO holds to the backend. The THR-empty interrupt becomes pending
 * when the transmitter runs empty. */
static bool tx_flush(struct uart *u) {
  bool moved = false;
  while (u->tx.count) {
    unsigned run = u->tx.count;
    if (u->tx.head + run > UART_FIFO_SIZE)
      run = UART_FIFO_SIZE - u->tx.head;
    ssize_t n = u->chr ? chardev_write(u->chr, &u->tx.data[u->tx.head], run) : (ssize_t)run;
    if (n == 0)
      break; /* the backend is busy: keep the bytes, uart_poll() offers them again */
    if (n < 0) { /* lost for good, as on a line nobody listens to */
      u->tx_lost += run;
      n = run;
    }
    u->tx.head = (u->tx.head + (unsigned)n) % UART_FIFO_SIZE;
    u->tx.count -= (unsigned)n;
    moved = true;
  }
  if (moved && !u->tx.count)
    u->thr_ipending = true;
  return moved;
}

static void write_thr(struct uart *u, uint8_t b) {
  u->thr_ipending = false;
  u->tx_bytes++;
  if (u->mcr & UART_MCR_LOOP) {
    /* Straight from the shift register back into the receiver. */
    rx_char(u, b, 0);
    u->thr_ipending = true;
    return;
  }
  if (u->tx.count == capacity(u)) {
    if (fifo_mode(u)) {
      u->tx_lost++;
    } else {
      u->tx.data[u->tx.head] = b; /* THR is simply overwritten */
      u->tx_lost++;
    }
  } else {
    fifo_push(&u->tx, b, 0);
  }
  tx_flush(u);
}

/* ---- registers ---------------------------------------------------------------------------- */

static uint8_t read_lsr(struct uart *u) {
  uint8_t v = u->lsr_err;
  if (u->rx.count)
    v |= UART_LSR_DR;
  if (!u->tx.count) /* no shift register to wait for: TEMT follows THRE */
    v |= UART_LSR_THRE | UART_LSR_TEMT;
  if (fifo_mode(u)) {
    for (unsigned i = 0; i < u->rx.count; i++)
      if (u->rx.err[(u->rx.head + i) % UART_FIFO_SIZE])
        v |= UART_LSR_FIFOERR;
  }
  return v;
}

static uint8_t read_iir(struct uart *u) {
  uint8_t id = pending_id(u);
  if (id == UART_IIR_THRI)
    u->thr_ipending = false;
  return id | (fifo_mode(u) ? UART_IIR_FIFOS : 0);
}

static void write_ier(struct uart *u, uint8_t v) {
  uint8_t changed = (u->ier ^ v) & 0x0f;
  u->ier = v & 0x0f;
  /* Turning ETBEI on with THR empty raises the THRE interrupt again even if reading IIR had
   * cleared it: Linux's 8250 driver tests exactly that at startup (and falls back to a timer
   * if it does not happen); Windows relies on it too. */
  if (changed & UART_IER_ETBEI)
    u->thr_ipending = (u->ier & UART_IER_ETBEI) && !u->tx.count;
}

static void write_fcr(struct uart *u, uint8_t v) {
  bool was_on = fifo_mode(u), on = v & UART_FCR_ENABLE;
  if (!on && !was_on)
    return; /* the other bits only take with FCR bit 0 set */
  bool tx_was_busy = u->tx.count;
  if (on != was_on || (v & UART_FCR_CLEAR_RX)) {
    fifo_clear(&u->rx);
    u->timeout_ipending = false;
    if (u->timers)
      timer_del(u->timers, &u->timeout);
  }
  if (on != was_on || (v & UART_FCR_CLEAR_TX))
    fifo_clear(&u->tx);
  if (tx_was_busy && !u->tx.count)
    u->thr_ipending = true;
  u->fcr = on ? (v & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIGGER)) : 0;
}

static void write_mcr(struct uart *u, uint8_t v) {
  bool was_loop = u->mcr & UART_MCR_LOOP;
  u->mcr = v & 0x1f;
  update_modem_inputs(u);
  if (was_loop && !(u->mcr & UART_MCR_LOOP))
    tx_flush(u); /* output held back by a busy backend goes out on the line again */
}

uint8_t uart_read(struct uart *u, unsigned offset) {
  uint8_t v = 0;
  bool dlab = u->lcr & UART_LCR_DLAB;
  switch (offset & 7) {
  case UART_RBR:
    v = dlab ? (uint8_t)u->divisor : read_rbr(u);
    break;
  case UART_IER:
    v = dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
    break;
  case UART_IIR:
    v = read_iir(u);
    break;
  case UART_LCR:
    v = u->lcr;
    break;
  case UART_MCR:
    v = u->mcr;
    break;
  case UART_LSR:
    v = read_lsr(u);
    u->lsr_err = 0;
    break;
  case UART_MSR:
    v = u->msr;
    u->msr &= ~UART_MSR_DELTAS;
    break;
  case UART_SCR:
    v = u->scr;
    break;
  }
  update_irq(u);
  return v;
}

void uart_write(struct uart *u, unsigned offset, uint8_t v) {
  bool dlab = u->lcr & UART_LCR_DLAB;
  switch (offset & 7) {
  case UART_THR:
    if (dlab) {
      u->divisor = (uint16_t)((u->divisor & 0xff00) | v);
      update_char_time(u);
    } else {
      write_thr(u, v);
    }
    break;
  case UART_IER:
    if (dlab) {
      u->divisor = (uint16_t)((u->divisor & 0x00ff) | (v << 8));
      update_char_time(u);
    } else {
      write_ier(u, v);
    }
    break;
  case UART_FCR:
    write_fcr(u, v);
    break;
  case UART_LCR:
    u->lcr = v;
    update_char_time(u);
    break;
  case UART_MCR:
    write_mcr(u, v);
    break;
  case UART_LSR: /* factory test on the chip; ignored, as in QEMU */
  case UART_MSR:
    break;
  case UART_SCR:
    u->scr = v;
    break;
  }
  update_irq(u);
}

static uint32_t uart_io_read(void *opaque, uint16_t offset, int size) {
  (void)size;
  return uart_read(opaque, offset);
}

static void uart_io_write(void *opaque, uint16_t offset, int size, uint32_t value) {
  (void)size;
  uart_write(opaque, offset, (uint8_t)value);
}

/* ---- the backend's side ------------------------------------------------------------------- */

static size_t fe_can_receive(void *opaque) { return uart_can_receive(opaque); }

static void fe_receive(void *opaque, const uint8_t *buf, size_t len) {
  uart_receive(opaque, buf, len);
}

static void fe_event(void *opaque, enum chardev_event ev) {
  if (ev == CHARDEV_BREAK)
    uart_receive_break(opaque);
}

bool uart_poll(struct uart *u) {
  bool did = false;
  if (u->tx.count && !(u->mcr & UART_MCR_LOOP)) {
    did = tx_flush(u);
    update_irq(u);
  }
  if (u->chr && chardev_poll(u->chr))
    did = true;
  return did;
}

/* ---- life cycle --------------------------------------------------------------------------- */

void uart_reset(struct uart *u) {
  if (u->timers)
    timer_del(u->timers, &u->timeout);
  u->ier = u->fcr = u->lcr = u->mcr = 0;
  u->lsr_err = 0;
  u->msr = EXTERNAL_LINES;
  fifo_clear(&u->rx);
  fifo_clear(&u->tx);
  u->thr_ipending = u->timeout_ipending = false;
  update_char_time(u);
  update_irq(u);
}

int uart_init(struct uart *u, struct ioports *io, uint16_t base, struct irq_line irq,
              struct timer_list *timers, struct chardev *chr) {
  memset(u, 0, sizeof(*u));
  u->irq = irq;
  u->timers = timers;
  u->chr = chr;
  u->base = base;
  u->divisor = 12; /* undefined after power-on; 9600 baud until the guest says otherwise */
  timer_init(&u->timeout, timeout_fired, u);
  int err = ioports_register(io, base, 8, IO_BYTES_ONLY, "serial", uart_io_read, uart_io_write,
                             u);
  if (err)
    return err;
  uart_reset(u);
  if (chr)
    chardev_set_frontend(chr, &(struct chardev_frontend){fe_can_receive, fe_receive, fe_event, u});
  return 0;
}

void uart_exit(struct uart *u) {
  if (u->timers)
    timer_del(u->timers, &u->timeout);
  if (u->chr)
    chardev_set_frontend(u->chr, NULL);
  if (u->irq_level) {
    u->irq_level = 0;
    irq_set(&u->irq, 0);
  }
}
