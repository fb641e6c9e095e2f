# What the cpu target writes besides code (issue 3): the report, the metadata that `nnzc info`
# reads back from objects, shared objects and weights files, --weights-file, determinism, and the
# -O levels.
#   unit.test_cpu_obj   Check suite: report, round trips, byte-identical output, and the reader
#                       (compiler/driver/elf_info.c, compiled in) on truncated, corrupt and
#                       hostile files
#   cpu_obj.app         tests/cpu_obj/check.sh: objects compiled with and without --weights-file
#                       linked with plain cc and run against the reference output, set_weights
#                       rejecting every defect, nnzc info and --report from the command line,
#                       -O0..-O3 on the example model and a few node tests
if(TARGET test_cpu_obj)
  target_sources(test_cpu_obj PRIVATE ${CMAKE_SOURCE_DIR}/compiler/driver/elf_info.c)
  target_include_directories(test_cpu_obj PRIVATE ${CMAKE_SOURCE_DIR}/compiler/driver)
  target_link_libraries(test_cpu_obj PRIVATE nnzc_cpu)
  if(TARGET nnzrt)
    add_dependencies(test_cpu_obj nnzrt)
  endif()
  set_tests_properties(unit.test_cpu_obj PROPERTIES TIMEOUT 900)
endif()

if(NNZC_SANITIZE)
  set(CPU_OBJ_FLAGS "-fsanitize=address,undefined")
else()
  set(CPU_OBJ_FLAGS "")
endif()
add_test(NAME cpu_obj.app
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cpu_obj/check.sh $<TARGET_FILE:nnzc> $<TARGET_FILE:nnzrt>
    ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/cpu_obj ${CMAKE_C_COMPILER} "${CPU_OBJ_FLAGS}")
set_tests_properties(cpu_obj.app PROPERTIES TIMEOUT 900)
