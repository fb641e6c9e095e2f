/* nnzc compile: run the pipeline and write the result: native code through the cpu target
 * (--emit obj|asm|llvm|shared, with --header and --weights-file), the optimised model as ONNX
 * (--emit onnx), as text IR (--emit ir), or as an accelerator program (--target accel, --emit accel:
 * a .nnza for --accel-config); the JSON report (--report) and the code generator's
 * phase times (--time-passes). */
#include "driver.h"
#include "nnzrt_accel.h"

#include <stdlib.h>
#include <string.h>

/* a JSON array of dims, [1,3,224,224] */
static void json_shape(const Shape *s, FILE *f)
{
	fputc('[', f);
	for (int i = 0; i < s->rank; i++)
		fprintf(f, "%s%lld", i ? "," : "", (long long)s->dim[i]);
	fputc(']', f);
}

static void json_shapes(Value *const *v, int n, FILE *f)
{
	fputc('[', f);
	for (int i = 0, k = 0; i < n; i++) {
		if (v[i] == NULL)
			continue;
		fputs(k++ ? ", " : "", f);
		json_shape(&v[i]->shape, f);
	}
	fputc(']', f);
}

/* The weight operand of a layer (input 1 of a product or convolution), as nnzc info shows it. */
static const Value *layer_weight(const Node *n)
{
	if (n->n_in < 2 || n->in[1] == NULL || !value_is_const(n->in[1]))
		return NULL;
	bool product = n->op == OP_Conv || n->op == OP_ConvTranspose || n->op == OP_Gemm || n->op == OP_MatMul ||
		       n->op == OP_FusedConv || n->op == OP_FusedGemm;
	return product ? n->in[1] : NULL;
}

/* What the cpu target built: the code generator's phases, the memory plan, the weights, and
 * per layer its shapes, weight bytes and encoding, kernel and FLOPs. */
static void write_cpu_report(const Graph *g, const CpuReport *r, const char *weights_file, FILE *f)
{
	static const char *const keys[CPU_PHASES] = {"emit_ir", "optimise", "emit_object"};
	fprintf(f, ", \"target\": \"cpu\", \"codegen\": {\"seconds\": {");
	for (int i = 0; i < CPU_PHASES; i++)
		fprintf(f, "%s\"%s\": %.6f", i ? ", " : "", keys[i], r->seconds[i]);
	fprintf(f, "}, \"tasks\": %d, \"functions\": %d}", r->n_tasks, r->n_functions);
	fprintf(f, ", \"cost_model\": ");
	json_print_string(r->cost_model, f);
	fprintf(f, ", \"cost_model_threads\": %d", r->cost_threads);
	fprintf(f, ", \"memory\": {\"workspace_bytes\": %lld, \"without_reuse_bytes\": %lld, \"buffers\": %d}",
		(long long)r->workspace, (long long)r->naive_workspace, r->n_buffers);
	fprintf(f, ", \"weight_bytes\": %lld, \"weights_file\": ", (long long)r->weight_bytes);
	if (weights_file)
		json_print_string(weights_file, f);
	else
		fputs("null", f);
	fprintf(f, ", \"layers\": [");
	for (int k = 0; k < r->n_layers && k < g->n_nodes; k++) {
		const Node *n = g->nodes[k];
		const CpuLayer *l = &r->layers[k];
		const Value *w = layer_weight(n);
		fprintf(f, "%s\n  {\"name\": ", k ? "," : "");
		json_print_string(n->name, f);
		fprintf(f, ", \"op\": \"%s\", \"inputs\": ", op_name(n->op));
		json_shapes(n->in, n->n_in, f);
		fprintf(f, ", \"outputs\": ");
		json_shapes(n->out, n->n_out, f);
		fprintf(f, ", \"weight_bytes\": %lld, \"weight\": ", (long long)l->weight_bytes);
		if (w) {
			char enc[64] = "";
			FILE *ef = fmemopen(enc, sizeof enc, "w");
			if (ef) {
				encoding_print(&w->enc, ef);
				fclose(ef);
			}
			fprintf(f, "{\"shape\": ");
			json_shape(&w->shape, f);
			fprintf(f, ", \"encoding\": ");
			json_print_string(enc, f);
			fprintf(f, ", \"nnz\": %lld}", (long long)value_nnz(w));
		} else {
			fputs("null", f);
		}
		fprintf(f, ", \"kernel\": ");
		json_print_string(l->kernel, f);
		fprintf(f, ", \"flops\": ");
		json_print_number(l->flops, f);
		fprintf(f, ", \"shared_code_with\": ");
		if (l->shared_with >= 0 && l->shared_with < g->n_nodes)
			json_print_string(g->nodes[l->shared_with]->name, f);
		else
			fputs("null", f);
		json_layer_choice(l, r->cost_threads, r->cost_threads, f);
		fputc('}', f);
	}
	fprintf(f, "]");
}

void json_layer_choice(const CpuLayer *l, int cost_threads, int threads, FILE *f)
{
	/* one-thread predictions shown for `threads` as perfect scaling would give them */
	double scale = 1e3 * (cost_threads > 0 ? cost_threads : 1) / (threads > 0 ? threads : 1);
	fprintf(f, ", \"choice\": ");
	if (l->choice)
		json_print_string(l->choice, f);
	else
		fputs("null", f);
	fprintf(f, ", \"predicted_ms\": ");
	if (l->predicted_s >= 0)
		json_print_number(l->predicted_s * scale, f);
	else
		fputs("null", f);
	fprintf(f, ", \"dense_predicted_ms\": ");
	if (l->dense_s >= 0)
		json_print_number(l->dense_s * scale, f);
	else
		fputs("null", f);
}

/* --time-passes: the code generator's phases, after the passes' table */
static void print_codegen_times(const CpuReport *r)
{
	double total = 0;
	for (int i = 0; i < CPU_PHASES; i++)
		total += r->seconds[i];
	fprintf(stderr, "===----------------------------------------===\n");
	fprintf(stderr, "          code generation timing report\n");
	fprintf(stderr, "===----------------------------------------===\n");
	fprintf(stderr, "  total: %.4f s (%d tasks, %d distinct functions)\n\n   wall (s)      %%   phase\n", total,
		r->n_tasks, r->n_functions);
	for (int i = 0; i < CPU_PHASES; i++)
		fprintf(stderr, "  %9.4f  %5.1f%%   %s\n", r->seconds[i], total > 0 ? 100.0 * r->seconds[i] / total : 0.0,
			cpu_phase_names[i]);
}

/* What the accel target built: the program's size and, per layer, its instruction count (the
 * modeled cost needs a run: nnzc run/bench --target accel --report). */
static void write_accel_report(const nnzrt_accel_program *p, FILE *f)
{
	uint64_t nconst = 0;
	nnzrt_accel_program_consts(p, &nconst);
	fprintf(f, ", \"target\": \"accel\", \"config\": ");
	json_print_string(nnzrt_accel_program_config(p)->name, f);
	fprintf(f, ", \"program\": {\"insns\": %u, \"const_words\": %llu, \"arena_words\": %llu}, \"layers\": [",
		nnzrt_accel_program_num_insns(p), (unsigned long long)nconst,
		(unsigned long long)nnzrt_accel_program_arena_words(p));
	for (int i = 0; i < nnzrt_accel_program_num_layers(p); i++) {
		const nnzrt_accel_layer *l = nnzrt_accel_program_layer(p, i);
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		json_print_string(l->name, f);
		fprintf(f, ", \"op\": ");
		json_print_string(l->op, f);
		fprintf(f, ", \"insns\": %u}", l->count);
	}
	fprintf(f, "]");
}

static int write_report(const DriverOptions *o, const Graph *g, const Pipeline *p, const double *secs,
			const AccuracyReport *acc, const CpuReport *cpu, const nnzrt_accel_program *accel, Diag *d)
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
	fprintf(f, "{\"model\": ");
	json_print_string(g->name, f);
	fprintf(f, ", \"nodes\": %d, \"constants\": %d, \"weight_elements\": %lld, \"passes\": [", g->n_nodes, n_const,
		(long long)weight_elems);
	for (int i = 0; i < p->n; i++)
		fprintf(f, "%s{\"name\": \"%s\", \"seconds\": %.6f}", i ? ", " : "", p->step[i].pass->name, secs[i]);
	fprintf(f, "], \"remarks\": ");
	remarks_print_json(g, f);
	if (acc) {
		fprintf(f, ", \"accuracy\": ");
		accuracy_print_json(acc, f);
	}
	if (cpu)
		write_cpu_report(g, cpu, o->weights_file, f);
	if (accel)
		write_accel_report(accel, f);
	fprintf(f, "}\n");
	return outfile_commit(&out, d);
}

int cmd_compile(const DriverOptions *o, Diag *d)
{
	const char *emit = driver_compile_emit(o);
	if (o->output == NULL)
		return diag_error(d, "compile: no output file (-o OUT)");
	bool to_onnx = strcmp(emit, "onnx") == 0, to_ir = strcmp(emit, "ir") == 0;
	static const char *const cpu_emits[] = {"obj", "asm", "llvm", "shared"};
	int cpu_emit = -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(emit, cpu_emits[i]) == 0)
			cpu_emit = i;
	bool to_accel = strcmp(emit, "accel") == 0;
	if (!to_onnx && !to_ir && !to_accel && cpu_emit < 0)
		return diag_error(d, "--emit %s: expected obj, asm, llvm, shared, onnx, accel or ir", emit);
	nnzrt_accel_config acfg;
	if (to_accel && accel_load_config(o, &acfg, d) < 0)
		return -1;
	if (cpu_emit >= 0 && strcmp(o->target, "accel") == 0)
		return diag_error(d, "--emit %s is a cpu target output", emit);
	if (o->weights_file && cpu_emit < 0)
		return diag_error(d, "--weights-file goes with the cpu target's outputs (--emit obj|asm|llvm|shared)");
	double secs[NNZC_MAX_PIPELINE] = {0};
	Pipeline ran;
	Graph *g = load_and_optimize(o, NULL, secs, &ran, d);
	if (g == NULL)
		return -1;
	/* --calib: measured before anything is written, so a bad calibration set leaves no output */
	AccuracyReport *acc = NULL;
	int rc = accuracy_evaluate(o, g, &acc, d);
	if (rc < 0) {
		graph_free(g);
		return -1;
	}
	CpuReport cpu = {0};
	bool have_cpu = false;
	nnzrt_accel_program *accel = NULL; /* --report of --emit accel: the program as loaded */
	if (cpu_emit >= 0) {
		CpuOptions co;
		driver_cpu_options(o, &co);
		co.emit = (CpuEmit)cpu_emit;
		co.output = o->output;
		co.header = o->header;
		co.weights_file = o->weights_file;
		co.report = &cpu;
		rc = cpu_compile(g, &co, d);
		have_cpu = rc == 0;
		if (have_cpu && o->time_passes)
			print_codegen_times(&cpu);
	} else if (to_accel) {
		/* the weights fitted to the config's sparsity modes, then lowered; the file is
		 * written only after the runtime's validator has accepted its bytes */
		unsigned char *bytes = NULL;
		size_t len = 0;
		rc = accel_prepare(g, &acfg, d);
		if (rc == 0)
			rc = accel_build(g, &acfg, &bytes, &len, d);
		if (rc == 0)
			rc = outfile_write_all(o->output, bytes, len, d);
		if (rc == 0 && o->report && nnzrt_accel_load(bytes, len, &accel) != NNZRT_OK)
			rc = diag_error(d, "accel: %s", nnzrt_errmsg());
		free(bytes);
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
		rc = write_report(o, g, &ran, secs, acc, have_cpu ? &cpu : NULL, accel, d);
	nnzrt_accel_free(accel);
	cpu_report_free(&cpu);
	accuracy_free(acc);
	graph_free(g);
	return rc;
}
