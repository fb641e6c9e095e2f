# tests/unit/test_cpu_cm.c compiles graphs with the cpu target (data movement, elementwise ops,
# dtype boundary) and compares them with the interpreter, so it links nnzc_cpu as well.
if(TARGET test_cpu_cm)
  target_link_libraries(test_cpu_cm PRIVATE nnzc_cpu)
  set_tests_properties(unit.test_cpu_cm PROPERTIES TIMEOUT 900)
endif()
