/* segment.h - descriptor helpers shared inside cpu/. */
#ifndef BT386_SEGMENT_H
#define BT386_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

void descriptor_unpack(uint64_t raw, struct segment *s, uint16_t sel);
bool descriptor_read(struct cpu *cpu, uint16_t sel, uint64_t *raw);
/* Check and load a code segment into CS at privilege new_cpl. */
bool load_code_segment(struct cpu *cpu, uint16_t sel, uint64_t raw, int new_cpl);
/* Make new_cpl current with SS from the stack the 32-bit TSS holds for it, and return that
 * stack's ESP (not loaded). On failure nothing changes and the exception is pending: #TS for
 * the TSS's limit or a #GP loading SS, #SS or #NP as the SS load raised them. */
bool enter_tss_stack(struct cpu *cpu, int new_cpl, uint32_t *esp);

/* Raise an exception with an error code and report the failure: `return raise_error(...);`. */
static inline bool raise_error(struct cpu *cpu, int vector, uint32_t error) {
  cpu_raise(cpu, vector, true, error);
  return false;
}

#endif
