/* libFuzzer target for the model loader: bytes -> onnx_import_buffer -> the default pipeline
 * -> graph_print, freeing everything. Any input may be rejected with a diagnostic; what must
 * never happen is a crash, a sanitizer report, a leak, a hang or an absurd allocation.
 * Mutations: onnx_mutator.c (field-level changes to decoded models, and libFuzzer's own).
 *
 * Built only with -DNNZC_FUZZ=ON and CC=clang-19 (tests/fuzz.cmake); run as ctest fuzz.import
 * or by hand: build-fuzz/bin/fuzz_import -max_total_time=600 CORPUS_DIR SEED_DIR */
#include "nnzc/ir.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (devnull == NULL) {
		devnull = fopen("/dev/null", "w");
		if (devnull == NULL)
			return 0;
	}
	Diag d = {0};
	ImportOptions opt = {0};
	/* External data is resolved against the model's folder: one that does not exist keeps
	 * runs deterministic and away from the files around the fuzzer. */
	Graph *g = onnx_import_buffer(data, size, "/nonexistent/nnzc-fuzz/model.onnx", &opt, &d);
	if (g == NULL)
		return 0;
	Pipeline p;
	Instruments ins = {.print_to = devnull, .verify = true};
	if (pipeline_parse(default_pipeline, &p, &d) == 0 && pipeline_run(g, &p, &ins, &d) == 0) {
		PrintOptions po = {.elide_above = 16};
		graph_print(g, devnull, &po);
	}
	graph_free(g);
	return 0;
}
