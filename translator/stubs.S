/* stubs.S - the only doors between the monitor's C code and translated code.
 *
 *   bt_enter(cpu)       load the guest state from struct cpu and jump to cpu->resume
 *   bt_stub_exit        a block ends: r9d = next guest EIP, r10 = jump to chain (or 0)
 *   bt_stub_callout     a sensitive instruction: r10 = its struct insn_call
 *   bt_fault_exit       where the fault handler sends translated code it stops
 *
 * All of them save the guest state the same way (SAVE_GUEST), which is what makes faults
 * precise: the state in struct cpu is the state before the guest instruction. Translated code
 * keeps guest ESP in RSP, so nothing here touches the stack before switching to the monitor's.
 * See abi.h for the register assignment. */
#include "translator/abi.h"

        .intel_syntax noprefix
        .text

.macro SAVE_GUEST
        mov     [r15 + CPU_REGS + 0], eax
        mov     [r15 + CPU_REGS + 4], ecx
        mov     [r15 + CPU_REGS + 8], edx
        mov     [r15 + CPU_REGS + 12], ebx
        mov     [r15 + CPU_REGS + 16], esp
        mov     [r15 + CPU_REGS + 20], ebp
        mov     [r15 + CPU_REGS + 24], esi
        mov     [r15 + CPU_REGS + 28], edi
        mov     [r15 + CPU_EXIT_R8], r8
        mov     [r15 + CPU_EXIT_R9], r9
        mov     [r15 + CPU_EXIT_R10], r10
        mov     rsp, [r15 + CPU_HOST_RSP]
        pushfq
        pop     qword ptr [r15 + CPU_RFLAGS]
        cld                             /* the C ABI wants DF clear */
        movdqu  [r15 + CPU_XMM + 0x00], xmm0
        movdqu  [r15 + CPU_XMM + 0x10], xmm1
        movdqu  [r15 + CPU_XMM + 0x20], xmm2
        movdqu  [r15 + CPU_XMM + 0x30], xmm3
        movdqu  [r15 + CPU_XMM + 0x40], xmm4
        movdqu  [r15 + CPU_XMM + 0x50], xmm5
        movdqu  [r15 + CPU_XMM + 0x60], xmm6
        movdqu  [r15 + CPU_XMM + 0x70], xmm7
        stmxcsr [r15 + CPU_MXCSR]
        ldmxcsr [r15 + CPU_HOST_MXCSR]
.endm

.macro RESTORE_GUEST_AND_GO
        ldmxcsr [r15 + CPU_MXCSR]
        movdqu  xmm0, [r15 + CPU_XMM + 0x00]
        movdqu  xmm1, [r15 + CPU_XMM + 0x10]
        movdqu  xmm2, [r15 + CPU_XMM + 0x20]
        movdqu  xmm3, [r15 + CPU_XMM + 0x30]
        movdqu  xmm4, [r15 + CPU_XMM + 0x40]
        movdqu  xmm5, [r15 + CPU_XMM + 0x50]
        movdqu  xmm6, [r15 + CPU_XMM + 0x60]
        movdqu  xmm7, [r15 + CPU_XMM + 0x70]
        mov     r12, [r15 + CPU_VIEW_BASE]
        mov     r13, [r15 + CPU_FS_BASE]
        mov     r14, [r15 + CPU_GS_BASE]
        push    qword ptr [r15 + CPU_RFLAGS]
        popfq
        mov     eax, [r15 + CPU_REGS + 0]
        mov     ecx, [r15 + CPU_REGS + 4]
        mov     edx, [r15 + CPU_REGS + 8]
        mov     ebx, [r15 + CPU_REGS + 12]
        mov     ebp, [r15 + CPU_REGS + 20]
        mov     esi, [r15 + CPU_REGS + 24]
        mov     edi, [r15 + CPU_REGS + 28]
        mov     esp, [r15 + CPU_REGS + 16]
        jmp     qword ptr [r15 + CPU_RESUME]
.endm

/* int bt_enter(struct cpu *cpu): returns an EXIT_* code. */
        .globl  bt_enter
        .type   bt_enter, @function
bt_enter:
        push    rbx
        push    rbp
        push    r12
        push    r13
        push    r14
        push    r15
        sub     rsp, 8                  /* keep the monitor stack 16-byte aligned */
        mov     r15, rdi
        mov     [r15 + CPU_HOST_RSP], rsp
        RESTORE_GUEST_AND_GO
        .size   bt_enter, . - bt_enter

        .globl  bt_stub_exit
        .type   bt_stub_exit, @function
bt_stub_exit:
        SAVE_GUEST
        mov     eax, EXIT_BRANCH
bt_leave:
        add     rsp, 8
        pop     r15
        pop     r14
        pop     r13
        pop     r12
        pop     rbp
        pop     rbx
        ret
        .size   bt_stub_exit, . - bt_stub_exit

        .globl  bt_stub_callout
        .type   bt_stub_callout, @function
bt_stub_callout:
        SAVE_GUEST
        mov     rdi, r15
        mov     rsi, [r15 + CPU_EXIT_R10]
        call    bt_callout              /* 0: go on at cpu->resume; else an exit code */
        test    eax, eax
        jnz     bt_leave
        RESTORE_GUEST_AND_GO
        .size   bt_stub_callout, . - bt_stub_callout

        .globl  bt_fault_exit
        .type   bt_fault_exit, @function
bt_fault_exit:
        SAVE_GUEST
        mov     eax, EXIT_FAULT
        jmp     bt_leave
        .size   bt_fault_exit, . - bt_fault_exit

        .section .note.GNU-stack, "", @progbits
