/* nnzc compile: run the pipeline and write the result. Until the code generators land, the
 * outputs are the optimised model as ONNX (--emit onnx) or as text IR (--emit ir). */
#include "driver.h"

#include <string.h>

static int write_report(const DriverOptions *o, const Graph *g, const Pipeline *p, const double *secs, Diag *d)
{
	OutFile out;
	if (outfile_open(&out, o->report, d) < 0)
		return -1;
	FILE *f = out.f;
	int64_t weight_elems = 0;
	int n_const = 0;
	for (int i = 0; i < g->n_values; i++)
		if (g->values[i]->data && g->values[i]->producer == NULL) {
			int64_t n = shape_numel(&g->values[i]->shape);
			weight_elems += n > 0 ? n : 0;
			n_const++;
		}
	fprintf(f, "{\"model\": \"%s\", \"nodes\": %d, \"constants\": %d, \"weight_elements\": %lld, \"passes\": [",
		g->name, g->n_nodes, n_const, (long long)weight_elems);
	for (int i = 0; i < p->n; i++)
		fprintf(f, "%s{\"name\": \"%s\", \"seconds\": %.6f}", i ? ", " : "", p->step[i].pass->name, secs[i]);
	fprintf(f, "], \"remarks\": ");
	remarks_print_json(g, f);
	fprintf(f, "}\n");
	return outfile_commit(&out, d);
}

int cmd_compile(const DriverOptions *o, Diag *d)
{
	const char *emit = o->emit ? o->emit : strcmp(o->target, "accel") == 0 ? "accel" : "obj";
	if (o->output == NULL)
		return diag_error(d, "compile: no output file (-o OUT)");
	bool to_onnx = strcmp(emit, "onnx") == 0, to_ir = strcmp(emit, "ir") == 0;
	static const char *const cpu_emits[] = {"obj", "asm", "llvm", "shared"};
	int cpu_emit = -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(emit, cpu_emits[i]) == 0)
			cpu_emit = i;
	if (!to_onnx && !to_ir && cpu_emit < 0) {
		if (strcmp(emit, "accel") == 0)
			return diag_error(d, "--emit accel: this build has no accelerator target");
		return diag_error(d, "--emit %s: expected obj, asm, llvm, shared, onnx, accel or ir", emit);
	}
	if (cpu_emit >= 0 && strcmp(o->target, "accel") == 0)
		return diag_error(d, "--emit %s is a cpu target output", emit);
	double secs[NNZC_MAX_PIPELINE] = {0};
	Pipeline ran;
	Graph *g = load_and_optimize(o, NULL, secs, &ran, d);
	if (g == NULL)
		return -1;
	int rc;
	if (cpu_emit >= 0) {
		CpuOptions co = {.cpu = o->cpu, .opt_level = o->opt_level < 0 ? 3 : o->opt_level, .prefix = o->name,
				 .emit = (CpuEmit)cpu_emit, .output = o->output, .header = o->header};
		rc = cpu_compile(g, &co, d);
	} else if (to_onnx) {
		rc = onnx_export(g, o->output, d);
	} else {
		OutFile out;
		rc = outfile_open(&out, o->output, d);
		if (rc == 0) {
			PrintOptions po = {.elide_above = -1};
			graph_print(g, out.f, &po);
			rc = outfile_commit(&out, d);
		}
	}
	if (rc == 0 && o->report)
		rc = write_report(o, g, &ran, secs, d);
	graph_free(g);
	return rc;
}
