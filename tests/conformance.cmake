# ONNX backend node tests through `nnzc run` (tests/conformance/conformance.c).
# conformance: the reference target; writes conformance.json and conformance_unsupported.txt into
# the build directory.
# conformance.cpu: every test with --target ref and then --target cpu; fails when a test that
# passes with ref does not pass with cpu (tests/conformance/exclusions_cpu.txt lists the exceptions);
# writes conformance_cpu.json.
# NNZC_CONFORMANCE_JOBS=N (default 2) runs N tests in parallel; see the top of conformance.c.
include(${CMAKE_CURRENT_LIST_DIR}/conformance/spawn.cmake)

add_executable(conformance ${CMAKE_CURRENT_SOURCE_DIR}/conformance/conformance.c)
target_link_libraries(conformance PRIVATE nnzc_test_spawn PkgConfig::CHECK)
target_compile_definitions(conformance PRIVATE
  NNZC_PATH="$<TARGET_FILE:nnzc>" NNZC_SOURCE_DIR="${CMAKE_SOURCE_DIR}" NNZC_BINARY_DIR="${CMAKE_BINARY_DIR}")
add_dependencies(conformance nnzc)
# the cpu target links what it compiles against libnnzrt (conformance.cpu, conformance.freeze)
if(TARGET nnzrt)
  add_dependencies(conformance nnzrt)
endif()
add_test(NAME conformance COMMAND conformance)
# 932 tests; most take milliseconds, a few seconds (under the sanitizers, more).
set_tests_properties(conformance PROPERTIES TIMEOUT 3600 SKIP_RETURN_CODE 77
  ENVIRONMENT "CK_FORK=yes")
# The cpu target compiles each model to a shared object: ~20 s more in Release, a few minutes
# under the sanitizers.
add_test(NAME conformance.cpu COMMAND conformance --target cpu)
set_tests_properties(conformance.cpu PROPERTIES TIMEOUT 3600 SKIP_RETURN_CODE 77
  ENVIRONMENT "CK_FORK=yes")
# Inputs that decide shapes frozen from the data for --target cpu (tests/conformance/freeze/).
add_test(NAME conformance.freeze COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/conformance/freeze/check_freeze.sh
  $<TARGET_FILE:nnzc> ${CMAKE_CURRENT_SOURCE_DIR}/conformance/freeze)
