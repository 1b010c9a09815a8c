/* pgscan_sample.S - a 32-bit program that is never run, only scanned by pgscan.
 *
 * Every instruction class pgscan counts appears here a known number of times; the counts
 * are in pgscan_sample.expect, and every change here must change that file too. Beside the
 * sites are look-alikes that must not count (near CALL/RET, PUSH of a GPR, MOV between GPRs,
 * sensitive opcode bytes inside an immediate, sensitive bytes in data sections), data
 * between instructions after which the linear sweep must resynchronise on the next site, a
 * byte sequence on which Capstone 4 and Zydis disagree, and a code section that ends in the
 * middle of an instruction.
 *
 * Built with gcc -m32 -c and linked -nostdlib -static (tests/tools/CMakeLists.txt). */

        .text
        .globl _start
_start:
/* ---- sensitive, unprivileged ---- */
sgdt_sites:
        sgdt    gdtr_buf                /* SGDT 2 */
        sgdt    (%eax)
sidt_sites:
        sidt    (%ecx)                  /* SIDT 1 */
sldt_sites:
        sldt    %ax                     /* SLDT 2 */
        sldt    (%eax)
smsw_sites:
        smsw    %eax                    /* SMSW 2 */
        smsw    (%ebx)
str_sites:
        str     %ax                     /* STR 1 */
pushf_sites:
        pushfl                          /* PUSHF 4 */
        pushfl
        pushfl
        pushfw
popf_sites:
        popfl                           /* POPF 2 */
        popfw
desc_sites:
        lar     %eax, %ebx              /* LAR 1, LSL 1, VERR 1, VERW 2 */
        lsl     (%ecx), %edx
        verr    %ax
        verw    (%eax)
        verw    %dx
push_sreg_sites:
        push    %cs                     /* PUSH Sreg 6 */
        push    %ds
        push    %es
        push    %ss
        push    %fs
        pushw   %gs
pop_sreg_sites:
        pop     %ds                     /* POP Sreg 5 */
        pop     %es
        pop     %ss
        pop     %fs
        pop     %gs
mov_from_sreg_sites:
        mov     %cs, %eax               /* MOV r/m, Sreg 3 */
        mov     %ss, %ax
        mov     %ds, (%ebx)
mov_to_sreg_sites:
        mov     %eax, %ds               /* MOV Sreg, r/m 5 */
        mov     (%ebx), %es
        mov     %ax, %ss
        mov     %ecx, %fs
        mov     %edx, %gs
load_far_ptr_sites:
        lds     (%eax), %ebx            /* LDS/LES/LFS/LGS/LSS 5 */
        les     (%eax), %ebx
        lfs     (%eax), %ebx
        lgs     (%eax), %ebx
        lss     (%eax), %ebx
far_sites:
        lcall   $0x10, $far_target      /* CALL far 2, JMP far 2, RET far 2 */
        lcall   *(%eax)
        ljmp    $0x08, $far_target
        ljmp    *(%ebx)
far_target:
        lret
        lret    $8
int_sites:
        int     $0x80                   /* INT n 2 (CD 03 too), INT3 1, INTO 1, INT1 1 */
        .byte   0xcd, 0x03
        int3
        into
        int1
iret_sites:
        iret                            /* IRET 2 */
        iretw

/* ---- privileged ---- */
priv_sites:
        hlt                             /* HLT 1 here, 1 after resync_lock */
        cli
        sti
        lgdt    (%eax)
        lidt    (%eax)
        lldt    %ax
        ltr     %ax
        lmsw    %ax
        clts
cr_sites:
        mov     %eax, %cr0              /* MOV CRn, r 3; MOV r, CRn 2 */
        mov     %eax, %cr3
        mov     %eax, %cr4
        mov     %cr2, %eax
        mov     %cr0, %eax
dr_sites:
        mov     %eax, %db7              /* MOV DRn, r 1; MOV r, DRn 1 */
        mov     %db6, %eax
io_sites:
        inb     $0x60, %al              /* IN 3, OUT 2, INS 2, OUTS 2 */
        inb     (%dx), %al
        inl     (%dx), %eax
        outb    %al, $0x80
        outw    %ax, (%dx)
        insb
        rep insl
        outsb
        rep outsw
cache_sites:
        invd
        wbinvd
        invlpg  (%eax)
        invpcid (%eax), %ebx
msr_sites:
        rdmsr
        wrmsr
        rdpmc
        rdtsc                           /* RDTSC 1 here, 1 in .pgscan.tail */
        rdtscp
        sysexit
        sysret
        xsetbv
        xsaves  (%eax)
        xrstors (%eax)
        monitor
        mwait
        clac
        stac
other_sites:
        cpuid                           /* CPUID 1 */

/* ---- look-alikes: none of these counts ---- */
not_sites:
        call    near_target
        jmp     near_target
near_target:
        ret
        ret     $4
        call    *(%eax)
        jmp     *%eax
        push    %eax
        pop     %eax
        pushl   $1
        mov     %eax, %ebx
        mov     (%eax), %ebx
        mov     $0xfa0f01f4, %eax       /* hlt, sgdt and cli bytes inside an immediate */
        sysenter
        xgetbv
        ud2
        ud1     %esp, %ecx              /* Capstone 4: 2 bytes, Zydis: 3 (length only) */
        lea     4(%esp), %esp

/* ---- data in code: the sweep must resynchronise right at each site ---- */
        ret
resync_data_ff:
        .long   0xffffffff              /* FF /7 is invalid at each of the 4 bytes ... */
resync_cli:
        cli                             /* ... and CLI (FA) ends the last: FF FA is invalid */
        .byte   0xf0                    /* LOCK on HLT is invalid: 1 byte skipped */
resync_lock_hlt:
        hlt
        .byte   0xf0, 0xf0, 0xf0        /* LOCK on SGDT: 3 bytes skipped */
resync_lock_sgdt:
        sgdt    (%edx)                  /* SGDT: the third site */
bad_mov_cs:
        .byte   0x8e, 0xc8, 0, 0, 0     /* MOV CS, EAX is #UD: Zydis skips 8E, Capstone */
resync_mov_cs:                          /* decodes MOV CS (a disagreement); C8 00 00 00 */
        pushfl                          /* is ENTER 0, 0. PUSHF: the fifth site */
        ret

/* A second code section that ends inside an instruction: 0F is a truncated opcode. */
        .section .pgscan.tail, "ax", @progbits
tail_sites:
        rdtsc
        .byte   0x0f

/* Sensitive-looking bytes outside code: never scanned. */
        .data
gdtr_buf:
        .byte   0xfa, 0xfb, 0xf4, 0x9c, 0x9d, 0x0f, 0x01, 0x00
        .section .rodata
        .byte   0xcf, 0xcb, 0xee, 0xec, 0x0f, 0x30, 0x0f, 0x32
