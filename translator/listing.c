/* listing.c - `-d in_asm,out_asm`: each new block's guest and host code, disassembled by
 * Capstone, an independent disassembler, so a listing also cross-checks what Zydis decoded.
 * And `-perfmap`: each block's host code named by its guest address for perf(1). */
#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdio.h>

#include "mmu/mmu.h"
#include "translator/tc.h"

static void list(FILE *out, cs_mode mode, const uint8_t *code, size_t len, uint64_t addr,
                 const char *title) {
  csh h;
  if (cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK)
    return;
  cs_insn *insn;
  size_t n = cs_disasm(h, code, len, addr, 0, &insn);
  fprintf(out, "%s\n", title);
  for (size_t i = 0; i < n; i++)
    fprintf(out, "  0x%08" PRIx64 ":  %-8s %s\n", insn[i].address, insn[i].mnemonic,
            insn[i].op_str);
  if (n)
    cs_free(insn, n);
  cs_close(&h);
}

void tc_list_block(struct tcache *tc, const struct tb *tb, FILE *out) {
  if (tc->log_in_asm) {
    uint8_t *guest = mmu_phys_ptr(tc->mmu, (uint64_t)tb->page[0] << PAGE_SHIFT |
                                               (tb_linear(tb) & (PAGE_SIZE - 1)),
                                  tb->guest_len);
    if (guest && tb->page[1] == tb->page[0])
      list(out, CS_MODE_32, guest, tb->guest_len, tb->eip, "IN:");
  }
  if (tc->log_out_asm) {
    char title[64];
    snprintf(title, sizeof(title), "OUT: [guest 0x%08x, key %u]", tb->eip, tb->key);
    list(out, CS_MODE_64, tb->code, tb->code_len, (uint64_t)(uintptr_t)tb->code, title);
  }
}

/* perf's JIT map (tools/perf/Documentation/jit-interface.txt): "START SIZE NAME" in hex, one
 * line per block. perf attributes samples to the last line covering an address, so a block
 * translated again after a flush simply takes its place. tools/guestprof.py turns the names
 * back into guest functions. */
void tc_name_block(struct tcache *tc, const struct tb *tb, FILE *map) {
  (void)tc;
  fprintf(map, "%" PRIxPTR " %x guest 0x%08x cpl%u\n", (uintptr_t)tb->code, tb->code_len,
          tb->eip, tb->key & KEY_CPL_MASK);
}
