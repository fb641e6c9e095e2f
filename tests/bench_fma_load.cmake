# bench/fma_load.c's smoke test: one short batch of each figure (2 million multiply-adds). No rate
# is asserted (a benchmark, and the machine is shared): the test fails when the tool fails or
# does not print its JSON line with every figure.
add_test(NAME bench.fma_load COMMAND bench_fma_load 2)
set_tests_properties(bench.fma_load PROPERTIES TIMEOUT 60
  PASS_REGULAR_EXPRESSION "\\{\"lanes\": (8|16), \"fma_g\": [0-9.]+, \"fma_load_g\": [0-9.]+, \"rows_l1_gmacs\": [0-9.]+, \"rows_l2_gmacs\": [0-9.]+, \"pattern4_l1_gmacs\": [0-9.]+, \"dense_tile_gmacs\": [0-9.]+\\}")
