; mbflat.asm - a Multiboot v1 kernel as a flat binary (nasm -f bin): no ELF headers, so the
; loader must use the header's address fields (flag 16, Multiboot 0.6.96 section 3.1.3). It
; checks what those fields ask for: the file loaded at load_addr up to load_end_addr only, the
; bss from there to bss_end_addr zeroed (the file holds 0xdeadbeef just past load_end_addr,
; which must read 0), the entry at entry_addr; and prints the loader's magic and mem_upper on
; port 0xE9.
        bits 32
        org 0x100000

MB_MAGIC equ 0x1badb002
MB_FLAGS equ 0x00010003                 ; page-align modules, memory info, address fields

header:
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)
        dd header                       ; header_addr
        dd header                       ; load_addr: the file's first byte
        dd file_end                     ; load_end_addr
        dd bss_end                      ; bss_end_addr
        dd start                        ; entry_addr

start:
        mov esp, stack_top
        mov [magic], eax
        mov [info], ebx
        mov esi, msg_hello
        call puts
        mov eax, [magic]
        call puthex
        mov esi, msg_upper
        call puts
        mov ebx, [info]
        mov eax, [ebx + 8]              ; mem_upper
        call puthex
        mov esi, msg_bss
        call puts
        mov eax, [bss_probe]            ; in the bss: zero if the loader cleared it
        call puthex
        mov esi, msg_nl
        call puts
        mov eax, 0                      ; exit status (0 << 1) | 1
        out 0xf4, eax
.halt:  hlt
        jmp .halt

puts:                                   ; esi: a zero-terminated string
        lodsb
        test al, al
        jz .done
        out 0xe9, al
        jmp puts
.done:  ret

puthex:                                 ; eax, as 8 hex digits
        mov ecx, 8
.digit: rol eax, 4
        mov edx, eax
        and edx, 0xf
        mov dl, [hexdigits + edx]
        push eax
        mov al, dl
        out 0xe9, al
        pop eax
        loop .digit
        ret

hexdigits: db "0123456789abcdef"
msg_hello: db "flat Multiboot kernel: magic ", 0
msg_upper: db ", mem_upper ", 0
msg_bss:   db " KiB, bss word ", 0
msg_nl:    db 10, 0
        align 4
file_end:                               ; load_end_addr: what follows is not loaded
bss_probe: dd 0xdeadbeef

        absolute bss_probe + 4
magic:     resd 1
info:      resd 1
        resb 4096
stack_top:
bss_end:
