/* isr.S - interrupt and exception entry stubs for the guest test kernels (see traps.c).
 *
 * Each stub pushes a dummy error code where the CPU pushes none, then its vector, and joins
 * isr_common, which saves the general and data segment registers, loads the kernel's data
 * segment (a test may have left DS/ES with another base) and calls trap_dispatch(frame). */
        .text

.macro STUB vector, has_error
        .align 8
isr_\vector:
        .if \has_error == 0
        push    $0
        .endif
        push    $\vector
        jmp     isr_common
.endm

/* Vectors with a CPU error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC. */
.irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,21,22,23,24,25,26,27,28,29,30,31,0x20,0x28,0x40,0x80,0xff
        STUB \v, 0
.endr
.irp v, 8,10,11,12,13,14,17
        STUB \v, 1
.endr

isr_common:
        pusha
        push    %ds
        push    %es
        movw    %cs:kernel_ds, %ax
        movw    %ax, %ds
        movw    %ax, %es
        cld
        push    %esp                    /* struct trap_frame * */
        call    trap_dispatch
        add     $4, %esp
        pop     %es
        pop     %ds
        popa
        add     $8, %esp                /* vector, error code */
        iret

/* isr_table[i] = { vector, stub } */
        .section .rodata
        .align 4
        .globl  isr_table
isr_table:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,0x20,0x28,0x40,0x80,0xff
        .long   \v, isr_\v
.endr
        .long   -1, 0

        .section .note.GNU-stack, "", @progbits
