/* Loading a model (ONNX or a text IR dump) and running the requested pipeline on it. */
#include "driver.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static char *read_text_file(const char *path, Diag *d)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		diag_error(d, "%s: cannot open", path);
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (buf == NULL) {
			fclose(f);
			diag_error(d, "%s: out of memory", path);
			return NULL;
		}
		n += fread(buf + n, 1, cap - n - 1, f);
		if (n < cap - 1)
			break;
		cap *= 2;
		char *nb = realloc(buf, cap);
		if (nb == NULL)
			free(buf);
		buf = nb;
	}
	bool err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		diag_error(d, "%s: read error", path);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static bool is_text_ir(const char *path)
{
	if (has_suffix(path, ".nnzir"))
		return true;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	char head[8] = {0};
	size_t n = fread(head, 1, 6, f);
	fclose(f);
	return n == 6 && memcmp(head, "graph ", 6) == 0;
}

/* rd (may be NULL): the input data of a run, whose shapes fix the dims the model leaves unknown. */
static Graph *load_model(const DriverOptions *o, const RunData *rd, Diag *d)
{
	if (is_text_ir(o->model)) {
		char *text = read_text_file(o->model, d);
		if (text == NULL)
			return NULL;
		Graph *g = graph_parse(text, o->model, d);
		free(text);
		return g;
	}
	ImportOptions io = {.input_shapes = o->input_shapes, .n_input_shapes = o->n_input_shapes};
	Shape *shapes = NULL;
	InputShape *named = NULL;
	if (rd && rd->tl.n > 0) {
		shapes = calloc((size_t)rd->tl.n, sizeof *shapes);
		named = calloc((size_t)rd->tl.n, sizeof *named);
		if (shapes == NULL || named == NULL) {
			free(shapes);
			free(named);
			diag_error(d, "out of memory");
			return NULL;
		}
		for (int i = 0; i < rd->tl.n; i++) {
			shapes[i] = rd->tl.t[i].shape;
			named[i] = (InputShape){rd->tl.names[i], rd->tl.t[i].shape};
		}
		if (rd->by_name) {
			io.named_data_shapes = named;
			io.n_named_data_shapes = rd->tl.n;
		} else {
			io.data_shapes = shapes;
			io.n_data_shapes = rd->tl.n;
		}
	}
	Graph *g = onnx_import(o->model, &io, d);
	free(shapes);
	free(named);
	return g;
}

/* The pipeline the flags ask for, truncated after `stop_after` ("import": none). */
static int prepare_pipeline(const DriverOptions *o, const char *stop_after, Pipeline *p, Diag *d)
{
	if (build_pipeline(o, p, d) < 0)
		return -1;
	if (stop_after) {
		if (strcmp(stop_after, "import") == 0) {
			p->n = 0;
		} else {
			int k = -1;
			for (int i = 0; i < p->n; i++)
				if (strcmp(p->step[i].pass->name, stop_after) == 0) {
					k = i;
					break;
				}
			if (k < 0)
				return diag_error(d, "--after %s: no such pass in the pipeline", stop_after);
			p->n = k + 1;
		}
	}
	if (o->print_after && strcmp(o->print_after, "all") && strcmp(o->print_after, "import")) {
		bool found = false;
		for (int i = 0; i < p->n; i++)
			found |= strcmp(p->step[i].pass->name, o->print_after) == 0;
		if (!found)
			return diag_error(d, "--print-after %s: no such pass in the pipeline", o->print_after);
	}
	return 0;
}

/* "tasd: 12/53" on one line, rewritten as a long pass advances and erased when it is done. */
static void progress_to_stderr(void *ctx, const char *pass, int64_t done, int64_t total)
{
	(void)ctx;
	if (done < total)
		fprintf(stderr, "\r%s: %lld/%lld", pass, (long long)done, (long long)total);
	else
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

/* Run p on g with the instruments the flags ask for; frees g on failure. */
static Graph *optimize(const DriverOptions *o, Graph *g, const Pipeline *p, double *pass_seconds, Diag *d)
{
	Instruments ins = {
		.print_after = o->print_after,
		.print_format = o->format,
		.print_opt = {.elide_above = o->elide_above},
		.print_to = stderr,
		.time_passes = o->time_passes,
		.verify = !o->no_verify,
		.seconds = pass_seconds,
		/* only a terminal gets a live counter: in a log or a pipe it would be noise */
		.progress = isatty(fileno(stderr)) ? progress_to_stderr : NULL,
	};
	if (pipeline_run(g, p, &ins, d) < 0) {
		graph_free(g);
		return NULL;
	}
	remarks_print(g, stderr);
	return g;
}

Graph *load_and_optimize(const DriverOptions *o, const char *stop_after, double *pass_seconds, Pipeline *ran, Diag *d)
{
	Pipeline p;
	if (prepare_pipeline(o, stop_after, &p, d) < 0)
		return NULL;
	Graph *g = load_model(o, NULL, d);
	if (g == NULL)
		return NULL;
	g = optimize(o, g, &p, pass_seconds, d);
	if (g && ran)
		*ran = p;
	return g;
}

static int note_model_inputs(const Graph *g, ModelInputs *mi, Diag *d)
{
	memset(mi, 0, sizeof *mi);
	int n = g->n_inputs;
	mi->name = calloc((size_t)n + 1, sizeof *mi->name);
	mi->dtype = calloc((size_t)n + 1, sizeof *mi->dtype);
	mi->frozen = calloc((size_t)n + 1, sizeof *mi->frozen);
	if (mi->name == NULL || mi->dtype == NULL || mi->frozen == NULL) {
		model_inputs_free(mi);
		return diag_error(d, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		mi->name[i] = strdup(g->inputs[i]->name);
		mi->dtype[i] = g->inputs[i]->dtype;
		mi->n = i + 1;
		if (mi->name[i] == NULL) {
			model_inputs_free(mi);
			return diag_error(d, "out of memory");
		}
	}
	return 0;
}

/* The data rd holds for model input i, or NULL. */
static const Tensor *data_for(const RunData *rd, const ModelInputs *mi, int i)
{
	if (!rd->by_name)
		return i < rd->tl.n ? &rd->tl.t[i] : NULL;
	for (int k = 0; k < rd->tl.n; k++)
		if (strcmp(rd->tl.names[k], mi->name[i]) == 0)
			return &rd->tl.t[k];
	return NULL;
}

/* Bind the shape-deciding inputs of g to their data in rd. An input without data stays an input:
 * when the data exists but could not be read, the run reports that later; without any data
 * (bench generating its inputs) or without its -i, the input is named here. */
static int freeze_shape_inputs(const DriverOptions *o, Graph *g, const RunData *rd, ModelInputs *mi, Diag *d)
{
	bool have_data = rd != NULL && rd->tl.n > 0, data_given = o->test_data || o->n_inputs;
	if (strcmp(o->target, "ref") == 0 || g->n_inputs == 0 || (data_given && !have_data))
		return 0;
	bool *decides = calloc((size_t)g->n_inputs, sizeof *decides);
	Value **inputs = calloc((size_t)g->n_inputs, sizeof *inputs);
	int rc = -1;
	if (decides == NULL || inputs == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	int n = g->n_inputs;
	memcpy(inputs, g->inputs, (size_t)n * sizeof *inputs);
	graph_shape_inputs(g, decides);
	for (int i = 0; i < n; i++) {
		if (!decides[i])
			continue;
		const Tensor *t = have_data ? data_for(rd, mi, i) : NULL;
		const char *path = NULL;
		for (int k = 0; k < o->n_inputs; k++)
			if (strcmp(o->inputs[k].name, mi->name[i]) == 0)
				path = o->inputs[k].path;
		if (t == NULL && !data_given) {
			diag_error(d, "input '%s' decides a shape and the %s target needs static shapes: "
				   "give its value with -i %s=FILE.pb or --test-data DIR", mi->name[i], o->target, mi->name[i]);
			goto out;
		}
		if (t == NULL && rd->by_name && path == NULL) {
			diag_error(d, "input '%s' not given (-i %s=FILE.pb)", mi->name[i], mi->name[i]);
			goto out;
		}
		Tensor unread = {0};
		if (t == NULL && path != NULL) { /* read_run_data could not: say why */
			if (pb_read_tensor(path, &unread, NULL, 0, d) < 0)
				goto out;
			tensor_free(&unread);
		}
		if (t == NULL)
			continue;
		Tensor *f = &mi->frozen[i];
		if (tensor_alloc(f, t->dtype, &t->shape, d) < 0)
			goto out;
		memcpy(f->data, t->data, tensor_nbytes(t));
		if (adopt_bf16_bits(f, mi->dtype[i], d) < 0 || graph_bind_input(g, inputs[i], f, d) < 0)
			goto out;
		fprintf(stderr, "froze input '%s' from %s: the %s target needs static shapes\n", mi->name[i],
			rd->by_name ? "its -i file" : "the test data", o->target);
	}
	rc = 0;
out:
	free(decides);
	free(inputs);
	return rc;
}

Graph *load_for_run(const DriverOptions *o, const RunData *rd, ModelInputs *mi, Diag *d)
{
	Pipeline p;
	memset(mi, 0, sizeof *mi);
	if (prepare_pipeline(o, NULL, &p, d) < 0)
		return NULL;
	Graph *g = load_model(o, rd, d);
	if (g == NULL)
		return NULL;
	if (note_model_inputs(g, mi, d) < 0 || freeze_shape_inputs(o, g, rd, mi, d) < 0) {
		graph_free(g);
		model_inputs_free(mi);
		return NULL;
	}
	g = optimize(o, g, &p, NULL, d);
	if (g == NULL)
		model_inputs_free(mi);
	return g;
}

static bool same_tensor(const Tensor *a, const Tensor *b)
{
	if (dtype_is_float(a->dtype) != dtype_is_float(b->dtype) || !shape_equal(&a->shape, &b->shape))
		return false;
	return memcmp(a->data, b->data, tensor_nbytes(a)) == 0;
}

int select_graph_inputs(const ModelInputs *mi, const Graph *g, const Tensor *all, Tensor *out)
{
	int k = 0, differs = 0;
	for (int i = 0; i < mi->n; i++) {
		if (mi->frozen[i].data == NULL) {
			assert(k < g->n_inputs);
			out[k++] = all[i];
		} else if (!same_tensor(&mi->frozen[i], &all[i])) {
			differs = 1;
		}
	}
	assert(k == g->n_inputs);
	(void)g;
	return differs;
}
