# Dynamic-shape models shaped like real deployments (PaddleOCR-style detector and recogniser, a
# transformer MLP), exported by PyTorch with reference outputs at test time (tests/models/).
# Each runs through the default pipeline, through shape inference only, and through a compile to
# ONNX (dims fixed by --input-shape) whose output is run again.
set(DYN_DIR ${CMAKE_BINARY_DIR}/models)
add_test(NAME models.export
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/models/export_dynamic.py ${DYN_DIR})
set_tests_properties(models.export PROPERTIES FIXTURES_SETUP dynamic_models TIMEOUT 300)

foreach(m ocr_det ocr_rec mlp)
  set(dir ${DYN_DIR}/${m})
  add_test(NAME models.${m} COMMAND nnzc run ${dir}/model.onnx --test-data ${dir})
  add_test(NAME models.${m}.unopt COMMAND nnzc run ${dir}/model.onnx --test-data ${dir} --passes shape-infer)
  add_test(NAME models.${m}.via_onnx
    COMMAND sh -c "$0 compile ${dir}/model.onnx --input-shape \"$(cat ${dir}/input_shape.txt)\" --emit onnx -o ${dir}/compiled.onnx && $0 run ${dir}/compiled.onnx --test-data ${dir}"
            $<TARGET_FILE:nnzc>)
  set_tests_properties(models.${m} models.${m}.unopt models.${m}.via_onnx
    PROPERTIES FIXTURES_REQUIRED dynamic_models PASS_REGULAR_EXPRESSION "\nPASS\n?$")
endforeach()
