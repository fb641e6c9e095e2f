# The cpu target's cost model and per-layer timing (issue 5).
#   unit.test_cpu_cost  Check suite: the cost file's parser on good and hostile files, the fit,
#                       the kernel choice under --kernels, profiled builds, determinism
#   cpu_cost.cli        tests/cpu_cost/check.sh: --kernels, bench --per-layer JSON and --report,
#                       compile --report fields, nnzc info's choice column, calibrate --quick
if(TARGET test_cpu_cost)
  target_link_libraries(test_cpu_cost PRIVATE nnzc_cpu)
  # the test reads targets/cpu/sparse.h, which includes the LLVM-C headers
  target_include_directories(test_cpu_cost SYSTEM PRIVATE ${LLVM_INCLUDE_DIR})
  if(TARGET nnzrt)
    add_dependencies(test_cpu_cost nnzrt)
  endif()
  set_tests_properties(unit.test_cpu_cost PROPERTIES TIMEOUT 900)
endif()

add_test(NAME cpu_cost.cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cpu_cost/check.sh $<TARGET_FILE:nnzc> ${CMAKE_SOURCE_DIR}
    ${CMAKE_CURRENT_BINARY_DIR}/cpu_cost)
set_tests_properties(cpu_cost.cli PROPERTIES TIMEOUT 900)
