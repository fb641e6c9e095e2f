# ONNX backend node tests through `nnzc run` (tests/conformance/conformance.c).
# Writes conformance.json and conformance_unsupported.txt into the build directory.
# NNZC_CONFORMANCE_JOBS=N (default 2) runs N tests in parallel; see the top of conformance.c.
include(${CMAKE_CURRENT_LIST_DIR}/conformance/spawn.cmake)

add_executable(conformance ${CMAKE_CURRENT_SOURCE_DIR}/conformance/conformance.c)
target_link_libraries(conformance PRIVATE nnzc_test_spawn PkgConfig::CHECK)
target_compile_definitions(conformance PRIVATE
  NNZC_PATH="$<TARGET_FILE:nnzc>" NNZC_SOURCE_DIR="${CMAKE_SOURCE_DIR}" NNZC_BINARY_DIR="${CMAKE_BINARY_DIR}")
add_dependencies(conformance nnzc)
add_test(NAME conformance COMMAND conformance)
# 932 tests; most take milliseconds, a few seconds (under the sanitizers, more).
set_tests_properties(conformance PROPERTIES TIMEOUT 3600 SKIP_RETURN_CODE 77
  ENVIRONMENT "CK_FORK=yes")
