# System virtualization test kernels: paging, rings, system calls. Each runs under bt386 and
# QEMU and must print the same (see compare.sh).
add_guest_test(paging SOURCES paging.c)
add_guest_test(user SOURCES user.c)
add_guest_test(pgdemo SOURCES pgdemo.c)
add_guest_test(interrupts SOURCES interrupts.c)
