/* fold-bn: fold an inference-mode BatchNormalization into the Conv, ConvTranspose or Gemm
 * that produces its input.
 *
 * Requires: shape-infer (channel counts are read from static shapes).
 * Does: for Y = BN(X, gamma, beta, mean, var) where X = P(A, W, b?) is read by nothing else
 * (X is not a graph output), P is a Conv, a ConvTranspose or a 2-D Gemm with constant weights
 * and an optional constant bias, and the four BN parameters are constant vectors of the
 * output-channel count:
 *     scale = gamma / sqrt(var + epsilon)
 *     W'[o, ...] = W[o, ...] * scale[o]       (o = the output channel of that weight slice)
 *     b'        = (b - mean) * scale + beta    (b = 0 when absent)
 * P then reads W' and b' and writes Y itself (so Y's name, maybe a graph output's, stays);
 * the BN node and X disappear. W' and b' are new constants: W and b may be shared with other
 * nodes and are never modified. Everything is computed in double and rounded once to the
 * weights' dtype.
 * Output channel o of a weight element: Conv W[O, I/g, k...] → axis 0; ConvTranspose
 * W[I, O/g, k...] → group (i / (I/g)) * (O/g) + axis 1; Gemm → row of B when transB, else
 * column. A Gemm's bias C must be a per-column vector (or a scalar) and its beta is folded
 * into b' (beta becomes 1).
 * A BN that does not match stays as it is.
 * Preserves: topological order, value names, shapes.
 * Invalidates: node and value ids (compaction). */
#include "nnzc/ir.h"

#include <math.h>
#include <stdlib.h>

static bool const_float(const Value *v)
{
	return v != NULL && v->data != NULL && dtype_is_float(v->dtype) && shape_is_static(&v->shape);
}

static bool is_vector_of(const Value *v, int64_t c)
{
	return const_float(v) && v->shape.rank == 1 && v->shape.dim[0] == c;
}

/* Number of output channels c and the layout facts fold() needs, or false if P is not a
 * producer this pass can fold into. */
typedef struct Target {
	Node *p;
	Value *w, *b;
	int64_t c;            /* output channels */
	int64_t w_numel;
	int64_t inner;        /* elements per (w axis 0, w axis 1) slice: product of dims 2.. */
} Target;

static bool gemm_bias_ok(const Value *b, int64_t c)
{
	if (b == NULL)
		return true;
	if (!const_float(b))
		return false;
	int64_t numel = shape_numel(&b->shape);
	if (numel == 1)
		return true;
	/* per-column: [C] or [1, C]; anything with rows is not a per-channel bias */
	return (b->shape.rank == 1 && b->shape.dim[0] == c) ||
	       (b->shape.rank == 2 && b->shape.dim[0] == 1 && b->shape.dim[1] == c);
}

static bool match_target(Node *p, const Value *x, Target *t)
{
	if (p == NULL || p->dead || p->n_out != 1 || p->n_in < 2)
		return false;
	if (p->op != OP_Conv && p->op != OP_ConvTranspose && p->op != OP_Gemm)
		return false;
	t->p = p;
	t->w = p->in[1];
	t->b = p->n_in > 2 ? p->in[2] : NULL;
	if (!dtype_is_float(x->dtype) || x->shape.rank < 2 || x->shape.dim[1] <= 0)
		return false;
	t->c = x->shape.dim[1];
	if (!const_float(t->w) || t->w->shape.rank < 2)
		return false;
	t->w_numel = shape_numel(&t->w->shape);
	if (t->w_numel <= 0)
		return false;
	t->inner = t->w_numel / (t->w->shape.dim[0] * t->w->shape.dim[1]);
	const int64_t *wd = t->w->shape.dim;
	switch (p->op) {
	case OP_Conv:
		return wd[0] == t->c && (t->b == NULL || is_vector_of(t->b, t->c));
	case OP_ConvTranspose: {
		int64_t grp = p->attr.conv.group;
		return grp >= 1 && wd[0] % grp == 0 && wd[1] * grp == t->c &&
		       (t->b == NULL || is_vector_of(t->b, t->c));
	}
	case OP_Gemm:
		if (x->shape.rank != 2 || t->w->shape.rank != 2)
			return false;
		if (wd[p->attr.gemm.trans_b ? 0 : 1] != t->c)
			return false;
		return gemm_bias_ok(t->b, t->c);
	default:
		return false;
	}
}

/* Output channel of weight element i. */
static int64_t channel_of(const Target *t, int64_t i)
{
	const int64_t *wd = t->w->shape.dim;
	int64_t slice = i / t->inner; /* index over (axis 0, axis 1) */
	int64_t a0 = slice / wd[1], a1 = slice % wd[1];
	switch (t->p->op) {
	case OP_ConvTranspose: {
		int64_t grp = t->p->attr.conv.group;
		return a0 / (wd[0] / grp) * wd[1] + a1;
	}
	case OP_Gemm:
		return t->p->attr.gemm.trans_b ? a0 : a1;
	default:
		return a0;
	}
}

static float old_bias(const Target *t, int64_t o)
{
	if (t->b == NULL)
		return 0.0f;
	const float *b = t->b->data;
	float v = shape_numel(&t->b->shape) == 1 ? b[0] : b[o];
	return t->p->op == OP_Gemm ? t->p->attr.gemm.beta * v : v;
}

static int fold(Graph *g, Node *bn, Target *t, Diag *d)
{
	int64_t c = t->c;
	const float *gamma = bn->in[1]->data, *beta = bn->in[2]->data;
	const float *mean = bn->in[3]->data, *var = bn->in[4]->data;
	double eps = bn->attr.batch_norm.epsilon;
	double *scale = malloc((size_t)c * sizeof *scale);
	if (scale == NULL)
		return node_error(d, bn, "out of memory");
	for (int64_t o = 0; o < c; o++)
		scale[o] = (double)gamma[o] / sqrt((double)var[o] + eps);

	Shape bshape = shape_make(1, &c);
	Value *w2 = graph_add_constant(g, arena_printf(g->arena, "%s_bn", t->w->name), t->w->dtype,
				       &t->w->shape, d);
	Value *b2 = graph_add_constant(g, t->b ? arena_printf(g->arena, "%s_bn", t->b->name)
					       : arena_printf(g->arena, "%s_bias", t->p->name),
				       t->b ? t->b->dtype : t->w->dtype, &bshape, d);
	if (w2 == NULL || b2 == NULL) {
		free(scale);
		return -1;
	}
	const float *w = t->w->data;
	float *nw = w2->data, *nb = b2->data;
	for (int64_t i = 0; i < t->w_numel; i++)
		nw[i] = (float)(w[i] * scale[channel_of(t, i)]);
	for (int64_t o = 0; o < c; o++)
		nb[o] = (float)(((double)old_bias(t, o) - mean[o]) * scale[o] + beta[o]);
	free(scale);
	dtype_round(w2->dtype, nw, (size_t)t->w_numel);
	dtype_round(b2->dtype, nb, (size_t)c);

	Node *p = t->p;
	if (p->n_in < 3) {
		Value **in = arena_alloc(g->arena, 3 * sizeof *in);
		in[0] = p->in[0];
		p->in = in;
		p->n_in = 3;
	}
	p->in[1] = w2;
	p->in[2] = b2;
	if (p->op == OP_Gemm)
		p->attr.gemm.beta = 1.0f;
	/* P writes the BN's output value, so its name survives; X is dropped by the compaction */
	Value *x = p->out[0], *y = bn->out[0];
	p->out[0] = y;
	y->producer = p;
	x->producer = NULL;
	bn->dead = true;
	return 0;
}

int pass_fold_bn(Graph *g, const PassOptions *opt, Diag *d)
{
	(void)opt;
	bool changed = false;
	int *uses = graph_use_counts(g);
	for (int i = 0; i < g->n_nodes; i++) {
		Node *bn = g->nodes[i];
		if (bn->dead || bn->op != OP_BatchNormalization || bn->n_in != 5 || bn->n_out != 1 ||
		    bn->attr.batch_norm.training_mode != 0)
			continue;
		Value *x = bn->in[0];
		Target t;
		if (x == NULL || uses[x->id] != 1 || !match_target(x->producer, x, &t))
			continue;
		bool params_ok = true;
		for (int k = 1; k < 5; k++)
			params_ok = params_ok && is_vector_of(bn->in[k], t.c);
		if (!params_ok || bn->out[0]->dtype != x->dtype)
			continue;
		if (fold(g, bn, &t, d) < 0) {
			free(uses);
			return -1;
		}
		changed = true;
	}
	free(uses);
	if (changed)
		graph_compact(g);
	return 0;
}
