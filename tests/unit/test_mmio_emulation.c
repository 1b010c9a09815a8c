/* test_mmio_emulation.c - guest instructions on device memory, emulated in C (cpu/emulate.c),
 * must do what the same instructions do on RAM: each case runs a snippet once against a
 * register of a test device and once against RAM, and compares registers, flags and the
 * value stored. An instruction that touched the device is translated as a callout to the
 * emulator from then on: one host fault however often it runs, and RAM still right when the
 * same instruction reaches it. */
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

/* mov [ebx], eax; inc eax; mov ebx, edx; dec ecx; jnz back to the mov; hlt. ECX times, the
 * first with EBX = first, the others with EBX = EDX = then. The code is written each time,
 * which drops its translations (the cache is not flushed). */
static void store_loop(uint32_t first, uint32_t then, uint32_t times) {
  static const uint8_t code[] = {0x89, 0x03, 0x40, 0x89, 0xd3, 0x49, 0x75, 0xf8, 0xf4};
  struct cpu *cpu = &m.cpu;
  mmu_phys_write(&m.mmu, CODE, code, sizeof(code));
  cpu_reset_protected_flat(cpu);
  cpu->regs[R_EAX] = 0x12345678;
  cpu->regs[R_EBX] = first;
  cpu->regs[R_ECX] = times;
  cpu->regs[R_EDX] = then;
  cpu->regs[R_ESP] = 0x30000;
  cpu->eip = CODE;
  cpu->shutdown = 0;
  cpu->halted = false;
  bt_run(m.tc);
  ck_assert_int_eq(cpu->shutdown, SHUTDOWN_HALTED);
}

START_TEST(device_instruction_faults_once) {
  uint64_t faults = m.tc->stats.faults_mmio;
  store_loop(DEVICE, DEVICE, 1000);
  ck_assert_int_eq(device_writes, 1000);
  ck_assert_uint_eq(device_reg, 0x12345678u + 999);
  ck_assert_uint_eq(m.tc->stats.faults_mmio - faults, 1);
}
END_TEST

START_TEST(device_instruction_callout_reaches_ram) {
  uint32_t zero = 0;
  mmu_phys_write(&m.mmu, RAM_VAR, &zero, 4);
  store_loop(DEVICE, RAM_VAR, 3); /* the device once, then RAM twice through the callout */
  ck_assert_int_eq(device_writes, 1);
  ck_assert_uint_eq(device_reg, 0x12345678u);
  uint32_t ram;
  memcpy(&ram, mmu_phys_ptr(&m.mmu, RAM_VAR, 4), 4);
  ck_assert_uint_eq(ram, 0x12345678u + 2);
}
END_TEST

START_TEST(rewritten_code_is_translated_again) {
  uint64_t before = m.tc->stats.callouts;
  store_loop(RAM_VAR, RAM_VAR, 100);
  uint64_t plain = m.tc->stats.callouts - before; /* hlt's */
  store_loop(DEVICE, DEVICE, 2);
  ck_assert_int_eq(tc_learned_insn(m.tc, CODE), LEARNED_MMIO);
  /* The code written again (by store_loop): the store on RAM is translated, not emulated. */
  before = m.tc->stats.callouts;
  store_loop(RAM_VAR, RAM_VAR, 100);
  ck_assert_int_eq(tc_learned_insn(m.tc, CODE), LEARNED_NONE);
  ck_assert_uint_eq(m.tc->stats.callouts - before, plain);
}
END_TEST

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
  TCase *c = tcase_create("callouts");
  tcase_add_checked_fixture(c, setup, teardown);
  tcase_add_test(c, device_instruction_faults_once);
  tcase_add_test(c, device_instruction_callout_reaches_ram);
  tcase_add_test(c, rewritten_code_is_translated_again);
  suite_add_tcase(s, c);
  SRunner *r = srunner_create(s);
  srunner_set_fork_status(r, CK_NOFORK);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
