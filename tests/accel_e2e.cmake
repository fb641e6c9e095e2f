# The accelerator target's lowering end to end (issue 6; targets/accel/lower*.c).
#  accel.e2e           tests/accel_e2e/check.sh: tinycnn on every preset against PyTorch, a 2:4
#                      model on stc/vegeta against ref, byte-identical recompilation, bench/report
#                      JSON, and the product/element-wise node tests on the sparse presets
#  conformance.accel   every ONNX node test with --target accel --accel-config dense (and
#                      conformance.accel.PRESET for stc, vegeta, demm, gs) against
#                      --target ref (tests/conformance/conformance.c): a test ref passes must
#                      pass, unless the lowering refuses its op (exit 3: listed as unsupported in
#                      conformance_accel_dense.json) or exclusions_accel.txt lists it
add_test(NAME accel.e2e
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/accel_e2e/check.sh $<TARGET_FILE:nnzc> ${CMAKE_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/accel-e2e)
set_tests_properties(accel.e2e PROPERTIES TIMEOUT 900
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=print_stacktrace=1")
# (the conformance executable is defined in conformance.cmake, included after this file: add_test
# resolves the target name at generation time)
add_test(NAME conformance.accel COMMAND conformance --target accel --accel-config dense)
set_tests_properties(conformance.accel PROPERTIES TIMEOUT 3600 SKIP_RETURN_CODE 77
  ENVIRONMENT "CK_FORK=yes")
# the same on the sparse presets (their matrix units run the node tests' dense weights)
foreach(preset stc vegeta demm gs)
  add_test(NAME conformance.accel.${preset} COMMAND conformance --target accel --accel-config ${preset})
  set_tests_properties(conformance.accel.${preset} PROPERTIES TIMEOUT 3600 SKIP_RETURN_CODE 77
    ENVIRONMENT "CK_FORK=yes")
endforeach()
