/* test_mmio_emulation.c - guest instructions on device memory, emulated in C (cpu/emulate.c),
 * must do what the same instructions do on RAM: each case runs a snippet once against a
 * register of a test device and once against RAM, and compares registers, flags and the
 * value stored. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/machine.h"
#include "translator/tc.h"

#define CODE 0x10000u
#define RAM_VAR 0x20000u
#define DEVICE 0xfed00000u /* free: the PCI window ends at the IOAPIC, 0xFEC00000 */

static struct machine m;
static uint32_t device_reg;
static int device_reads, device_writes;

static uint32_t dev_read(void *opaque, uint32_t offset, int size) {
  (void)opaque;
  device_reads++;
  uint32_t v = device_reg >> (8 * offset);
  return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void dev_write(void *opaque, uint32_t offset, int size, uint32_t value) {
  (void)opaque;
  device_writes++;
  uint32_t mask = size == 4 ? ~0u : ((1u << (8 * size)) - 1) << (8 * offset);
  device_reg = (device_reg & ~mask) | ((value << (8 * offset)) & mask);
}

struct outcome {
  uint32_t regs[8], flags, value;
};

/* Run code (which addresses its operand through EBX) with EBX = addr; code ends in hlt. */
static struct outcome run(const uint8_t *code, size_t len, uint32_t addr, uint32_t initial) {
  struct cpu *cpu = &m.cpu;
  mmu_phys_write(&m.mmu, CODE, code, len);
  uint8_t hlt = 0xf4;
  mmu_phys_write(&m.mmu, CODE + len, &hlt, 1);
  tc_flush(m.tc);
  cpu_reset_protected_flat(cpu);
  cpu->regs[R_EAX] = 0x12345678;
  cpu->regs[R_ECX] = 0x000000f0;
  cpu->regs[R_EBX] = addr;
  cpu->regs[R_ESP] = 0x30000;
  cpu->eflags = 0x2 | FL_CF;
  cpu->eip = CODE;
  cpu->shutdown = 0;
  cpu->halted = false;
  if (addr == DEVICE)
    device_reg = initial;
  else
    mmu_phys_write(&m.mmu, addr, &initial, 4);
  bt_run(m.tc);
  ck_assert_int_eq(cpu->shutdown, SHUTDOWN_HALTED);
  struct outcome o;
  memcpy(o.regs, cpu->regs, sizeof(o.regs));
  o.flags = cpu->eflags & FL_ARITH;
  if (addr == DEVICE)
    o.value = device_reg;
  else
    memcpy(&o.value, mmu_phys_ptr(&m.mmu, addr, 4), 4);
  return o;
}

static void same_as_ram(const uint8_t *code, size_t len, uint32_t initial) {
  struct outcome ram = run(code, len, RAM_VAR, initial);
  device_reads = device_writes = 0;
  struct outcome dev = run(code, len, DEVICE, initial);
  ck_assert_msg(device_reads + device_writes > 0, "the device was not accessed");
  ram.regs[R_EBX] = dev.regs[R_EBX] = 0;
  for (int r = 0; r < 8; r++)
    ck_assert_msg(ram.regs[r] == dev.regs[r], "register %d: ram %08x device %08x", r,
                  ram.regs[r], dev.regs[r]);
  ck_assert_msg(ram.flags == dev.flags, "flags: ram %03x device %03x", ram.flags, dev.flags);
  ck_assert_msg(ram.value == dev.value, "value: ram %08x device %08x", ram.value, dev.value);
}

#define CASE(name, ...)                                                                      \
  START_TEST(name) {                                                                         \
    static const uint8_t code[] = {__VA_ARGS__};                                             \
    same_as_ram(code, sizeof(code), 0x80000001u);                                            \
  }                                                                                          \
  END_TEST

CASE(load_dword, 0x8b, 0x03)                             /* mov eax, [ebx] */
CASE(store_dword, 0x89, 0x03)                            /* mov [ebx], eax */
CASE(store_byte_high_register, 0x88, 0x63, 0x01)         /* mov [ebx+1], ah */
CASE(store_immediate_word, 0x66, 0xc7, 0x03, 0x34, 0x12) /* mov word [ebx], 0x1234 */
CASE(zero_extend_byte, 0x0f, 0xb6, 0x03)                 /* movzx eax, byte [ebx] */
CASE(sign_extend_word, 0x0f, 0xbf, 0x03)                 /* movsx eax, word [ebx] */
CASE(or_register_into_memory, 0x09, 0x0b)                /* or [ebx], ecx */
CASE(add_memory_into_register, 0x03, 0x03)               /* add eax, [ebx] */
CASE(adc_immediate, 0x83, 0x13, 0x7f)                    /* adc dword [ebx], 0x7f */
CASE(sub_sets_borrow, 0x29, 0x03)                        /* sub [ebx], eax */
CASE(compare_only, 0x39, 0x03)                           /* cmp [ebx], eax */
CASE(test_only, 0x85, 0x0b)                              /* test [ebx], ecx */
CASE(exchange, 0x87, 0x03)                               /* xchg [ebx], eax */
CASE(increment_keeps_carry, 0xff, 0x03)                  /* inc dword [ebx] */
CASE(negate, 0xf7, 0x1b)                                 /* neg dword [ebx] */

static void setup(void) {
  struct machine_config cfg;
  machine_config_default(&cfg);
  cfg.ram_bytes = 16u << 20;
  ck_assert_int_eq(machine_init(&m, &cfg), 0);
  ck_assert_int_eq(mmio_register(&m.mmio, DEVICE, 0x1000, "test", dev_read, dev_write, NULL), 0);
  device_reads = device_writes = 0;
}

static void teardown(void) { machine_exit(&m); }

int main(void) {
  Suite *s = suite_create("mmio_emulation");
  TCase *t = tcase_create("forms");
  tcase_add_unchecked_fixture(t, setup, teardown);
  tcase_add_test(t, load_dword);
  tcase_add_test(t, store_dword);
  tcase_add_test(t, store_byte_high_register);
  tcase_add_test(t, store_immediate_word);
  tcase_add_test(t, zero_extend_byte);
  tcase_add_test(t, sign_extend_word);
  tcase_add_test(t, or_register_into_memory);
  tcase_add_test(t, add_memory_into_register);
  tcase_add_test(t, adc_immediate);
  tcase_add_test(t, sub_sets_borrow);
  tcase_add_test(t, compare_only);
  tcase_add_test(t, test_only);
  tcase_add_test(t, exchange);
  tcase_add_test(t, increment_keeps_carry);
  tcase_add_test(t, negate);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_set_fork_status(r, CK_NOFORK);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
