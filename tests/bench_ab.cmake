# bench/ab_builds.py's smoke test: both sides of an A/B on the shipped tinycnn example, the base
# the cost model's choice and the new side forced dense, two rounds of three inferences, no
# wait for a fair machine. No timing is asserted: the test fails when a run fails or the
# whole-network and per-layer comparisons are not printed.
add_test(NAME bench.ab_builds
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/bench/ab_builds.py ${CMAKE_SOURCE_DIR}/examples/tinycnn/model.onnx
          --base $<TARGET_FILE:nnzc> --new $<TARGET_FILE:nnzc> --new-flag=--kernels --new-flag=dense
          --rounds 2 --iters 3 --quiet-wait 0 --out ${CMAKE_BINARY_DIR}/bench/ab-smoke.json)
set_tests_properties(bench.ab_builds PROPERTIES TIMEOUT 300
  PASS_REGULAR_EXPRESSION "whole network: base [0-9.]+ ms, new [0-9.]+ ms.*sum of the per-layer medians: base")
