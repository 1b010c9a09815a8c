/* cpu.c - CPU state basics: reset, EFLAGS assembly, CPUID, the time-stamp counter. */
#include "cpu/cpu.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "mmu/mmu.h"

#define CHECK_ABI(field, off) _Static_assert(offsetof(struct cpu, field) == (off), #field)
CHECK_ABI(regs, CPU_REGS);
CHECK_ABI(regs[R_ESP], CPU_ESP);
CHECK_ABI(eip, CPU_EIP);
CHECK_ABI(eflags, CPU_EFLAGS);
CHECK_ABI(vif, CPU_VIF);
CHECK_ABI(vsys, CPU_VSYS);
CHECK_ABI(stub_callout, CPU_STUB_CALLOUT);
CHECK_ABI(stub_exit, CPU_STUB_EXIT);
CHECK_ABI(jcache, CPU_JCACHE);
CHECK_ABI(host_rsp, CPU_HOST_RSP);
CHECK_ABI(view_base, CPU_VIEW_BASE);
CHECK_ABI(fs_base, CPU_FS_BASE);
CHECK_ABI(gs_base, CPU_GS_BASE);
CHECK_ABI(rflags, CPU_RFLAGS);
CHECK_ABI(resume, CPU_RESUME);
CHECK_ABI(exit_r8, CPU_EXIT_R8);
CHECK_ABI(exit_r9, CPU_EXIT_R9);
CHECK_ABI(exit_r10, CPU_EXIT_R10);
CHECK_ABI(mxcsr, CPU_MXCSR);
CHECK_ABI(host_mxcsr, CPU_HOST_MXCSR);
CHECK_ABI(flags_stack, CPU_FLAGS_STACK - 16);
CHECK_ABI(irq_armed, CPU_IRQ_ARMED);
CHECK_ABI(shadow, CPU_SHADOW);
CHECK_ABI(xmm, CPU_XMM);
_Static_assert(offsetof(struct cpu, xmm) + sizeof(((struct cpu *)0)->xmm) == CPU_ABI_END,
               "abi end");

static void set_flat(struct segment *s, uint16_t sel, uint16_t type) {
  s->sel = sel;
  s->base = 0;
  s->limit = 0xffffffffu;
  s->attr = type | SEGA_S | SEGA_P | SEGA_DB | SEGA_G;
}

static uint64_t host_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC_RAW, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The state a Multiboot loader hands over (Multiboot spec 3.2): 32-bit protected mode, flat
 * segments, paging and interrupts off. */
void cpu_reset_protected_flat(struct cpu *cpu) {
  memset(cpu->regs, 0, sizeof(cpu->regs));
  cpu->eip = 0;
  cpu->eflags = 0x2;
  for (int i = 0; i < SEG_COUNT; i++)
    set_flat(&cpu->seg[i], 0x10, 0x3); /* data, read/write, accessed */
  set_flat(&cpu->seg[SEG_CS], 0x08, 0xb); /* code, execute/read, accessed */
  cpu->gdtr = (struct dtable){0, 0};
  cpu->idtr = (struct dtable){0, 0x3ff};
  cpu->ldtr = (struct segment){0, 0, 0, 0x82};
  cpu->tr = (struct segment){0, 0, 0xffff, 0x8b};
  cpu->cr0 = CR0_PE | CR0_ET;
  cpu->cr2 = cpu->cr3 = cpu->cr4 = 0;
  memset(cpu->pdpte, 0, sizeof(cpu->pdpte));
  memset(cpu->dr, 0, sizeof(cpu->dr));
  cpu->dr[6] = DR6_FIXED_1;
  cpu->dr[7] = DR7_FIXED_1;
  cpu->tsc_offset = 0 - __rdtsc(); /* the TSC is zero at reset (SDM vol. 3B, 18.17) */
  cpu->tsc_ref_ns = host_ns();
  cpu->tsc_ref_tsc = __rdtsc();
  cpu->bios_sign_id = 0;
  cpu->misc_enable = MISC_ENABLE_RESET;
  cpu->efer = 0;
  cpu->pat = PAT_RESET;
  cpu->cpl = 0;
  cpu->fs_base = cpu->gs_base = 0;
  cpu->mxcsr = 0x1f80;
  memset(cpu->xmm, 0, sizeof(cpu->xmm));
  memset(&cpu->pending, 0, sizeof(cpu->pending));
  cpu->halted = false;
  cpu_flags_to_host(cpu);
  if (cpu->mmu) /* paging, PAE and NXE are off now: the views must say so */
    mmu_paging_changed(cpu->mmu, cpu);
}

uint32_t cpu_get_eflags(const struct cpu *cpu) { return cpu->eflags; }

void cpu_set_eflags(struct cpu *cpu, uint32_t value) {
  cpu->eflags = (value & ~(0xffc08028u)) | 0x2;
}

/* Translated code keeps the arithmetic flags and DF in host RFLAGS, IF in vif and the other
 * system flags in vsys (see translator/abi.h). */
void cpu_flags_from_host(struct cpu *cpu) {
  cpu->eflags = ((uint32_t)cpu->rflags & FL_HOST) | cpu->vsys | cpu->vif | 0x2;
}

/* RF stays behind: it holds for the one instruction translated code is entered at (KEY_RF)
 * and is clear once that has run, and pushf must not show it. */
void cpu_flags_to_host(struct cpu *cpu) {
  cpu->rflags = (cpu->eflags & FL_HOST) | 0x202;
  cpu->vif = cpu->eflags & FL_IF;
  cpu->vsys = cpu->eflags & ~(FL_HOST | FL_IF | FL_RF | 0x2u);
}

void cpu_stop(struct cpu *cpu, int reason, const char *fmt, ...) {
  if (cpu->shutdown)
    return; /* keep the first reason */
  cpu->shutdown = reason;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cpu->shutdown_msg, sizeof(cpu->shutdown_msg), fmt, ap);
  va_end(ap);
}

/* A coherent family-6 feature set (SDM vol. 2, CPUID leaf 1 EDX). */
#define CPUID_FPU (1u << 0)
#define CPUID_PSE (1u << 3)
#define CPUID_TSC (1u << 4)
#define CPUID_MSR (1u << 5)
#define CPUID_PAE (1u << 6)
#define CPUID_CX8 (1u << 8)
#define CPUID_APIC (1u << 9)
#define CPUID_SEP (1u << 11)
#define CPUID_PGE (1u << 13)
#define CPUID_CMOV (1u << 15)
#define CPUID_PAT (1u << 16)
#define CPUID_CLFSH (1u << 19)
#define CPUID_MMX (1u << 23)
#define CPUID_FXSR (1u << 24)
#define CPUID_SSE (1u << 25)
#define CPUID_SSE2 (1u << 26)
/* What IA32_BIOS_SIGN_ID reports after CPUID 1: no microcode update loaded. */
#define CPU_MICROCODE_REVISION 0

#define CPUID_FEATURES_EDX                                                                   \
  (CPUID_FPU | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_PAE | CPUID_CX8 | CPUID_SEP | CPUID_PGE |        \
   CPUID_CMOV | CPUID_PAT | CPUID_CLFSH | CPUID_MMX | CPUID_FXSR | CPUID_SSE | CPUID_SSE2)

static void cpuid_string(uint32_t *out, const char *s, int words) {
  memcpy(out, s, (size_t)words * 4);
}

static bool host_says_not_affected(const char *vulnerability) {
  char path[128], line[64] = "";
  snprintf(path, sizeof(path), "/sys/devices/system/cpu/vulnerabilities/%s", vulnerability);
  FILE *f = fopen(path, "r");
  if (!f)
    return false; /* an older host kernel: assume the CPU is affected */
  bool no = fgets(line, sizeof(line), f) && !strncmp(line, "Not affected", 12);
  fclose(f);
  return no;
}

uint64_t cpu_arch_capabilities(void) {
  static int64_t caps = -1;
  if (caps < 0)
    caps = (int64_t)(ARCH_CAP_RDCL_NO | (host_says_not_affected("mds") ? ARCH_CAP_MDS_NO : 0));
  return (uint64_t)caps;
}

uint32_t cpu_features_edx(const struct cpu *cpu) {
  return CPUID_FEATURES_EDX | (cpu->apic ? CPUID_APIC : 0);
}

/* The TSC counts at the host TSC's rate (an invariant TSC). Measured once, against the host's
 * monotonic clock, over the time from reset to the first time the guest asks, which is at
 * least TSC_MEASURE_NS: a Linux kernel asks after decompressing itself, a quarter of a second
 * in, so the rate is good to about a millionth without waiting. */
#define TSC_MEASURE_NS 50000000u

static uint64_t tsc_hz(struct cpu *cpu) {
  if (!cpu->tsc_hz) {
    uint64_t ns = host_ns() - cpu->tsc_ref_ns;
    if (ns < TSC_MEASURE_NS) {
      uint64_t left = TSC_MEASURE_NS - ns;
      nanosleep(&(struct timespec){0, (long)left}, NULL);
      ns = host_ns() - cpu->tsc_ref_ns;
    }
    cpu->tsc_hz = (uint64_t)((double)(__rdtsc() - cpu->tsc_ref_tsc) * 1e9 / (double)ns);
  }
  return cpu->tsc_hz;
}

/* CPUID 15H: TSC = crystal * EBX / EAX. The fraction closest to the measured rate whose
 * numerator keeps Linux's crystal_kHz * EBX within 32 bits (native_calibrate_tsc). */
static void tsc_crystal_ratio(struct cpu *cpu, uint32_t *den, uint32_t *num) {
  double want = (double)tsc_hz(cpu) / cpu->crystal_hz, best = 1e30;
  uint32_t max_num = 0xffffffffu / (cpu->crystal_hz / 1000 ? cpu->crystal_hz / 1000 : 1);
  *den = *num = 0;
  for (uint32_t d = 1; d <= 4096; d++) {
    double n = want * d + 0.5;
    if (n >= max_num + 1.0)
      break;
    double err = (double)(uint32_t)n / d - want;
    if ((uint32_t)n && (err < 0 ? -err : err) < best) {
      best = err < 0 ? -err : err;
      *den = d;
      *num = (uint32_t)n;
    }
  }
}

/* Leaves 15H (TSC and crystal clock) and 16H (processor frequency) spare a kernel its
 * calibration loops against the PIT, which take real time (Linux's local APIC timer
 * calibration alone waits 100 ms): they state what bt386 knows. Leaf 7 has only
 * IA32_ARCH_CAPABILITIES (cpu.h says why). The other leaves from 3 to 14H are zero: nothing
 * there is supported (no cache descriptors, MONITOR, thermal, performance monitoring or
 * topology leaves). */
#define CPUID7_EDX_ARCH_CAPABILITIES (1u << 29)
#define MAX_BASIC_LEAF 0x16u

#define MAX_EXTENDED_LEAF 0x80000004u
#define CPUID_EXT_NX (1u << 20)

/* CPUID.1:ECX bit 31, which hardware leaves clear for a hypervisor to set, and the
 * hypervisor leaves from 40000000H (the convention KVM, Xen and VMware follow: the highest
 * hypervisor leaf in EAX, a vendor signature in EBX, ECX, EDX). A guest learns it runs in a
 * VMM, as under QEMU or KVM: Linux, for one, then takes the missing performance counters for
 * virtualization rather than reporting broken PMU hardware. */
#define CPUID1_ECX_HYPERVISOR (1u << 31)
#define HYPERVISOR_LEAF 0x40000000u

static void cpuid_leaf(struct cpu *cpu, uint32_t leaf, uint32_t r[4]) {
  static const char brand[48] = "bt386 virtual i686 CPU";
  uint32_t max_basic =
      cpu->crystal_hz && !(cpu->misc_enable & MISC_ENABLE_LIMIT_CPUID) ? MAX_BASIC_LEAF : 2;
  if (leaf >= HYPERVISOR_LEAF && leaf <= HYPERVISOR_LEAF + 0xff) {
    if (leaf == HYPERVISOR_LEAF) {
      r[0] = HYPERVISOR_LEAF;
      cpuid_string(&r[1], "bt38", 1);
      cpuid_string(&r[2], "6 VM", 1);
      cpuid_string(&r[3], "M\0\0\0", 1);
    }
    return; /* (the rest of the range: zero) */
  }
  /* Above the maximum basic or extended leaf, Intel CPUs return the highest basic leaf's. */
  if ((leaf < 0x80000000u && leaf > max_basic) || leaf > MAX_EXTENDED_LEAF)
    leaf = max_basic;
  switch (leaf) {
  case 0:
    r[0] = max_basic;
    cpuid_string(&r[1], "Genu", 1);
    cpuid_string(&r[3], "ineI", 1);
    cpuid_string(&r[2], "ntel", 1);
    break;
  case 1:
    r[0] = 0x6d6; /* family 6, model 13, stepping 6 */
    r[1] = 0x00010000 | (64 / 8) << 8; /* one logical CPU, CLFLUSH line 64 bytes */
    r[2] = CPUID1_ECX_HYPERVISOR;
    r[3] = cpu_features_edx(cpu); /* EBX 31:24, the initial APIC ID, is 0 */
    cpu->bios_sign_id = (uint64_t)CPU_MICROCODE_REVISION << 32;
    break;
  case 2:
    r[0] = 0x00000001; /* one iteration, no descriptors */
    break;
  case 7: /* structured extended features: subleaf 0 only, IA32_ARCH_CAPABILITIES alone */
    if (cpu->regs[R_ECX] == 0)
      r[3] = CPUID7_EDX_ARCH_CAPABILITIES;
    break;
  case 0x15:
    if (cpu->crystal_hz) {
      tsc_crystal_ratio(cpu, &r[0], &r[1]);
      r[2] = cpu->crystal_hz;
    }
    break;
  case 0x16: /* base and maximum frequency (the TSC's), bus (reference) frequency, in MHz */
    if (cpu->crystal_hz) {
      r[0] = r[1] = (uint32_t)((tsc_hz(cpu) + 500000) / 1000000);
      r[2] = cpu->crystal_hz / 1000000;
    }
    break;
  case 0x80000000:
    r[0] = MAX_EXTENDED_LEAF;
    break;
  case 0x80000001: /* execute disable (IA32_EFER.NXE, PAE paging); no 64-bit mode */
    r[3] = CPUID_EXT_NX;
    break;
  case 0x80000002:
  case 0x80000003:
  case 0x80000004:
    memcpy(r, brand + (leaf - 0x80000002) * 16, 16);
    break;
  default: /* reserved or nothing to enumerate: zero */
    break;
  }
}

void cpu_cpuid(struct cpu *cpu) {
  uint32_t r[4] = {0, 0, 0, 0}; /* eax, ebx, ecx, edx */
  cpuid_leaf(cpu, cpu->regs[R_EAX], r);
  cpu->regs[R_EAX] = r[0];
  cpu->regs[R_EBX] = r[1];
  cpu->regs[R_ECX] = r[2];
  cpu->regs[R_EDX] = r[3];
}

uint64_t cpu_rdtsc(struct cpu *cpu) { return __rdtsc() + cpu->tsc_offset; }

/* Instruction breakpoints (SDM vol. 3, 17.2.4): DRn breaks where Ln or Gn is set and R/Wn is
 * 00 (LENn must be 00 then). Data breakpoints are not armed (cpu/insn.c says so once). */
static bool exec_breakpoint(uint32_t dr7, int n) {
  return ((dr7 >> (2 * n)) & 3) && ((dr7 >> (DR7_RW_SHIFT + 4 * n)) & 3) == 0;
}

uint32_t cpu_breakpoints_at(const struct cpu *cpu, uint32_t lin) {
  uint32_t hit = 0;
  for (int n = 0; n < 4; n++)
    if (exec_breakpoint(cpu->dr[7], n) && cpu->dr[n] == lin)
      hit |= 1u << n;
  return hit;
}

bool cpu_has_breakpoints(const struct cpu *cpu) {
  for (int n = 0; n < 4; n++)
    if (exec_breakpoint(cpu->dr[7], n))
      return true;
  return false;
}
