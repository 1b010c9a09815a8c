# tests.cmake - the guest test kernels beyond hello (included by CMakeLists.txt). Each one is
# compared with QEMU by compare.sh; tests that bt386 cannot pass yet are listed in
# KNOWN-FAILURES.md instead of here.

# Exception handlers and a GDT of the tests' own (lib/traps.c, lib/isr.S) for every kernel.
list(APPEND GUEST_LIB ${CMAKE_CURRENT_SOURCE_DIR}/lib/isr.S ${CMAKE_CURRENT_SOURCE_DIR}/lib/traps.c)

add_guest_test(exceptions SOURCES exceptions.c)
add_guest_test(triple_fault SOURCES triple_fault.c)
add_guest_test(alu SOURCES alu.c)
add_guest_test(shift SOURCES shift.c)
add_guest_test(muldiv SOURCES muldiv.c)
add_guest_test(bcd SOURCES bcd.c)
add_guest_test(bitops SOURCES bitops.c)
add_guest_test(cond SOURCES cond.c)
add_guest_test(string SOURCES string.c)
add_guest_test(stack SOURCES stack.c)
add_guest_test(addressing SOURCES addressing.c addressing_asm.S)
add_guest_test(segments SOURCES segments.c)
add_guest_test(indirect SOURCES indirect.c)
add_guest_test(smc SOURCES smc.c)
add_guest_test(x87 SOURCES x87.c)
add_guest_test(mmx SOURCES mmx.c)
add_guest_test(sse SOURCES sse.c)
add_guest_test(sse2 SOURCES sse2.c)
add_guest_test(compute SOURCES compute.c)
add_guest_test(fxsave SOURCES fxsave.c lib/window.c)
add_guest_test(fpuenv SOURCES fpuenv.c lib/window.c)
add_guest_test(tsc SOURCES tsc.c)
add_guest_test(tasks SOURCES tasks.c)
add_guest_test(csbase SOURCES csbase.c)
add_guest_sdm_test(cslimit SOURCES cslimit.c)
add_guest_test(singlestep SOURCES singlestep.c)
add_guest_test(breakpoints SOURCES breakpoints.c)
