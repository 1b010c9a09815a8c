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
/* The stack (SS:ESP) the 32-bit TSS holds for privilege dpl; raises #TS past its limit. */
bool tss_stack(struct cpu *cpu, int dpl, uint16_t *ss, uint32_t *esp);

#endif
