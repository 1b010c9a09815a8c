/* guest.h - the little runtime bt386's test kernels share: output on the debug console
 * (port 0xE9), a result through isa-debug-exit (port 0xF4), printf, and a few helpers. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

void putchar_e9(char c);
void puts_e9(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
/* End the VM: bt386 and QEMU exit with status (code << 1) | 1. */
void __attribute__((noreturn)) guest_exit(int code);
/* What the loader passed in EAX and EBX (Multiboot: 0x2BADB002 and the information structure). */
extern uint32_t boot_magic;
extern const void *boot_info;
/* Every test kernel provides this; its return value is passed to guest_exit. */
int main(void);

/* Control registers (CPL 0 only). */
static inline uint32_t read_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr2(void) { uint32_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr3(void) { uint32_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline void write_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }
static inline void invlpg(uint32_t lin) { __asm__ volatile("invlpg (%0)" ::"r"(lin) : "memory"); }

/* lib/window.c, for the tests that link it: paging on, the first 8 MiB identity-mapped (4 MiB
 * pages), and a page table at WINDOW_BASE whose pages window_map points at frames (NULL: not
 * present), with invlpg; window_entry is the PTE itself, for other flags or no invlpg. */
#define WINDOW_BASE 0x40000000u
void window_paging_on(void);
void window_map(uint32_t lin, const void *frame);
volatile uint32_t *window_entry(uint32_t lin);

/* ---- inspecting results ---- */

#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_AF 0x010u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_DF 0x400u
#define FL_OF 0x800u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

static inline uint32_t read_eflags(void) {
  uint32_t f;
  __asm__ volatile("pushf; pop %0" : "=r"(f));
  return f;
}

/* "OSZAPC" flags as letters: upper case set, lower case clear, '-' outside mask. Returns one
 * of a few rotating static buffers, so several fit in one printf. */
const char *flags_str(uint32_t flags, uint32_t mask);
/* Bytes as hex pairs, `n` of them, on one line after `what`. */
void hexdump(const char *what, const void *p, size_t n);
/* A running CRC-32 (IEEE) of results too many to print. */
uint32_t crc32_update(uint32_t crc, const void *p, size_t n);

/* ---- descriptor tables and exceptions (traps.c, isr.S) ---- */

#define SEL_CODE 0x08
#define SEL_DATA 0x10
/* Entries 3..15 are the tests' own: gdt_set(index, base, limit, access, flags) with limit in
 * 20 bits and flags the high nibble (0xc: 4 KiB granularity, 32-bit). */
void gdt_set(int index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
void gdt_init(void); /* load the GDT and reload every segment register */
void idt_init(void); /* interrupt gates for vectors 0-31, 0x20 and 0x28 (IRQ0 and IRQ8 with the 8259As remapped there), 0x40, 0x80, 0xff */
void traps_init(void); /* both */
const void *gdt_address(void); /* where the tests' own GDT and IDT are */
const void *idt_address(void);
/* Let `int vector` in from rings up to `dpl` (the gate's DPL). */
void idt_gate_dpl(int vector, int dpl);
/* A task gate (DPL 0) to the TSS tss_sel names; a gate marked not present. */
void idt_task_gate(int vector, uint16_t tss_sel);
void idt_gate_absent(int vector);
/* An interrupt gate (DPL 0) to cs:offset. */
void idt_gate_at(int vector, uint16_t cs, uint32_t offset);
/* Set a gate's access byte (P, DPL, type: 0x86 is a 16-bit interrupt gate). */
void idt_gate_access(int vector, uint8_t access);

/* A far pointer in memory (m16:32), and a far call through one to sel:offset (the callee
 * returns with lret; it may change EAX, ECX and EDX, as any call may). */
struct __attribute__((packed)) far_ptr {
  uint32_t off;
  uint16_t sel;
};
void far_call(uint32_t offset, uint16_t sel);
/* DR6, which is then cleared (a #DB handler's first step). */
uint32_t dr6_take(void);

/* What isr.S saves: the handler may change any of it, EIP included. */
struct trap_frame {
  uint32_t es, ds;
  uint32_t edi, esi, ebp, esp0, ebx, edx, ecx, eax;
  uint32_t vector, error;
  uint32_t eip, cs, eflags;
};

struct trap_record {
  uint32_t vector, error, eip, cs, eflags;
};

/* The last exception taken and how many since print_trap. The handler resumes at
 * trap_resume if it is set (once), else calls trap_hook if set, else returns for traps
 * (#DB, #BP, #OF, int n) and ends the test for anything else. */
extern volatile struct trap_record last_trap;
extern volatile uint32_t trap_resume;
extern volatile int trap_count;
extern void (*volatile trap_hook)(struct trap_frame *f);
/* Print the last exception and whether it was at expected_eip; reset the count. */
void print_trap(const char *what, uint32_t expected_eip);

/* Where a FAULTING instruction starts and where the one after it starts. */
struct site {
  uint32_t start, next;
};

/* Run asm `insn`, which should raise an exception, with the handler resuming right after it;
 * `s` (a struct site) gets its addresses. Operands continue the output list: begin them with
 * a comma for more outputs or with a colon for inputs. */
#define FAULTING(s, insn, ...)                                                               \
  __asm__ volatile("movl $8888f, %[site_start]\n\t"                                          \
                   "movl $9999f, %[site_next]\n\t"                                           \
                   "movl $9999f, trap_resume\n"                                               \
                   "8888: " insn "\n"                                                        \
                   "9999:"                                                                   \
                   : [site_start] "=m"((s).start), [site_next] "=m"((s).next) __VA_ARGS__)

/* FAULTING, then print_trap expecting the fault at the instruction (a fault, not a trap). */
#define FAULT_REPORT(what, insn, ...)                                                        \
  do {                                                                                       \
    struct site site_;                                                                       \
    FAULTING(site_, insn, __VA_ARGS__);                                                      \
    print_trap(what, site_.start);                                                           \
  } while (0)

/* Data breakpoints (lib/watch.c, linked by the tests that use it). watch_init: traps_init and
 * a #DB hook that records each trap. WATCHED runs asm `insn` (operands continue the output
 * list, as with FAULTING) and reports the #DBs it took, each with where it was taken relative
 * to the end of insn (0: right after it, as a trap after its last instruction is). */
void watch_init(void);
void watch_report(const char *what, uint32_t after);
void set_dr(int n, uint32_t v); /* DR0-DR3, or DR7 for any other n */
uint32_t dr7_for(int n, unsigned rw, unsigned len); /* Ln, R/Wn and LENn (1, 2 or 4 bytes) */
#define WATCHED(what, insn, ...)                                                            \
  do {                                                                                       \
    uint32_t after;                                                                          \
    __asm__ volatile(insn "\n2:\n\tmovl $2b, %[after]" : [after] "=m"(after)__VA_ARGS__);    \
    watch_report(what, after);                                                               \
  } while (0)

#endif
