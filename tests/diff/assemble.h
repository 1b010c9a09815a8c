/* assemble.h - nasm as a function: 32-bit guest code from source text, for the directed tests.
 * The code is assembled for DIFF_CODE_BASE (`bits 32`, `org`), so labels are guest addresses. */
#ifndef BT386_TESTS_DIFF_ASSEMBLE_H
#define BT386_TESTS_DIFF_ASSEMBLE_H

#include <stddef.h>
#include <stdint.h>

/* The number of bytes written to out, or -1 with nasm's complaint on stderr. */
int diff_assemble(const char *src, uint8_t *out, size_t max);

#endif
