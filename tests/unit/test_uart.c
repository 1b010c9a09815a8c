/* test_uart.c - the 16550A UART through its I/O ports, driven the way Linux's 8250 driver
 * drives it, with a backend that records what the guest sent and can play busy. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/console.h"
#include "devices/ioport.h"
#include "devices/timer.h"
#include "devices/uart.h"

static struct ioports io;
static struct timer_list timers;
static struct chardev chr;
static struct uart u;

/* The backend: records output; refuses it while busy. */
static uint8_t sent[256];
static size_t nsent;
static bool busy;

static ssize_t rec_write(struct chardev *c, const uint8_t *buf, size_t len) {
  (void)c;
  if (busy)
    return 0;
  ck_assert_uint_le(nsent + len, sizeof(sent));
  memcpy(sent + nsent, buf, len);
  nsent += len;
  return (ssize_t)len;
}

static const struct chardev_ops rec_ops = {"record", rec_write, NULL};

/* The interrupt line. */
static int irq_level, irq_pin = -1, irq_raises;

static void irq_cb(void *opaque, int pin, int level) {
  (void)opaque;
  if (level && !irq_level)
    irq_raises++;
  irq_level = level;
  irq_pin = pin;
}

static void setup(void) {
  ioports_init(&io, false, NULL);
  timers.head = NULL;
  nsent = 0;
  busy = false;
  irq_level = irq_raises = 0;
  irq_pin = -1;
  ck_assert_int_eq(chardev_init_custom(&chr, &rec_ops, NULL), 0);
  ck_assert_int_eq(uart_init(&u, &io, UART_COM1_BASE, (struct irq_line){irq_cb, NULL, 4},
                             &timers, &chr),
                   0);
}

static void teardown(void) {
  uart_exit(&u);
  chardev_exit(&chr);
}

static uint8_t in(unsigned reg) { return (uint8_t)ioports_read(&io, UART_COM1_BASE + reg, 1); }
static void out(unsigned reg, uint8_t v) { ioports_write(&io, UART_COM1_BASE + reg, 1, v); }
static uint8_t iir_id(void) { return in(UART_IIR) & UART_IIR_ID; }

static void receive(const char *s) { uart_receive(&u, (const uint8_t *)s, strlen(s)); }

/* Linux's serial8250 set_termios for 115200 8N1. */
static void program_115200_8n1(void) {
  out(UART_LCR, UART_LCR_DLAB | 0x03);
  out(UART_DLL, 1);
  out(UART_DLM, 0);
  out(UART_LCR, 0x03);
}

START_TEST(linux_programs_the_divisor_through_dlab) {
  out(UART_LCR, UART_LCR_DLAB);
  out(UART_DLL, 0x0c);
  out(UART_DLM, 0x00);
  out(UART_LCR, 0x1f); /* 8 bits, 2 stop bits, even parity: 12 bits a character */
  ck_assert_uint_eq(u.divisor, 12);
  ck_assert_uint_eq(in(UART_LCR), 0x1f);
  /* 9600 baud: 12 bits take 1.25 ms */
  ck_assert_uint_ge(u.char_ns, 1249990);
  ck_assert_uint_le(u.char_ns, 1250010);

  program_115200_8n1();
  ck_assert_uint_eq(u.divisor, 1);
  ck_assert_uint_eq(in(UART_LCR), 0x03);
  /* 10 bits at 115200 baud: 86.8 us */
  ck_assert_uint_ge(u.char_ns, 86800);
  ck_assert_uint_le(u.char_ns, 86810);

  /* With DLAB clear, offsets 0 and 1 are RBR/THR and IER, not the latch. */
  out(UART_IER, 0x05);
  ck_assert_uint_eq(in(UART_IER), 0x05);
  out(UART_LCR, UART_LCR_DLAB | 0x03);
  ck_assert_uint_eq(in(UART_DLL), 1);
  ck_assert_uint_eq(in(UART_DLM), 0);
  out(UART_DLM, 0x01);
  ck_assert_uint_eq(u.divisor, 0x101);
  out(UART_LCR, 0x03);
  ck_assert_uint_eq(in(UART_IER), 0x05);
}
END_TEST

/* serial8250 autoconfig: IER and scratch probes, FIFO detection, no 16750/EFR bits. */
START_TEST(probes_as_a_16550a) {
  out(UART_IER, 0);
  ck_assert_uint_eq(in(UART_IER) & 0x0f, 0);
  out(UART_IER, 0xff);
  ck_assert_uint_eq(in(UART_IER), 0x0f);
  out(UART_IER, 0);
  out(UART_SCR, 0xa5);
  ck_assert_uint_eq(in(UART_SCR), 0xa5);
  out(UART_SCR, 0x5a);
  ck_assert_uint_eq(in(UART_SCR), 0x5a);
  ck_assert_uint_eq(in(UART_IIR), UART_IIR_NONE); /* FIFOs off after reset */
  out(UART_FCR, UART_FCR_ENABLE);
  uint8_t iir = in(UART_IIR);
  ck_assert_uint_eq(iir >> 6, 3);
  ck_assert_uint_eq(iir & 0x30, 0); /* no 64-byte FIFO bit: not a 16750 */
  out(UART_FCR, UART_FCR_ENABLE | 0x20);
  ck_assert_uint_eq(in(UART_IIR) & 0x20, 0);
  ck_assert_uint_eq(in(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
  ck_assert_uint_eq(in(UART_MCR), 0);
}
END_TEST

START_TEST(transmitted_bytes_reach_the_backend_in_order) {
  static const char a[] = "Linux version 6.1.0\r\n", b[] = "console [ttyS0] enabled\r\n";
  program_115200_8n1();
  for (const char *p = a; *p; p++) {
    ck_assert(in(UART_LSR) & UART_LSR_THRE);
    out(UART_THR, (uint8_t)*p);
  }
  out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX | UART_FCR_CLEAR_TX);
  for (const char *p = b; *p; p++)
    out(UART_THR, (uint8_t)*p);
  ck_assert_uint_eq(nsent, strlen(a) + strlen(b));
  ck_assert(!memcmp(sent, a, strlen(a)));
  ck_assert(!memcmp(sent + strlen(a), b, strlen(b)));
  ck_assert_uint_eq(in(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
                    UART_LSR_THRE | UART_LSR_TEMT);
  ck_assert_uint_eq(u.tx_bytes, nsent);
}
END_TEST

START_TEST(transmit_fifo_holds_bytes_while_the_backend_is_busy) {
  out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_TX);
  busy = true;
  for (int i = 0; i < 16; i++)
    out(UART_THR, (uint8_t)('A' + i));
  ck_assert_uint_eq(nsent, 0);
  ck_assert_uint_eq(in(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), 0);
  out(UART_THR, 'Q'); /* the FIFO is full: lost */
  out(UART_IER, UART_IER_ETBEI);
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE); /* THR is not empty */
  ck_assert_int_eq(irq_level, 0);
  ck_assert(!uart_poll(&u)); /* still busy: nothing moves */
  busy = false;
  ck_assert(uart_poll(&u));
  ck_assert_uint_eq(nsent, 16);
  ck_assert(!memcmp(sent, "ABCDEFGHIJKLMNOP", 16));
  ck_assert_uint_eq(in(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
                    UART_LSR_THRE | UART_LSR_TEMT);
  ck_assert_int_eq(irq_level, 1);
  ck_assert_uint_eq(iir_id(), UART_IIR_THRI);
  ck_assert_int_eq(irq_level, 0);
}
END_TEST

START_TEST(received_byte_sets_dr_and_interrupts_only_when_enabled) {
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_DR, 0);
  receive("a");
  ck_assert(in(UART_LSR) & UART_LSR_DR);
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  ck_assert_int_eq(irq_level, 0);
  ck_assert_uint_eq(in(UART_RBR), 'a');
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_DR, 0);

  out(UART_IER, UART_IER_ERBFI);
  ck_assert_int_eq(irq_level, 0);
  receive("b");
  ck_assert_int_eq(irq_level, 1);
  ck_assert_int_eq(irq_pin, 4);
  ck_assert_uint_eq(iir_id(), UART_IIR_RDI);
  ck_assert_uint_eq(iir_id(), UART_IIR_RDI); /* reading IIR does not clear it */
  ck_assert_uint_eq(in(UART_RBR), 'b');
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  ck_assert_int_eq(irq_level, 0);
}
END_TEST

START_TEST(backend_input_is_delivered_as_room_allows) {
  char text[41];
  for (int i = 0; i < 40; i++)
    text[i] = (char)('0' + i);
  text[40] = 0;
  ck_assert_int_eq(chardev_push_input(&chr, (const uint8_t *)text, 40), 0);
  ck_assert(chardev_pending(&chr));
  /* 16450 mode: one byte at a time */
  ck_assert(uart_poll(&u));
  ck_assert_uint_eq(u.rx.count, 1);
  ck_assert(!uart_poll(&u));
  ck_assert_uint_eq(in(UART_RBR), '0');
  out(UART_FCR, UART_FCR_ENABLE);
  char got[41] = {0};
  int n = 1;
  got[0] = '0';
  while (n < 40) {
    ck_assert(uart_poll(&u));
    ck_assert_uint_le(u.rx.count, 16);
    while (in(UART_LSR) & UART_LSR_DR)
      got[n++] = (char)in(UART_RBR);
  }
  ck_assert_str_eq(got, text);
  ck_assert_uint_eq(u.overruns, 0);
  ck_assert(!chardev_pending(&chr));
}
END_TEST

START_TEST(fifo_trigger_levels) {
  static const struct {
    uint8_t bits;
    int level;
  } t[] = {{0x00, 1}, {0x40, 4}, {0x80, 8}, {0xc0, 14}};
  out(UART_IER, UART_IER_ERBFI);
  for (int k = 0; k < 4; k++) {
    out(UART_FCR, t[k].bits | UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
    for (int i = 0; i < t[k].level - 1; i++) {
      receive("x");
      ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
    }
    ck_assert_int_eq(irq_level, 0);
    receive("y");
    ck_assert_uint_eq(in(UART_IIR), UART_IIR_FIFOS | UART_IIR_RDI);
    ck_assert_int_eq(irq_level, 1);
    in(UART_RBR); /* one below the level: the interrupt goes */
    ck_assert_uint_ne(iir_id(), UART_IIR_RDI);
    ck_assert_int_eq(irq_level, 0);
  }
}
END_TEST

START_TEST(character_timeout_after_four_character_times) {
  program_115200_8n1();
  out(UART_FCR, 0x80 | UART_FCR_ENABLE | UART_FCR_CLEAR_RX); /* trigger at 8 */
  out(UART_IER, UART_IER_ERBFI);
  uint64_t t0 = clock_ns();
  receive("abc");
  uint64_t t1 = clock_ns();
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  uint64_t deadline = timers_next_deadline(&timers);
  ck_assert_uint_ge(deadline, t0 + 4 * u.char_ns);
  ck_assert_uint_le(deadline, t1 + 4 * u.char_ns);
  ck_assert_int_eq(timers_run(&timers, deadline - 1), 0);
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  ck_assert_int_eq(timers_run(&timers, deadline), 1);
  ck_assert_uint_eq(in(UART_IIR), UART_IIR_FIFOS | UART_IIR_CTI);
  ck_assert_int_eq(irq_level, 1);
  ck_assert_uint_eq(in(UART_RBR), 'a'); /* a read clears it and restarts the timer */
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  ck_assert_int_eq(irq_level, 0);
  ck_assert_uint_ne(timers_next_deadline(&timers), UINT64_MAX);
  timers_run(&timers, UINT64_MAX);
  ck_assert_uint_eq(iir_id(), UART_IIR_CTI);
  ck_assert_uint_eq(in(UART_RBR), 'b');
  ck_assert_uint_eq(in(UART_RBR), 'c');
  ck_assert_uint_eq(timers_next_deadline(&timers), UINT64_MAX); /* empty: no timeout */
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  /* Masked by ERBFI like the data interrupt. */
  out(UART_IER, 0);
  receive("d");
  timers_run(&timers, UINT64_MAX);
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  out(UART_IER, UART_IER_ERBFI);
  ck_assert_uint_eq(iir_id(), UART_IIR_CTI);
}
END_TEST

START_TEST(iir_reports_by_priority_and_each_source_clears_its_own_way) {
  out(UART_MCR, UART_MCR_LOOP); /* DCD, DSR, CTS drop: three delta bits */
  out(UART_THR, 'a');
  out(UART_THR, 'b'); /* 16450 mode: overruns 'a' */
  ck_assert_int_eq(irq_level, 0);
  out(UART_IER, 0x0f);
  ck_assert_int_eq(irq_level, 1);
  ck_assert_uint_eq(iir_id(), UART_IIR_RLSI);
  uint8_t lsr = in(UART_LSR); /* clears the line status interrupt */
  ck_assert_uint_eq(lsr & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
  ck_assert_uint_eq(iir_id(), UART_IIR_RDI);
  ck_assert_uint_eq(iir_id(), UART_IIR_RDI); /* reading IIR clears only THRE */
  ck_assert_uint_eq(in(UART_RBR), 'b');
  ck_assert_int_eq(irq_level, 1);
  ck_assert_uint_eq(iir_id(), UART_IIR_THRI); /* reported, so cleared by this read */
  ck_assert_uint_eq(iir_id(), UART_IIR_MSI);
  ck_assert_int_eq(irq_level, 1);
  ck_assert_uint_eq(in(UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
  ck_assert_uint_eq(in(UART_IIR), UART_IIR_NONE);
  ck_assert_int_eq(irq_level, 0);
  ck_assert_uint_eq(in(UART_MSR), 0);

  /* THRE reported below received data is not cleared by an IIR read that shows the data. */
  out(UART_IER, 0);
  out(UART_THR, 'c');
  out(UART_IER, UART_IER_ERBFI | UART_IER_ETBEI);
  ck_assert_uint_eq(iir_id(), UART_IIR_RDI);
  ck_assert_uint_eq(in(UART_RBR), 'c');
  ck_assert_uint_eq(iir_id(), UART_IIR_THRI);
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  /* Masking a source hides it; unmasking shows it again (modem deltas). */
  out(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  out(UART_IER, UART_IER_EDSSI);
  ck_assert_uint_eq(iir_id(), UART_IIR_MSI);
}
END_TEST

/* serial8250_do_startup's THRE test and its TXEN test, then what tx interrupts rely on. */
START_TEST(thre_interrupt_is_raised_again_when_ier_turns_it_on) {
  program_115200_8n1();
  while (!(in(UART_LSR) & UART_LSR_THRE))
    ;
  out(UART_IER, UART_IER_ETBEI);
  uint8_t iir1 = in(UART_IIR);
  out(UART_IER, 0);
  out(UART_IER, UART_IER_ETBEI);
  uint8_t iir = in(UART_IIR);
  out(UART_IER, 0);
  ck_assert_uint_eq(iir1 & UART_IIR_ID, UART_IIR_THRI);
  ck_assert_uint_eq(iir & UART_IIR_ID, UART_IIR_THRI); /* else Linux sets UART_BUG_THRE */

  out(UART_IER, UART_IER_ETBEI);
  uint8_t lsr = in(UART_LSR);
  iir = in(UART_IIR);
  out(UART_IER, 0);
  ck_assert(!((lsr & UART_LSR_TEMT) && (iir & UART_IIR_NONE))); /* else UART_BUG_TXEN */
  ck_assert_int_eq(irq_level, 0);

  /* start_tx: ETBEI on raises the line; the handler's IIR read drops it. */
  int raises = irq_raises;
  out(UART_IER, UART_IER_ERBFI | UART_IER_ETBEI);
  ck_assert_int_eq(irq_level, 1);
  ck_assert_int_eq(irq_raises, raises + 1);
  ck_assert_uint_eq(iir_id(), UART_IIR_THRI);
  ck_assert_int_eq(irq_level, 0);
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  /* Writing THR clears it; the byte leaves at once and THR empty is pending again. */
  out(UART_THR, 'z');
  ck_assert_uint_eq(nsent, 1);
  ck_assert_int_eq(irq_level, 1);
  ck_assert_uint_eq(iir_id(), UART_IIR_THRI);
  /* A write to IER that leaves ETBEI as it was is no new edge. */
  out(UART_IER, UART_IER_ETBEI);
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
  /* Turning ETBEI off drops a pending THRE interrupt. */
  out(UART_THR, 'y');
  out(UART_IER, 0);
  out(UART_IER, UART_IER_EDSSI);
  ck_assert_int_eq(irq_level, 0);
}
END_TEST

START_TEST(loopback_connects_outputs_to_inputs) {
  ck_assert_uint_eq(in(UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
  /* Linux's autoconfig loopback test: LOOP | OUT2 | RTS must read back DCD | CTS. */
  out(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
  ck_assert_uint_eq(in(UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_CTS);
  out(UART_MCR, 0x1f);
  ck_assert_uint_eq(in(UART_MSR), 0xf0 | UART_MSR_DDSR);
  out(UART_MCR, UART_MCR_LOOP);
  ck_assert_uint_eq(in(UART_MSR),
                    UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD | UART_MSR_TERI);
  ck_assert_uint_eq(in(UART_MCR), UART_MCR_LOOP);

  out(UART_FCR, UART_FCR_ENABLE);
  for (const char *p = "loop"; *p; p++)
    out(UART_THR, (uint8_t)*p);
  ck_assert_uint_eq(nsent, 0);
  char got[5] = {0};
  for (int i = 0; i < 4; i++)
    got[i] = (char)in(UART_RBR);
  ck_assert_str_eq(got, "loop");
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_DR, 0);

  /* The line is disconnected: backend input waits until loopback ends. */
  ck_assert_int_eq(chardev_push_input(&chr, (const uint8_t *)"k", 1), 0);
  uart_poll(&u);
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_DR, 0);
  out(UART_MCR, UART_MCR_OUT2 | UART_MCR_RTS | UART_MCR_DTR);
  ck_assert_uint_eq(in(UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
  ck_assert(uart_poll(&u));
  ck_assert_uint_eq(in(UART_RBR), 'k');
  out(UART_THR, '!');
  ck_assert_uint_eq(nsent, 1);
  ck_assert_uint_eq(sent[0], '!');
}
END_TEST

START_TEST(overrun_sets_oe_and_loses_a_byte) {
  receive("ab"); /* 16450 mode: 'b' replaces 'a' */
  uint8_t lsr = in(UART_LSR);
  ck_assert_uint_eq(lsr & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_OE, 0); /* reading LSR cleared it */
  ck_assert_uint_eq(in(UART_RBR), 'b');

  out(UART_IER, UART_IER_ELSI);
  receive("cd");
  ck_assert_int_eq(irq_level, 1);
  ck_assert_uint_eq(iir_id(), UART_IIR_RLSI);
  in(UART_LSR);
  ck_assert_int_eq(irq_level, 0);
  in(UART_RBR);

  /* FIFO mode: the 17th byte is lost, the 16 before it kept. */
  out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
  uint8_t b[17];
  for (int i = 0; i < 17; i++)
    b[i] = (uint8_t)(0x40 + i);
  ck_assert_uint_eq(uart_can_receive(&u), 16);
  uart_receive(&u, b, 17);
  ck_assert_uint_eq(uart_can_receive(&u), 0);
  ck_assert_int_eq(irq_level, 1);
  ck_assert(in(UART_LSR) & UART_LSR_OE);
  for (int i = 0; i < 16; i++)
    ck_assert_uint_eq(in(UART_RBR), 0x40 + i);
  ck_assert_uint_eq(in(UART_LSR) & (UART_LSR_DR | UART_LSR_OE), 0);
  ck_assert_uint_eq(u.overruns, 3);
}
END_TEST

START_TEST(break_arrives_as_a_zero_byte_with_bi) {
  out(UART_IER, UART_IER_ELSI);
  uart_receive_break(&u);
  ck_assert_uint_eq(iir_id(), UART_IIR_RLSI);
  ck_assert_uint_eq(in(UART_LSR) & (UART_LSR_BI | UART_LSR_DR), UART_LSR_BI | UART_LSR_DR);
  ck_assert_uint_eq(in(UART_RBR), 0);
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_BI, 0);

  /* FIFO mode: BI shows when the break reaches the top; bit 7 while it is in the FIFO. */
  out(UART_FCR, UART_FCR_ENABLE);
  receive("a");
  uart_receive_break(&u);
  receive("b");
  uint8_t lsr = in(UART_LSR);
  ck_assert_uint_eq(lsr & (UART_LSR_BI | UART_LSR_FIFOERR), UART_LSR_FIFOERR);
  ck_assert_uint_eq(in(UART_RBR), 'a');
  ck_assert_uint_eq(in(UART_LSR) & (UART_LSR_BI | UART_LSR_FIFOERR),
                    UART_LSR_BI | UART_LSR_FIFOERR);
  ck_assert_uint_eq(in(UART_RBR), 0);
  ck_assert_uint_eq(in(UART_LSR) & (UART_LSR_BI | UART_LSR_FIFOERR), 0);
  ck_assert_uint_eq(in(UART_RBR), 'b');

  /* Through the backend, as Ctrl-A b sends it. */
  ck_assert_int_eq(chardev_push_event(&chr, CHARDEV_BREAK), 0);
  ck_assert(uart_poll(&u));
  ck_assert(in(UART_LSR) & UART_LSR_BI);
}
END_TEST

START_TEST(fcr_clears_fifos_and_switches_modes) {
  out(UART_FCR, UART_FCR_ENABLE);
  receive("abc");
  out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_DR, 0);
  ck_assert_uint_eq(in(UART_IIR) & UART_IIR_FIFOS, UART_IIR_FIFOS);
  receive("xyz");
  out(UART_FCR, 0); /* back to 16450 mode: the FIFOs are cleared */
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_DR, 0);
  ck_assert_uint_eq(in(UART_IIR) & UART_IIR_FIFOS, 0);
  ck_assert_uint_eq(uart_can_receive(&u), 1);
  /* Without bit 0 the other bits do not take. */
  out(UART_FCR, 0xc0);
  ck_assert_uint_eq(u.fcr, 0);
  /* Clearing a transmit FIFO held by a busy backend empties THR. */
  out(UART_FCR, UART_FCR_ENABLE);
  busy = true;
  out(UART_THR, 'q');
  ck_assert_uint_eq(in(UART_LSR) & UART_LSR_THRE, 0);
  out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_TX);
  ck_assert(in(UART_LSR) & UART_LSR_TEMT);
  busy = false;
  uart_poll(&u);
  ck_assert_uint_eq(nsent, 0);
}
END_TEST

/* Bytes pass whole whatever the word length, as in QEMU: LCR's reset value (5-bit words) must
 * not garble a guest that never programs it. */
START_TEST(bytes_pass_whole_at_any_word_length) {
  ck_assert_uint_eq(in(UART_LCR), 0);
  out(UART_THR, 0xc1);
  ck_assert_uint_eq(nsent, 1);
  ck_assert_uint_eq(sent[0], 0xc1);
  receive("\xe9");
  ck_assert_uint_eq(in(UART_RBR), 0xe9);
  /* The word length does set the character time: 5N1 is 7 bits, 8N1 10. */
  uint64_t five = u.char_ns;
  out(UART_LCR, 0x03);
  ck_assert_uint_eq(u.char_ns * 7 / 10, five);
}
END_TEST

START_TEST(reset_returns_to_power_on_state) {
  out(UART_IER, 0x0f);
  out(UART_FCR, UART_FCR_ENABLE);
  out(UART_MCR, UART_MCR_LOOP);
  receive("zz");
  ck_assert_int_eq(irq_level, 1);
  uart_reset(&u);
  ck_assert_int_eq(irq_level, 0);
  ck_assert_uint_eq(in(UART_IER), 0);
  ck_assert_uint_eq(in(UART_IIR), UART_IIR_NONE);
  ck_assert_uint_eq(in(UART_LCR), 0);
  ck_assert_uint_eq(in(UART_MCR), 0);
  ck_assert_uint_eq(in(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
  ck_assert_uint_eq(in(UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}
END_TEST

START_TEST(without_a_timer_list_the_timeout_is_immediate) {
  uart_exit(&u);
  ioports_init(&io, false, NULL);
  ck_assert_int_eq(uart_init(&u, &io, UART_COM1_BASE, (struct irq_line){irq_cb, NULL, 4},
                             NULL, &chr),
                   0);
  out(UART_FCR, 0xc0 | UART_FCR_ENABLE);
  out(UART_IER, UART_IER_ERBFI);
  receive("q");
  ck_assert_uint_eq(iir_id(), UART_IIR_CTI);
  ck_assert_uint_eq(in(UART_RBR), 'q');
  ck_assert_uint_eq(iir_id(), UART_IIR_NONE);
}
END_TEST

START_TEST(wide_accesses_are_split_and_ports_are_claimed) {
  out(UART_SCR, 0x77);
  out(UART_MCR, 0x03);
  /* A 32-bit read at base+4: MCR, LSR, MSR, SCR. */
  uint32_t v = ioports_read(&io, UART_COM1_BASE + 4, 4);
  ck_assert_uint_eq(v & 0xff, 0x03);
  ck_assert_uint_eq(v >> 24, 0x77);
  ck_assert_int_ne(ioports_register(&io, UART_COM1_BASE + 7, 1, 0, "x", NULL, NULL, NULL), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uart");
  TCase *t = tcase_create("16550a");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, linux_programs_the_divisor_through_dlab);
  tcase_add_test(t, probes_as_a_16550a);
  tcase_add_test(t, transmitted_bytes_reach_the_backend_in_order);
  tcase_add_test(t, transmit_fifo_holds_bytes_while_the_backend_is_busy);
  tcase_add_test(t, received_byte_sets_dr_and_interrupts_only_when_enabled);
  tcase_add_test(t, backend_input_is_delivered_as_room_allows);
  tcase_add_test(t, fifo_trigger_levels);
  tcase_add_test(t, character_timeout_after_four_character_times);
  tcase_add_test(t, iir_reports_by_priority_and_each_source_clears_its_own_way);
  tcase_add_test(t, thre_interrupt_is_raised_again_when_ier_turns_it_on);
  tcase_add_test(t, loopback_connects_outputs_to_inputs);
  tcase_add_test(t, overrun_sets_oe_and_loses_a_byte);
  tcase_add_test(t, break_arrives_as_a_zero_byte_with_bi);
  tcase_add_test(t, fcr_clears_fifos_and_switches_modes);
  tcase_add_test(t, bytes_pass_whole_at_any_word_length);
  tcase_add_test(t, reset_returns_to_power_on_state);
  tcase_add_test(t, without_a_timer_list_the_timeout_is_immediate);
  tcase_add_test(t, wide_accesses_are_split_and_ports_are_claimed);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
