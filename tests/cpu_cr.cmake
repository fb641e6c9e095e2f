# tests/unit/test_cpu_cr.c compiles models with the cpu target (nnzc_cpu, LLVM) and loads them,
# which needs the runtime library next to the test executable's bin/ (../lib/libnnzrt.a).
if(TARGET test_cpu_cr)
  target_link_libraries(test_cpu_cr PRIVATE nnzc_cpu)
  target_include_directories(test_cpu_cr SYSTEM PRIVATE ${LLVM_INCLUDE_DIR})
  if(TARGET nnzrt)
    add_dependencies(test_cpu_cr nnzrt)
  endif()
  set_tests_properties(unit.test_cpu_cr PROPERTIES TIMEOUT 900)
endif()
