/* nnzc bench: time repeated runs; the last line is one JSON object (the CLI contract). Inputs
 * come from --test-data (first set) or are generated deterministically. */
#include "driver.h"

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
	if (runner_open(&run, g, o, d) < 0) {
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
	for (int it = -1; it < o->iters; it++) { /* iteration -1 warms up */
		double t0 = now_ms();
		if (runner_run(&run, inputs, out, d) < 0)
			goto done;
		double t = now_ms() - t0;
		for (int i = 0; i < g->n_outputs; i++)
			tensor_free(&out[i]);
		if (it >= 0)
			ms[it] = t;
	}
	double sum = 0;
	for (int i = 0; i < o->iters; i++)
		sum += ms[i];
	qsort(ms, (size_t)o->iters, sizeof *ms, cmp_double);
	double median = o->iters % 2 ? ms[o->iters / 2] : 0.5 * (ms[o->iters / 2 - 1] + ms[o->iters / 2]);
	printf("{\"model\": \"%s\", \"target\": \"%s\", \"threads\": %d, \"iters\": %d, \"median_ms\": %.4f, "
	       "\"min_ms\": %.4f, \"mean_ms\": %.4f, \"max_ms\": %.4f}\n",
	       base_name(o->model), o->target, run.cpu ? o->threads : 1, o->iters, median, ms[0], sum / o->iters,
	       ms[o->iters - 1]);
	rc = 0;
done:
	runner_close(&run);
	if (in && !o->test_data)
		for (int i = 0; i < g->n_inputs; i++)
			tensor_free(&in[i]);
	tensor_list_free(&tl);
	free(in);
	free(out);
	free(ms);
	graph_free(g);
	model_inputs_free(&mi);
	return rc;
}
