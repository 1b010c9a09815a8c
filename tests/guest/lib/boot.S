/* boot.S - Multiboot v1 header and entry for bt386's guest test kernels. */
        .set MB_MAGIC, 0x1badb002
        .set MB_FLAGS, 0x00000003       /* page-align modules, want memory info */

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .text
        .globl _start
_start:
        mov     $stack_top, %esp
        push    %ebx                    /* multiboot_info */
        push    %eax                    /* boot magic */
        call    guest_start
1:      cli
        hlt
        jmp     1b

        .section .bss
        .align 16
stack_bottom:
        .skip 65536
stack_top:

        .section .note.GNU-stack, "", @progbits
