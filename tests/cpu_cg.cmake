# tests/unit/test_cpu_cg.c compiles matrix products and convolutions with the cpu target and
# compares them with the interpreter, so it links nnzc_cpu (and needs libnnzrt.a to load them).
if(TARGET test_cpu_cg)
  target_link_libraries(test_cpu_cg PRIVATE nnzc_cpu)
  if(TARGET nnzrt)
    add_dependencies(test_cpu_cg nnzrt)
  endif()
  set_tests_properties(unit.test_cpu_cg PROPERTIES TIMEOUT 900)
endif()
