# End to end: torchvision ResNet-50 and MobileNetV2 (random weights, fixed seed) through
# `nnzc run --target ref`, against PyTorch's output, with the default pipeline and with
# shape inference only; and compiled for the cpu target (2 threads), against PyTorch's output
# and the interpreter's at once (e2e --vs-ref), within rtol 1e-3. The models are exported at test
# time into the build directory by the fixture test e2e.export (cached: re-exported only when
# the script or the versions change).
# Needs /usr/bin/python3 with torch and torchvision; without them every e2e test is skipped.
set(E2E_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with torch, torchvision and onnx for tests/e2e")
set(E2E_DIR ${CMAKE_BINARY_DIR}/e2e)

include(${CMAKE_CURRENT_LIST_DIR}/conformance/spawn.cmake)
add_executable(e2e ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e.c)
# nnzrt reads the input names from the .pb files for --vs-ref; `nnzc run --target cpu` links
# the compiled model with lib/libnnzrt.a, so that must be built too
target_link_libraries(e2e PRIVATE nnzc_test_spawn nnzrt PkgConfig::CHECK)
target_compile_definitions(e2e PRIVATE NNZC_PATH="$<TARGET_FILE:nnzc>")
add_dependencies(e2e nnzc)

add_test(NAME e2e.export
  COMMAND ${E2E_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/export_torchvision.py ${E2E_DIR})
set_tests_properties(e2e.export PROPERTIES FIXTURES_SETUP e2e_models TIMEOUT 900 SKIP_RETURN_CODE 77)

foreach(model resnet50 mobilenetv2)
  # default pipeline (the optimised one)
  add_test(NAME e2e.${model} COMMAND e2e ${E2E_DIR}/${model} --target ref --rtol 1e-3)
  # shape inference only: the unoptimised graph against the same reference
  add_test(NAME e2e.${model}.unopt
    COMMAND e2e ${E2E_DIR}/${model} --target ref --rtol 1e-3 --passes shape-infer)
  set_tests_properties(e2e.${model} e2e.${model}.unopt PROPERTIES
    FIXTURES_REQUIRED e2e_models TIMEOUT 1900 SKIP_RETURN_CODE 77 ENVIRONMENT "CK_FORK=yes")
  # compiled for the host cpu: the interpreter's run, then the compiled one against both
  add_test(NAME e2e.${model}.cpu
    COMMAND e2e ${E2E_DIR}/${model} --vs-ref --target cpu --threads 2 --rtol 1e-3)
  set_tests_properties(e2e.${model}.cpu PROPERTIES
    FIXTURES_REQUIRED e2e_models TIMEOUT 3700 SKIP_RETURN_CODE 77 ENVIRONMENT "CK_FORK=yes")
endforeach()

# ResNet-50 on every accelerator preset (the simulator runs the whole network; the dense weights
# run as dense on every preset), against the interpreter's output and PyTorch's, rtol 1e-3.
foreach(preset dense stc vegeta demm gs)
  add_test(NAME e2e.resnet50.accel.${preset}
    COMMAND e2e ${E2E_DIR}/resnet50 --vs-ref --target accel --accel-config ${preset} --rtol 1e-3)
  set_tests_properties(e2e.resnet50.accel.${preset} PROPERTIES
    FIXTURES_REQUIRED e2e_models TIMEOUT 1900 SKIP_RETURN_CODE 77 ENVIRONMENT "CK_FORK=yes")
endforeach()
