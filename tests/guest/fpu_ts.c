/* fpu_ts.c - CR0.TS, CR0.EM and CR0.MP (SDM vol. 3A, 2.5 and table 2-2; 13.1.3): with TS set,
 * x87, MMX and SSE instructions, fxsave and fxrstor raise #NM before they do anything, and
 * WAIT does too when MP is set; instructions that touch none of that state (fences,
 * prefetches, movnti, clflush) run. With EM set, x87 instructions and fxsave raise #NM, MMX
 * and SSE ones #UD, WAIT runs. clts, mov to CR0 and lmsw take effect at the next
 * instruction, and smsw shows TS. A lazy-FPU handler (clts, then retry) as kernels before
 * Linux 4.14 had: the computation goes on with its state intact.
 *
 * Built with -DSDM_ONLY it tests, against fpu_ts_sdm.expected, what QEMU 7.2 does differently
 * from the SDM: it lets emms, cvtpi2ps, cvtpi2pd and movq2dq run with TS or EM set, checks TS before EM for MMX
 * and SSE instructions (#NM where the SDM's tables give #UD), and its default CPU has no
 * clflush (#UD). */
#include "lib/guest.h"

#define CR0_MP 0x2u
#define CR0_EM 0x4u
#define CR0_TS 0x8u
#define CR4_OSFXSR 0x200u

static uint8_t fx_area[512] __attribute__((aligned(16)));
static uint32_t scratch __attribute__((aligned(64)));
static uint32_t mxcsr = 0x1f80;

static void set_cr0_bits(uint32_t set, uint32_t clear) { write_cr0((read_cr0() | set) & ~clear); }

/* Each instruction under the CR0 bits in force, skipped if it faults. */
static void under_current_bits(const char *mode) {
  printf("-- %s\n", mode);
  FAULT_REPORT("fld1", "fld1");
  FAULT_REPORT("fnstsw ax", "fnstsw %%ax", : : "eax");
  FAULT_REPORT("fninit", "fninit");
  FAULT_REPORT("fwait", "fwait");
  FAULT_REPORT("fxsave", "fxsave %[a]", : [a] "m"(fx_area));
  FAULT_REPORT("movd mm0, eax", "movd %%eax, %%mm0", : : "eax");
  FAULT_REPORT("pavgb mm0, mm1", "pavgb %%mm1, %%mm0");
  FAULT_REPORT("addps xmm0, xmm1", "addps %%xmm1, %%xmm0");
  FAULT_REPORT("movd xmm0, eax", "movd %%eax, %%xmm0", : : "eax");
  FAULT_REPORT("ldmxcsr", "ldmxcsr %[m]", : [m] "m"(mxcsr));
  FAULT_REPORT("paddq mm0, mm1", "paddq %%mm1, %%mm0"); /* SSE2 on MMX registers */
  FAULT_REPORT("maskmovq", "maskmovq %%mm1, %%mm0", : "D"(&fx_area) : "memory");
  FAULT_REPORT("stmxcsr", "stmxcsr %[m]", , [m] "=m"(scratch));
  FAULT_REPORT("fxrstor", "fxrstor %[a]", : [a] "m"(fx_area));
  FAULT_REPORT("fnsave", "fnsave %[a]", , [a] "=m"(fx_area));
  FAULT_REPORT("sfence, lfence, mfence", "sfence; lfence; mfence");
  FAULT_REPORT("prefetchnta", "prefetchnta %[m]", : [m] "m"(scratch));
  FAULT_REPORT("movnti", "movnti %%eax, %[m]", , [m] "=m"(scratch) : "a"(7));
  FAULT_REPORT("pause", "pause");
#ifdef SDM_ONLY
  FAULT_REPORT("emms", "emms");
  FAULT_REPORT("cvtpi2ps xmm0, mm1", "cvtpi2ps %%mm1, %%xmm0");
  FAULT_REPORT("cvtpi2pd xmm0, mm1", "cvtpi2pd %%mm1, %%xmm0");
  FAULT_REPORT("movq2dq xmm0, mm1", "movq2dq %%mm1, %%xmm0");
  FAULT_REPORT("clflush", "clflush %[m]", : [m] "m"(scratch));
#endif
}

/* CR0 writes take effect at the very next instruction, in the same stretch of code. */
static void next_instruction(void) {
  struct site s;
  uint32_t cr0 = read_cr0();
  printf("-- at the next instruction\n");
  FAULTING(s, "mov %[on], %%cr0; fld1", , "+m"(scratch) : [on] "r"(cr0 | CR0_TS));
  print_trap("mov cr0 (TS set); fld1", s.start + 3);
  FAULT_REPORT("clts; fld1", "clts; fld1; fstp %%st(0)");
  uint32_t msw = (cr0 | CR0_TS) & 0xffff;
  FAULTING(s, "lmsw %w[m]; fldz", : [m] "r"(msw));
  print_trap("lmsw (TS set); fldz", s.start + 3);
  uint32_t seen = 0;
  __asm__ volatile("smsw %0" : "=r"(seen));
  printf("smsw TS %u\n", (seen >> 3) & 1);
  msw = cr0 & ~CR0_TS & 0xffff;
  FAULT_REPORT("lmsw (TS clear); fldz", "lmsw %w[m]; fldz; fstp %%st(0)", : [m] "r"(msw));
  __asm__ volatile("smsw %0" : "=r"(seen));
  printf("smsw TS %u\n", (seen >> 3) & 1);
}

/* The #NM handler of a kernel that switches the FPU lazily: clts, and the faulting
 * instruction runs again. */
static int nm_count;
static void lazy_fpu(struct trap_frame *f) {
  if (f->vector != 7) {
    printf("unexpected vector %u at %08x\n", f->vector, f->eip);
    guest_exit(1);
  }
  nm_count++;
  __asm__ volatile("clts");
}

static void lazy_switch(void) {
  printf("-- lazy FPU switching\n");
  trap_hook = lazy_fpu;
  volatile double a = 1.5, b = 2.25, r = 0;
  uint32_t cw = 0;
  __asm__ volatile("fninit; fldpi; fstp %%st(0)" ::: "memory");
  for (int round = 0; round < 3; round++) {
    set_cr0_bits(CR0_TS, 0);
    __asm__ volatile("fldl %[a]; fmull %[b]; fstpl %[r]" : [r] "=m"(r) : [a] "m"(a), [b] "m"(b));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    printf("round %d: %d.%04d, #NM %d, control word %04x, TS %u\n", round, (int)r,
           (int)((r - (int)r) * 10000), nm_count, cw & 0xffff, (read_cr0() >> 3) & 1);
  }
  uint32_t lo = 0x11223344, out = 0;
  set_cr0_bits(CR0_TS, 0);
  __asm__ volatile("movd %[i], %%mm2; paddd %%mm2, %%mm2; movd %%mm2, %[o]; emms"
                   : [o] "=r"(out) : [i] "r"(lo));
  printf("mmx after #NM: %08x, #NM %d\n", out, nm_count);
  set_cr0_bits(CR0_TS, 0);
  uint32_t xo = 0;
  __asm__ volatile("movd %[i], %%xmm3; paddd %%xmm3, %%xmm3; movd %%xmm3, %[o]"
                   : [o] "=r"(xo) : [i] "r"(lo));
  printf("sse after #NM: %08x, #NM %d\n", xo, nm_count);
  trap_hook = 0;
}

int main(void) {
  traps_init();
  write_cr4(read_cr4() | CR4_OSFXSR);
  set_cr0_bits(CR0_MP, CR0_EM | CR0_TS);
  __asm__ volatile("fninit");
  under_current_bits("MP");
  set_cr0_bits(CR0_TS, 0);
  under_current_bits("MP TS");
  set_cr0_bits(0, CR0_MP);
  under_current_bits("TS");
  set_cr0_bits(CR0_EM, CR0_TS);
  under_current_bits("EM");
#ifdef SDM_ONLY
  set_cr0_bits(CR0_TS | CR0_MP, 0);
  under_current_bits("MP EM TS");
#endif
  set_cr0_bits(CR0_MP, CR0_EM | CR0_TS);
  next_instruction();
  set_cr0_bits(0, CR0_TS);
  lazy_switch();
  return 0;
}
