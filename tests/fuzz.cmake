# libFuzzer target for the model loader (tests/fuzz/fuzz_import.c), only with -DNNZC_FUZZ=ON
# and CC=clang-19. The compiler library is built a second time here with coverage
# instrumentation and ASan/UBSan, so the rest of the build stays as configured. The target has
# a structure-aware mutator (fuzz/onnx_mutator.c) next to libFuzzer's byte-level one.
# ctest fuzz.import runs it for 60 s from a seed corpus of node-test models, the example model
# and the hostile corpus, with a dictionary of op and attribute names (fuzz/onnx.dict, written
# by fuzz/gen_dict.py); new inputs go to build/fuzz/corpus, crash reproducers to build/fuzz/.
if(NOT NNZC_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "NNZC_FUZZ=ON needs clang (configure with CC=clang-19)")
endif()

set(FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -g)
add_library(nnzc_fuzz_core STATIC ${NNZC_LIB_SOURCES})
target_include_directories(nnzc_fuzz_core PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR})
target_link_libraries(nnzc_fuzz_core PUBLIC onnx_proto m)
target_compile_options(nnzc_fuzz_core PRIVATE ${FUZZ_FLAGS})

add_executable(fuzz_import ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_import.c
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/onnx_mutator.c)
target_compile_options(fuzz_import PRIVATE ${FUZZ_FLAGS})
target_link_options(fuzz_import PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_import PRIVATE nnzc_fuzz_core)

# Seeds: every ONNX node-test model (about 1,000 files of a few hundred bytes: each reaches its
# op's import, canonicalisation and inference code, which mutations of a few seeds rarely do),
# the example model and the hostile corpus.
set(FUZZ_DIR ${CMAKE_BINARY_DIR}/fuzz)
file(MAKE_DIRECTORY ${FUZZ_DIR}/seeds ${FUZZ_DIR}/corpus)
file(GLOB NODE_TEST_DIRS /usr/share/libonnx-testdata/data/node/test_*)
foreach(dir ${NODE_TEST_DIRS})
  get_filename_component(t ${dir} NAME)
  if(EXISTS ${dir}/model.onnx)
    file(COPY_FILE ${dir}/model.onnx ${FUZZ_DIR}/seeds/${t}.onnx ONLY_IF_DIFFERENT)
  endif()
endforeach()
if(EXISTS ${CMAKE_SOURCE_DIR}/examples/tinycnn/model.onnx)
  file(COPY_FILE ${CMAKE_SOURCE_DIR}/examples/tinycnn/model.onnx ${FUZZ_DIR}/seeds/tinycnn.onnx ONLY_IF_DIFFERENT)
endif()
file(GLOB HOSTILE_MODELS ${CMAKE_CURRENT_SOURCE_DIR}/hostile/corpus/*.onnx)
foreach(f ${HOSTILE_MODELS})
  get_filename_component(n ${f} NAME)
  file(COPY_FILE ${f} ${FUZZ_DIR}/seeds/hostile_${n} ONLY_IF_DIFFERENT)
endforeach()

add_test(NAME fuzz.import
  COMMAND fuzz_import -max_total_time=60 -rss_limit_mb=2048 -timeout=30 -print_final_stats=1
    -dict=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/onnx.dict
    -artifact_prefix=${FUZZ_DIR}/ ${FUZZ_DIR}/corpus ${FUZZ_DIR}/seeds)
set_tests_properties(fuzz.import PROPERTIES TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1;UBSAN_OPTIONS=print_stacktrace=1")

# fuzz.nnza: the accelerator runtime's loader and config parser (runtime/accel_*.c, with the
# runtime's allocation and message helpers from status.c), 60 s from the hostile .nnza corpus, a
# valid seed program and the presets' config texts.
add_executable(fuzz_nnza ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_nnza.c
  ${CMAKE_SOURCE_DIR}/runtime/accel_config.c ${CMAKE_SOURCE_DIR}/runtime/accel_isa.c
  ${CMAKE_SOURCE_DIR}/runtime/accel_load.c ${CMAKE_SOURCE_DIR}/runtime/status.c
  ${CMAKE_SOURCE_DIR}/runtime/tensor.c)
target_include_directories(fuzz_nnza PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/runtime)
target_compile_definitions(fuzz_nnza PRIVATE NNZRT_VERSION_STRING="${PROJECT_VERSION}")
target_compile_options(fuzz_nnza PRIVATE ${FUZZ_FLAGS})
target_link_options(fuzz_nnza PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_nnza PRIVATE m pthread)
file(MAKE_DIRECTORY ${FUZZ_DIR}/nnza-seeds ${FUZZ_DIR}/nnza-corpus)
file(GLOB NNZA_SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/hostile/nnza/corpus/*.nnza ${CMAKE_CURRENT_SOURCE_DIR}/hostile/nnza/seed.nnza)
foreach(f ${NNZA_SEEDS})
  get_filename_component(n ${f} NAME)
  file(COPY_FILE ${f} ${FUZZ_DIR}/nnza-seeds/${n} ONLY_IF_DIFFERENT)
endforeach()
add_test(NAME fuzz.nnza
  COMMAND fuzz_nnza -max_total_time=60 -rss_limit_mb=2048 -timeout=30 -print_final_stats=1
    -artifact_prefix=${FUZZ_DIR}/nnza- ${FUZZ_DIR}/nnza-corpus ${FUZZ_DIR}/nnza-seeds)
set_tests_properties(fuzz.nnza PROPERTIES TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1;UBSAN_OPTIONS=print_stacktrace=1")
