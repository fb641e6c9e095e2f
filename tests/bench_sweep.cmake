# The sparsity sweep's smoke test (bench/sparse_sweep.py --quick).
# It runs the whole path — models made with PyTorch, checks of the cpu target against the
# interpreter, ORT and nnzc timed, per layer, the SVG — on MobileNetV2 in --quick mode (about
# 20 s after the first run, which makes the models). No timing is asserted: the test fails only
# when something does not run or an output does not match the interpreter. Skipped (77) without
# torch, node or an installed onnxruntime-node (bench/ort: npm ci).
add_test(NAME bench.sweep_quick
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/bench/sparse_sweep.py --quick --skip-missing
          --nnzc $<TARGET_FILE:nnzc> --workdir ${CMAKE_BINARY_DIR}/bench/sweep
          --out ${CMAKE_BINARY_DIR}/bench/sweep-quick.json --svg-dir ${CMAKE_BINARY_DIR}/bench)
set_tests_properties(bench.sweep_quick PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
