# tests/unit/test_cpu_sparse.c compiles convolutions with the cpu target's sparse kernels and
# compares them with the interpreter, so it links nnzc_cpu as well.
if(TARGET test_cpu_sparse)
  target_link_libraries(test_cpu_sparse PRIVATE nnzc_cpu)
  set_tests_properties(unit.test_cpu_sparse PROPERTIES TIMEOUT 900)
endif()
