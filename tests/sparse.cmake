# Sparsity passes on real models (issue 4). Each engineer adds their own tests below; the scripts
# live in tests/sparse/ and need /usr/bin/python3 with torch, torchvision and onnx (exit status
# 77 skips them when those are missing).
set(SPARSE_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with torch, torchvision and onnx for tests/sparse")
set(SPARSE_DIR ${CMAKE_BINARY_DIR}/sparse)

# detect-sparsity: ResNet-50 pruned by PyTorch to 2:4 is found as nm(2,4), pruned to 90%
# unstructured as csr, and the interpreter on the packed weights matches PyTorch.
add_test(NAME sparse.detect_resnet50
  COMMAND ${SPARSE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/sparse/detect_resnet50.py $<TARGET_FILE:nnzc>
          ${SPARSE_DIR}/detect_resnet50)
set_tests_properties(sparse.detect_resnet50 PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)

# prune and convert-pattern on examples/tinycnn: nnzc's pruned weights equal a numpy
# re-implementation bit for bit (every pattern kind, layer-wise and global, keep and rules, the
# --prune-* flags), the interpreter on the encoded form equals the exported pruned model run
# dense, prune at sparsity 0 matches PyTorch, and bad specs are one-line errors. numpy + onnx only.
add_test(NAME sparse.prune_e2e
  COMMAND ${SPARSE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/sparse/prune_e2e.py $<TARGET_FILE:nnzc>
          ${CMAKE_SOURCE_DIR} ${SPARSE_DIR}/prune_e2e)
set_tests_properties(sparse.prune_e2e PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "prune_e2e: PASS")

# The measured-accuracy study (docs/sparsity.md, "Measured accuracy on a trained CNN"): trains a
# small CNN on sklearn's bundled digits, emits it dense, pruned and TASD-decomposed with
# `compile --emit onnx`, and checks: onnx.checker on every emitted model (and on pruned/decomposed
# tinycnn exports), dense accuracy >= 0.95, unstructured 0.5 within 2 points of dense, the
# patterns in the emitted weights, nnzc == PyTorch on the emitted weights, and that the table in
# docs/sparsity.md is what it measures (--check). Needs python3-sklearn (77 = skipped without).
add_test(NAME sparse.digits_study
  COMMAND ${SPARSE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/sparse/digits/digits_study.py $<TARGET_FILE:nnzc>
          --check --doc ${CMAKE_SOURCE_DIR}/docs/sparsity.md)
set_tests_properties(sparse.digits_study PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77)
