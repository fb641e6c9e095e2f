# Hostile inputs through the CLI (tests/hostile/hostile.c over tests/hostile/cases.txt).
# The corpus is committed; tests/hostile/gen_hostile.py regenerates it.
# In a -DNNZC_SANITIZE=ON build nnzc runs under ASan/UBSan and any report fails the case.
include(${CMAKE_CURRENT_LIST_DIR}/conformance/spawn.cmake)
add_executable(hostile ${CMAKE_CURRENT_SOURCE_DIR}/hostile/hostile.c)
target_link_libraries(hostile PRIVATE nnzc_test_spawn PkgConfig::CHECK)
target_compile_definitions(hostile PRIVATE
  NNZC_PATH="$<TARGET_FILE:nnzc>" NNZC_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_dependencies(hostile nnzc)
add_test(NAME hostile COMMAND hostile)
# detect_leaks: an error path that leaks is a finding too; the report lands in stderr.
set_tests_properties(hostile PROPERTIES TIMEOUT 1200
  ENVIRONMENT "CK_FORK=yes;ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1")
