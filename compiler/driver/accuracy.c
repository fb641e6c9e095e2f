/* The accuracy report: how far a transformed (pruned, pattern-converted, TASD-decomposed) model
 * is from its dense reference, measured with the reference interpreter on calibration inputs —
 * no training data, no labels. Per layer: the relative L2 error of each node both graphs have
 * (by name). End to end, per graph output: max abs error, relative L2, cosine similarity and,
 * for class scores, top-1 agreement.
 *
 * Memory: one input at a time. The dense run copies the outputs of the paired nodes (its
 * observer); the transformed run compares each paired node as soon as it has run and frees the
 * dense copy at once. So the peak is one input's paired activations of the dense model plus the
 * interpreter's own live tensors — never every activation of every input.
 *
 * This file uses only the compiler library (the unit test links it alone); reading calibration
 * inputs and building the dense model is calib.c's job. */
#include "driver.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- metrics */

static double elem(const Tensor *t, int64_t i)
{
	return dtype_is_float(t->dtype) ? (double)((const float *)t->data)[i] : (double)((const int64_t *)t->data)[i];
}

/* Sums of one comparison; kept separate so that a node with several outputs pools them. */
typedef struct Sums { double diff2, ref2, got2, dot, max_abs; } Sums;

static void accumulate(Sums *s, const Tensor *got, const Tensor *ref)
{
	int64_t n = tensor_numel(ref);
	if (dtype_is_float(got->dtype) && dtype_is_float(ref->dtype)) {
		const float *a = got->data, *b = ref->data;
		for (int64_t i = 0; i < n; i++) {
			double x = a[i], y = b[i], e = x - y;
			s->diff2 += e * e;
			s->ref2 += y * y;
			s->got2 += x * x;
			s->dot += x * y;
			/* NaN must show: a comparison with NaN is false, so test for it explicitly */
			if (fabs(e) > s->max_abs || isnan(e))
				s->max_abs = isnan(s->max_abs) ? s->max_abs : fabs(e);
		}
		return;
	}
	for (int64_t i = 0; i < n; i++) {
		double x = elem(got, i), y = elem(ref, i), e = x - y;
		s->diff2 += e * e;
		s->ref2 += y * y;
		s->got2 += x * x;
		s->dot += x * y;
		if (fabs(e) > s->max_abs)
			s->max_abs = fabs(e);
	}
}

static double rel_l2_of(const Sums *s)
{
	if (isnan(s->diff2) || isnan(s->ref2))
		return NAN;
	if (s->ref2 == 0)
		return s->diff2 == 0 ? 0 : INFINITY;
	return sqrt(s->diff2) / sqrt(s->ref2);
}

static double cosine_of(const Sums *s)
{
	if (isnan(s->dot) || isnan(s->got2) || isnan(s->ref2))
		return NAN;
	if (s->got2 == 0 || s->ref2 == 0)
		return s->got2 == s->ref2 ? 1 : 0;
	double c = s->dot / (sqrt(s->got2) * sqrt(s->ref2));
	return c > 1 ? 1 : c < -1 ? -1 : c; /* rounding can step just outside */
}

TensorCompare tensor_compare(const Tensor *got, const Tensor *ref)
{
	Sums s = {0};
	accumulate(&s, got, ref);
	return (TensorCompare){rel_l2_of(&s), cosine_of(&s), s.max_abs};
}

static int64_t argmax_row(const float *p, int64_t n)
{
	int64_t best = 0;
	for (int64_t i = 1; i < n; i++)
		if (p[i] > p[best] || (isnan(p[best]) && !isnan(p[i])))
			best = i;
	return best;
}

bool top1_agreement(const Tensor *got, const Tensor *ref, int64_t *agree, int64_t *rows)
{
	*agree = *rows = 0;
	const Shape *s = &ref->shape;
	if (!dtype_is_float(ref->dtype) || !dtype_is_float(got->dtype) || s->rank < 1 || s->rank > 2 ||
	    !shape_equal(s, &got->shape))
		return false;
	int64_t classes = s->dim[s->rank - 1], n = s->rank == 2 ? s->dim[0] : 1;
	if (classes < 2)
		return false;
	for (int64_t r = 0; r < n; r++)
		*agree += argmax_row((const float *)got->data + r * classes, classes) ==
			  argmax_row((const float *)ref->data + r * classes, classes);
	*rows = n;
	return true;
}

/* ---------------------------------------------------------------- pairing and runs */

struct AccuracyState {
	int n_dense, n_nodes;
	int *dense_layer; /* by position in dense->nodes: index into r->layers, or -1 */
	int *layer;       /* by position in g->nodes */
	int *n_out;       /* by layer: outputs compared (the fewer of the two nodes') */
	Tensor **kept;    /* by layer: the dense outputs of the current input, NULL once consumed */
};

static bool is_weight_layer(Op op)
{
	return op == OP_Conv || op == OP_FusedConv || op == OP_ConvTranspose || op == OP_Gemm || op == OP_FusedGemm ||
	       op == OP_MatMul;
}

static bool has_float_output(const Node *n)
{
	for (int j = 0; j < n->n_out; j++)
		if (dtype_is_float(n->out[j]->dtype))
			return true;
	return false;
}

static int node_position(const Graph *g, const Node *n)
{
	if (n->id >= 0 && n->id < g->n_nodes && g->nodes[n->id] == n)
		return n->id;
	for (int i = 0; i < g->n_nodes; i++)
		if (g->nodes[i] == n)
			return i;
	return -1;
}

static void free_kept(AccuracyReport *r)
{
	struct AccuracyState *st = r->state;
	for (int l = 0; l < r->n_layers; l++) {
		if (st->kept[l] == NULL)
			continue;
		for (int j = 0; j < st->n_out[l]; j++)
			tensor_free(&st->kept[l][j]);
		free(st->kept[l]);
		st->kept[l] = NULL;
	}
}

int accuracy_begin(AccuracyReport *r, const Graph *dense, const Graph *g, Diag *d)
{
	if (dense->n_inputs != g->n_inputs || dense->n_outputs != g->n_outputs)
		return diag_error(d, "accuracy: the dense reference has %d inputs and %d outputs, the transformed model %d and %d",
				  dense->n_inputs, dense->n_outputs, g->n_inputs, g->n_outputs);
	struct AccuracyState *st = calloc(1, sizeof *st);
	r->state = st;
	if (st == NULL)
		return diag_error(d, "out of memory");
	st->n_dense = dense->n_nodes;
	st->n_nodes = g->n_nodes;
	st->dense_layer = malloc(((size_t)dense->n_nodes + 1) * sizeof *st->dense_layer);
	st->layer = malloc(((size_t)g->n_nodes + 1) * sizeof *st->layer);
	st->n_out = calloc((size_t)g->n_nodes + 1, sizeof *st->n_out);
	st->kept = calloc((size_t)g->n_nodes + 1, sizeof *st->kept);
	r->layers = calloc((size_t)g->n_nodes + 1, sizeof *r->layers);
	r->outputs = calloc((size_t)g->n_outputs + 1, sizeof *r->outputs);
	if (!st->dense_layer || !st->layer || !st->n_out || !st->kept || !r->layers || !r->outputs)
		return diag_error(d, "out of memory");
	for (int i = 0; i < dense->n_nodes; i++)
		st->dense_layer[i] = -1;
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = g->nodes[i];
		st->layer[i] = -1;
		if (n->dead || !has_float_output(n))
			continue;
		const Node *dn = graph_find_node(dense, n->name);
		int k = dn && !dn->dead ? node_position(dense, dn) : -1;
		if (k < 0 || st->dense_layer[k] >= 0)
			continue;
		LayerAccuracy *la = &r->layers[r->n_layers];
		la->node = strdup(n->name);
		if (la->node == NULL)
			return diag_error(d, "out of memory");
		la->op = op_name(n->op);
		la->weight_layer = is_weight_layer(n->op);
		la->rel_l2_max = 0;
		st->n_out[r->n_layers] = n->n_out < dn->n_out ? n->n_out : dn->n_out;
		st->dense_layer[k] = st->layer[i] = r->n_layers++;
	}
	for (int i = 0; i < g->n_outputs; i++) {
		r->outputs[i].name = strdup(g->outputs[i]->name);
		if (r->outputs[i].name == NULL)
			return diag_error(d, "out of memory");
		r->outputs[i].cos_min = 1;
	}
	r->n_outputs = g->n_outputs;
	return 0;
}

/* What an observer needs: the graph it watches (nodes arrive in g->nodes order, so a cursor
 * finds each one's position without trusting ids) and the report. */
typedef struct Watch {
	const Graph *g;
	AccuracyReport *r;
	int cursor;
} Watch;

static int position_of(Watch *w, const Node *n)
{
	while (w->cursor < w->g->n_nodes && w->g->nodes[w->cursor] != n)
		w->cursor++;
	assert(w->cursor < w->g->n_nodes); /* the interpreter walks g->nodes in order */
	return w->cursor < w->g->n_nodes ? w->cursor++ : -1;
}

static int keep_dense(const Node *n, const Tensor *outs, void *ctx, Diag *d)
{
	Watch *w = ctx;
	struct AccuracyState *st = w->r->state;
	int pos = position_of(w, n);
	int l = pos < 0 ? -1 : st->dense_layer[pos];
	if (l < 0)
		return 0;
	Tensor *copy = calloc((size_t)st->n_out[l] + 1, sizeof *copy);
	if (copy == NULL)
		return diag_error(d, "accuracy: out of memory keeping the outputs of node '%s'", n->name);
	st->kept[l] = copy;
	for (int j = 0; j < st->n_out[l]; j++) {
		if (outs[j].data == NULL)
			continue;
		if (tensor_alloc(&copy[j], outs[j].dtype, &outs[j].shape, d) < 0) {
			diag_prefix(d, "accuracy: keeping the outputs of a dense node: ");
			return -1;
		}
		memcpy(copy[j].data, outs[j].data, tensor_nbytes(&outs[j]));
	}
	return 0;
}

static int compare_layer(const Node *n, const Tensor *outs, void *ctx, Diag *d)
{
	(void)d;
	Watch *w = ctx;
	AccuracyReport *r = w->r;
	struct AccuracyState *st = r->state;
	int pos = position_of(w, n);
	int l = pos < 0 ? -1 : st->layer[pos];
	if (l < 0 || st->kept[l] == NULL)
		return 0;
	Sums s = {0};
	bool compared = false, mismatch = false;
	for (int j = 0; j < st->n_out[l]; j++) {
		const Tensor *ref = &st->kept[l][j], *got = &outs[j];
		if (ref->data == NULL || got->data == NULL || !dtype_is_float(ref->dtype) || !dtype_is_float(got->dtype))
			continue;
		if (!shape_equal(&ref->shape, &got->shape)) {
			mismatch = true;
			continue;
		}
		accumulate(&s, got, ref);
		compared = true;
	}
	for (int j = 0; j < st->n_out[l]; j++)
		tensor_free(&st->kept[l][j]);
	free(st->kept[l]);
	st->kept[l] = NULL;
	/* a node whose shapes differ between the two models is not the same layer: leave it out */
	if (compared && !mismatch) {
		LayerAccuracy *la = &r->layers[l];
		double e = rel_l2_of(&s);
		la->samples++;
		la->rel_l2_sum += e;
		if (e > la->rel_l2_max || isnan(e))
			la->rel_l2_max = isnan(la->rel_l2_max) ? la->rel_l2_max : e;
	}
	return 0;
}

static int compare_outputs(AccuracyReport *r, const Graph *g, const Tensor *got, const Tensor *ref, Diag *d)
{
	for (int i = 0; i < r->n_outputs; i++) {
		char s1[128], s2[128];
		if (!shape_equal(&got[i].shape, &ref[i].shape) || dtype_is_float(got[i].dtype) != dtype_is_float(ref[i].dtype))
			return diag_error(d, "accuracy: output '%s' is %s%s in the transformed model but %s%s in the dense one",
					  g->outputs[i]->name, dtype_name(got[i].dtype), shape_str(&got[i].shape, s1, sizeof s1),
					  dtype_name(ref[i].dtype), shape_str(&ref[i].shape, s2, sizeof s2));
	}
	for (int i = 0; i < r->n_outputs; i++) {
		OutputAccuracy *oa = &r->outputs[i];
		TensorCompare c = tensor_compare(&got[i], &ref[i]);
		int64_t agree, rows;
		oa->samples++;
		if (c.max_abs > oa->max_abs || isnan(c.max_abs))
			oa->max_abs = isnan(oa->max_abs) ? oa->max_abs : c.max_abs;
		oa->rel_l2_sum += c.rel_l2;
		if (c.rel_l2 > oa->rel_l2_max || isnan(c.rel_l2))
			oa->rel_l2_max = isnan(oa->rel_l2_max) ? oa->rel_l2_max : c.rel_l2;
		oa->cos_sum += c.cosine;
		if (c.cosine < oa->cos_min || isnan(c.cosine))
			oa->cos_min = isnan(oa->cos_min) ? oa->cos_min : c.cosine;
		if (top1_agreement(&got[i], &ref[i], &agree, &rows)) {
			oa->top1_agree += agree;
			oa->top1_total += rows;
		}
	}
	return 0;
}

int accuracy_add_sample(AccuracyReport *r, const Graph *dense, const Graph *g, const Tensor *inputs, Diag *d)
{
	assert(r->state && r->state->n_dense == dense->n_nodes && r->state->n_nodes == g->n_nodes);
	Tensor *ref = calloc((size_t)g->n_outputs + 1, sizeof *ref);
	Tensor *got = calloc((size_t)g->n_outputs + 1, sizeof *got);
	int rc = -1;
	bool have_ref = false, have_got = false;
	if (ref == NULL || got == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	Watch wd = {dense, r, 0}, wg = {g, r, 0};
	if (ref_run_observed(dense, inputs, ref, keep_dense, &wd, d) < 0) {
		diag_prefix(d, "accuracy: dense reference: ");
		goto out;
	}
	have_ref = true;
	if (ref_run_observed(g, inputs, got, compare_layer, &wg, d) < 0) {
		diag_prefix(d, "accuracy: transformed model: ");
		goto out;
	}
	have_got = true;
	if (compare_outputs(r, g, got, ref, d) < 0)
		goto out;
	r->samples++;
	rc = 0;
out:
	free_kept(r);
	for (int i = 0; i < g->n_outputs; i++) {
		if (have_ref)
			tensor_free(&ref[i]);
		if (have_got)
			tensor_free(&got[i]);
	}
	free(ref);
	free(got);
	return rc;
}

/* ---------------------------------------------------------------- printing */

/* A left-aligned first column and right-aligned numbers, two spaces apart. */
#define MAX_COLS 8

typedef struct Table {
	int ncols, nrows, cap;
	char (*cell)[MAX_COLS][48];
	const char **first; /* first column: names of any length */
} Table;

static void table_row(Table *t, const char *first, ...)
{
	if (t->nrows == t->cap) {
		int cap = t->cap ? 2 * t->cap : 16;
		void *c = realloc(t->cell, (size_t)cap * sizeof *t->cell);
		if (c == NULL)
			return; /* a table line lost to memory exhaustion is not worth failing for */
		t->cell = c;
		const char **f = realloc(t->first, (size_t)cap * sizeof *f);
		if (f == NULL)
			return;
		t->first = f;
		t->cap = cap;
	}
	va_list ap;
	va_start(ap, first);
	t->first[t->nrows] = first;
	for (int c = 1; c < t->ncols; c++) {
		const char *s = va_arg(ap, const char *);
		snprintf(t->cell[t->nrows][c], sizeof t->cell[0][0], "%s", s);
	}
	va_end(ap);
	t->nrows++;
}

static void table_print(Table *t, FILE *f, int left_cols)
{
	size_t w[MAX_COLS] = {0};
	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			size_t n = strlen(c == 0 ? t->first[r] : t->cell[r][c]);
			if (n > w[c])
				w[c] = n;
		}
	for (int r = 0; r < t->nrows; r++) {
		fputs("  ", f);
		for (int c = 0; c < t->ncols; c++) {
			const char *s = c == 0 ? t->first[r] : t->cell[r][c];
			bool last = c == t->ncols - 1;
			if (c < left_cols && last)
				fputs(s, f); /* no trailing blanks */
			else if (c < left_cols)
				fprintf(f, "%-*s", (int)w[c], s);
			else
				fprintf(f, "%*s", (int)w[c], s);
			fputs(last ? "\n" : "  ", f);
		}
	}
	free(t->cell);
	free(t->first);
	t->cell = NULL;
	t->first = NULL;
	t->nrows = t->cap = 0;
}

static const char *num(char *buf, double v)
{
	if (isnan(v))
		snprintf(buf, 48, "nan");
	else if (isinf(v))
		snprintf(buf, 48, "inf");
	else if (v == 0)
		snprintf(buf, 48, "0");
	else
		snprintf(buf, 48, "%.4g", v);
	return buf;
}

static void calib_line(const AccuracyReport *r, FILE *f)
{
	fprintf(f, "accuracy: the transformed model against the dense reference on %d calibration input%s ", r->samples,
		r->samples == 1 ? "" : "s");
	if (r->calib_dir)
		fprintf(f, "from %s\n", r->calib_dir);
	else
		fprintf(f, "(generated: normal(0,1), seed %llu)\n", (unsigned long long)r->seed);
	fprintf(f, "accuracy: reference pipeline: %s", r->reference && *r->reference ? r->reference : "none");
	if (r->removed && *r->removed)
		fprintf(f, " (leaves out %s)\n", r->removed);
	else
		fprintf(f, " (the pipeline has no sparsity pass: both models are the same)\n");
}

void accuracy_print_table(const AccuracyReport *r, FILE *f)
{
	calib_line(r, f);
	char a[48], b[48], c[48], e[48];
	int others = 0, weights = 0;
	for (int i = 0; i < r->n_layers; i++)
		weights += r->layers[i].weight_layer;
	Table t = {.ncols = 4};
	table_row(&t, "layer", "op", "rel L2 mean", "rel L2 max");
	for (int i = 0; i < r->n_layers; i++) {
		const LayerAccuracy *la = &r->layers[i];
		/* the table shows the layers that carry weights (all nodes if there are none) */
		if (weights && !la->weight_layer) {
			others++;
			continue;
		}
		if (la->samples == 0)
			table_row(&t, la->node, la->op, "-", "-");
		else
			table_row(&t, la->node, la->op, num(a, la->rel_l2_sum / la->samples), num(b, la->rel_l2_max));
	}
	if (r->n_layers)
		table_print(&t, f, 2); /* names and ops left-aligned, numbers right */
	else
		fprintf(f, "  (no layer compared: no node with a float output is in both models)\n");
	free(t.cell);
	free(t.first);
	if (others)
		fprintf(f, "  (%d other node%s compared: see --report)\n", others, others == 1 ? "" : "s");
	t = (Table){.ncols = 6};
	table_row(&t, "output", "max abs err", "rel L2 mean", "cosine mean", "cosine min", "top-1 agreement");
	for (int i = 0; i < r->n_outputs; i++) {
		const OutputAccuracy *oa = &r->outputs[i];
		int ns = oa->samples ? oa->samples : 1;
		char top1[48];
		if (oa->top1_total)
			snprintf(top1, sizeof top1, "%.1f%% (%lld/%lld)", 100.0 * (double)oa->top1_agree / (double)oa->top1_total,
				 (long long)oa->top1_agree, (long long)oa->top1_total);
		else
			snprintf(top1, sizeof top1, "-");
		table_row(&t, oa->name, num(a, oa->max_abs), num(b, oa->rel_l2_sum / ns), num(c, oa->cos_sum / ns),
			  num(e, oa->cos_min), top1);
	}
	table_print(&t, f, 1);
}

static void json_key(const char *k, FILE *f)
{
	json_print_string(k, f);
	fputs(": ", f);
}

void accuracy_print_json(const AccuracyReport *r, FILE *f)
{
	fputs("{\"calibration\": {", f);
	if (r->calib_dir) {
		fputs("\"source\": \"folder\", \"path\": ", f);
		json_print_string(r->calib_dir, f);
	} else {
		fprintf(f, "\"source\": \"generated\", \"distribution\": \"normal(0,1)\", \"seed\": %llu",
			(unsigned long long)r->seed);
	}
	fprintf(f, ", \"samples\": %d},\n  ", r->samples);
	json_key("reference_pipeline", f);
	json_print_string(r->reference, f);
	fputs(", ", f);
	json_key("removed_passes", f);
	json_print_string(r->removed, f);
	fputs(",\n  \"layers\": [", f);
	for (int i = 0; i < r->n_layers; i++) {
		const LayerAccuracy *la = &r->layers[i];
		fputs(i ? ",\n    {" : "\n    {", f);
		json_key("node", f);
		json_print_string(la->node, f);
		fputs(", \"op\": ", f);
		json_print_string(la->op, f);
		fprintf(f, ", \"weight_layer\": %s, \"samples\": %d, \"rel_l2_mean\": ", la->weight_layer ? "true" : "false",
			la->samples);
		if (la->samples) {
			json_print_number(la->rel_l2_sum / la->samples, f);
			fputs(", \"rel_l2_max\": ", f);
			json_print_number(la->rel_l2_max, f);
		} else {
			fputs("null, \"rel_l2_max\": null", f);
		}
		fputc('}', f);
	}
	fputs(r->n_layers ? "\n  ],\n  \"outputs\": [" : "],\n  \"outputs\": [", f);
	for (int i = 0; i < r->n_outputs; i++) {
		const OutputAccuracy *oa = &r->outputs[i];
		int ns = oa->samples ? oa->samples : 1;
		fputs(i ? ",\n    {" : "\n    {", f);
		json_key("name", f);
		json_print_string(oa->name, f);
		fprintf(f, ", \"samples\": %d, \"max_abs_error\": ", oa->samples);
		json_print_number(oa->max_abs, f);
		fputs(", \"rel_l2_mean\": ", f);
		json_print_number(oa->rel_l2_sum / ns, f);
		fputs(", \"rel_l2_max\": ", f);
		json_print_number(oa->rel_l2_max, f);
		fputs(", \"cosine_mean\": ", f);
		json_print_number(oa->cos_sum / ns, f);
		fputs(", \"cosine_min\": ", f);
		json_print_number(oa->cos_min, f);
		fputs(", \"top1_agreement\": ", f);
		if (oa->top1_total)
			json_print_number((double)oa->top1_agree / (double)oa->top1_total, f);
		else
			fputs("null", f);
		fprintf(f, ", \"top1_rows\": %lld}", (long long)oa->top1_total);
	}
	fputs(r->n_outputs ? "\n  ]}" : "]}", f);
}

void accuracy_free(AccuracyReport *r)
{
	if (r == NULL)
		return;
	struct AccuracyState *st = r->state;
	if (st) {
		if (st->kept && st->n_out)
			free_kept(r);
		free(st->dense_layer);
		free(st->layer);
		free(st->n_out);
		free(st->kept);
		free(st);
	}
	for (int i = 0; i < r->n_layers; i++)
		free(r->layers[i].node);
	for (int i = 0; i < r->n_outputs; i++)
		free(r->outputs[i].name);
	free(r->layers);
	free(r->outputs);
	free(r->calib_dir);
	free(r->reference);
	free(r->removed);
	free(r);
}
