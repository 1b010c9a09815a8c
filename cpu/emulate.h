/* emulate.h - guest instructions done in C rather than translated (memory-mapped I/O). */
#ifndef BT386_EMULATE_H
#define BT386_EMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

#include "cpu/cpu.h"

/* How the emulator reaches device registers by guest physical address. */
struct mmio_ops {
  void *opaque;
  bool (*read)(void *opaque, uint32_t pa, int size, uint64_t *value);
  bool (*write)(void *opaque, uint32_t pa, int size, uint64_t value);
};

/* Emulate the instruction at cpu->eip, whose memory operand is device memory. On success EIP
 * moves past it; an exception it raises is left in cpu->pending. Returns 1 if it reached a
 * device register, 0 if RAM or an exception; an instruction form devices are not accessed
 * with stops the VM with a message (-1). */
int cpu_emulate_mmio(struct cpu *cpu, const struct mmio_ops *io);

/* An instruction as the translator decoded it: a device-memory instruction's callout carries
 * one (insn_call.decoded), so that the emulator fetches and decodes nothing each time. */
struct decoded_insn {
  ZydisDecodedInstruction in;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

/* cpu_emulate_mmio for the instruction at cpu->eip when d is its decoding. */
int cpu_emulate_mmio_decoded(struct cpu *cpu, const struct mmio_ops *io,
                             const struct decoded_insn *d);

/* Decode the instruction at CS:EIP as the code segment's width says: 1. Its bytes are fetched
 * as far as they can be (15 at most); a fetch ahead into a page that may not be fetched faults
 * only if the instruction runs into it. 0: the fetch raised an exception (cpu->pending, CR2);
 * -1: the bytes are no instruction. */
int cpu_decode_at_eip(struct cpu *cpu, ZydisDecodedInstruction *in, ZydisDecodedOperand *ops);

/* Can cpu_emulate_mmio_decoded do this instruction (its forms: one memory operand of at most
 * 4 bytes, with mov, movzx, movsx, xchg, not, neg, inc, dec or a two-operand ALU operation
 * with a register or an immediate)? */
bool cpu_can_emulate(const struct decoded_insn *d);

/* The segment register a Zydis memory operand names (DS when none). */
int cpu_segment_of(ZydisRegister r);

#endif
