/* directed.h - what the directed differential tests share: assemble a snippet (nasm syntax),
 * run it on bt386 and on Unicorn from a few initial states, and fail the current Check test
 * with both states printed when they differ.
 *
 *   START_TEST(adds) { check_asm("mov al, 0x7f\n add al, 1"); } END_TEST
 *   int main(void) { return directed_main(suite_with(...)); }
 */
#ifndef BT386_TESTS_DIFF_DIRECTED_H
#define BT386_TESTS_DIFF_DIRECTED_H

#include <check.h>

#include "cpu/cpu.h"
#include "tests/diff/harness.h"

/* Initial states: 0 zero registers, flags and memory; 1 patterned registers and memory with
 * every arithmetic flag set; 2 pseudo-random. ESP is DIFF_STACK_TOP in each, EIP the code. */
#define DIRECTED_STATES 3
void directed_state(struct diff_state *s, int variant);

/* Assemble the printf-formatted source; from every initial state, the engines must agree. */
void check_asm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same from one initial state. */
void check_asm_from(const struct diff_state *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Machine code built by the test (no assembler), from one initial state. */
void check_code(const uint8_t *code, size_t len, const struct diff_state *s, const char *what);
/* Assemble and run on bt386 only (for behaviour Unicorn lacks); returns the result. */
const struct diff_result *run_bt386_asm(const struct diff_state *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Run the suite without forking (one bt386 machine per process); the exit status for CTest. */
int directed_main(Suite *s);

#endif
