# tests/unit/test_cpu_spgemm.c compiles TasdActivation and sparse-weight products with the cpu
# target and compares them with the interpreter, so it links nnzc_cpu as well.
if(TARGET test_cpu_spgemm)
  target_link_libraries(test_cpu_spgemm PRIVATE nnzc_cpu)
  set_tests_properties(unit.test_cpu_spgemm PROPERTIES TIMEOUT 900)
endif()

# Model tests: the cpu target against the interpreter on the same transformed model, whose
# reference outputs `nnzc run --target ref -o` writes first.
#  - a BERT-like encoder block (tests/models/export_encoder.py), dense against PyTorch, then pruned
#    to 90% (MatMul/Gemm weights) with the cost model's kernels and with each sparse kind forced;
#  - examples/tinycnn with TASD activations (nnzc.TasdActivation before every conv and the Gemm).
set(SPG_DIR ${CMAKE_BINARY_DIR}/spgemm)
add_test(NAME spgemm.encoder.export
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/models/export_encoder.py ${SPG_DIR})
set_tests_properties(spgemm.encoder.export PROPERTIES FIXTURES_SETUP spgemm_encoder TIMEOUT 300)
set(ENC ${SPG_DIR}/encoder)
add_test(NAME spgemm.encoder.cpu COMMAND nnzc run ${ENC}/model.onnx --test-data ${ENC} --target cpu --threads 2)
add_test(NAME spgemm.encoder.p90
  COMMAND sh -c "set -e; d=${SPG_DIR}/p90; rm -rf $d; mkdir -p $d/test_data_set_0
    $0 compile ${ENC}/model.onnx --prune unstructured:0.9 --emit onnx -o $d/model.onnx
    $0 run $d/model.onnx --target ref -i x=${ENC}/test_data_set_0/input_0.pb -o $d/ref
    cp ${ENC}/test_data_set_0/input_0.pb $d/ref/output_0.pb $d/test_data_set_0/
    for k in auto sparse sparse-lanes sparse-rows dense; do $0 run $d/model.onnx --target cpu --kernels $k --threads 2 --test-data $d; done"
  $<TARGET_FILE:nnzc>)
set_tests_properties(spgemm.encoder.cpu spgemm.encoder.p90 PROPERTIES FIXTURES_REQUIRED spgemm_encoder
  PASS_REGULAR_EXPRESSION "PASS" FAIL_REGULAR_EXPRESSION "FAIL|error:")
set(TINY ${CMAKE_SOURCE_DIR}/examples/tinycnn)
add_test(NAME spgemm.tinycnn.tasd
  COMMAND sh -c "set -e; d=${SPG_DIR}/tinycnn_tasd; rm -rf $d; mkdir -p $d/test_data_set_0
    for s in 2:4+1:4 1:4+1:8 3:16 2:32; do
      $0 run ${TINY}/model.onnx --target ref --tasd-activations $s -i image=${TINY}/test_data_set_0/input_0.pb -o $d/ref
      cp ${TINY}/test_data_set_0/input_0.pb $d/ref/output_0.pb $d/test_data_set_0/
      for c in native haswell generic; do
        $0 run ${TINY}/model.onnx --target cpu --cpu $c --tasd-activations $s --threads 2 --test-data $d --rtol 1e-4
      done
    done"
  $<TARGET_FILE:nnzc>)
set_tests_properties(spgemm.tinycnn.tasd PROPERTIES PASS_REGULAR_EXPRESSION "PASS" FAIL_REGULAR_EXPRESSION "FAIL|error:"
  TIMEOUT 300)
