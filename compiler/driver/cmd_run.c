/* nnzc run: execute a model on given inputs and either check it against expected outputs
 * (--test-data, the ONNX backend-test layout) or write its outputs (-i ... -o OUTDIR).
 * With --test-data the last line is PASS or FAIL and only PASS exits 0. */
#include "driver.h"
#include "nnzrt_accel.h"

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

/* What run compiled: the graph, how it runs, and which model inputs it froze into constants. */
typedef struct Compiled {
	Graph *g;
	Runner run;
	ModelInputs mi;
} Compiled;

static void compiled_close(Compiled *c)
{
	runner_close(&c->run);
	graph_free(c->g);
	model_inputs_free(&c->mi);
	memset(c, 0, sizeof *c);
}

static int compile(Compiled *c, const DriverOptions *o, const RunData *rd, Diag *d)
{
	memset(c, 0, sizeof *c);
	c->g = load_for_run(o, rd, &c->mi, d);
	if (c->g == NULL)
		return -1;
	if (strcmp(o->target, "accel") == 0) {
		/* weights the accelerator config cannot run are re-encoded first (remarks on stderr) */
		nnzrt_accel_config cfg;
		if (accel_load_config(o, &cfg, d) < 0 || accel_prepare(c->g, &cfg, d) < 0) {
			compiled_close(c);
			return -1;
		}
	}
	if (runner_open(&c->run, c->g, o, d) < 0) {
		compiled_close(c);
		return -1;
	}
	return 0;
}

/* Returns 1 if every output matches, 0 if not, -1 on error. A set whose value of a frozen input
 * differs from the one the model was specialised to gets the model specialised to it. */
static int check_set(Compiled *c, const char *set, const DriverOptions *o, Diag *d)
{
	TensorList in, want;
	if (read_tensor_files(set, "input", &in, d) < 0)
		return -1;
	if (read_tensor_files(set, "output", &want, d) < 0) {
		tensor_list_free(&in);
		return -1;
	}
	int rc = -1;
	Tensor *got = NULL, *sel = NULL;
	const Graph *g = c->g;
	const int n_out = g->n_outputs; /* g may be compiled again below */
	const char *set_name = strrchr(set, '/') ? strrchr(set, '/') + 1 : set;
	if (in.n != c->mi.n) {
		diag_error(d, "%s: %d input files for %d graph inputs", set, in.n, c->mi.n);
		goto out;
	}
	if (want.n != g->n_outputs) {
		diag_error(d, "%s: %d output files for %d graph outputs", set, want.n, g->n_outputs);
		goto out;
	}
	for (int i = 0; i < in.n; i++)
		if (adopt_bf16_bits(&in.t[i], c->mi.dtype[i], d) < 0)
			goto out;
	for (int i = 0; i < want.n; i++)
		if (adopt_bf16_bits(&want.t[i], g->outputs[i]->dtype, d) < 0)
			goto out;
	got = calloc((size_t)g->n_outputs + 1, sizeof *got);
	sel = calloc((size_t)c->mi.n + 1, sizeof *sel);
	if (got == NULL || sel == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	if (select_graph_inputs(&c->mi, g, in.t, sel)) {
		RunData rd = {.tl = in};
		compiled_close(c);
		if (compile(c, o, &rd, d) < 0)
			goto out;
		g = c->g;
		select_graph_inputs(&c->mi, g, in.t, sel);
	}
	if (runner_run(&c->run, sel, got, d) < 0)
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
		for (int i = 0; i < n_out; i++)
			tensor_free(&got[i]);
	free(got);
	free(sel);
	tensor_list_free(&in);
	tensor_list_free(&want);
	return rc;
}

static int run_test_data(Compiled *c, const DriverOptions *o, Diag *d)
{
	char **sets;
	int n_sets;
	if (list_test_sets(o->test_data, &sets, &n_sets, d) < 0)
		return -1;
	int all_ok = 1;
	for (int i = 0; i < n_sets && all_ok >= 0; i++) {
		int r = check_set(c, sets[i], o, d);
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

static int run_named_inputs(Compiled *c, const DriverOptions *o, Diag *d)
{
	if (o->output == NULL)
		return diag_error(d, "run: -i needs -o OUTDIR for the outputs");
	const Graph *g = c->g;
	Tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
	Tensor *got = calloc((size_t)g->n_outputs + 1, sizeof *got);
	int rc = -1;
	if (!in || !got) {
		diag_error(d, "out of memory");
		goto out;
	}
	if (read_named_inputs(o, g, &c->mi, in, d) < 0)
		goto out;
	if (runner_run(&c->run, in, got, d) < 0)
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
	/* the data fixes the input dims the model leaves unknown, and the values of inputs that
	 * decide shapes for a target that needs them static */
	RunData rd;
	read_run_data(o, &rd);
	Compiled c;
	int rc = compile(&c, o, &rd, d);
	tensor_list_free(&rd.tl);
	if (rc < 0)
		return -1;
	rc = o->test_data ? run_test_data(&c, o, d) : run_named_inputs(&c, o, d);
	/* --report (accel): the modeled cost of the last run, per layer */
	if (rc >= 0 && o->report && strcmp(o->target, "accel") == 0 && accel_write_report(o, &c.run, d) < 0)
		rc = -1;
	compiled_close(&c);
	return rc;
}
