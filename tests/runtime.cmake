# libnnzrt (runtime/): its Check suite, linked with nnzrt only, and the install test: the
# component is installed into a prefix inside the build tree (fixture runtime.install), then an
# application outside the tree is built against it with find_package and with pkg-config, and
# run on a tensor file of the ONNX node tests.
set(NNZRT_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/runtime)

add_executable(test_nnzrt ${NNZRT_TEST_DIR}/test_nnzrt.c)
target_link_libraries(test_nnzrt PRIVATE nnzrt PkgConfig::CHECK)
target_compile_definitions(test_nnzrt PRIVATE
  NNZRT_TEST_TMPDIR="${CMAKE_CURRENT_BINARY_DIR}/nnzrt-tmp" NNZRT_TEST_VERSION="${PROJECT_VERSION}")
add_test(NAME unit.test_nnzrt COMMAND test_nnzrt)
set_tests_properties(unit.test_nnzrt PROPERTIES ENVIRONMENT "CK_FORK=yes" TIMEOUT 600)

# The shared library exports the nnzrt_* API and nothing else.
add_test(NAME runtime.exports COMMAND ${CMAKE_COMMAND}
  -DNM=${CMAKE_NM} -DLIB=$<TARGET_FILE:nnzrt_shared> -P ${NNZRT_TEST_DIR}/check_exports.cmake)

set(NNZRT_PREFIX ${CMAKE_CURRENT_BINARY_DIR}/nnzrt-install)
set(NNZRT_INPUT
  /usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding/test_data_set_0/input_0.pb)
if(NNZC_SANITIZE)
  set(NNZRT_CONSUMER_FLAGS "-fsanitize=address,undefined")
else()
  set(NNZRT_CONSUMER_FLAGS "")
endif()
add_test(NAME runtime.install
  COMMAND sh ${NNZRT_TEST_DIR}/install_check.sh install ${CMAKE_BINARY_DIR} ${NNZRT_PREFIX})
set_tests_properties(runtime.install PROPERTIES FIXTURES_SETUP nnzrt_installed
  ENVIRONMENT "CMAKE=${CMAKE_COMMAND}")
add_test(NAME runtime.install.cmake
  COMMAND sh ${NNZRT_TEST_DIR}/install_check.sh cmake ${NNZRT_PREFIX}
    ${CMAKE_CURRENT_BINARY_DIR}/nnzrt-consumer-cmake ${NNZRT_TEST_DIR}/install_consumer
    ${CMAKE_C_COMPILER} ${NNZRT_INPUT} "${NNZRT_CONSUMER_FLAGS}")
add_test(NAME runtime.install.pkgconfig
  COMMAND sh ${NNZRT_TEST_DIR}/install_check.sh pkgconfig ${NNZRT_PREFIX}
    ${CMAKE_CURRENT_BINARY_DIR}/nnzrt-consumer-pc ${NNZRT_TEST_DIR}/install_consumer
    ${CMAKE_C_COMPILER} ${NNZRT_INPUT} "${NNZRT_CONSUMER_FLAGS}" ${CMAKE_INSTALL_LIBDIR}
    ${PROJECT_VERSION})
set_tests_properties(runtime.install.cmake runtime.install.pkgconfig PROPERTIES
  FIXTURES_REQUIRED nnzrt_installed TIMEOUT 300 ENVIRONMENT "CMAKE=${CMAKE_COMMAND}")
