/* addressing_asm.S - the memory operand forms of addressing.c, each loaded, incremented by
 * 0x100 in memory and loaded again through the same operand: addr_results gets both words
 * for case n at [8n] and [8n+4]. Written in assembly so that ESP and EBP can be bases. */
        .text

.macro CASE n, op:vararg
        movl    \op, %eax
        addl    $0x100, \op
        movl    \op, %edx
        movl    %eax, addr_results + 8 * \n
        movl    %edx, addr_results + 8 * \n + 4
.endm

/* the same with DS the 64 KiB window: results through FS (flat) */
.macro CASE16 n, op:vararg
        movl    \op, %eax
        addl    $0x100, \op
        movl    \op, %edx
        movl    %eax, %fs:addr_results + 8 * \n
        movl    %edx, %fs:addr_results + 8 * \n + 4
.endm

/* void addr_cases32(void): cases 0..31 and 46, flat 32-bit addressing */
        .globl  addr_cases32
addr_cases32:
        pushl   %ebx
        pushl   %esi
        pushl   %edi
        pushl   %ebp
        movl    %esp, saved_esp

        CASE    0, addr_table+20                        /* absolute [disp32] */
        movl    $addr_table+28, %ebx
        CASE    1, (%ebx)
        CASE    2, 8(%ebx)
        CASE    3, 0x80(%ebx)
        CASE    4, -16(%ebx)
        movl    $addr_table+128, %edi
        CASE    5, -0x7c(%edi)
        movl    $3, %ecx
        CASE    6, (%ebx,%ecx,1)                        /* unaligned */
        CASE    7, 4(%ebx,%ecx,2)
        CASE    8, 8(%ebx,%ecx,4)
        CASE    9, -4(%ebx,%ecx,8)
        movl    $-3, %esi
        CASE    10, (%ebx,%esi,4)                       /* a negative index */
        CASE    11, addr_table(,%ecx,4)                 /* index, no base */
        CASE    12, addr_table+0x40(,%ecx,8)
        /* 32-bit addresses wrap around at 4 GiB */
        movl    $addr_table+16+0x80000000, %ebx
        movl    $0x80000000, %ecx
        CASE    13, (%ebx,%ecx,1)
        movl    $addr_table+24+0x10000000, %ebx
        CASE    14, 0xf0000000(%ebx)
        movl    $0x40000000+2, %ecx
        movl    $addr_table, %ebx
        CASE    15, (%ebx,%ecx,4)                       /* index*scale past 4 GiB */
        /* EBP as base: [ebp+disp8] is the only form of [ebp] */
        movl    $addr_table+36, %ebp
        CASE    16, (%ebp)
        CASE    17, 12(%ebp)
        CASE    18, 0x100(%ebp)
        movl    $2, %esi
        CASE    19, -8(%ebp,%esi,4)
        /* ESP as base (SIB with base ESP): point ESP into the table for a moment */
        movl    $addr_table+160, %esp
        CASE    20, (%esp)
        CASE    21, 4(%esp)
        CASE    22, -0x80(%esp)
        movl    $5, %esi
        CASE    23, (%esp,%esi,4)
        CASE    24, 0x10(%esp,%esi,2)
        movl    saved_esp, %esp
        /* moffs: A0-A3, with 8-, 16- and 32-bit operands */
        movl    $0, %eax
        movb    addr_bytes+5, %al
        movl    %eax, addr_results + 8 * 25
        movw    addr_table+44, %ax
        movl    %eax, addr_results + 8 * 25 + 4
        movl    addr_table+48, %eax
        addl    $1, %eax
        movl    %eax, addr_table+48
        movb    %al, addr_bytes+6
        movw    %ax, addr_bytes+8
        CASE    26, addr_table+48
        /* segment overrides on flat segments */
        movl    $addr_table+52, %ebx
        CASE    27, %es:(%ebx)
        CASE    28, %ss:4(%ebx)
        movl    $addr_table+60, %esp
        CASE    29, %ds:(%esp)
        movl    saved_esp, %esp
        movl    %cs:addr_table+64, %eax                 /* CS is readable code */
        movl    %eax, addr_results + 8 * 30
        movl    %eax, addr_results + 8 * 30 + 4
        /* xlat: AL = [EBX + AL] */
        movl    $addr_bytes, %ebx
        movl    $0x12345607, %eax
        xlat
        movl    %eax, addr_results + 8 * 31
        movl    $0xf0, %eax
        xlatb
        movl    %eax, addr_results + 8 * 31 + 4
        /* lea: no memory access, no segment, 32-bit wrap */
        movl    $0x10, %ebx
        movl    $0x20000000, %ecx
        leal    -8(%ebx,%ecx,8), %eax
        movl    %eax, addr_results + 8 * 46
        movl    $addr_table+160, %esp
        leal    0x7fffffff(%esp), %eax
        subl    $addr_table+160, %eax
        movl    %eax, addr_results + 8 * 46 + 4
        movl    saved_esp, %esp

        popl    %ebp
        popl    %edi
        popl    %esi
        popl    %ebx
        ret

/* void addr_cases16(uint16_t sel): cases 32..45, 16-bit addressing with DS = ES = SS = sel
 * (a 64 KiB window); no stack use while SS is switched. */
        .globl  addr_cases16
addr_cases16:
        movl    4(%esp), %eax
        pushl   %ebx
        pushl   %esi
        pushl   %edi
        pushl   %ebp
        movl    %esp, saved_esp
        movw    %ss, saved_ss
        movw    %ds, saved_ds
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss

        movl    $0x1100, %ebx
        movl    $0x0022, %esi
        movl    $0x0044, %edi
        movl    $0x2200, %ebp
        CASE16  32, (%bx,%si)
        CASE16  33, (%bx,%di)
        CASE16  34, (%bp,%si)                           /* SS */
        CASE16  35, (%bp,%di)
        CASE16  36, (%si)
        CASE16  37, (%di)
        CASE16  38, 0x10(%bx)
        CASE16  39, 0x1234(%bp)
        CASE16  40, -2(%bx,%si)
        addr16 movl 0x3456, %eax                        /* [disp16] */
        addr16 addl $0x100, 0x3456
        addr16 movl 0x3456, %edx
        movl    %eax, %fs:addr_results + 8 * 41
        movl    %edx, %fs:addr_results + 8 * 41 + 4
        movl    $0xabcdfff0, %ebx                       /* only BX counts: wraps at 64 KiB */
        movl    $0x12340020, %esi
        CASE16  42, (%bx,%si)
        CASE16  43, 0x30(%bx)
        movl    $0xfffe, %ebp
        CASE16  44, 4(%bp)
        /* lea with 16-bit addresses: the offset, zero-extended */
        movl    $0xffffffff, %eax
        addr16 leal 0x20(%bx,%si), %eax
        movl    %eax, %fs:addr_results + 8 * 45
        movl    $0xffffffff, %eax
        leaw    0x1234(%ebx,%esi,2), %ax                /* 16-bit operand: keeps EAX's top */
        movl    %eax, %fs:addr_results + 8 * 45 + 4

        movw    %cs:saved_ss, %ss
        movl    %cs:saved_esp, %esp
        movw    %cs:saved_ds, %ds
        movw    %cs:saved_ds, %es
        popl    %ebp
        popl    %edi
        popl    %esi
        popl    %ebx
        ret

        .bss
        .align  4
saved_esp:
        .long   0
saved_ss:
        .long   0
saved_ds:
        .long   0
        .section .note.GNU-stack, "", @progbits
