/* Loading a model (ONNX or a text IR dump) and running the requested pipeline on it. */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

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

static Graph *load_model(const DriverOptions *o, Diag *d)
{
	if (is_text_ir(o->model)) {
		char *text = read_text_file(o->model, d);
		if (text == NULL)
			return NULL;
		Graph *g = graph_parse(text, o->model, d);
		free(text);
		return g;
	}
	ImportOptions io = {.input_shapes = o->input_shapes, .n_input_shapes = o->n_input_shapes,
			    .data_shapes = o->data_shapes, .n_data_shapes = o->n_data_shapes};
	return onnx_import(o->model, &io, d);
}

Graph *load_and_optimize(const DriverOptions *o, const char *stop_after, double *pass_seconds, Pipeline *ran, Diag *d)
{
	Pipeline p;
	if (build_pipeline(o, &p, d) < 0)
		return NULL;
	if (stop_after) {
		if (strcmp(stop_after, "import") == 0) {
			p.n = 0;
		} else {
			int k = -1;
			for (int i = 0; i < p.n; i++)
				if (strcmp(p.step[i].pass->name, stop_after) == 0) {
					k = i;
					break;
				}
			if (k < 0) {
				diag_error(d, "--after %s: no such pass in the pipeline", stop_after);
				return NULL;
			}
			p.n = k + 1;
		}
	}
	if (o->print_after && strcmp(o->print_after, "all") && strcmp(o->print_after, "import")) {
		bool found = false;
		for (int i = 0; i < p.n; i++)
			found |= strcmp(p.step[i].pass->name, o->print_after) == 0;
		if (!found) {
			diag_error(d, "--print-after %s: no such pass in the pipeline", o->print_after);
			return NULL;
		}
	}
	Graph *g = load_model(o, d);
	if (g == NULL)
		return NULL;
	Instruments ins = {
		.print_after = o->print_after,
		.print_format = o->format,
		.print_opt = {.elide_above = o->elide_above},
		.print_to = stderr,
		.time_passes = o->time_passes,
		.verify = !o->no_verify,
		.seconds = pass_seconds,
	};
	if (pipeline_run(g, &p, &ins, d) < 0) {
		graph_free(g);
		return NULL;
	}
	remarks_print(g, stderr);
	if (ran)
		*ran = p;
	return g;
}
