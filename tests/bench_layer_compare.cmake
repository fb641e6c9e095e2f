# bench/layer_compare.py's smoke test: two per-layer reports of the shipped tinycnn example (the
# cost model's choice and --kernels dense) compared layer by layer. No timing is asserted: the
# test fails when a run fails or the comparison's summary is not printed.
add_test(NAME bench.layer_compare
  COMMAND sh -c "set -e; d=\"$1\"; m=\"$2\"; mkdir -p \"$d\"
                 \"$3\" bench \"$m\" --target cpu --iters 3 --per-layer --report \"$d/auto.json\" > /dev/null
                 \"$3\" bench \"$m\" --target cpu --iters 3 --per-layer --kernels dense --report \"$d/dense.json\" > /dev/null
                 /usr/bin/python3 \"$4\" \"$m\" \"$d/auto.json\" \"$d/dense.json\""
          sh ${CMAKE_BINARY_DIR}/bench/layer-compare ${CMAKE_SOURCE_DIR}/examples/tinycnn/model.onnx
          $<TARGET_FILE:nnzc> ${CMAKE_SOURCE_DIR}/bench/layer_compare.py)
set_tests_properties(bench.layer_compare PROPERTIES TIMEOUT 300
  PASS_REGULAR_EXPRESSION "sum of the layers [0-9.]+ ms; the faster run per layer would save")
