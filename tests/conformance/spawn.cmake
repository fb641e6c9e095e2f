# The child-process helpers shared by the conformance, hostile and e2e harnesses (spawn.c);
# included by each of their fragments, defined once.
if(NOT TARGET nnzc_test_spawn)
  add_library(nnzc_test_spawn STATIC ${CMAKE_CURRENT_LIST_DIR}/spawn.c)
  target_include_directories(nnzc_test_spawn PUBLIC ${CMAKE_CURRENT_LIST_DIR})
endif()
