# bt386_cli.cmake - bt386's command line: what --help names is accepted, QEMU's options that
# bt386 takes for compatibility, and the ones it refuses with exit status 2 and a message.
#
#   cmake -DBT386=build/bt386 -DHELLO=build/tests/guest/hello.elf -P bt386_cli.cmake
cmake_minimum_required(VERSION 3.19)

# expect(STATUS REGEX STREAM ARGS...): bt386 ARGS exits with STATUS and STREAM (out or err)
# matches REGEX.
function(expect status regex stream)
  execute_process(COMMAND ${BT386} ${ARGN} TIMEOUT 30
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL status)
    message(SEND_ERROR "bt386 ${ARGN}: exit status ${rc}, expected ${status}\n${err}")
  elseif(NOT "${${stream}}" MATCHES "${regex}")
    message(SEND_ERROR "bt386 ${ARGN}: std${stream} does not match '${regex}':\n${${stream}}")
  endif()
endfunction()

expect(0 "-display none, -monitor none, -smp 1.*-nodefaults" out --help)
# The guest's exit(0) through isa-debug-exit is status 1.
expect(1 "hello from bt386 guest" out -kernel ${HELLO} -display none -monitor none -smp 1
       -nodefaults -nographic -no-reboot -m 64)
expect(1 "hello from bt386 guest" out -kernel ${HELLO} -smp cpus=1)
expect(2 "-smp 2: bt386 runs one virtual CPU" err -kernel ${HELLO} -smp 2)
expect(2 "-display gtk: bt386 has no display" err -kernel ${HELLO} -display gtk)
expect(2 "-monitor stdio: bt386 has no monitor" err -kernel ${HELLO} -monitor stdio)
expect(2 "unknown option -frobnicate" err -kernel ${HELLO} -frobnicate)
expect(2 "no guest given" err -m 64)
expect(2 "-m 12Q: not a memory size" err -kernel ${HELLO} -m 12Q)
expect(2 "unknown option -frobnicate" err -kernel ${HELLO} -frobnicate 1)
expect(2 "option -initrd needs a value" err -kernel ${HELLO} -initrd)
