# pgscan_cli.cmake - pgscan's command line: --help, errors and their exit statuses, --extract,
# --quick, --mnemonics and the table.
#
#   cmake -DPGSCAN=build/pgscan -DSAMPLE=pgscan_sample.elf -DINPUTS=DIR -DWORK=DIR
#         -P pgscan_cli.cmake
#
# INPUTS holds what pgscan_mkinputs wrote. Every failed check is reported; the script then
# exits with status 1.
cmake_minimum_required(VERSION 3.19)
set(failed 0)

# expect(STATUS REGEX STREAM ARGS...): pgscan ARGS exits with STATUS and STREAM (out or err)
# matches REGEX.
function(expect status regex stream)
  execute_process(COMMAND ${PGSCAN} ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL status)
    message(SEND_ERROR "pgscan ${ARGN}: exit status ${rc}, expected ${status}\n${err}")
  elseif(NOT "${${stream}}" MATCHES "${regex}")
    message(SEND_ERROR "pgscan ${ARGN}: std${stream} does not match '${regex}':\n${${stream}}")
  endif()
endfunction()

# --help names every option it accepts, and every option it names is accepted.
expect(0 "^usage: pgscan \\[options\\] FILE" out --help)
expect(0 "--sites.*--json.*--mnemonics.*--quick.*--extract FILE.*-h, --help.*--version" out -h)
expect(0 "^pgscan [0-9]" out --version)
foreach(opt --sites --json --mnemonics --quick)
  expect(0 "." out ${opt} ${SAMPLE})
endforeach()

# command-line errors: status 2
expect(2 "no FILE given.*Try 'pgscan --help'" err)
expect(2 "unknown option --bogus" err --bogus ${SAMPLE})
expect(2 "one FILE only" err ${SAMPLE} ${SAMPLE})
expect(2 "--extract needs a file name" err ${SAMPLE} --extract)

# unreadable or unsupported files: status 1, the reason on standard error
expect(1 "cannot open .*/no-such-file: No such file or directory" err ${WORK}/no-such-file)
expect(1 "is a directory" err ${WORK})
expect(1 "not an ELF file, a Linux bzImage or a compressed ELF" err ${CMAKE_CURRENT_LIST_FILE})
expect(1 "64-bit ELF file: pgscan scans 32-bit x86 code" err ${PGSCAN})
expect(1 "LZO \\(lzop\\) compression is not supported" err ${INPUTS}/lzo.bzImage)
expect(1 "lies outside the file" err ${INPUTS}/truncated.elf)
expect(1 "no compressed kernel found" err ${INPUTS}/corrupt.bzImage)

# the table: the bzImage's header, both groups with totals, the cross-check
expect(0 "Linux bzImage, boot protocol 2.15, kernel pgscan-sample" out ${INPUTS}/xz.bzImage)
expect(0 "xz payload: [0-9]+ bytes at file offset 0xc00 \\(from the setup header\\)" out
       ${INPUTS}/xz.bzImage)
expect(0 "found by its magic number" out ${INPUTS}/oldproto.bzImage)
expect(0 "note: the setup header's payload fields did not lead to a kernel" out
       ${INPUTS}/badfields.bzImage)
expect(0 "sensitive, unprivileged.*SGDT +3 .*total +58.*privileged.*HLT +2 .*total +46" out
       ${SAMPLE})
expect(0 "105 sites, 0 of them decoded differently" out ${SAMPLE})
expect(0 "other instructions that differ in length only: ud1 1" out ${SAMPLE})
expect(0 "resync_lock_hlt\\+0x0 +f4 +hlt +HLT" out --sites ${SAMPLE})
expect(0 "\"mnemonics\": \\{.*\"hlt\": 2" out --json --mnemonics ${SAMPLE})
expect(0 "\"scope\": \"sites\".*\"checked\": 105," out --json --quick ${SAMPLE})

# --extract writes the ELF inside the bzImage, byte for byte
file(REMOVE ${WORK}/extracted.elf)
expect(0 "." out --extract ${WORK}/extracted.elf ${INPUTS}/zstd.bzImage)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${SAMPLE} ${WORK}/extracted.elf
                RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(SEND_ERROR "--extract did not write the sample ELF")
endif()
