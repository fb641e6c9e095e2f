/* tasd-activations(SPEC): TASD of activations (TASD-A in Jeong et al., arXiv 2403.07953). Before
 * each Conv, FusedConv, Gemm, FusedGemm and MatMul, an nnzc.TasdActivation node decomposes the
 * layer's data input at run time into the series' structured-sparse terms, along the layer's
 * reduction axis: the channels (axis 1) of a conv input, the K axis of a Gemm/MatMul input (the
 * last one, or axis 0 of a Gemm with transA). The layer then reads the approximation, which a
 * structured-sparse engine can multiply term by term.
 *
 *   tasd-activations(2:4+1:4)      the same series before every layer
 *   tasd-activations(search:0.05)  per layer, the cheapest candidate series (tasd.h) whose
 *                                  relative L2 error on the layer's input is at most 0.05
 *   ;keep=first,last and GLOB=SPEC overrides as in tasd and prune (grammar in layer_rules.h
 *   and tasd.h)
 *
 * The search measures the error on activations that the reference interpreter computes from
 * *generated* inputs: one sample, normal(0,1) for float inputs and zeros for integer ones (a
 * pass sees no calibration files). It needs static input shapes. Every layer is measured on the
 * dense model, so errors of earlier decompositions do not feed into later choices.
 *
 * Layers left alone, with a remark: those reading a graph input (the model's own input is not
 * the network's to approximate; with 1 or 3 channels it could rarely take a series anyway) or a
 * constant, those already reading an nnzc.TasdActivation (so the pass can run twice), those
 * whose reduction length is unknown or shorter than a term's M, and grouped convs whose
 * per-group channel count is not a multiple of every M (a group of M channels would straddle
 * two conv groups).
 *
 * Requires shape inference (static ranks and channel counts). Changes: inserts nodes and
 * rewires the layers' data inputs; no other node or value changes. Remarks per layer: the
 * series and its "density" (multiply-accumulate slots / elements); with search also the
 * measured "dropped_l2_fraction". */
#include "tasd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char PASS[] = "tasd-activations";

typedef struct ActLayer {
	Node *node;
	Value *x;
	int axis;             /* reduction axis of x */
	int64_t len, group;   /* x's extent along axis; conv groups (1 otherwise) */
	const TasdSpec *spec;
	const char *why;      /* left alone and why ("" when there is nothing to say) */
	bool want;            /* searched: measure its input */
	float *sample;        /* search: x on the generated input (malloc'd) */
	Shape sample_shape;   /* its run-time shape */
} ActLayer;

static bool is_layer(Op op)
{
	return op == OP_Conv || op == OP_FusedConv || op == OP_Gemm || op == OP_FusedGemm || op == OP_MatMul;
}

static const char *reduction_name(const ActLayer *l)
{
	if (l->group > 1)
		return "channels per group";
	return l->node->op == OP_Conv || l->node->op == OP_FusedConv ? "input channels" : "reduction elements";
}

/* Where n reduces its data input, or why it is left alone. */
static const char *reduction_axis(Graph *g, ActLayer *l)
{
	const Node *n = l->node;
	const Value *x = n->in[0];
	if (x->producer == NULL)
		return graph_is_input(g, x) ? "kept dense: its input is a graph input" : "kept dense: its input is a constant";
	if (x->producer->op == OP_TasdActivation)
		return "kept dense: its input is already decomposed";
	if (!dtype_is_float(x->dtype))
		return "kept dense: its input is not a float tensor";
	int r = x->shape.rank;
	l->group = 1;
	switch (n->op) {
	case OP_Conv:
	case OP_FusedConv:
		l->axis = 1;
		l->group = n->op == OP_Conv ? n->attr.conv.group : n->attr.fused_conv.conv.group;
		if (r < 3)
			return "kept dense: its input's rank is not known";
		break;
	case OP_Gemm:
	case OP_FusedGemm:
		if (r != 2)
			return "kept dense: its input's rank is not known";
		l->axis = (n->op == OP_Gemm ? n->attr.gemm.trans_a : n->attr.fused_gemm.gemm.trans_a) ? 0 : 1;
		break;
	default: /* MatMul */
		if (r < 1)
			return "kept dense: its input's rank is not known";
		l->axis = r - 1;
		break;
	}
	l->len = x->shape.dim[l->axis];
	if (l->len < 0 || l->group < 1 || l->len % l->group != 0)
		return arena_printf(g->arena, "kept dense: the length of axis %d of its input is not known", l->axis);
	return NULL;
}

/* Why the series cannot run on this layer, or NULL. */
static const char *misfit(Graph *g, const ActLayer *l, const Encoding *series, const char *text)
{
	int64_t per_group = l->len / l->group;
	int mmax = tasd_max_m(series);
	if (per_group < mmax)
		return arena_printf(g->arena, "kept dense: %lld %s cannot take %s (fewer than M=%d)", (long long)per_group,
				    reduction_name(l), text, mmax);
	if (l->group > 1)
		for (int i = 0; i < series->u.tasd.nterms; i++)
			if (per_group % series->u.tasd.term[i].m != 0)
				return arena_printf(g->arena, "kept dense: %lld channels per group are not a multiple of M=%d "
							      "of %s", (long long)per_group, series->u.tasd.term[i].m, text);
	return NULL;
}

/* ---------------------------------------------------------------- measuring on generated inputs */

typedef struct Sampler {
	ActLayer *l;
	int n;
	Diag *d;
} Sampler;

/* Keep a copy of every output some layer to be searched reads. */
static int observe(const Node *n, const Tensor *outs, void *ctx, Diag *d)
{
	Sampler *s = ctx;
	(void)d;
	for (int j = 0; j < n->n_out; j++)
		for (int k = 0; k < s->n; k++) {
			ActLayer *l = &s->l[k];
			if (!l->want || l->x != n->out[j] || l->sample != NULL)
				continue;
			const Shape *rs = &outs[j].shape;
			if (!dtype_is_float(outs[j].dtype) || rs->rank != l->x->shape.rank || rs->dim[l->axis] != l->len)
				return node_error(s->d, l->node, "its input's shape at run time disagrees with the inferred one");
			int64_t numel = tensor_numel(&outs[j]);
			l->sample = malloc((size_t)(numel > 0 ? numel : 1) * sizeof *l->sample);
			if (l->sample == NULL)
				return diag_error(s->d, "out of memory");
			memcpy(l->sample, outs[j].data, (size_t)numel * sizeof *l->sample);
			l->sample_shape = *rs;
		}
	return 0;
}

/* xorshift64* and Box-Muller: deterministic normal(0,1) samples, the same on every machine. */
static uint64_t next_u64(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static double uniform01(uint64_t *s) { return ((double)(next_u64(s) >> 11) + 0.5) / 9007199254740992.0; }

static float normal01(uint64_t *s)
{
	double u = uniform01(s), v = uniform01(s);
	return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* One run of the dense graph on a generated input, copying the input of each layer that wants it. */
static int measure(Graph *g, ActLayer *l, int n, Diag *d)
{
	Tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
	Tensor *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
	int rc = -1;
	if (in == NULL || out == NULL) {
		diag_error(d, "out of memory");
		goto done;
	}
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		if (!shape_is_static(&v->shape)) {
			char s[128];
			diag_error(d, "search needs static input shapes to generate activations: input '%s' is %s (give "
				   "--input-shape)", v->name, shape_str(&v->shape, s, sizeof s));
			goto done;
		}
		if (tensor_alloc(&in[i], v->dtype, &v->shape, d) < 0)
			goto done;
		if (dtype_is_float(v->dtype)) {
			float *p = in[i].data;
			for (int64_t k = 0; k < tensor_numel(&in[i]); k++)
				p[k] = normal01(&seed);
		}
	}
	Sampler s = {.l = l, .n = n, .d = d};
	if (ref_run_observed(g, in, out, observe, &s, d) < 0) {
		diag_prefix(d, "running the model on a generated input: ");
		goto done;
	}
	for (int k = 0; k < n; k++)
		if (l[k].want && l[k].sample == NULL) {
			node_error(d, l[k].node, "internal error: its input was never computed");
			goto done;
		}
	rc = 0;
done:
	for (int i = 0; in && i < g->n_inputs; i++)
		tensor_free(&in[i]);
	for (int i = 0; out && i < g->n_outputs; i++)
		tensor_free(&out[i]);
	free(in);
	free(out);
	return rc;
}

typedef struct EvalCtx {
	const ActLayer *l;
	int64_t outer, inner;
	double total;
} EvalCtx;

static double eval_activation(void *ctx, const Encoding *cand)
{
	EvalCtx *e = ctx;
	const ActLayer *l = e->l;
	int64_t per_group = l->len / l->group;
	for (int i = 0; i < cand->u.tasd.nterms; i++)
		if (per_group % cand->u.tasd.term[i].m != 0 && l->group > 1)
			return INFINITY; /* a group would straddle two conv groups: never chosen */
	if (e->total == 0)
		return 0;
	double dropped;
	if (tasd_approximate(l->sample, NULL, e->outer, l->len, e->inner, cand, &dropped) < 0)
		return -1;
	return sqrt(dropped / e->total);
}

/* ---------------------------------------------------------------- the pass */

static int insert(Graph *g, ActLayer *l, const Encoding *series, Diag *d)
{
	Value *in[1] = {l->x};
	Node *t = graph_insert_node(g, l->node, OP_TasdActivation, arena_printf(g->arena, "%s_tasd", l->node->name), 1,
				    in, 1);
	t->attr.tasd_act.axis = l->axis;
	t->attr.tasd_act.n.n = t->attr.tasd_act.m.n = series->u.tasd.nterms;
	for (int i = 0; i < series->u.tasd.nterms; i++) {
		t->attr.tasd_act.n.v[i] = series->u.tasd.term[i].n;
		t->attr.tasd_act.m.v[i] = series->u.tasd.term[i].m;
	}
	if (infer_node(t, d) < 0)
		return -1;
	l->node->in[0] = t->out[0];
	return 0;
}

/* Multiply-accumulate slots per element: the same for every fiber along the axis. */
static double density(const ActLayer *l, const Encoding *series)
{
	return l->len > 0 ? (double)tasd_cost(series, 1, l->len) / (double)l->len : 0.0;
}

static int search_layer(Graph *g, ActLayer *l, Diag *d)
{
	/* the run-time shape: a tensor that exists, so the products do not overflow */
	int64_t outer = 1, inner = 1;
	for (int i = 0; i < l->axis; i++)
		outer *= l->sample_shape.dim[i];
	for (int i = l->axis + 1; i < l->sample_shape.rank; i++)
		inner *= l->sample_shape.dim[i];
	EvalCtx e = {.l = l, .outer = outer, .inner = inner};
	for (int64_t i = 0; i < outer * l->len * inner; i++)
		e.total += (double)l->sample[i] * l->sample[i];
	double err;
	int tried;
	/* the cost counts fibers of the whole axis; for a grouped conv that is the same sum of
	 * slots, since every M divides the per-group length of any candidate that qualifies */
	int best = tasd_search(outer * inner, l->len / l->group, l->spec->budget, eval_activation, &e, &err, &tried);
	if (best < 0)
		return diag_error(d, "out of memory");
	const Encoding *enc = &tasd_candidates[best];
	if (enc->kind == ENC_DENSE) {
		graph_remark(g, PASS, l->node, "density", 1.0,
			     "%s: kept dense: no candidate series keeps the relative L2 error within %g (%d tried)",
			     l->spec->text, l->spec->budget, tried);
		return 0;
	}
	char series[64];
	tasd_series_str(enc, series, sizeof series);
	if (insert(g, l, enc, d) < 0)
		return -1;
	graph_remark(g, PASS, l->node, "dropped_l2_fraction", err,
		     "%s chose %s: dropped L2 fraction %.4f of its input (on a generated input)", l->spec->text, series, err);
	double dens = density(l, enc);
	graph_remark(g, PASS, l->node, "density", dens, "%s along axis %d: density %.3f", series, l->axis, dens);
	return 0;
}

int pass_tasd_activations(Graph *g, const PassOptions *opt, Diag *d)
{
	TasdArgs *args = malloc(sizeof *args);
	ActLayer *l = calloc((size_t)g->n_nodes + 1, sizeof *l);
	int n = 0, rc = -1, n_search = 0;
	if (args == NULL || l == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	if (tasd_args_parse(opt ? opt->arg : NULL, PASS, args, d) < 0)
		goto out;
	for (int i = 0; i < g->n_nodes; i++)
		if (!g->nodes[i]->dead && is_layer(g->nodes[i]->op) && g->nodes[i]->n_in >= 1 && g->nodes[i]->in[0])
			l[n++] = (ActLayer){.node = g->nodes[i], .x = g->nodes[i]->in[0]};
	for (int i = 0; i < n; i++) {
		const char *keep;
		int rule = layer_rules_pick(&args->rules, g, l[i].node->name, i == 0, i == n - 1, &keep);
		l[i].spec = tasd_spec_of(args, rule);
		if (keep)
			l[i].why = arena_printf(g->arena, "kept dense: %s", keep);
		else if (l[i].spec->mode == TASD_DENSE)
			l[i].why = rule < 0 ? "" : arena_printf(g->arena, "kept dense by rule '%s=dense'",
								 args->rules.rule[rule].glob);
		else
			l[i].why = reduction_axis(g, &l[i]);
		if (l[i].why == NULL && l[i].spec->mode == TASD_FIXED)
			l[i].why = misfit(g, &l[i], &l[i].spec->series, l[i].spec->text);
		if (l[i].why == NULL && l[i].spec->mode == TASD_SEARCH && l[i].len / l[i].group < tasd_min_m())
			l[i].why = arena_printf(g->arena, "kept dense: %lld %s cannot take any candidate (fewer than M=%d)",
						(long long)(l[i].len / l[i].group), reduction_name(&l[i]), tasd_min_m());
		/* measured all together below, so that the model runs once */
		l[i].want = l[i].why == NULL && l[i].spec->mode == TASD_SEARCH;
		n_search += l[i].want;
	}
	if (n_search > 0 && measure(g, l, n, d) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		if (opt && opt->progress)
			opt->progress(opt->progress_ctx, PASS, i, n);
		if (l[i].why) {
			if (l[i].why[0])
				graph_remark(g, PASS, l[i].node, NULL, 0, "%s", l[i].why);
			continue;
		}
		if (l[i].spec->mode == TASD_SEARCH) {
			if (search_layer(g, &l[i], d) < 0)
				goto out;
			continue;
		}
		if (insert(g, &l[i], &l[i].spec->series, d) < 0)
			goto out;
		double dens = density(&l[i], &l[i].spec->series);
		graph_remark(g, PASS, l[i].node, "density", dens, "%s along axis %d: density %.3f", l[i].spec->text,
			     l[i].axis, dens);
	}
	if (opt && opt->progress)
		opt->progress(opt->progress_ctx, PASS, n, n);
	layer_rules_unused(g, &args->rules, PASS);
	rc = 0;
out:
	for (int i = 0; l && i < n; i++)
		free(l[i].sample);
	free(l);
	free(args);
	return rc;
}
