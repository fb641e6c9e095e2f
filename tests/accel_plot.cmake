# The accelerator's report tools: bench/accel_plot.py (per-layer cycles/energy SVG from two
# reports of the example model, stc and dense: an SVG with one bar per layer, report and panel).
add_test(NAME accel.plot
  COMMAND sh -c "set -e; d=$(mktemp -d); trap 'rm -rf $d' EXIT; \
    for p in stc dense; do $0 bench $1/examples/tinycnn/model.onnx --target accel --accel-config $p \
      --iters 1 --report $d/$p.json >/dev/null 2>&1; done; \
    /usr/bin/python3 $1/bench/accel_plot.py $d/stc.json $d/dense.json -o $d/l.svg; \
    grep -q '^<svg' $d/l.svg; n=$(grep -c '<rect x=.*<title>' $d/l.svg); \
    echo \"$n bars\"; test $n -ge 8"
  $<TARGET_FILE:nnzc> ${CMAKE_SOURCE_DIR})

# bench/accel_study.py end to end on the encoder block and two presets, writing its docs section
# into a scratch copy: the script that regenerates docs/accelerator.md's study tables still runs.
add_test(NAME accel.study_quick
  COMMAND sh -c "set -e; d=$(mktemp -d); trap 'rm -rf $d' EXIT; printf '# x\\n' > $d/doc.md; \
    /usr/bin/python3 $1/bench/accel_study.py --nnzc $0 --models encoder --presets dense,stc \
      --workdir $d/w --write-docs --docs $d/doc.md >/dev/null; \
    grep -q 'study:end' $d/doc.md; grep -q '^| nm:2:4 |' $d/doc.md"
  $<TARGET_FILE:nnzc> ${CMAKE_SOURCE_DIR})
set_tests_properties(accel.study_quick PROPERTIES TIMEOUT 600)
