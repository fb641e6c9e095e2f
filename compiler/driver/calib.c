/* Calibration inputs and the accuracy report of `nnzc compile`.
 *
 * --calib DIR: the samples are the folders DIR/test_data_set_* (the ONNX backend-test layout,
 * one sample per folder; output files are ignored), or, without such folders, DIR itself is one
 * sample.
 * A sample folder holds input_0.pb, input_1.pb, ... (graph input order; when every file's
 * tensor is named after a distinct graph input the names decide the order), or else one
 * NAME.pb per graph input NAME. Every sample is checked against the graph's inputs (count,
 * dtype class, known dims) before anything runs.
 *
 * --calib-generate N[:SEED]: N samples drawn from normal(0, 1) for every float input, at the
 * graph's static input shapes (--input-shape fixes unknown dims), from a splitmix64 stream per
 * (seed, sample, input) so that sample k is the same whatever N is. Integer and bool inputs
 * (token ids, indices, masks) have no range one could guess safely: such a model needs --calib.
 *
 * The dense reference is the same model through the same pipeline without its sparsity passes
 * (sparsity_passes below), so the two graphs share node names and every node both have is
 * compared. The table goes to stderr; the report goes into compile --report by the caller. */
#include "driver.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Passes that change (or re-encode) weights and activations: what the dense reference omits. */
static const char *const sparsity_passes[] = {
	"prune", "convert-pattern", "tasd", "tasd-activations", "detect-sparsity",
};

static bool is_sparsity_pass(const char *name)
{
	for (size_t i = 0; i < sizeof sparsity_passes / sizeof sparsity_passes[0]; i++)
		if (strcmp(name, sparsity_passes[i]) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------- generated inputs */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in (0, 1]: never 0, so that log() below is finite */
static double unit_open(uint64_t *s) { return ((double)(splitmix64(s) >> 11) + 1.0) / 9007199254740992.0; }

static void fill_normal(float *p, int64_t n, uint64_t seed, int sample, int input)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull ^ ((uint64_t)sample * 0xbf58476d1ce4e5b9ull) ^
		     ((uint64_t)input * 0x94d049bb133111ebull + 1);
	for (int64_t i = 0; i < n; i += 2) { /* Box-Muller: two normals per two uniforms */
		double r = sqrt(-2.0 * log(unit_open(&s))), t = 6.283185307179586 * unit_open(&s);
		p[i] = (float)(r * cos(t));
		if (i + 1 < n)
			p[i + 1] = (float)(r * sin(t));
	}
}

static int check_generatable(const Graph *g, Diag *d)
{
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		char s[128];
		if (!dtype_is_float(v->dtype))
			return diag_error(d, "--calib-generate: input '%s' is %s; generated inputs are float only (give real data with --calib DIR)",
					  v->name, dtype_name(v->dtype));
		if (!shape_is_static(&v->shape))
			return diag_error(d, "--calib-generate: input '%s' has unknown dims %s (fix them with --input-shape %s=D0,D1,...)",
					  v->name, shape_str(&v->shape, s, sizeof s), v->name);
	}
	return 0;
}

static int generate(const CalibSet *c, int k, Tensor *inputs, Diag *d)
{
	for (int i = 0; i < c->g->n_inputs; i++) {
		const Value *v = c->g->inputs[i];
		if (tensor_alloc(&inputs[i], v->dtype, &v->shape, d) < 0) {
			diag_prefix(d, "--calib-generate: ");
			return -1;
		}
		int64_t n = tensor_numel(&inputs[i]);
		fill_normal(inputs[i].data, n, c->seed, k, i);
		dtype_round(v->dtype, inputs[i].data, (size_t)n); /* f16/bf16 inputs hold what the dtype can */
	}
	return 0;
}

/* ---------------------------------------------------------------- calibration folders */

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Fill inputs[] from one sample folder; src[i] gets the file input i came from. */
static int read_sample(const Graph *g, const char *dir, Tensor *inputs, char (*src)[4096], Diag *d)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/input_0.pb", dir);
	if (file_exists(path)) {
		TensorList tl;
		if (read_tensor_files(dir, "input", &tl, d) < 0)
			return -1;
		if (tl.n != g->n_inputs) {
			int n = tl.n;
			tensor_list_free(&tl);
			return diag_error(d, "--calib %s: %d input files (input_K.pb) for %d graph input%s", dir, n,
					  g->n_inputs, g->n_inputs == 1 ? "" : "s");
		}
		/* by name when the files name distinct graph inputs, else by position */
		int *slot = malloc(((size_t)tl.n + 1) * sizeof *slot);
		bool by_name = slot != NULL;
		for (int f = 0; by_name && f < tl.n; f++) {
			slot[f] = -1;
			for (int i = 0; i < g->n_inputs; i++)
				if (strcmp(tl.names[f], g->inputs[i]->name) == 0)
					slot[f] = i;
			for (int e = 0; e < f && slot[f] >= 0; e++)
				if (slot[e] == slot[f])
					slot[f] = -1;
			by_name = slot[f] >= 0;
		}
		for (int f = 0; f < tl.n; f++) {
			int i = by_name ? slot[f] : f;
			inputs[i] = tl.t[f];
			tl.t[f].data = NULL; /* moved */
			snprintf(src[i], sizeof src[i], "%s/input_%d.pb", dir, f);
		}
		free(slot);
		tensor_list_free(&tl);
		return 0;
	}
	for (int i = 0; i < g->n_inputs; i++) {
		const char *name = g->inputs[i]->name;
		snprintf(src[i], sizeof src[i], "%s/%s.pb", dir, name);
		if (!file_exists(src[i]))
			return diag_error(d, "--calib %s: no input_0.pb, and no %s.pb for input '%s'", dir, name, name);
		if (pb_read_tensor(src[i], &inputs[i], NULL, 0, d) < 0)
			return -1;
	}
	return 0;
}

static int check_sample(const Graph *g, Tensor *inputs, char (*src)[4096], Diag *d)
{
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		Tensor *t = &inputs[i];
		if (adopt_bf16_bits(t, v->dtype, d) < 0)
			return -1;
		bool ok = dtype_is_float(v->dtype) == dtype_is_float(t->dtype) && v->shape.rank == t->shape.rank;
		for (int k = 0; ok && k < v->shape.rank; k++)
			ok = v->shape.dim[k] < 0 || v->shape.dim[k] == t->shape.dim[k];
		if (v->shape.rank < 0) /* unknown rank: any shape, the class must still agree */
			ok = dtype_is_float(v->dtype) == dtype_is_float(t->dtype);
		if (!ok) {
			char want[128], got[128];
			return diag_error(d, "--calib %s: input '%s' is %s%s, the file holds %s%s", src[i], v->name,
					  dtype_name(v->dtype), shape_str(&v->shape, want, sizeof want), dtype_name(t->dtype),
					  shape_str(&t->shape, got, sizeof got));
		}
	}
	return 0;
}

static void free_inputs(Tensor *inputs, int n)
{
	for (int i = 0; i < n; i++)
		tensor_free(&inputs[i]);
}

int calib_get(const CalibSet *c, int k, Tensor *inputs, Diag *d)
{
	int n = c->g->n_inputs;
	for (int i = 0; i < n; i++)
		inputs[i].data = NULL;
	if (c->dir == NULL) {
		if (generate(c, k, inputs, d) == 0)
			return 0;
		free_inputs(inputs, n);
		return -1;
	}
	char(*src)[4096] = calloc((size_t)n + 1, sizeof *src);
	if (src == NULL)
		return diag_error(d, "out of memory");
	int rc = read_sample(c->g, c->sets[k], inputs, src, d);
	if (rc == 0)
		rc = check_sample(c->g, inputs, src, d);
	if (rc < 0)
		free_inputs(inputs, n);
	free(src);
	return rc;
}

void calib_close(CalibSet *c)
{
	for (int i = 0; i < c->n_sets; i++)
		free(c->sets[i]);
	free(c->sets);
	memset(c, 0, sizeof *c);
}

int calib_open(CalibSet *c, const DriverOptions *o, const Graph *g, Diag *d)
{
	memset(c, 0, sizeof *c);
	c->g = g;
	if (o->calib == NULL) {
		c->n = o->calib_generate;
		c->seed = o->calib_seed;
		return check_generatable(g, d);
	}
	c->dir = o->calib;
	DIR *dp = opendir(o->calib);
	if (dp == NULL)
		return diag_error(d, "--calib %s: cannot open the folder", o->calib);
	bool has_sets = false;
	for (struct dirent *e; (e = readdir(dp)) != NULL;)
		has_sets |= strncmp(e->d_name, "test_data_set_", 14) == 0;
	closedir(dp);
	if (has_sets) {
		if (list_test_sets(o->calib, &c->sets, &c->n_sets, d) < 0)
			return -1;
	} else {
		c->sets = malloc(sizeof *c->sets);
		if (c->sets == NULL || (c->sets[0] = strdup(o->calib)) == NULL)
			return diag_error(d, "out of memory");
		c->n_sets = 1;
	}
	c->n = c->n_sets;
	/* Check every sample now (reading it twice is cheap next to running a model), so a bad
	 * file fails the compilation before any model runs. */
	Tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
	if (in == NULL)
		return diag_error(d, "out of memory");
	int rc = 0;
	for (int k = 0; k < c->n && rc == 0; k++)
		if ((rc = calib_get(c, k, in, d)) == 0)
			free_inputs(in, g->n_inputs);
	free(in);
	return rc;
}

/* ---------------------------------------------------------------- the report */

/* "a,b(arg),c" of the steps that are (or are not) sparsity passes; NULL when out of memory */
static char *steps_text(const Pipeline *p, bool sparsity)
{
	size_t cap = 1;
	for (int i = 0; i < p->n; i++)
		cap += strlen(p->step[i].pass->name) + strlen(p->step[i].arg) + 3;
	char *s = malloc(cap), *w = s;
	if (s == NULL)
		return NULL;
	*w = '\0';
	for (int i = 0; i < p->n; i++) {
		if (is_sparsity_pass(p->step[i].pass->name) != sparsity)
			continue;
		w += sprintf(w, "%s%s", w == s ? "" : ",", p->step[i].pass->name);
		if (p->step[i].has_arg)
			w += sprintf(w, "(%s)", p->step[i].arg);
	}
	return s;
}

/* Load the model again and run the pipeline without its sparsity passes, quietly: the user
 * asked to see (and time) the transformed model's pipeline, not this one. */
static Graph *load_dense(const DriverOptions *o, const Pipeline *full, Diag *d)
{
	Pipeline dense = {0};
	for (int i = 0; i < full->n; i++)
		if (!is_sparsity_pass(full->step[i].pass->name))
			dense.step[dense.n++] = full->step[i];
	DriverOptions quiet = *o;
	quiet.print_after = NULL;
	quiet.time_passes = false;
	Graph *g = load_and_optimize(&quiet, "import", NULL, NULL, d);
	if (g == NULL)
		return NULL;
	Instruments ins = {.print_to = stderr, .verify = !o->no_verify};
	if (pipeline_run(g, &dense, &ins, d) < 0) {
		diag_prefix(d, "accuracy: dense reference: ");
		graph_free(g);
		return NULL;
	}
	return g;
}

int accuracy_evaluate(const DriverOptions *o, const Graph *g, AccuracyReport **out, Diag *d)
{
	*out = NULL;
	if (o->calib == NULL && o->calib_generate == 0)
		return 0;
	CalibSet cs;
	Pipeline full;
	Graph *dense = NULL;
	Tensor *in = NULL;
	AccuracyReport *r = calloc(1, sizeof *r);
	int rc = -1;
	bool progress = false;
	if (r == NULL) {
		diag_error(d, "out of memory");
		return -1;
	}
	if (calib_open(&cs, o, g, d) < 0 || build_pipeline(o, &full, d) < 0)
		goto out;
	r->reference = steps_text(&full, false);
	r->removed = steps_text(&full, true);
	r->calib_dir = o->calib ? strdup(o->calib) : NULL;
	r->seed = o->calib_seed;
	in = calloc((size_t)g->n_inputs + 1, sizeof *in);
	if (!r->reference || !r->removed || (o->calib && !r->calib_dir) || !in) {
		diag_error(d, "out of memory");
		goto out;
	}
	if ((dense = load_dense(o, &full, d)) == NULL || accuracy_begin(r, dense, g, d) < 0)
		goto out;
	progress = cs.n > 1 && isatty(STDERR_FILENO);
	for (int k = 0; k < cs.n; k++) {
		if (progress)
			fprintf(stderr, "\raccuracy: calibration input %d/%d", k + 1, cs.n);
		if (calib_get(&cs, k, in, d) < 0)
			goto out;
		int r1 = accuracy_add_sample(r, dense, g, in, d);
		free_inputs(in, g->n_inputs);
		if (r1 < 0)
			goto out;
	}
	if (progress)
		fprintf(stderr, "\r%60s\r", "");
	progress = false;
	accuracy_print_table(r, stderr);
	*out = r;
	r = NULL;
	rc = 0;
out:
	if (progress) /* the error line starts on a clean line */
		fprintf(stderr, "\r%60s\r", "");
	accuracy_free(r);
	graph_free(dense);
	free(in);
	calib_close(&cs);
	return rc;
}
