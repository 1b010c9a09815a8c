/* classes.h - the instruction classes pgscan counts, and two independent classifiers.
 *
 * A class is one row of pgscan's table: one instruction (SGDT) or a family that shares the
 * reason it matters for virtualization (PUSH Sreg, far CALL). Zydis decides what every swept
 * instruction is; Capstone re-decodes each site and classifies it with a table of its own
 * (pg_class_capstone), so a disagreement between the decoders shows up as two different
 * classes instead of being hidden. */
#ifndef PGSCAN_CLASSES_H
#define PGSCAN_CLASSES_H

#include <stdbool.h>

#include <Zydis/Zydis.h>
#include <capstone/capstone.h>

enum pg_group {
  PG_SENSITIVE,  /* sensitive but unprivileged: the Popek-Goldberg gap of x86 */
  PG_PRIVILEGED, /* traps at CPL > 0 (or under the condition the class names) */
  PG_OTHER,      /* neither, but a monitor intercepts it (CPUID) */
  PG_NGROUPS
};

enum pg_class {
  PG_NONE,
  /* sensitive, unprivileged */
  PG_SGDT, PG_SIDT, PG_SLDT, PG_SMSW, PG_STR,
  PG_PUSHF, PG_POPF,
  PG_LAR, PG_LSL, PG_VERR, PG_VERW,
  PG_PUSH_SREG, PG_POP_SREG, PG_MOV_FROM_SREG, PG_MOV_TO_SREG, PG_LOAD_FAR_PTR,
  PG_CALL_FAR, PG_JMP_FAR, PG_RET_FAR,
  PG_INT, PG_INT3, PG_INTO, PG_INT1,
  PG_IRET,
  /* privileged */
  PG_HLT, PG_CLI, PG_STI,
  PG_LGDT, PG_LIDT, PG_LLDT, PG_LTR, PG_LMSW, PG_CLTS,
  PG_MOV_TO_CR, PG_MOV_FROM_CR, PG_MOV_TO_DR, PG_MOV_FROM_DR,
  PG_IN, PG_OUT, PG_INS, PG_OUTS,
  PG_INVD, PG_WBINVD, PG_INVLPG, PG_INVPCID,
  PG_RDMSR, PG_WRMSR, PG_RDPMC, PG_RDTSC, PG_RDTSCP,
  PG_SYSEXIT, PG_SYSRET,
  PG_XSETBV, PG_XSAVES, PG_XRSTORS, PG_MONITOR, PG_MWAIT, PG_CLAC, PG_STAC,
  /* other */
  PG_CPUID,
  PG_NCLASSES
};

struct pg_class_info {
  const char *id;   /* stable key for --json ("push_sreg") */
  const char *name; /* the table's row ("PUSH Sreg") */
  enum pg_group group;
  bool robin_irvine; /* in Robin and Irvine's list of 17 (sensitive group only) */
  const char *rule;  /* why it is sensitive, or when it traps */
};

extern const struct pg_class_info pg_classes[PG_NCLASSES];
extern const char *const pg_group_names[PG_NGROUPS];
extern const char *const pg_group_ids[PG_NGROUPS];

/* The class of a Zydis-decoded instruction. The operands are decoded here only for the
 * mnemonics whose class depends on them (MOV, PUSH, POP). */
enum pg_class pg_class_zydis(const ZydisDecoder *dec, const ZydisDecoderContext *ctx,
                             const ZydisDecodedInstruction *in);

/* The class of a Capstone-decoded instruction (the handle must have CS_OPT_DETAIL on). */
enum pg_class pg_class_capstone(const cs_insn *in);

#endif
