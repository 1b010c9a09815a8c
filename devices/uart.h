/* uart.h - a National Semiconductor 16550A UART, the PC's serial port (COM1: ports
 * 0x3F8-0x3FF, IRQ 4), with its 16-byte receive and transmit FIFOs.
 *
 * Registers (offset from the base; DLAB is LCR bit 7):
 *   0  read: RBR (receive buffer)     write: THR (transmit holding)   DLAB=1: DLL
 *   1  IER (interrupt enable)                                         DLAB=1: DLM
 *   2  read: IIR (interrupt identity) write: FCR (FIFO control)
 *   3  LCR (line control)   4  MCR (modem control)   5  LSR (line status, read only)
 *   6  MSR (modem status, read only)   7  SCR (scratch)
 *
 * Wiring, by the machine (all on the vCPU thread):
 *
 *   struct chardev_spec spec;                    // from -serial, see console.h
 *   chardev_parse(arg, &spec, err, sizeof(err));
 *   if (spec.kind != CHARDEV_NONE) {             // -serial none: no UART at all
 *     chardev_init(&m->serial_chr, &spec);
 *     uart_init(&m->com1, &m->io, UART_COM1_BASE,
 *               (struct irq_line){pic_set_irq, &m->pic, UART_COM1_IRQ}, &m->timers,
 *               &m->serial_chr);
 *     chardev_set_host(&m->serial_chr, &(struct chardev_host){kick, quit, m});
 *   }
 *   run loop: uart_poll(&m->com1) between blocks and before a halted CPU sleeps; the halted
 *             CPU sleeps until the kick or timers_next_deadline(&m->timers); timers_run()
 *             fires the UART's character-timeout timer.
 *   teardown: uart_exit(&m->com1); chardev_exit(&m->serial_chr);   // restores the terminal
 *
 * Model notes:
 * - Transmission is instantaneous: a byte written to THR goes to the backend during the
 *   guest's OUT, and THRE/TEMT are set again before the next instruction. Linux's serial
 *   console polls LSR.THRE before every byte, so pacing at the programmed baud rate would cost
 *   the guest ~87 us of spinning per byte at 115200 (a boot log takes seconds) for no gain in
 *   fidelity anybody observes; QEMU does the same. Linux's interrupt-driven writes are fine
 *   with it: each THRE interrupt refills at most 16 bytes and stops when its buffer is empty,
 *   well under the 8250 driver's 512-pass limit. The transmit FIFO still matters when the
 *   backend is busy (its write returns 0): bytes wait there, THRE and TEMT stay clear, and
 *   uart_poll() offers them again; a write to a full FIFO is lost, as on the chip.
 * - Reception happens when the backend has bytes, as fast as the FIFO takes them (not paced
 *   either); the character-timeout interrupt uses the programmed rate: four character times
 *   after the last byte went in or out of the receive FIFO.
 * - The THRE interrupt follows QEMU (what Linux's 8250 driver probes at startup): it is
 *   pending once the transmitter empties, cleared by reading IIR while IIR reports it or by
 *   writing THR, and re-raised when a write to IER turns ETBEI on while THR is empty. Turning
 *   ETBEI off clears it.
 * - The IRQ output is not gated by MCR.OUT2 (a PC board's doing), as in QEMU, so guests
 *   developed against QEMU behave the same here; Linux sets OUT2 anyway.
 * - Modem inputs outside loopback are DCD, DSR and CTS asserted, RI not (a connected
 *   terminal). In loopback (MCR bit 4) RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD, transmitted
 *   bytes come back into the receiver, and the backend's input waits (can_receive is 0).
 *   Changes of the inputs set MSR's delta bits (TERI on RI's falling edge).
 * - Word length, parity and stop bits (LCR bits 0-5) only enter the character time: bytes
 *   pass whole both ways, as in QEMU. The chip would cut them to the word length, and LCR's
 *   reset value selects 5-bit words, so a guest that never programs LCR (fine on QEMU) would
 *   print garbage. The break-control bit (LCR bit 6) is stored and has no effect; a break
 *   from the backend (Ctrl-A b) arrives as a 0 byte with LSR.BI.
 * - DMA mode (FCR bit 3) is stored, read back nowhere, and changes nothing (no DMA on COM1). */
#ifndef BT386_UART_H
#define BT386_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/console.h"
#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/timer.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define UART_COM2_BASE 0x2f8
#define UART_COM2_IRQ 3
#define UART_FIFO_SIZE 16
#define UART_CLOCK_HZ 1843200 /* the PC's crystal: divisor 1 is 115200 baud */

/* Register offsets */
#define UART_RBR 0
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI 0x01 /* received data available (and character timeout) */
#define UART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define UART_IER_ELSI 0x04  /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NONE 0x01    /* no interrupt pending */
#define UART_IIR_MSI 0x00     /* modem status */
#define UART_IIR_THRI 0x02    /* transmitter holding register empty */
#define UART_IIR_RDI 0x04     /* received data available */
#define UART_IIR_RLSI 0x06    /* receiver line status */
#define UART_IIR_CTI 0x0c     /* character timeout */
#define UART_IIR_ID 0x0f
#define UART_IIR_FIFOS 0xc0   /* both set when the FIFOs are on */

#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_FCR_DMA 0x08
#define UART_FCR_TRIGGER 0xc0 /* 00: 1 byte, 01: 4, 10: 8, 11: 14 */

#define UART_LCR_WLEN 0x03 /* 00: 5 bits ... 11: 8 bits */
#define UART_LCR_STOP 0x04
#define UART_LCR_PARITY 0x08
#define UART_LCR_BREAK 0x40
#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_PE 0x04
#define UART_LSR_FE 0x08
#define UART_LSR_BI 0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_LSR_FIFOERR 0x80
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

struct uart_fifo {
  uint8_t data[UART_FIFO_SIZE];
  uint8_t err[UART_FIFO_SIZE]; /* receive: the LSR error bits (PE, FE, BI) of each byte */
  unsigned head, count;
};

struct uart {
  struct irq_line irq;
  struct timer_list *timers; /* NULL: a character timeout is reported at once */
  struct timer timeout;
  struct chardev *chr;       /* NULL: output discarded, no input */
  uint16_t base;

  uint16_t divisor;
  uint8_t ier, fcr, lcr, mcr, scr;
  uint8_t lsr_err;  /* OE, PE, FE, BI: sticky until LSR is read */
  uint8_t msr;      /* modem inputs (high nibble) and their deltas (low nibble) */
  uint8_t rbr_last; /* what RBR reads when the receiver is empty */
  struct uart_fifo rx, tx; /* hold one byte each while the FIFOs are off (RBR, THR) */
  bool thr_ipending;
  bool timeout_ipending;
  int irq_level;
  uint64_t char_ns; /* one character on the line at the programmed format and rate */

  /* counters */
  uint64_t tx_bytes, rx_bytes, overruns, tx_lost;
};

/* Register the 8 ports at base (-EBUSY/-ENOSPC from the registry) and reset. Attaches itself
 * as chr's frontend. The ports stay registered after uart_exit (the registry has no removal):
 * tear the UART down only with the machine. */
int uart_init(struct uart *u, struct ioports *io, uint16_t base, struct irq_line irq,
              struct timer_list *timers, struct chardev *chr);
void uart_exit(struct uart *u);
/* The chip's reset (the machine's reset line): registers, FIFOs, pending interrupts. */
void uart_reset(struct uart *u);

/* vCPU thread, between blocks and before sleeping in hlt: take input queued by the backend,
 * offer held output to it again. Cheap when there is nothing to do. Returns whether it did
 * something (not whether more is waiting). */
bool uart_poll(struct uart *u);

/* Register access as the guest's IN/OUT see it (the port registry calls these). */
uint8_t uart_read(struct uart *u, unsigned offset);
void uart_write(struct uart *u, unsigned offset, uint8_t value);

/* The line side: bytes arriving from the other end. A full receiver sets OE (FIFO mode: the
 * byte is lost; 16450 mode: it replaces RBR); in loopback the line is disconnected and the
 * bytes are lost. uart_can_receive() is what the backend is told: free room, 0 in loopback. */
size_t uart_can_receive(const struct uart *u);
void uart_receive(struct uart *u, const uint8_t *buf, size_t len);
void uart_receive_break(struct uart *u);

#endif
