/* interrupts.c - external interrupts from the PC's 8254 timer through the 8259A pair:
 * delivery through an interrupt gate (IF cleared in the handler, the interrupted EIP saved),
 * IF=0 holding a request pending in the IRR, the one-instruction interrupt shadow after sti,
 * hlt waking on an interrupt, the PIC's mask register, in-service and EOI, the RTC's periodic
 * interrupt on the slave (IRQ8 through the cascade), and PIT channel 2 gated through port
 * 0x61, which kernels use to calibrate their clocks. Prints only what does not depend on
 * timing, so QEMU and bt386 print the same. */
#include "lib/guest.h"

#define PIC1 0x20
#define PIC2 0xa0
#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_MODE 0x43
#define PORT_B 0x61
#define SPIN 200000000u /* an upper bound on any wait here: far beyond a timer period */

static volatile uint32_t ticks, rtc_ticks, handler_eflags, handler_isr, bad_vectors;
static volatile uint32_t saved_eip_ok;
static volatile uint32_t expect_lo, expect_hi;
static volatile uint32_t loop_at, loop_exit; /* an interrupt at loop_at resumes at loop_exit */

static uint8_t pic_read(uint16_t port, uint8_t ocw3) {
  outb(port, ocw3);
  return inb(port);
}

static void on_interrupt(struct trap_frame *f) {
  if (f->vector == 0x20) {
    ticks++;
    handler_eflags = read_eflags();
    handler_isr = pic_read(PIC1, 0x0b); /* the in-service register */
    if (f->eip >= expect_lo && f->eip < expect_hi)
      saved_eip_ok++;
    if (loop_at && f->eip == loop_at) {
      f->eip = loop_exit;
      loop_at = 0;
    }
    outb(PIC1, 0x20); /* non-specific EOI */
  } else if (f->vector == 0x28) {
    rtc_ticks++;
    outb(0x70, 0x0c);
    (void)inb(0x71); /* reading register C acknowledges the RTC */
    outb(PIC2, 0x20);
    outb(PIC1, 0x20);
  } else if (f->vector < 32) {
    printf("unexpected exception %u, error code %x, at EIP %08x\n", f->vector, f->error, f->eip);
    guest_exit(0x7e);
  } else {
    bad_vectors++;
  }
}

static void pic_init(void) {
  outb(PIC1, 0x11); /* ICW1: edge, cascade, ICW4 */
  outb(PIC2, 0x11);
  outb(PIC1 + 1, 0x20); /* ICW2: vectors 0x20-0x27 and 0x28-0x2f */
  outb(PIC2 + 1, 0x28);
  outb(PIC1 + 1, 0x04); /* ICW3: slave on IRQ2 */
  outb(PIC2 + 1, 0x02);
  outb(PIC1 + 1, 0x01); /* ICW4: 8086 mode */
  outb(PIC2 + 1, 0x01);
  outb(PIC1 + 1, 0xfe); /* only IRQ0 */
  outb(PIC2 + 1, 0xff);
}

static void pit_periodic(uint16_t divisor) {
  outb(PIT_MODE, 0x34); /* channel 0, lobyte/hibyte, mode 2 */
  outb(PIT_CH0, divisor & 0xff);
  outb(PIT_CH0, divisor >> 8);
}

/* Wait with IF clear until the timer's request shows in the IRR. */
static int wait_irr0(void) {
  for (uint32_t i = 0; i < SPIN; i++)
    if (pic_read(PIC1, 0x0a) & 1)
      return 1;
  return 0;
}

static int wait_ticks(uint32_t target) {
  for (uint32_t i = 0; i < SPIN && ticks < target; i++)
    __asm__ volatile("sti; hlt; cli");
  return ticks >= target;
}

static void test_if_and_shadow(void) {
  __asm__ volatile("cli");
  uint32_t before = ticks;
  printf("IF=0: request pending in the IRR: %s\n", wait_irr0() ? "yes" : "no");
  printf("IF=0: delivered while IF was clear: %u\n", ticks - before);

  /* sti; cli with a request pending: the shadow after sti lets cli run first. */
  __asm__ volatile("sti; cli");
  printf("sti; cli: delivered in the shadow: %u\n", ticks - before);

  /* sti; nop; cli: delivered after the nop, and the handler saw the nop's successor. */
  uint32_t lo, hi;
  __asm__ volatile("movl $1f, %0; movl $2f, %1" : "=r"(lo), "=r"(hi));
  expect_lo = lo;
  expect_hi = hi + 1;
  saved_eip_ok = 0;
  __asm__ volatile("sti\n1: nop\n2: cli");
  /* At least one: another tick may come while the handler runs, and is taken after its
   * iret, before cli (no shadow after iret), so the count depends on timing. */
  printf("sti; nop; cli: delivered: %s, saved EIP after the nop: %s\n",
         ticks - before >= 1 ? "yes" : "no", saved_eip_ok ? "yes" : "no");
  printf("handler: IF %s, IRQ0 in service: %s\n", (handler_eflags & 0x200) ? "set" : "clear",
         (handler_isr & 1) ? "yes" : "no");
  printf("after EOI: in service %02x\n", pic_read(PIC1, 0x0b));
  expect_lo = expect_hi = 0;
}

/* sti; ret with a request pending (unmasked just before, IF clear), five times: the interrupt
 * comes after the ret and before the first instruction where it returns (an indirect branch
 * in the shadow). A first round
 * with IRQ0 masked reaches the return target without an interrupt, as a kernel mostly does,
 * so that the target is known as an indirect-branch target before the rounds that count. */
static void test_shadow_ret(void) {
  uint32_t delivered = 0, at_target = 0;
  for (int i = 0; i < 6; i++) {
    __asm__ volatile("cli");
    outb(PIC1 + 1, 0xff);
    if (i > 0 && !wait_irr0()) /* the request latches in the IRR even while masked */
      break;
    if (i > 0)
      outb(PIC1 + 1, 0xfe); /* unmasked: it reaches the CPU now, with IF clear */
    uint32_t before = ticks;
    saved_eip_ok = 0;
    __asm__ volatile("movl $1f, %[lo]\n\t"
                     "movl $1f + 1, %[hi]\n\t"
                     "pushl $1f\n\t"
                     "sti\n\t"
                     "ret\n"
                     "1: cli"
                     : [lo] "=m"(expect_lo), [hi] "=m"(expect_hi)
                     :
                     : "memory");
    if (i > 0) {
      delivered += ticks != before;
      at_target += saved_eip_ok != 0;
    }
  }
  expect_lo = expect_hi = 0;
  printf("sti; ret: delivered %u of 5, at the return target %u of 5\n", delivered, at_target);
}

/* An indirect jump to itself, first reached in the shadow of mov ss: only an interrupt ends
 * the loop, so the loop must take interrupts although its first run could not. */
static void test_shadow_loop(void) {
  __asm__ volatile("movl $1f, %[at]\n\t"
                   "movl $2f, %[exit]\n\t"
                   "movl $1f, %%ecx\n\t"
                   "sti\n\t"
                   "mov %%ss, %%eax\n\t"
                   "mov %%eax, %%ss\n"
                   "1: jmp *%%ecx\n"
                   "2: cli"
                   : [at] "=m"(loop_at), [exit] "=m"(loop_exit)
                   :
                   : "eax", "ecx", "memory");
  printf("mov ss, then an indirect jump to itself: left by an interrupt\n");
}

static void test_hlt(void) {
  uint32_t before = ticks;
  __asm__ volatile("sti; hlt; cli");
  printf("hlt woke on the timer: %s\n", ticks > before ? "yes" : "no");
  printf("10 more ticks with hlt: %s\n", wait_ticks(ticks + 10) ? "yes" : "no");
}

static void test_mask(void) {
  __asm__ volatile("cli");
  outb(PIC1 + 1, 0xff); /* mask IRQ0 */
  (void)wait_irr0();    /* a request may come in; masked, it must not be delivered */
  uint32_t before = ticks;
  __asm__ volatile("sti");
  for (volatile uint32_t i = 0; i < 200000; i++)
    ;
  __asm__ volatile("cli");
  printf("masked IRQ0 delivered: %u\n", ticks - before);
  printf("IMR reads back %02x\n", inb(PIC1 + 1));
  outb(PIC1 + 1, 0xfe);
  printf("unmasked: delivered again: %s\n", wait_ticks(before + 1) ? "yes" : "no");
}

static void test_rtc(void) {
  __asm__ volatile("cli");
  outb(PIC1 + 1, 0xfa); /* IRQ0 and the cascade */
  outb(PIC2 + 1, 0xfe); /* IRQ8 */
  outb(0x70, 0x0a);
  outb(0x71, 0x26); /* 32.768 kHz base, rate 6: 1024 Hz */
  outb(0x70, 0x0b);
  uint8_t b = inb(0x71);
  outb(0x70, 0x0b);
  outb(0x71, b | 0x40); /* periodic interrupt enable */
  outb(0x70, 0x0c);
  (void)inb(0x71);
  uint32_t i;
  for (i = 0; i < SPIN && rtc_ticks < 4; i++)
    __asm__ volatile("sti; hlt; cli");
  printf("RTC periodic interrupt through the slave: %s\n", rtc_ticks >= 4 ? "yes" : "no");
  outb(0x70, 0x0b);
  outb(0x71, b & ~0x40);
  outb(PIC2 + 1, 0xff);
  outb(PIC1 + 1, 0xfe);
}

/* Channel 2 in mode 0, gated by port 0x61 bit 0; OUT shows in bit 5 when the count ends. */
static void test_channel2(void) {
  uint8_t b = inb(PORT_B);
  outb(PORT_B, (b & ~0x02) | 0x01); /* gate on, speaker off */
  outb(PIT_MODE, 0xb0);             /* channel 2, lobyte/hibyte, mode 0 */
  outb(PIT_CH2, 0x00);
  outb(PIT_CH2, 0x30); /* 0x3000 ticks: about 10 ms */
  int low_at_start = !(inb(PORT_B) & 0x20);
  uint32_t i;
  for (i = 0; i < SPIN; i++)
    if (inb(PORT_B) & 0x20)
      break;
  printf("channel 2: OUT low after the count is written: %s, high when it ends: %s\n",
         low_at_start ? "yes" : "no", i < SPIN ? "yes" : "no");
  outb(PIT_MODE, 0x80); /* latch channel 2 */
  uint16_t count = inb(PIT_CH2);
  count |= (uint16_t)(inb(PIT_CH2) << 8);
  printf("channel 2: counting on past zero: %s\n", count > 0x3000 ? "yes" : "no");
  outb(PORT_B, b);
}

int main(void) {
  traps_init();
  trap_hook = on_interrupt;
  pic_init();
  pit_periodic(1193); /* 1 kHz */
  test_if_and_shadow();
  test_shadow_ret();
  test_shadow_loop();
  test_hlt();
  test_mask();
  test_rtc();
  test_channel2();
  __asm__ volatile("cli");
  printf("unexpected vectors: %u\n", bad_vectors);
  return 0;
}
