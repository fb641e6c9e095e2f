# examples/: the app examples/classify configured, built and run the way a user would, on the
# shipped model examples/tinycnn, and the README's main job:
#   examples.main_job            examples/tinycnn/run.sh BUILD_DIR, as tools/setup.sh runs it
#   examples.classify.host       the app against this build tree, the model compiled for the host
#   examples.classify.generic    the same with NNZC_CPU=generic
#   examples.classify.installed  the app against libnnzrt installed into a prefix (find_package)
# Every run must print class 6 first (PyTorch's argmax, examples/tinycnn/make_model.py) and PASS
# against PyTorch's output. The classify tests also link the object nnzc wrote with plain cc and
# libnnzrt.a, run that program too, and check with ldd that neither program needs LLVM.
#
# This file is both the ctest registration (included by tests/CMakeLists.txt) and, run with
# cmake -P, the driver of those tests (below).
if(NOT CMAKE_SCRIPT_MODE_FILE)
  if(NNZC_SANITIZE)
    # libnnzrt is instrumented then: whatever links it needs the sanitizers' run-time support
    set(EXAMPLES_SAN_FLAGS "-fsanitize=address,undefined")
  else()
    set(EXAMPLES_SAN_FLAGS "")
  endif()
  set(EXAMPLES_DRIVER ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR} -DBUILD=${CMAKE_BINARY_DIR}
    -DCC=${CMAKE_C_COMPILER} -DSAN_FLAGS=${EXAMPLES_SAN_FLAGS})
  add_test(NAME examples.main_job
    COMMAND ${EXAMPLES_DRIVER} -DMODE=main_job -P ${CMAKE_CURRENT_LIST_FILE})
  foreach(variant host generic installed)
    add_test(NAME examples.classify.${variant}
      COMMAND ${EXAMPLES_DRIVER} -DMODE=${variant} -DWORK=${CMAKE_CURRENT_BINARY_DIR}/examples-${variant}
        -DLIBDIR=${CMAKE_INSTALL_LIBDIR} -P ${CMAKE_CURRENT_LIST_FILE})
  endforeach()
  set_tests_properties(examples.main_job examples.classify.host examples.classify.generic
    examples.classify.installed PROPERTIES TIMEOUT 600)
  return()
endif()

# ---------------------------------------------------------------- driver (cmake -P)
#   -DMODE=main_job|host|generic|installed -DSRC=SOURCE_DIR -DBUILD=BUILD_DIR -DCC=COMPILER
#   -DSAN_FLAGS=FLAGS (may be empty) [-DWORK=DIR -DLIBDIR=lib]   (WORK: all but main_job)
set(data ${SRC}/examples/tinycnn/test_data_set_0)

# Runs a command; fails the test unless it exits 0. OUT/ERR receive its stdout and stderr.
function(run out err)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  string(REPLACE ";" " " cmd "${ARGN}")
  message("$ ${cmd}\n${o}${e}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "exit status ${rc}: ${cmd}")
  endif()
  set(${out} "${o}" PARENT_SCOPE)
  set(${err} "${e}" PARENT_SCOPE)
endfunction()

# The app's output: the shipped model's class 6 first, and PASS as the last line.
function(check_output what text)
  if(NOT text MATCHES "\n +1\\. class 6 +0\\.15[0-9]+\n")
    message(FATAL_ERROR "${what}: class 6 is not the top class")
  endif()
  if(NOT text MATCHES "\nPASS\n$")
    message(FATAL_ERROR "${what}: the last line is not PASS")
  endif()
endfunction()

# No libLLVM among the shared objects a program needs, directly or not.
function(check_no_llvm exe)
  run(deps err ldd ${exe})
  if(deps MATCHES "LLVM")
    message(FATAL_ERROR "${exe} needs LLVM at run time")
  endif()
endfunction()

if(MODE STREQUAL "main_job")
  # run.sh uses the cmake that runs this script
  set(ENV{CMAKE} ${CMAKE_COMMAND})
  run(out err bash ${SRC}/examples/tinycnn/run.sh ${BUILD})
  check_output("run.sh" "${out}")
  if(NOT err MATCHES "IR after dce" OR NOT err MATCHES "pass execution timing report")
    message(FATAL_ERROR "run.sh did not show the IR after every pass and the pass times")
  endif()
  check_no_llvm(${BUILD}/examples/classify/classify)
  return()
endif()

file(REMOVE_RECURSE ${WORK})
set(app ${WORK}/classify)
set(args -DCMAKE_C_COMPILER=${CC} -DCMAKE_BUILD_TYPE=Debug)
if(MODE STREQUAL "installed")
  # Only the runtime is installed (nnzc has no install rule): nnzc comes from the build tree.
  # An installed package carries no sanitizer flags, so they are given as a user would.
  set(prefix ${WORK}/prefix)
  run(out err ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix} --component nnzrt)
  list(APPEND args -DCMAKE_PREFIX_PATH=${prefix} -DNNZC_EXECUTABLE=${BUILD}/bin/nnzc
    "-DCMAKE_C_FLAGS=-Werror ${SAN_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${SAN_FLAGS}")
  set(rt_include ${prefix}/include)
  set(rt_lib ${prefix}/${LIBDIR}/libnnzrt.a)
else()
  # against the build tree: the app's CMake finds out about the sanitizers by itself
  list(APPEND args -DNNZC_BUILD_DIR=${BUILD} -DCMAKE_C_FLAGS=-Werror)
  if(MODE STREQUAL "generic")
    list(APPEND args -DNNZC_CPU=generic)
  endif()
  set(rt_include ${SRC}/include)
  set(rt_lib ${BUILD}/lib/libnnzrt.a)
endif()
run(out err ${CMAKE_COMMAND} -S ${SRC}/examples/classify -B ${app} ${args})
run(out err ${CMAKE_COMMAND} --build ${app})
run(out err ${app}/classify ${data}/input_0.pb --expect ${data}/output_0.pb --top 3 --threads 2)
check_output("classify" "${out}")
check_no_llvm(${app}/classify)

# labels replace "class N"
set(labels "")
foreach(i RANGE 9)
  string(APPEND labels "label-${i}\n")
endforeach()
file(WRITE ${WORK}/labels.txt "${labels}")
run(out err ${app}/classify ${data}/input_0.pb --labels ${WORK}/labels.txt --top 1 --threads 1)
if(NOT out MATCHES "\n +1\\. label-6 ")
  message(FATAL_ERROR "--labels: label-6 is not the top class")
endif()

# A reference that does not fit is one line on stderr and exit status 1.
execute_process(COMMAND ${app}/classify ${data}/input_0.pb --expect ${data}/input_0.pb
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("classify --expect input_0.pb: exit ${rc}: ${err}")
if(NOT rc EQUAL 1 OR NOT err MATCHES "^classify: error: [^\n]*\n$")
  message(FATAL_ERROR "a mismatched --expect file should give one error line and exit status 1")
endif()

# The same object linked by hand with plain cc: no CMake, no LLVM.
separate_arguments(san UNIX_COMMAND "${SAN_FLAGS}")
run(out err ${CC} ${san} -std=c11 -Wall -Wextra -Werror -I${app} -I${rt_include} -DMODEL_NAME=model
  ${SRC}/examples/classify/classify.c ${app}/model.o ${rt_lib} -lpthread -lm -o ${WORK}/classify_cc)
run(out err ${WORK}/classify_cc ${data}/input_0.pb --expect ${data}/output_0.pb --top 3 --threads 2)
check_output("classify linked with cc" "${out}")
check_no_llvm(${WORK}/classify_cc)
