/* nnzc run: execute a model on given inputs and either check it against expected outputs
 * (--test-data, the ONNX backend-test layout) or write its outputs (-i ... -o OUTDIR).
 * With --test-data the last line is PASS or FAIL and only PASS exits 0. */
#include "driver.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct Errors {
	double max_abs, max_rel;
	int64_t bad;       /* elements outside atol + rtol*|expected| */
	int64_t first_bad; /* index of the first one */
} Errors;

/* np.allclose semantics per element: |a - e| <= atol + rtol * |e|; NaN matches NaN, infinities
 * must match exactly. */
static Errors compare(const Tensor *got, const Tensor *want, double rtol, double atol)
{
	Errors e = {0, 0, 0, -1};
	int64_t n = tensor_numel(want);
	for (int64_t i = 0; i < n; i++) {
		double a = tensor_get_f(got, i), b = tensor_get_f(want, i);
		bool ok;
		double diff;
		if (isnan(a) || isnan(b)) {
			ok = isnan(a) && isnan(b);
			diff = ok ? 0 : INFINITY;
		} else if (isinf(a) || isinf(b)) {
			ok = a == b;
			diff = ok ? 0 : INFINITY;
		} else {
			diff = fabs(a - b);
			ok = diff <= atol + rtol * fabs(b);
		}
		if (diff > e.max_abs)
			e.max_abs = diff;
		if (b != 0 && !isnan(b) && diff / fabs(b) > e.max_rel)
			e.max_rel = diff / fabs(b);
		if (!ok) {
			if (e.bad == 0)
				e.first_bad = i;
			e.bad++;
		}
	}
	return e;
}

static bool same_class(DType a, DType b) { return dtype_is_float(a) == dtype_is_float(b); }

/* Returns 1 if every output matches, 0 if not, -1 on error. */
static int check_set(const Graph *g, Runner *run, const char *set, const DriverOptions *o, Diag *d)
{
	TensorList in, want;
	if (read_tensor_files(set, "input", &in, d) < 0)
		return -1;
	if (read_tensor_files(set, "output", &want, d) < 0) {
		tensor_list_free(&in);
		return -1;
	}
	int rc = -1;
	Tensor *got = NULL;
	const char *set_name = strrchr(set, '/') ? strrchr(set, '/') + 1 : set;
	if (in.n != g->n_inputs) {
		diag_error(d, "%s: %d input files for %d graph inputs", set, in.n, g->n_inputs);
		goto out;
	}
	if (want.n != g->n_outputs) {
		diag_error(d, "%s: %d output files for %d graph outputs", set, want.n, g->n_outputs);
		goto out;
	}
	for (int i = 0; i < in.n; i++)
		if (adopt_bf16_bits(&in.t[i], g->inputs[i]->dtype, d) < 0)
			goto out;
	for (int i = 0; i < want.n; i++)
		if (adopt_bf16_bits(&want.t[i], g->outputs[i]->dtype, d) < 0)
			goto out;
	got = calloc((size_t)g->n_outputs + 1, sizeof *got);
	if (got == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	if (runner_run(run, in.t, got, d) < 0)
		goto out;
	rc = 1;
	for (int i = 0; i < g->n_outputs; i++) {
		const char *name = g->outputs[i]->name;
		char s1[128], s2[128];
		if (!shape_equal(&got[i].shape, &want.t[i].shape) || !same_class(got[i].dtype, want.t[i].dtype)) {
			printf("%s: output '%s': got %s%s, expected %s%s\n", set_name, name, dtype_name(got[i].dtype),
			       shape_str(&got[i].shape, s1, sizeof s1), dtype_name(want.t[i].dtype),
			       shape_str(&want.t[i].shape, s2, sizeof s2));
			rc = 0;
			continue;
		}
		Errors e = compare(&got[i], &want.t[i], o->rtol, o->atol);
		printf("%s: output '%s' %s%s: max abs error %.3g, max rel error %.3g", set_name, name,
		       dtype_name(want.t[i].dtype), shape_str(&want.t[i].shape, s1, sizeof s1), e.max_abs, e.max_rel);
		if (e.bad) {
			printf(", %lld of %lld elements out of tolerance (first at %lld: got %.9g, expected %.9g)\n",
			       (long long)e.bad, (long long)tensor_numel(&want.t[i]), (long long)e.first_bad,
			       tensor_get_f(&got[i], e.first_bad), tensor_get_f(&want.t[i], e.first_bad));
			rc = 0;
		} else {
			printf("\n");
		}
	}
out:
	if (got)
		for (int i = 0; i < g->n_outputs; i++)
			tensor_free(&got[i]);
	free(got);
	tensor_list_free(&in);
	tensor_list_free(&want);
	return rc;
}

static int run_test_data(const Graph *g, Runner *run, const DriverOptions *o, Diag *d)
{
	char **sets;
	int n_sets;
	if (list_test_sets(o->test_data, &sets, &n_sets, d) < 0)
		return -1;
	int all_ok = 1;
	for (int i = 0; i < n_sets && all_ok >= 0; i++) {
		int r = check_set(g, run, sets[i], o, d);
		if (r < 0)
			all_ok = -1;
		else if (r == 0)
			all_ok = 0;
	}
	for (int i = 0; i < n_sets; i++)
		free(sets[i]);
	free(sets);
	if (all_ok < 0)
		return -1;
	printf("%s\n", all_ok ? "PASS" : "FAIL");
	fflush(stdout);
	return all_ok ? 0 : 1;
}

static int run_named_inputs(const Graph *g, Runner *run, const DriverOptions *o, Diag *d)
{
	if (o->output == NULL)
		return diag_error(d, "run: -i needs -o OUTDIR for the outputs");
	Tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
	Tensor *got = calloc((size_t)g->n_outputs + 1, sizeof *got);
	int rc = -1;
	if (!in || !got) {
		diag_error(d, "out of memory");
		goto out;
	}
	for (int k = 0; k < o->n_inputs; k++) {
		int idx = -1;
		for (int i = 0; i < g->n_inputs; i++)
			if (strcmp(g->inputs[i]->name, o->inputs[k].name) == 0)
				idx = i;
		if (idx < 0) {
			diag_error(d, "-i %s: the model has no input of that name", o->inputs[k].name);
			goto out;
		}
		if (in[idx].data) {
			diag_error(d, "-i %s: given twice", o->inputs[k].name);
			goto out;
		}
		if (pb_read_tensor(o->inputs[k].path, &in[idx], NULL, 0, d) < 0)
			goto out;
	}
	for (int i = 0; i < g->n_inputs; i++)
		if (in[i].data == NULL) {
			diag_error(d, "input '%s' not given (-i %s=FILE.pb)", g->inputs[i]->name, g->inputs[i]->name);
			goto out;
		}
	if (runner_run(run, in, got, d) < 0)
		goto out;
	struct stat st;
	if (stat(o->output, &st) != 0 && mkdir(o->output, 0777) != 0) {
		diag_error(d, "%s: cannot create output folder", o->output);
		goto out;
	}
	for (int i = 0; i < g->n_outputs; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/output_%d.pb", o->output, i);
		/* dtype as declared by the graph, converted from the compute class */
		Tensor t = got[i];
		if (dtype_is_float(g->outputs[i]->dtype) == dtype_is_float(t.dtype))
			t.dtype = g->outputs[i]->dtype;
		if (pb_write_tensor(path, g->outputs[i]->name, &t, d) < 0) {
			for (int j = 0; j < i; j++) {
				snprintf(path, sizeof path, "%s/output_%d.pb", o->output, j);
				remove(path);
			}
			goto out;
		}
		char s[128];
		printf("output '%s' %s%s -> %s\n", g->outputs[i]->name, dtype_name(t.dtype), shape_str(&t.shape, s, sizeof s), path);
	}
	rc = 0;
out:
	if (in)
		for (int i = 0; i < g->n_inputs; i++)
			tensor_free(&in[i]);
	if (got)
		for (int i = 0; i < g->n_outputs; i++)
			tensor_free(&got[i]);
	free(in);
	free(got);
	return rc;
}

int cmd_run(const DriverOptions *o, Diag *d)
{
	if (!o->test_data == !o->n_inputs)
		return diag_error(d, "run: give either --test-data DIR or -i NAME=FILE.pb... -o OUTDIR");
	DriverOptions with_shapes = *o;
	if (o->test_data)
		note_test_data_shapes(&with_shapes);
	Graph *g = load_and_optimize(&with_shapes, NULL, NULL, NULL, d);
	if (g == NULL)
		return -1;
	Runner run;
	int rc = runner_open(&run, g, o, d);
	if (rc == 0)
		rc = o->test_data ? run_test_data(g, &run, o, d) : run_named_inputs(g, &run, o, d);
	runner_close(&run);
	graph_free(g);
	return rc;
}
