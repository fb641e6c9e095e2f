/* tasd(SPEC): TASD decomposition of weights (Jeong et al., "Tensor Approximation via Structured
 * Decomposition", arXiv 2403.07953). By distributivity W x = T1 x + T2 x + ..., so a weight
 * approximated by a sum of structured-sparse terms (N1:M1) + (N2:M2) + ... runs on engines that
 * only know those patterns, with no fine-tuning. Term 1 keeps the top-N1 magnitudes of every
 * group of M1 consecutive columns of the weight's matrix view, term 2 the top-N2 of what term 1
 * left, and so on (sparse_project's greedy rule).
 *
 *   tasd(2:4+1:4)      the same series for every layer
 *   tasd(search:0.05)  per layer, the cheapest candidate series (tasd.h: MAC slots) whose
 *                      relative L2 error ||W - W'|| / ||W|| is at most 0.05 (TASDER's layer-wise
 *                      choice for weights); dense when none is
 *   ;keep=first,last and GLOB=SPEC overrides as in prune (grammar in layer_rules.h and tasd.h)
 *
 * Works on: every weight_view() weight (Conv/FusedConv W, Gemm/FusedGemm B, MatMul 2-D B) with
 * known values. Requires constant weights (run after fold-constants and fold-bn, so that the
 * folded weights are what is decomposed). Changes: the weight's payload becomes the sum of the
 * terms (Value.data) and its encoding tasd[...] with the packed terms (Value.sparse). No node,
 * shape or dtype changes. A weight shared by several layers is decomposed once, by the first,
 * when they read it the same way and get the same SPEC (else every reader leaves it alone); one
 * also read as something else than a weight, or a graph output, is left alone (layer_weights).
 *
 * Remarks, per decomposed layer: "dropped_l2_fraction" (||W - W'|| / ||W||) and "density"
 * (kept non-zeros / elements); per layer left alone, why. Progress (layers done) goes to
 * PassOptions.progress. */
#include "tasd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char PASS[] = "tasd";

static double sum_squares(const float *x, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	return s;
}

/* The search's error estimate for one candidate. The views of Gemm/MatMul and 1x1 convs are a
 * row-major matrix or a transposed one, i.e. [rows, cols, 1] or [1, cols, rows] in the [outer, len, inner]
 * terms of tasd_approximate, which applies the same greedy rule as sparse_project (the unit test
 * holds them to it) without a copy of the weight per candidate. Other views (a KxK conv's
 * columns are tap-major, channel-minor) project a copy. */
typedef struct EvalCtx {
	const float *data;
	float *scratch; /* NULL until a view needs it */
	int64_t numel;
	const WeightView *view;
	double total; /* ||W||^2 */
} EvalCtx;

static double eval_weight(void *ctx, const Encoding *cand)
{
	EvalCtx *e = ctx;
	const WeightView *v = e->view;
	if (e->total == 0)
		return 0; /* an all-zero weight fits everything */
	double dropped;
	int rc = 0;
	if (v->group == v->cols && v->col_stride == 1 && v->row_stride == v->cols)
		rc = tasd_approximate(e->data, NULL, v->rows, v->cols, 1, cand, &dropped);
	else if (v->group == v->cols && v->row_stride == 1 && v->col_stride == v->rows)
		rc = tasd_approximate(e->data, NULL, 1, v->cols, v->rows, cand, &dropped);
	else {
		if (e->scratch == NULL && (e->scratch = malloc((size_t)e->numel * sizeof *e->scratch)) == NULL)
			return -1;
		memcpy(e->scratch, e->data, (size_t)e->numel * sizeof *e->scratch);
		dropped = sparse_project(e->scratch, v, cand);
	}
	return rc < 0 ? -1 : sqrt(dropped / e->total);
}

/* Replace w by its decomposition under enc and say what it cost. `how` prefixes the first
 * remark ("search:0.05 chose "). */
static int decompose(Graph *g, const LayerWeight *l, const Encoding *enc, const char *how, Diag *d)
{
	Value *w = l->w;
	int64_t numel = shape_numel(&w->shape);
	float *data = w->data;
	char series[64];
	tasd_series_str(enc, series, sizeof series);
	double total = sum_squares(data, numel);
	double dropped = sparse_project(data, &l->view, enc);
	if (sparse_attach(g, w, &l->view, enc, d) < 0)
		return -1;
	int64_t nnz = value_nnz(w);
	double frac = total > 0 ? sqrt(dropped / total) : 0.0;
	double density = numel > 0 ? (double)nnz / (double)numel : 0.0;
	graph_remark(g, PASS, l->node, "dropped_l2_fraction", frac, "%s%s: dropped L2 fraction %.4f", how, series, frac);
	/* the non-zeros a pruned weight keeps can be far fewer than the slots the series occupies */
	double slots = numel > 0 ? (double)tasd_cost(enc, l->view.rows, l->view.cols) / (double)numel : 0.0;
	graph_remark(g, PASS, l->node, "density", density,
		     "%s: density %.3f (%lld of %lld weights kept; the series occupies %.3f of the dense MACs)", series,
		     density, (long long)nnz, (long long)numel, slots);
	return 0;
}

static int search_layer(Graph *g, const LayerWeight *l, const TasdSpec *spec, Diag *d)
{
	int64_t numel = shape_numel(&l->w->shape);
	EvalCtx e = {.data = l->w->data, .numel = numel, .view = &l->view};
	e.total = sum_squares(e.data, numel);
	double err;
	int tried;
	int best = tasd_search(l->view.rows, l->view.cols, spec->budget, eval_weight, &e, &err, &tried);
	free(e.scratch);
	if (best < 0)
		return node_error(d, l->node, "out of memory");
	const Encoding *enc = &tasd_candidates[best];
	if (enc->kind == ENC_DENSE) {
		double density = numel > 0 ? (double)value_nnz(l->w) / (double)numel : 0.0;
		graph_remark(g, PASS, l->node, "density", density,
			     "%s: left as it is: no candidate series keeps the relative L2 error within %g (%d tried)",
			     spec->text, spec->budget, tried);
		return 0;
	}
	char how[128];
	snprintf(how, sizeof how, "%s chose ", spec->text);
	return decompose(g, l, enc, how, d);
}

static void progress(const PassOptions *opt, int64_t done, int64_t total)
{
	if (opt && opt->progress)
		opt->progress(opt->progress_ctx, PASS, done, total);
}

/* Why the layer's shape cannot take its SPEC, or NULL. */
static const char *misfit(Graph *g, const LayerWeight *l, const TasdSpec *spec)
{
	if (spec->mode == TASD_FIXED && tasd_max_m(&spec->series) > l->view.cols)
		return arena_printf(g->arena, "left as it is: %lld columns cannot take %s (fewer than M=%d)",
				    (long long)l->view.cols, spec->text, tasd_max_m(&spec->series));
	if (spec->mode == TASD_SEARCH && l->view.cols < tasd_min_m())
		return arena_printf(g->arena, "left as it is: %lld columns cannot take any candidate (fewer than M=%d)",
				    (long long)l->view.cols, tasd_min_m());
	return NULL;
}

int pass_tasd(Graph *g, const PassOptions *opt, Diag *d)
{
	TasdArgs *args = malloc(sizeof *args);
	if (args == NULL)
		return diag_error(d, "out of memory");
	LayerWeight *l = NULL;
	int n = 0, rc = -1;
	if (tasd_args_parse(opt ? opt->arg : NULL, PASS, args, d) < 0 || layer_weights(g, &args->rules, &l, &n, d) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		progress(opt, i, n);
		const TasdSpec *spec = tasd_spec_of(args, l[i].rule);
		const char *why = l[i].skip ? l[i].skip : misfit(g, &l[i], spec);
		if (why) {
			if (why[0])
				graph_remark(g, PASS, l[i].node, NULL, 0, "%s", why);
			continue;
		}
		if (l[i].owner != i)
			continue; /* a shared weight, decomposed with its first reader */
		if (spec->mode == TASD_SEARCH ? search_layer(g, &l[i], spec, d) < 0
					      : decompose(g, &l[i], &spec->series, "", d) < 0)
			goto out;
	}
	progress(opt, n, n);
	layer_rules_unused(g, &args->rules, PASS);
	rc = 0;
out:
	free(l);
	free(args);
	return rc;
}
