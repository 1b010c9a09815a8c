# System virtualization test kernels: paging, rings, system calls. Each runs under bt386 and
# QEMU and must print the same (see compare.sh).
add_guest_test(paging SOURCES paging.c)
add_guest_test(kmap SOURCES kmap.c lib/window.c)
add_guest_test(kmap_forms SOURCES kmap_forms.c lib/window.c)
add_guest_test(string_pages SOURCES string_pages.c lib/window.c)
add_guest_test(pae SOURCES pae.c)
add_guest_sdm_test(pae_sdm SOURCES pae.c CFLAGS -DSDM_ONLY)
add_guest_test(user SOURCES user.c)
add_guest_test(pgdemo SOURCES pgdemo.c)
add_guest_test(interrupts SOURCES interrupts.c)

# The Popek-Goldberg table (tools/pgdemo, docs/pgdemo.md): pgdemo.elf under QEMU, bt386
# --virt=bt and bt386 --virt=trap-and-emulate, each row as pgdemo.expected (written from the
# Intel SDM) says, and --virt=bt the same as QEMU.
add_test(NAME pgdemo_table
  COMMAND ${CMAKE_SOURCE_DIR}/tools/pgdemo --check --bt386 $<TARGET_FILE:bt386> --qemu ${QEMU_I386}
          --kernel ${CMAKE_CURRENT_BINARY_DIR}/pgdemo.elf
          --expect ${CMAKE_CURRENT_SOURCE_DIR}/pgdemo.expected)
set_tests_properties(pgdemo_table PROPERTIES TIMEOUT 180 LABELS guest)
add_test(NAME pgdemo_table_fails_on_a_wrong_row
  COMMAND ${CMAKE_SOURCE_DIR}/tools/pgdemo --check --mutate "R0 popf" --bt386 $<TARGET_FILE:bt386>
          --qemu none --kernel ${CMAKE_CURRENT_BINARY_DIR}/pgdemo.elf
          --expect ${CMAKE_CURRENT_SOURCE_DIR}/pgdemo.expected)
set_tests_properties(pgdemo_table_fails_on_a_wrong_row PROPERTIES WILL_FAIL TRUE TIMEOUT 120
                     LABELS guest)
