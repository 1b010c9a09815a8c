/* classes.c - which x86 instructions break trap-and-emulate, and why (docs/pgscan.md).
 *
 * "Sensitive, unprivileged" follows Robin and Irvine (USENIX Security 2000): instructions
 * that read or depend on privileged state (GDTR, CPL, IF, IOPL) but execute at CPL > 0
 * without a trap, so a deprivileged guest kernel sees or does the wrong thing. LDS-LSS, the
 * INT3/INTO/INT1 forms of INT n and IRET are added for the reasons their rules give.
 * "Privileged" instructions trap at CPL > 0, some only under a condition (IOPL, CR4.TSD,
 * CR4.PCE) that the monitor controls: a monitor that runs the guest kernel at CPL > 0 with
 * IOPL 0 and CR4.TSD set sees each of them trap.
 *
 * The two classifiers below are independent tables, one keyed by Zydis mnemonics, one by
 * Capstone instruction ids, so that a decoder bug shows up as a disagreement. */
#include "tools/pgscan/classes.h"

#define S(i, n, ri, r) {i, n, PG_SENSITIVE, ri, r}
#define P(i, n, r) {i, n, PG_PRIVILEGED, false, r}

const struct pg_class_info pg_classes[PG_NCLASSES] = {
    [PG_NONE] = {"none", "none", PG_OTHER, false, ""},
    [PG_SGDT] = S("sgdt", "SGDT", true, "stores GDTR: the monitor's GDT, not the guest's"),
    [PG_SIDT] = S("sidt", "SIDT", true, "stores IDTR: the monitor's IDT, not the guest's"),
    [PG_SLDT] = S("sldt", "SLDT", true, "stores the real LDTR selector"),
    [PG_SMSW] = S("smsw", "SMSW", true, "stores CR0[15:0]: PE, MP, EM, TS as the CPU has them"),
    [PG_STR] = S("str", "STR", true, "stores the real TR selector"),
    [PG_PUSHF] = S("pushf", "PUSHF/PUSHFD", true, "pushes the real IF and IOPL"),
    [PG_POPF] = S("popf", "POPF/POPFD", true,
                  "keeps IOPL at CPL>0 and IF at CPL>IOPL, silently"),
    [PG_LAR] = S("lar", "LAR", true, "access rights, filtered by a check against CPL"),
    [PG_LSL] = S("lsl", "LSL", true, "segment limit, filtered by a check against CPL"),
    [PG_VERR] = S("verr", "VERR", true, "readable? decided against CPL"),
    [PG_VERW] = S("verw", "VERW", true, "writable? decided against CPL"),
    [PG_PUSH_SREG] = S("push_sreg", "PUSH Sreg", true, "pushes a selector: CS/SS RPL is the CPL"),
    [PG_POP_SREG] = S("pop_sreg", "POP Sreg", true, "descriptor load checked against CPL"),
    [PG_MOV_FROM_SREG] = S("mov_from_sreg", "MOV r/m, Sreg", true,
                           "reads a selector: CS/SS RPL is the CPL"),
    [PG_MOV_TO_SREG] = S("mov_to_sreg", "MOV Sreg, r/m", true,
                         "descriptor load checked against CPL"),
    [PG_LOAD_FAR_PTR] = S("load_far_ptr", "LDS/LES/LFS/LGS/LSS", false,
                          "descriptor load checked against CPL (as MOV Sreg)"),
    [PG_CALL_FAR] = S("call_far", "CALL far", true, "gate/descriptor checks use CPL; pushes CS"),
    [PG_JMP_FAR] = S("jmp_far", "JMP far", true, "gate/descriptor checks use CPL"),
    [PG_RET_FAR] = S("ret_far", "RET far", true, "popped CS checked against CPL"),
    [PG_INT] = S("int", "INT n", true, "gate DPL checked against CPL; CPL-dependent frame"),
    [PG_INT3] = S("int3", "INT3", false, "as INT n (also the kernel's padding byte)"),
    [PG_INTO] = S("into", "INTO", false, "as INT n"),
    [PG_INT1] = S("int1", "INT1 (ICEBP)", false, "#DB without DPL check; CPL-dependent frame"),
    [PG_IRET] = S("iret", "IRET/IRETD", false,
                  "as POPF for IF/IOPL at CPL>0; return checks use CPL"),
    [PG_HLT] = P("hlt", "HLT", "#GP at CPL>0"),
    [PG_CLI] = P("cli", "CLI", "#GP if CPL>IOPL (IOPL-sensitive)"),
    [PG_STI] = P("sti", "STI", "#GP if CPL>IOPL (IOPL-sensitive)"),
    [PG_LGDT] = P("lgdt", "LGDT", "#GP at CPL>0"),
    [PG_LIDT] = P("lidt", "LIDT", "#GP at CPL>0"),
    [PG_LLDT] = P("lldt", "LLDT", "#GP at CPL>0"),
    [PG_LTR] = P("ltr", "LTR", "#GP at CPL>0"),
    [PG_LMSW] = P("lmsw", "LMSW", "#GP at CPL>0"),
    [PG_CLTS] = P("clts", "CLTS", "#GP at CPL>0"),
    [PG_MOV_TO_CR] = P("mov_to_cr", "MOV CRn, r", "#GP at CPL>0"),
    [PG_MOV_FROM_CR] = P("mov_from_cr", "MOV r, CRn", "#GP at CPL>0"),
    [PG_MOV_TO_DR] = P("mov_to_dr", "MOV DRn, r", "#GP at CPL>0"),
    [PG_MOV_FROM_DR] = P("mov_from_dr", "MOV r, DRn", "#GP at CPL>0"),
    [PG_IN] = P("in", "IN", "#GP if CPL>IOPL and the TSS bitmap denies the port"),
    [PG_OUT] = P("out", "OUT", "#GP if CPL>IOPL and the TSS bitmap denies the port"),
    [PG_INS] = P("ins", "INS", "#GP if CPL>IOPL and the TSS bitmap denies the port"),
    [PG_OUTS] = P("outs", "OUTS", "#GP if CPL>IOPL and the TSS bitmap denies the port"),
    [PG_INVD] = P("invd", "INVD", "#GP at CPL>0"),
    [PG_WBINVD] = P("wbinvd", "WBINVD", "#GP at CPL>0"),
    [PG_INVLPG] = P("invlpg", "INVLPG", "#GP at CPL>0"),
    [PG_INVPCID] = P("invpcid", "INVPCID", "#GP at CPL>0"),
    [PG_RDMSR] = P("rdmsr", "RDMSR", "#GP at CPL>0"),
    [PG_WRMSR] = P("wrmsr", "WRMSR", "#GP at CPL>0"),
    [PG_RDPMC] = P("rdpmc", "RDPMC", "#GP at CPL>0 unless CR4.PCE=1 (conditional)"),
    [PG_RDTSC] = P("rdtsc", "RDTSC", "#GP at CPL>0 only if CR4.TSD=1 (conditional)"),
    [PG_RDTSCP] = P("rdtscp", "RDTSCP", "#GP at CPL>0 only if CR4.TSD=1 (conditional)"),
    [PG_SYSEXIT] = P("sysexit", "SYSEXIT", "#GP at CPL>0"),
    [PG_SYSRET] = P("sysret", "SYSRET", "#GP at CPL>0 (AMD; #UD on Intel outside 64-bit)"),
    [PG_XSETBV] = P("xsetbv", "XSETBV", "#GP at CPL>0"),
    [PG_XSAVES] = P("xsaves", "XSAVES", "#GP at CPL>0"),
    [PG_XRSTORS] = P("xrstors", "XRSTORS", "#GP at CPL>0"),
    [PG_MONITOR] = P("monitor", "MONITOR", "#UD at CPL>0"),
    [PG_MWAIT] = P("mwait", "MWAIT", "#UD at CPL>0"),
    [PG_CLAC] = P("clac", "CLAC", "#UD at CPL>0"),
    [PG_STAC] = P("stac", "STAC", "#UD at CPL>0"),
    [PG_CPUID] = {"cpuid", "CPUID", PG_OTHER, false,
                  "unprivileged; shows the host CPU (traps only with CPUID faulting)"},
};

const char *const pg_group_names[PG_NGROUPS] = {
    [PG_SENSITIVE] = "sensitive, unprivileged",
    [PG_PRIVILEGED] = "privileged",
    [PG_OTHER] = "other (not in either set; a monitor intercepts it)",
};

const char *const pg_group_ids[PG_NGROUPS] = {
    [PG_SENSITIVE] = "sensitive_unprivileged",
    [PG_PRIVILEGED] = "privileged",
    [PG_OTHER] = "other",
};

/* ---- Zydis ---- */

static ZydisRegisterClass zydis_reg_class(const ZydisDecodedOperand *op) {
  if (op->type != ZYDIS_OPERAND_TYPE_REGISTER)
    return ZYDIS_REGCLASS_INVALID;
  return ZydisRegisterGetClass(op->reg.value);
}

/* MOV, PUSH and POP: the class depends on a segment, control or debug register operand. */
static enum pg_class zydis_by_operands(const ZydisDecoder *dec, const ZydisDecoderContext *ctx,
                                       const ZydisDecodedInstruction *in) {
  ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
  if (in->operand_count_visible == 0 ||
      !ZYAN_SUCCESS(ZydisDecoderDecodeOperands(dec, ctx, in, op, in->operand_count_visible)))
    return PG_NONE;
  ZydisRegisterClass dst = zydis_reg_class(&op[0]);
  ZydisRegisterClass src =
      in->operand_count_visible > 1 ? zydis_reg_class(&op[1]) : ZYDIS_REGCLASS_INVALID;
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_PUSH:
    return dst == ZYDIS_REGCLASS_SEGMENT ? PG_PUSH_SREG : PG_NONE;
  case ZYDIS_MNEMONIC_POP:
    return dst == ZYDIS_REGCLASS_SEGMENT ? PG_POP_SREG : PG_NONE;
  default:
    break;
  }
  if (dst == ZYDIS_REGCLASS_SEGMENT)
    return PG_MOV_TO_SREG;
  if (src == ZYDIS_REGCLASS_SEGMENT)
    return PG_MOV_FROM_SREG;
  if (dst == ZYDIS_REGCLASS_CONTROL)
    return PG_MOV_TO_CR;
  if (src == ZYDIS_REGCLASS_CONTROL)
    return PG_MOV_FROM_CR;
  if (dst == ZYDIS_REGCLASS_DEBUG)
    return PG_MOV_TO_DR;
  if (src == ZYDIS_REGCLASS_DEBUG)
    return PG_MOV_FROM_DR;
  return PG_NONE;
}

static enum pg_class zydis_far(const ZydisDecodedInstruction *in, enum pg_class cls) {
  return in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? cls : PG_NONE;
}

enum pg_class pg_class_zydis(const ZydisDecoder *dec, const ZydisDecoderContext *ctx,
                             const ZydisDecodedInstruction *in) {
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_SGDT: return PG_SGDT;
  case ZYDIS_MNEMONIC_SIDT: return PG_SIDT;
  case ZYDIS_MNEMONIC_SLDT: return PG_SLDT;
  case ZYDIS_MNEMONIC_SMSW: return PG_SMSW;
  case ZYDIS_MNEMONIC_STR: return PG_STR;
  case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: return PG_PUSHF;
  case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: return PG_POPF;
  case ZYDIS_MNEMONIC_LAR: return PG_LAR;
  case ZYDIS_MNEMONIC_LSL: return PG_LSL;
  case ZYDIS_MNEMONIC_VERR: return PG_VERR;
  case ZYDIS_MNEMONIC_VERW: return PG_VERW;
  case ZYDIS_MNEMONIC_MOV:
  case ZYDIS_MNEMONIC_PUSH:
  case ZYDIS_MNEMONIC_POP:
    return zydis_by_operands(dec, ctx, in);
  case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS:
  case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS:
    return PG_LOAD_FAR_PTR;
  case ZYDIS_MNEMONIC_CALL: return zydis_far(in, PG_CALL_FAR);
  case ZYDIS_MNEMONIC_JMP: return zydis_far(in, PG_JMP_FAR);
  case ZYDIS_MNEMONIC_RET: return zydis_far(in, PG_RET_FAR);
  case ZYDIS_MNEMONIC_INT: return PG_INT;
  case ZYDIS_MNEMONIC_INT3: return PG_INT3;
  case ZYDIS_MNEMONIC_INTO: return PG_INTO;
  case ZYDIS_MNEMONIC_INT1: return PG_INT1;
  case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD: return PG_IRET;
  case ZYDIS_MNEMONIC_HLT: return PG_HLT;
  case ZYDIS_MNEMONIC_CLI: return PG_CLI;
  case ZYDIS_MNEMONIC_STI: return PG_STI;
  case ZYDIS_MNEMONIC_LGDT: return PG_LGDT;
  case ZYDIS_MNEMONIC_LIDT: return PG_LIDT;
  case ZYDIS_MNEMONIC_LLDT: return PG_LLDT;
  case ZYDIS_MNEMONIC_LTR: return PG_LTR;
  case ZYDIS_MNEMONIC_LMSW: return PG_LMSW;
  case ZYDIS_MNEMONIC_CLTS: return PG_CLTS;
  case ZYDIS_MNEMONIC_IN: return PG_IN;
  case ZYDIS_MNEMONIC_OUT: return PG_OUT;
  case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD: return PG_INS;
  case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
    return PG_OUTS;
  case ZYDIS_MNEMONIC_INVD: return PG_INVD;
  case ZYDIS_MNEMONIC_WBINVD: return PG_WBINVD;
  case ZYDIS_MNEMONIC_INVLPG: return PG_INVLPG;
  case ZYDIS_MNEMONIC_INVPCID: return PG_INVPCID;
  case ZYDIS_MNEMONIC_RDMSR: return PG_RDMSR;
  case ZYDIS_MNEMONIC_WRMSR: return PG_WRMSR;
  case ZYDIS_MNEMONIC_RDPMC: return PG_RDPMC;
  case ZYDIS_MNEMONIC_RDTSC: return PG_RDTSC;
  case ZYDIS_MNEMONIC_RDTSCP: return PG_RDTSCP;
  case ZYDIS_MNEMONIC_SYSEXIT: return PG_SYSEXIT;
  case ZYDIS_MNEMONIC_SYSRET: return PG_SYSRET;
  case ZYDIS_MNEMONIC_XSETBV: return PG_XSETBV;
  case ZYDIS_MNEMONIC_XSAVES: return PG_XSAVES;
  case ZYDIS_MNEMONIC_XRSTORS: return PG_XRSTORS;
  case ZYDIS_MNEMONIC_MONITOR: return PG_MONITOR;
  case ZYDIS_MNEMONIC_MWAIT: return PG_MWAIT;
  case ZYDIS_MNEMONIC_CLAC: return PG_CLAC;
  case ZYDIS_MNEMONIC_STAC: return PG_STAC;
  case ZYDIS_MNEMONIC_CPUID: return PG_CPUID;
  default: return PG_NONE;
  }
}

/* ---- Capstone ---- */

static bool cs_is_sreg(x86_reg r) {
  return r == X86_REG_CS || r == X86_REG_DS || r == X86_REG_ES || r == X86_REG_FS ||
         r == X86_REG_GS || r == X86_REG_SS;
}

static bool cs_is_cr(x86_reg r) { return r >= X86_REG_CR0 && r <= X86_REG_CR15; }
static bool cs_is_dr(x86_reg r) { return r >= X86_REG_DR0 && r <= X86_REG_DR15; }

static x86_reg cs_reg_operand(const cs_insn *in, int i) {
  const cs_x86 *x = &in->detail->x86;
  if (i >= x->op_count || x->operands[i].type != X86_OP_REG)
    return X86_REG_INVALID;
  return x->operands[i].reg;
}

static enum pg_class capstone_mov(const cs_insn *in) {
  x86_reg dst = cs_reg_operand(in, 0), src = cs_reg_operand(in, 1);
  if (cs_is_sreg(dst))
    return PG_MOV_TO_SREG;
  if (cs_is_sreg(src))
    return PG_MOV_FROM_SREG;
  if (cs_is_cr(dst))
    return PG_MOV_TO_CR;
  if (cs_is_cr(src))
    return PG_MOV_FROM_CR;
  if (cs_is_dr(dst))
    return PG_MOV_TO_DR;
  if (cs_is_dr(src))
    return PG_MOV_FROM_DR;
  return PG_NONE;
}

enum pg_class pg_class_capstone(const cs_insn *in) {
  switch (in->id) {
  case X86_INS_SGDT: return PG_SGDT;
  case X86_INS_SIDT: return PG_SIDT;
  case X86_INS_SLDT: return PG_SLDT;
  case X86_INS_SMSW: return PG_SMSW;
  case X86_INS_STR: return PG_STR;
  case X86_INS_PUSHF: case X86_INS_PUSHFD: return PG_PUSHF;
  case X86_INS_POPF: case X86_INS_POPFD: return PG_POPF;
  case X86_INS_LAR: return PG_LAR;
  case X86_INS_LSL: return PG_LSL;
  case X86_INS_VERR: return PG_VERR;
  case X86_INS_VERW: return PG_VERW;
  case X86_INS_PUSH: return cs_is_sreg(cs_reg_operand(in, 0)) ? PG_PUSH_SREG : PG_NONE;
  case X86_INS_POP: return cs_is_sreg(cs_reg_operand(in, 0)) ? PG_POP_SREG : PG_NONE;
  case X86_INS_MOV: return capstone_mov(in);
  case X86_INS_LDS: case X86_INS_LES: case X86_INS_LFS: case X86_INS_LGS: case X86_INS_LSS:
    return PG_LOAD_FAR_PTR;
  case X86_INS_LCALL: return PG_CALL_FAR;
  case X86_INS_LJMP: return PG_JMP_FAR;
  case X86_INS_RETF: return PG_RET_FAR;
  case X86_INS_INT: return PG_INT;
  case X86_INS_INT3: return PG_INT3;
  case X86_INS_INTO: return PG_INTO;
  case X86_INS_INT1: return PG_INT1;
  case X86_INS_IRET: case X86_INS_IRETD: return PG_IRET;
  case X86_INS_HLT: return PG_HLT;
  case X86_INS_CLI: return PG_CLI;
  case X86_INS_STI: return PG_STI;
  case X86_INS_LGDT: return PG_LGDT;
  case X86_INS_LIDT: return PG_LIDT;
  case X86_INS_LLDT: return PG_LLDT;
  case X86_INS_LTR: return PG_LTR;
  case X86_INS_LMSW: return PG_LMSW;
  case X86_INS_CLTS: return PG_CLTS;
  case X86_INS_IN: return PG_IN;
  case X86_INS_OUT: return PG_OUT;
  case X86_INS_INSB: case X86_INS_INSW: case X86_INS_INSD: return PG_INS;
  case X86_INS_OUTSB: case X86_INS_OUTSW: case X86_INS_OUTSD: return PG_OUTS;
  case X86_INS_INVD: return PG_INVD;
  case X86_INS_WBINVD: return PG_WBINVD;
  case X86_INS_INVLPG: return PG_INVLPG;
  case X86_INS_INVPCID: return PG_INVPCID;
  case X86_INS_RDMSR: return PG_RDMSR;
  case X86_INS_WRMSR: return PG_WRMSR;
  case X86_INS_RDPMC: return PG_RDPMC;
  case X86_INS_RDTSC: return PG_RDTSC;
  case X86_INS_RDTSCP: return PG_RDTSCP;
  case X86_INS_SYSEXIT: return PG_SYSEXIT;
  case X86_INS_SYSRET: return PG_SYSRET;
  case X86_INS_XSETBV: return PG_XSETBV;
  case X86_INS_XSAVES: return PG_XSAVES;
  case X86_INS_XRSTORS: return PG_XRSTORS;
  case X86_INS_MONITOR: return PG_MONITOR;
  case X86_INS_MWAIT: return PG_MWAIT;
  case X86_INS_CLAC: return PG_CLAC;
  case X86_INS_STAC: return PG_STAC;
  case X86_INS_CPUID: return PG_CPUID;
  default: return PG_NONE;
  }
}
