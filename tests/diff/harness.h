/* harness.h - differential testing of the translator: run a byte string of 32-bit guest code on
 * bt386 and on Unicorn (an independent CPU model, QEMU's) from the same initial state, and
 * compare what each left behind.
 *
 * Both engines see the same flat 32-bit ring-0 machine with paging off: guest code at
 * DIFF_CODE_BASE, followed by a `hlt` the harness appends, and one compared memory window at
 * DIFF_WIN_BASE that holds a data area and a stack. A run ends at that `hlt` or at the first
 * exception (bt386 runs with cpu->stop_on_exception).
 *
 * Usage:
 *   diff_init();                       // once per process: one bt386 machine, one Unicorn
 *   struct diff_state in;
 *   diff_state_init(&in);              // zero registers, ESP at DIFF_STACK_TOP, empty x87
 *   in.regs[R_EAX] = 5;
 *   if (!diff_check(code, len, &in, stderr)) ...   // both states printed on a difference
 *
 * What the instructions leave undefined is not compared: EFLAGS bits and x87 condition codes
 * that Zydis marks undefined for the last instruction that wrote them (diff_walk_*). */
#ifndef BT386_TESTS_DIFF_HARNESS_H
#define BT386_TESTS_DIFF_HARNESS_H

#include <Zydis/Zydis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DIFF_RAM_BYTES (16u << 20)
#define DIFF_WIN_BASE 0x2000u                     /* the compared memory window */
#define DIFF_DATA_BASE DIFF_WIN_BASE              /* data area: [0x2000, 0xa000) */
#define DIFF_DATA_SIZE 0x8000u
#define DIFF_STACK_BASE (DIFF_DATA_BASE + DIFF_DATA_SIZE) /* stack area: [0xa000, 0xc000) */
#define DIFF_STACK_SIZE 0x2000u
#define DIFF_STACK_TOP (DIFF_STACK_BASE + 0x1000u) /* initial ESP, room both ways */
#define DIFF_WIN_SIZE (DIFF_DATA_SIZE + DIFF_STACK_SIZE)
#define DIFF_CODE_BASE 0x100000u
#define DIFF_CODE_MAX 0x10000u

/* The x87 unit, by physical register (ST(i) is reg[(TOP + i) & 7]). */
struct diff_fpu {
  uint16_t fcw, fsw;
  uint8_t valid;      /* bit i: physical register i is not empty */
  uint8_t reg[8][10]; /* 64-bit mantissa, then sign and exponent, little-endian */
};

struct diff_state {
  uint32_t regs[8]; /* EAX..EDI in encoding order */
  uint32_t eip, eflags;
  uint32_t mxcsr;
  uint8_t xmm[8][16];
  struct diff_fpu fpu;
  uint32_t fs_base, gs_base;
  uint8_t mem[DIFF_WIN_SIZE]; /* guest [DIFF_WIN_BASE, DIFF_WIN_BASE + DIFF_WIN_SIZE) */
};

enum diff_stop {
  DIFF_HALTED,    /* reached the appended hlt; eip is its address */
  DIFF_EXCEPTION, /* eip is the faulting instruction (the next one for int n/into) */
  DIFF_ERROR,     /* the engine failed in some other way; msg says how */
};

struct diff_result {
  struct diff_state s;
  int stop;
  int vector;
  char msg[200];
};

/* What a comparison looks at. */
struct diff_mask {
  uint32_t eflags;        /* EFLAGS bits compared */
  uint16_t fsw;           /* x87 status word bits compared */
  bool fpu_exponents;     /* compare bits 64-79 of x87 registers (see UNICORN-QUIRKS.md) */
  uint32_t mxcsr;         /* MXCSR bits compared */
};

/* Flags that instructions so far left undefined, walked one instruction at a time. The count
 * of a shift by CL is known when CL was last set by `mov cl/ecx, imm`. */
struct diff_walk {
  uint32_t undef;     /* EFLAGS bits */
  uint16_t fsw_undef; /* x87 condition codes */
  bool mmx;           /* an MMX instruction ran */
  bool c1_by_fxam;    /* C1 was last written by fxam (Unicorn's other C1 values are wrong) */
  bool cl_known;
  uint8_t cl;
};

int diff_init(void);
void diff_state_init(struct diff_state *s);

/* Run code (len bytes; the harness appends the final hlt) from state `in`. */
void diff_run_bt386(const uint8_t *code, size_t len, const struct diff_state *in,
                    struct diff_result *out);
void diff_run_unicorn(const uint8_t *code, size_t len, const struct diff_state *in,
                      struct diff_result *out);

/* The 32-bit decoder bt386 uses (a P6: F3 0F BC is BSF, not TZCNT). */
const ZydisDecoder *diff_decoder(void);
void diff_walk_init(struct diff_walk *w);
void diff_walk_step(struct diff_walk *w, const ZydisDecodedInstruction *in,
                    const ZydisDecodedOperand *op);
/* The mask for code that ran straight from its start up to (not including) guest address
 * `stop_eip`. */
void diff_mask_for(const uint8_t *code, size_t len, uint32_t stop_eip, struct diff_mask *m);

/* Compare two results; on a difference print both to `report` (if not NULL), return false. */
bool diff_compare(const struct diff_result *bt, const struct diff_result *uc,
                  const struct diff_mask *m, FILE *report);
/* Run on both engines and compare; prints the code's disassembly with a difference. */
bool diff_check(const uint8_t *code, size_t len, const struct diff_state *in, FILE *report);
/* The results of the last diff_check (bt386, Unicorn), for tests that look closer. */
const struct diff_result *diff_last_bt386(void);
const struct diff_result *diff_last_unicorn(void);

/* Run on Unicorn again, calling `fn` before each instruction, and read its state from there:
 * for explaining a difference by what the operands were when an instruction ran. */
typedef void (*diff_trace_fn)(void *ctx, uint32_t eip);
void diff_trace_unicorn(const uint8_t *code, size_t len, const struct diff_state *in,
                        diff_trace_fn fn, void *ctx);
uint32_t diff_trace_gpr(int reg);
void diff_trace_xmm(int reg, uint8_t out[16]);
void diff_trace_st(int i, uint8_t out[10]); /* ST(i), by the current TOP */
bool diff_trace_mem(uint32_t addr, void *buf, size_t len);

void diff_print_disasm(FILE *out, const uint8_t *code, size_t len);
void diff_print_state(FILE *out, const char *who, const struct diff_result *r);

#endif
