# The accuracy report (issue 4): nnzc compile --calib DIR | --calib-generate N[:SEED].
#
# Included by tests/CMakeLists.txt, this file defines the tests; ctest runs it again in script
# mode (cmake -P, CASE=...) to execute one CLI case, so the commands and their checks live
# together. JSON reports are checked with /usr/bin/python3's json module.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  # accuracy.c is driver code (not in nnzc_core); it needs only the compiler library, so the
  # globbed unit test links it directly.
  target_sources(test_accuracy PRIVATE ${CMAKE_SOURCE_DIR}/compiler/driver/accuracy.c)
  foreach(case calib_dir generate prune errors)
    add_test(NAME accuracy.${case}
      COMMAND ${CMAKE_COMMAND} -DNNZC=$<TARGET_FILE:nnzc> -DSRC=${CMAKE_SOURCE_DIR}
              -DOUT=${CMAKE_BINARY_DIR}/accuracy/${case} -DCASE=${case} -P ${CMAKE_CURRENT_LIST_FILE})
  endforeach()
  set_tests_properties(accuracy.prune PROPERTIES SKIP_REGULAR_EXPRESSION "SKIPPED:")
  return()
endif()

# ---------------------------------------------------------------- script mode: one case
set(PY /usr/bin/python3)
set(MODEL ${SRC}/examples/tinycnn/model.onnx)
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})

# file(COPY_FILE) that creates the destination's folder
function(copy_to src dst)
  get_filename_component(dir ${dst} DIRECTORY)
  file(MAKE_DIRECTORY ${dir})
  file(COPY_FILE ${src} ${dst})
endfunction()

# An ONNX model y = Relu(x) with x: f32[n,4] (n unknown), written by the onnx package.
function(write_dynamic_model path)
  execute_process(COMMAND ${PY} -c [=[
import sys, onnx
from onnx import helper as h
g = h.make_graph([h.make_node('Relu', ['x'], ['y'])], 'dyn',
                 [h.make_tensor_value_info('x', onnx.TensorProto.FLOAT, ['n', 4])],
                 [h.make_tensor_value_info('y', onnx.TensorProto.FLOAT, ['n', 4])])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 17)]), sys.argv[1])
]=] ${path} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "writing ${path}: ${err}")
  endif()
endfunction()

# nnzc ARGS... -> RC, STDOUT, STDERR
function(nnzc)
  execute_process(COMMAND ${NNZC} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(RC "${rc}" PARENT_SCOPE)
  set(STDOUT "${out}" PARENT_SCOPE)
  set(STDERR "${err}" PARENT_SCOPE)
endfunction()

function(expect_ok what)
  if(NOT RC EQUAL 0)
    message(FATAL_ERROR "${what}: exit ${RC}\n${STDERR}")
  endif()
endfunction()

# A failure is one line on stderr, "nnzc: error: ..." matching `pattern`, a non-zero exit, and
# none of the files it would have written.
function(expect_error what pattern)
  if(RC EQUAL 0)
    message(FATAL_ERROR "${what}: succeeded, expected an error\n${STDERR}")
  endif()
  if(NOT STDERR MATCHES "^nnzc: error: [^\n]*\n$")
    message(FATAL_ERROR "${what}: stderr is not one error line:\n${STDERR}")
  endif()
  if(NOT STDERR MATCHES "${pattern}")
    message(FATAL_ERROR "${what}: the message does not match '${pattern}':\n${STDERR}")
  endif()
  foreach(f ${OUT}/out.nnzir ${OUT}/report.json)
    if(EXISTS ${f})
      message(FATAL_ERROR "${what}: failed but left ${f} behind")
    endif()
  endforeach()
endfunction()

# The table on stderr: its header lines, and both tables with aligned columns (the last column
# is right-aligned, so every row of a table has the same length).
function(expect_table what samples_pattern)
  file(WRITE ${OUT}/stderr.txt "${STDERR}")
  foreach(p "accuracy: the transformed model against the dense reference on ${samples_pattern}"
            "accuracy: reference pipeline: " "\n  layer +op +rel L2 mean +rel L2 max\n"
            "\n  output +max abs err +rel L2 mean +cosine mean +cosine min +top-1 agreement\n")
    if(NOT STDERR MATCHES "${p}")
      message(FATAL_ERROR "${what}: no '${p}' on stderr:\n${STDERR}")
    endif()
  endforeach()
  execute_process(COMMAND ${PY} -c [=[
import sys
lines = open(sys.argv[1]).read().split('\n')
for head in ('  layer ', '  output '):
    i = next(k for k, l in enumerate(lines) if l.startswith(head))
    rows = [lines[i]]
    for l in lines[i + 1:]:
        if not l.startswith('  ') or l.startswith('  ('):
            break
        rows.append(l)
    assert len(rows) >= 2, rows
    assert len({len(r) for r in rows}) == 1, 'ragged table:\n' + '\n'.join(rows)
]=] ${OUT}/stderr.txt RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: ${err}\n${STDERR}")
  endif()
endfunction()

# The report parses as JSON and the python expression `check` (over r = the report, a = its
# "accuracy" object) holds.
function(expect_json what check)
  execute_process(COMMAND ${PY} -c "
import json, sys
r = json.load(open(sys.argv[1]))
a = r['accuracy']
assert ${check}, json.dumps(a, indent=1)
" ${OUT}/report.json RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: ${err}")
  endif()
endfunction()

# Same model, no sparsity pass: every error is exactly zero.
set(EXACT "all(l['rel_l2_max'] == 0 and l['samples'] == a['calibration']['samples'] for l in a['layers']) and \
any(l['weight_layer'] and l['op'] == 'nnzc.FusedConv' for l in a['layers']) and \
all(o['max_abs_error'] == 0 and o['cosine_min'] == 1 and o['top1_agreement'] == 1 for o in a['outputs'])")

if(CASE STREQUAL "calib_dir")
  nnzc(compile ${MODEL} --emit ir -o ${OUT}/out.nnzir --calib ${SRC}/examples/tinycnn --report ${OUT}/report.json)
  expect_ok("--calib examples/tinycnn")
  expect_table("--calib examples/tinycnn" "1 calibration input from .*examples/tinycnn\n")
  expect_json("--calib examples/tinycnn" "a['calibration'] == {'source': 'folder', 'path': '${SRC}/examples/tinycnn', 'samples': 1} and ${EXACT}")
  # a flat folder (input_0.pb) and a folder of NAME.pb files are one sample each
  copy_to(${SRC}/examples/tinycnn/test_data_set_0/input_0.pb ${OUT}/flat/input_0.pb)
  copy_to(${SRC}/examples/tinycnn/test_data_set_0/input_0.pb ${OUT}/named/image.pb)
  foreach(dir flat named)
    nnzc(compile ${MODEL} --emit ir -o ${OUT}/out.nnzir --calib ${OUT}/${dir} --report ${OUT}/report.json)
    expect_ok("--calib ${dir}")
    expect_json("--calib ${dir}" "a['calibration']['samples'] == 1 and ${EXACT}")
  endforeach()
  # integer inputs come from files (NAME.pb); integer outputs get no top-1
  file(WRITE ${OUT}/int.nnzir "graph ints opset 17 {\n  input %ids: i64[4]\n  n = Neg(%ids) -> %y: i64[4]\n  output %y\n}\n")
  file(MAKE_DIRECTORY ${OUT}/ints)
  execute_process(COMMAND ${PY} -c [=[
import sys, numpy as np
from onnx import numpy_helper
open(sys.argv[1], 'wb').write(numpy_helper.from_array(np.array([3, -1, 4, 1], np.int64), 'ids').SerializeToString())
]=] ${OUT}/ints/ids.pb RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "writing ids.pb: ${err}")
  endif()
  nnzc(compile ${OUT}/int.nnzir --emit ir -o ${OUT}/out.nnzir --calib ${OUT}/ints --report ${OUT}/report.json)
  expect_ok("--calib with an integer input")
  if(NOT STDERR MATCHES "\n  \\(no layer compared: no node with a float output is in both models\\)\n  output ")
    message(FATAL_ERROR "--calib with an integer input: no 'no layer compared' line\n${STDERR}")
  endif()
  expect_json("--calib with an integer input"
    "a['layers'] == [] and a['outputs'][0]['max_abs_error'] == 0 and a['outputs'][0]['top1_agreement'] is None")

elseif(CASE STREQUAL "generate")
  nnzc(compile ${MODEL} --emit ir -o ${OUT}/out.nnzir --calib-generate 3:7 --report ${OUT}/report.json)
  expect_ok("--calib-generate 3:7")
  expect_table("--calib-generate 3:7" "3 calibration inputs \\(generated: normal\\(0,1\\), seed 7\\)")
  expect_json("--calib-generate 3:7"
    "a['calibration'] == {'source': 'generated', 'distribution': 'normal(0,1)', 'seed': 7, 'samples': 3} and ${EXACT} and \
a['outputs'][0]['top1_rows'] == 3 and a['removed_passes'] == '' and a['reference_pipeline'].startswith('shape-infer')")
  # unknown dims: --input-shape fixes them
  write_dynamic_model(${OUT}/dyn.onnx)
  nnzc(compile ${OUT}/dyn.onnx --emit ir -o ${OUT}/out.nnzir --calib-generate 2 --input-shape x=5,4 --report ${OUT}/report.json)
  expect_ok("--calib-generate with --input-shape")
  expect_json("--calib-generate with --input-shape" "a['calibration']['seed'] == 1 and a['outputs'][0]['top1_rows'] == 10")

elseif(CASE STREQUAL "prune")
  # Needs a pass that changes values; until `prune` is in the pipeline table this is skipped.
  nnzc(compile --help)
  if(NOT STDOUT MATCHES "\n  prune ")
    message("SKIPPED: no prune pass in this build")
    return()
  endif()
  nnzc(compile ${MODEL} --emit ir -o ${OUT}/out.nnzir --prune unstructured:0.5 --calib-generate 4
       --report ${OUT}/report.json)
  expect_ok("--prune unstructured:0.5")
  expect_table("--prune unstructured:0.5" "4 calibration inputs")
  if(NOT STDERR MATCHES "\\(leaves out prune\\(unstructured:0.5\\)\\)")
    message(FATAL_ERROR "--prune: the reference pipeline line does not name the pass left out\n${STDERR}")
  endif()
  expect_json("--prune unstructured:0.5"
    "a['removed_passes'] == 'prune(unstructured:0.5)' and \
any(l['weight_layer'] and l['rel_l2_max'] > 0 for l in a['layers']) and \
all(0 < o['max_abs_error'] and o['cosine_min'] < 1 for o in a['outputs'])")

elseif(CASE STREQUAL "errors")
  set(OK_ARGS ${MODEL} --emit ir -o ${OUT}/out.nnzir --report ${OUT}/report.json)
  nnzc(compile ${OK_ARGS} --calib ${OUT}/missing)
  expect_error("missing folder" "--calib .*/missing: cannot open the folder")
  file(MAKE_DIRECTORY ${OUT}/empty)
  nnzc(compile ${OK_ARGS} --calib ${OUT}/empty)
  expect_error("empty folder" "no input_0.pb, and no image.pb for input 'image'")
  # the model's output file as its input: wrong shape
  copy_to(${SRC}/examples/tinycnn/test_data_set_0/output_0.pb ${OUT}/shape/test_data_set_0/input_0.pb)
  nnzc(compile ${OK_ARGS} --calib ${OUT}/shape)
  expect_error("wrong shape" "test_data_set_0/input_0.pb: input 'image' is f32\\[1,3,32,32\\], the file holds f32\\[1,10\\]")
  # a good set, then one with two inputs for the model's one
  copy_to(${SRC}/examples/tinycnn/test_data_set_0/input_0.pb ${OUT}/count/test_data_set_0/input_0.pb)
  copy_to(${SRC}/examples/tinycnn/test_data_set_0/input_0.pb ${OUT}/count/test_data_set_1/input_0.pb)
  copy_to(${SRC}/examples/tinycnn/test_data_set_0/input_0.pb ${OUT}/count/test_data_set_1/input_1.pb)
  nnzc(compile ${OK_ARGS} --calib ${OUT}/count)
  expect_error("input count" "test_data_set_1: 2 input files \\(input_K.pb\\) for 1 graph input\n")
  # not a TensorProto
  file(WRITE ${OUT}/garbage/input_0.pb "not a tensor")
  nnzc(compile ${OK_ARGS} --calib ${OUT}/garbage)
  expect_error("garbage file" "garbage/input_0.pb")
  # integer inputs cannot be generated; unknown dims need --input-shape
  file(WRITE ${OUT}/int.nnzir "graph ints opset 17 {\n  input %ids: i64[4]\n  n = Neg(%ids) -> %y: i64[4]\n  output %y\n}\n")
  nnzc(compile ${OUT}/int.nnzir --emit ir -o ${OUT}/out.nnzir --report ${OUT}/report.json --calib-generate 2)
  expect_error("integer input" "--calib-generate: input 'ids' is i64; generated inputs are float only \\(give real data with --calib DIR\\)")
  # (an ONNX model's unknown dims are refused by the import already; a text IR keeps them)
  file(WRITE ${OUT}/dyn.nnzir "graph dyn opset 17 {\n  input %x: f32[?,4]\n  r = Relu(%x) -> %y: f32[?,4]\n  output %y\n}\n")
  nnzc(compile ${OUT}/dyn.nnzir --emit ir -o ${OUT}/out.nnzir --report ${OUT}/report.json --calib-generate 2)
  expect_error("unknown dims" "input 'x' has unknown dims \\[\\?,4\\] \\(fix them with --input-shape x=D0,D1,...\\)")
  # usage errors
  foreach(bad "--calib-generate;0" "--calib-generate;2:" "--calib-generate;2:x" "--calib-generate;x"
              "--calib-generate;2;--calib;${OUT}" "--calib;${OUT};--calib;${OUT}")
    nnzc(compile ${OK_ARGS} ${bad})
    expect_error("${bad}" "--calib")
    if(NOT RC EQUAL 2)
      message(FATAL_ERROR "${bad}: exit ${RC}, expected 2 (usage)")
    endif()
  endforeach()
  nnzc(run ${MODEL} --test-data ${SRC}/examples/tinycnn --calib ${SRC}/examples/tinycnn)
  expect_error("run --calib" "option '--calib' does not apply to 'nnzc run'")

else()
  message(FATAL_ERROR "unknown case '${CASE}'")
endif()
