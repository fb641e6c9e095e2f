# The accelerator's foundation (issue 6): configs, ISA, .nnza container, assembler.
#  unit.test_accel_*   Check suites (globbed in tests/CMakeLists.txt); they also need the accel
#                      target's library (writer, assembler) and the runtime's accel loader
#  accel.hostile       every file of tests/hostile/nnza/corpus/ through `nnzc disasm` and `nnzc
#                      info`: a clean one-line error (cases.txt), no crash, no sanitizer report
#  accel.roundtrip     nnzc asm -> disasm -> asm reproduces the seed program byte for byte
foreach(t test_accel_config test_accel_isa test_accel_exec test_accel_timing)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE nnzc_accel)
  endif()
endforeach()

set(NNZA_DIR ${CMAKE_CURRENT_LIST_DIR}/hostile/nnza)
add_test(NAME accel.hostile
  COMMAND sh ${NNZA_DIR}/check.sh $<TARGET_FILE:nnzc> ${NNZA_DIR} ${CMAKE_CURRENT_BINARY_DIR}/accel-hostile)
set_tests_properties(accel.hostile PROPERTIES TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1")
add_test(NAME accel.roundtrip
  COMMAND sh ${NNZA_DIR}/roundtrip.sh $<TARGET_FILE:nnzc> ${NNZA_DIR}/seed.s ${CMAKE_CURRENT_BINARY_DIR}/accel-roundtrip)
