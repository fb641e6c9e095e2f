/* nnzc bench: time repeated runs; the last line is one JSON object (the CLI contract). Inputs
 * come from --test-data (first set) or are generated deterministically.
 *
 * --per-layer (cpu target): the model is compiled with timing around every node's calls
 * (CpuOptions.profile) and the JSON gets a "layers" array — per node its kernel, the cost
 * model's choice and prediction, and the median measured time — with a readable table on stderr;
 * --report FILE writes the same as a JSON file.
 *
 * --target accel: the JSON adds the simulated machine's "cycles", "energy_uj" (microjoules) and
 * "edp" (joule-seconds) for one inference, and --report FILE (no --per-layer needed) writes its
 * per-layer cost (cycles, utilisation, bytes, energy). median_ms is the simulator's wall time. */
#include "driver.h"
#include "nnzrt_accel.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Uniform values in [-1, 1) for floats, small non-negative ints otherwise, from a fixed seed. */
static int make_inputs(const Graph *g, Tensor *in, Diag *d)
{
	uint64_t state = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		if (tensor_alloc(&in[i], v->dtype, &v->shape, d) < 0)
			return -1;
		int64_t n = tensor_numel(&in[i]);
		for (int64_t k = 0; k < n; k++) {
			state = state * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t r = (uint32_t)(state >> 33);
			if (dtype_is_float(v->dtype))
				((float *)in[i].data)[k] = (float)r / 2147483648.0f * 2.0f - 1.0f;
			else
				((int64_t *)in[i].data)[k] = r % 2;
		}
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Per-layer measurements: ns[it * stride + k] of iteration it, node k (k = n_nodes: the
 * boundary conversions). */
typedef struct PerLayer {
	CpuReport report;
	int64_t *ns;
	int stride;
	double *median_ms; /* by node, then the conversions */
} PerLayer;

static void json_layers(const Graph *g, const PerLayer *pl, int threads, FILE *f)
{
	fprintf(f, "[");
	for (int k = 0; k < g->n_nodes && k < pl->report.n_layers; k++) {
		const CpuLayer *l = &pl->report.layers[k];
		fprintf(f, "%s{\"name\": ", k ? ", " : "");
		json_print_string(g->nodes[k]->name, f);
		fprintf(f, ", \"op\": \"%s\", \"kernel\": ", op_name(g->nodes[k]->op));
		json_print_string(l->kernel, f);
		json_layer_choice(l, pl->report.cost_threads, threads, f);
		fprintf(f, ", \"measured_ms\": ");
		json_print_number(pl->median_ms[k], f);
		fputc('}', f);
	}
	fprintf(f, "]");
}

static void print_table(const Graph *g, const PerLayer *pl, int threads, FILE *f)
{
	double total = 0;
	for (int k = 0; k <= g->n_nodes; k++)
		total += pl->median_ms[k];
	double scale = 1e3 * (pl->report.cost_threads > 0 ? pl->report.cost_threads : 1) / (threads > 0 ? threads : 1);
	fprintf(f, "per layer (median of each layer; predictions for %d thread%s, cost model %s):\n", threads,
		threads == 1 ? "" : "s", pl->report.cost_model);
	fprintf(f, "  %-36s %-14s %-24s %10s %10s %10s %6s\n", "node", "op", "kernel [choice]", "ms", "predicted",
		"dense", "%");
	for (int k = 0; k < g->n_nodes && k < pl->report.n_layers; k++) {
		const CpuLayer *l = &pl->report.layers[k];
		char kernel[160], pred[32] = "-", dense[32] = "-";
		snprintf(kernel, sizeof kernel, l->choice ? "%s [%s]" : "%s", l->kernel, l->choice ? l->choice : "");
		if (l->predicted_s >= 0)
			snprintf(pred, sizeof pred, "%.4f", l->predicted_s * scale);
		if (l->dense_s >= 0)
			snprintf(dense, sizeof dense, "%.4f", l->dense_s * scale);
		fprintf(f, "  %-36.36s %-14s %-24s %10.4f %10s %10s %5.1f%%\n", g->nodes[k]->name, op_name(g->nodes[k]->op),
			kernel, pl->median_ms[k], pred, dense, total > 0 ? 100.0 * pl->median_ms[k] / total : 0.0);
	}
	fprintf(f, "  %-36s %-14s %-24s %10.4f\n", "(input/output conversions)", "-", "-", pl->median_ms[g->n_nodes]);
	fprintf(f, "  %-36s %-14s %-24s %10.4f\n", "total of the medians", "", "", total);
}

static int write_layer_report(const DriverOptions *o, const Graph *g, const PerLayer *pl, int threads, double median,
			      Diag *d)
{
	OutFile out;
	if (outfile_open(&out, o->report, d) < 0)
		return -1;
	FILE *f = out.f;
	fprintf(f, "{\"model\": ");
	json_print_string(g->name, f);
	fprintf(f, ", \"target\": \"cpu\", \"threads\": %d, \"iters\": %d, \"median_ms\": ", threads, o->iters);
	json_print_number(median, f);
	fprintf(f, ", \"cost_model\": ");
	json_print_string(pl->report.cost_model, f);
	fprintf(f, ", \"cost_model_threads\": %d, \"conversions_ms\": ", pl->report.cost_threads);
	json_print_number(pl->median_ms[g->n_nodes], f);
	fprintf(f, ",\n\"layers\": ");
	json_layers(g, pl, threads, f);
	fprintf(f, "}\n");
	return outfile_commit(&out, d);
}

int cmd_bench(const DriverOptions *o, Diag *d)
{
	/* as run: the data fixes unknown input dims and freezes shape-deciding inputs */
	RunData rd;
	read_run_data(o, &rd);
	ModelInputs mi;
	Graph *g = load_for_run(o, &rd, &mi, d);
	tensor_list_free(&rd.tl);
	if (g == NULL)
		return -1;
	int rc = -1;
	Runner run;
	PerLayer pl = {0};
	if (o->per_layer && strcmp(o->target, "cpu") != 0) {
		graph_free(g);
		model_inputs_free(&mi);
		return diag_error(d, "--per-layer times the cpu target's layers: add --target cpu");
	}
	bool accel = strcmp(o->target, "accel") == 0;
	if (accel) {
		nnzrt_accel_config cfg;
		if (accel_load_config(o, &cfg, d) < 0 || accel_prepare(g, &cfg, d) < 0) {
			graph_free(g);
			model_inputs_free(&mi);
			return -1;
		}
	}
	if (o->report && !o->per_layer && !accel) {
		graph_free(g);
		model_inputs_free(&mi);
		return diag_error(d, "bench --report FILE writes the per-layer times: add --per-layer");
	}
	if (o->per_layer) {
		/* a profiled build of the same code, and its report for the kernels and predictions */
		CpuOptions co;
		driver_cpu_options(o, &co);
		co.prefix = NULL;
		co.profile = true;
		co.report = &pl.report;
		run = (Runner){.g = g, .threads = o->threads};
		run.cpu = cpu_load(g, &co, d);
		int64_t cells;
		pl.stride = g->n_nodes + 1;
		if (run.cpu == NULL || !mul_ok_i64(pl.stride, o->iters, &cells) || cells > (INT64_C(1) << 28) ||
		    (pl.ns = calloc((size_t)cells, sizeof *pl.ns)) == NULL ||
		    (pl.median_ms = calloc((size_t)pl.stride, sizeof *pl.median_ms)) == NULL) {
			if (run.cpu)
				diag_error(d, "--per-layer: too many layers x iterations to keep");
			runner_close(&run);
			cpu_report_free(&pl.report);
			free(pl.ns);
			graph_free(g);
			model_inputs_free(&mi);
			return -1;
		}
	} else if (runner_open(&run, g, o, d) < 0) {
		graph_free(g);
		model_inputs_free(&mi);
		return -1;
	}
	Tensor *in = calloc((size_t)mi.n + 1, sizeof *in);
	Tensor *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
	double *ms = calloc((size_t)o->iters, sizeof *ms);
	TensorList tl = {0};
	if (!in || !out || !ms) {
		diag_error(d, "out of memory");
		goto done;
	}
	const Tensor *inputs = in;
	if (o->test_data) {
		char **sets;
		int n_sets;
		if (list_test_sets(o->test_data, &sets, &n_sets, d) < 0)
			goto done;
		int r = read_tensor_files(sets[0], "input", &tl, d);
		for (int i = 0; i < n_sets; i++)
			free(sets[i]);
		free(sets);
		if (r < 0)
			goto done;
		if (tl.n != mi.n) {
			diag_error(d, "%s: %d inputs for %d graph inputs", o->test_data, tl.n, mi.n);
			goto done;
		}
		for (int i = 0; i < tl.n; i++)
			if (adopt_bf16_bits(&tl.t[i], mi.dtype[i], d) < 0)
				goto done;
		/* the frozen ones came from this very set: the shallow copies in `in` are tl's */
		select_graph_inputs(&mi, g, tl.t, in);
	} else if (o->n_inputs) {
		if (read_named_inputs(o, g, &mi, in, d) < 0)
			goto done;
	} else if (make_inputs(g, in, d) < 0) {
		goto done;
	}
	/* the timed runs write into the warm-up's outputs (runner_rerun): a zero fill of them in every
	 * run took 17-20% of a 1x1 layer with 2048 x 196 outputs (perf, by hand) */
	for (int it = -1; it < o->iters; it++) { /* iteration -1 warms up */
		double t0 = now_ms();
		if ((it < 0 ? runner_run : runner_rerun)(&run, inputs, out, d) < 0)
			goto done;
		double t = now_ms() - t0;
		if (it >= 0)
			ms[it] = t;
		if (it >= 0 && pl.ns)
			memcpy(pl.ns + (int64_t)it * pl.stride, cpu_model_layer_ns(run.cpu), (size_t)pl.stride * sizeof *pl.ns);
	}
	if (pl.ns) {
		double *v = malloc((size_t)o->iters * sizeof *v);
		if (v == NULL) {
			diag_error(d, "out of memory");
			goto done;
		}
		for (int k = 0; k < pl.stride; k++) {
			for (int it = 0; it < o->iters; it++)
				v[it] = 1e-6 * (double)pl.ns[(int64_t)it * pl.stride + k];
			pl.median_ms[k] = median_of(v, o->iters);
		}
		free(v);
	}
	double sum = 0;
	for (int i = 0; i < o->iters; i++)
		sum += ms[i];
	qsort(ms, (size_t)o->iters, sizeof *ms, cmp_double);
	double median = o->iters % 2 ? ms[o->iters / 2] : 0.5 * (ms[o->iters / 2 - 1] + ms[o->iters / 2]);
	int threads = run.cpu ? o->threads : 1;
	if (pl.ns) {
		print_table(g, &pl, threads, stderr);
		if (o->report && write_layer_report(o, g, &pl, threads, median, d) < 0)
			goto done;
	}
	if (accel && o->report && accel_write_report(o, &run, d) < 0)
		goto done;
	printf("{\"model\": \"%s\", \"target\": \"%s\", \"threads\": %d, \"iters\": %d, \"median_ms\": %.4f, "
	       "\"min_ms\": %.4f, \"mean_ms\": %.4f, \"max_ms\": %.4f",
	       base_name(o->model), o->target, threads, o->iters, median, ms[0], sum / o->iters, ms[o->iters - 1]);
	if (pl.ns) {
		printf(", \"cost_model\": ");
		json_print_string(pl.report.cost_model, stdout);
		printf(", \"conversions_ms\": ");
		json_print_number(pl.median_ms[g->n_nodes], stdout);
		printf(", \"layers\": ");
		json_layers(g, &pl, threads, stdout);
	}
	if (accel && run.stats) {
		/* the simulated machine's cost of one inference (the same every iteration) */
		const nnzrt_accel_cost *c = &run.stats->total;
		printf(", \"accel_config\": ");
		json_print_string(nnzrt_accel_program_config(run.accel)->name, stdout);
		printf(", \"cycles\": %llu, \"energy_uj\": ", (unsigned long long)c->cycles);
		json_print_number(c->energy_pj * 1e-6, stdout);
		printf(", \"edp\": ");
		json_print_number(c->edp, stdout);
		printf(", \"utilisation\": ");
		json_print_number(c->utilisation, stdout);
		printf(", \"dram_bytes\": %llu", (unsigned long long)c->dram_bytes);
	}
	printf("}\n");
	rc = 0;
done:
	runner_close(&run);
	cpu_report_free(&pl.report);
	free(pl.ns);
	free(pl.median_ms);
	if (in && !o->test_data)
		for (int i = 0; i < g->n_inputs; i++)
			tensor_free(&in[i]);
	tensor_list_free(&tl);
	if (out)
		for (int i = 0; i < g->n_outputs; i++)
			tensor_free(&out[i]);
	free(in);
	free(out);
	free(ms);
	graph_free(g);
	model_inputs_free(&mi);
	return rc;
}
