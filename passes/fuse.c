/* fuse: fold bias, residual Add and activation into nnzc.FusedConv / nnzc.FusedGemm.
 *
 * Requires: shape-infer (per-channel and same-shape tests read static shapes).
 * Does: starting from each Conv, Gemm, or MatMul of a 2-D left operand by a 2-D constant,
 * follows the chain of single readers while each value on it is read by exactly one node and
 * is not a graph output, and absorbs, in any order until the activation:
 *   - Adds of a constant that is per output channel under numpy broadcasting (after right
 *     alignment only the channel axis — 1 for Conv, the last for Gemm — may be > 1; note that
 *     a rank-1 [C] constant added to a 4-D Conv output runs along W, not C, and is not a bias):
 *     summed into the bias input B. A sole [C] constant on a root without bias becomes B as
 *     it is; otherwise B is a new constant (the existing constant B, or Gemm's C times beta,
 *     plus the Adds) and a Gemm's beta becomes 1. A non-constant or per-row bias of the root
 *     takes no more: such an Add is then absorbed only if it qualifies as the residual;
 *   - at most one Add of another tensor of exactly the output shape, either operand order:
 *     the residual input R;
 *   - then at most one activation: Relu, LeakyRelu, Clip with constant scalar (or absent =
 *     -inf/+inf) bounds, Sigmoid, Tanh, HardSigmoid, HardSwish. The chain ends there: an Add
 *     after an activation is not fused, since act(x + r) != act(x) + r.
 * The fused node is the Conv/Gemm/MatMul node itself, rewritten in place (so it keeps its
 * name and attributes): inputs X, W, B?, R?; out = act(op(X, W) + B + R). It writes the value
 * of the last absorbed node, so that value's name (maybe a graph output's) survives. It moves
 * to the position of that last node, where R is known to be computed.
 * A root with nothing to absorb stays a plain Conv/Gemm/MatMul.
 * Preserves: topological order, value names of everything that survives, shapes.
 * Invalidates: node and value ids (compaction). */
#include "nnzc/ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHAIN 16

typedef struct Chain {
	Node *root;
	int pos;              /* index of root in g->nodes */
	Value *y;             /* root's output */
	int ch_axis;          /* output channel axis of y */
	int64_t c;            /* channels, -1 when unknown */
	Value *bias;          /* root's existing bias input, or NULL */
	bool bias_addable;    /* constant adds may be summed into the bias */
	Node *node[MAX_CHAIN];
	int n;
	double *add;          /* accumulated constant bias, c entries, or NULL */
	int n_adds;           /* constant Adds summed into add */
	Value *add_value;     /* the last of them (reused as B when it is the only one, a [C]) */
	Value *residual;
	Activation act;
	Value *last;
} Chain;

static bool const_float(const Value *v)
{
	return v != NULL && v->data != NULL && dtype_is_float(v->dtype) && shape_is_static(&v->shape);
}

/* The only live node reading v, searched after position `from`; NULL if v has any other use. */
static Node *sole_reader(const Graph *g, const int *uses, const Value *v, int from)
{
	if (uses[v->id] != 1 || graph_is_output(g, v))
		return NULL;
	for (int i = from + 1; i < g->n_nodes; i++) {
		Node *n = g->nodes[i];
		if (n->dead)
			continue;
		for (int j = 0; j < n->n_in; j++)
			if (n->in[j] == v)
				return n;
	}
	return NULL;
}

/* Is k, added to y, one value per output channel (a bias)? */
static bool is_channel_const(const Chain *ch, const Value *k, const Value *y)
{
	if (!const_float(k) || k->dtype != y->dtype || ch->c < 0 || y->shape.rank < 0)
		return false;
	int off = y->shape.rank - k->shape.rank;
	if (off < 0)
		return false;
	for (int i = 0; i < k->shape.rank; i++) {
		int64_t dim = k->shape.dim[i];
		if (dim != 1 && !(i + off == ch->ch_axis && dim == ch->c))
			return false;
	}
	return true;
}

static int add_constant_bias(Chain *ch, Value *k)
{
	if (ch->add == NULL) {
		ch->add = calloc((size_t)ch->c, sizeof *ch->add);
		if (ch->add == NULL)
			return -1;
	}
	ch->n_adds++;
	ch->add_value = k;
	const float *p = k->data;
	bool per_channel = shape_numel(&k->shape) != 1;
	for (int64_t o = 0; o < ch->c; o++)
		ch->add[o] += p[per_channel ? o : 0];
	return 0;
}

static bool scalar_bound(const Value *v, float dflt, float *out)
{
	if (v == NULL) {
		*out = dflt;
		return true;
	}
	if (!const_float(v) || shape_numel(&v->shape) != 1)
		return false;
	*out = ((const float *)v->data)[0];
	return true;
}

/* The Activation that node n computes, or false if it is not one fuse handles. */
static bool activation_of(const Node *n, Activation *act)
{
	memset(act, 0, sizeof *act);
	switch (n->op) {
	case OP_Relu: act->kind = ACT_RELU; return true;
	case OP_Sigmoid: act->kind = ACT_SIGMOID; return true;
	case OP_Tanh: act->kind = ACT_TANH; return true;
	case OP_HardSwish: act->kind = ACT_HARD_SWISH; return true;
	case OP_LeakyRelu:
		act->kind = ACT_LEAKY_RELU;
		act->alpha = n->attr.unary.alpha;
		return true;
	case OP_HardSigmoid:
		act->kind = ACT_HARD_SIGMOID;
		act->alpha = n->attr.unary.alpha;
		act->beta = n->attr.unary.beta;
		return true;
	case OP_Clip:
		act->kind = ACT_CLIP;
		return scalar_bound(n->n_in > 1 ? n->in[1] : NULL, -INFINITY, &act->alpha) &&
		       scalar_bound(n->n_in > 2 ? n->in[2] : NULL, INFINITY, &act->beta);
	default:
		return false;
	}
}

/* Try to absorb reader u of the chain's current value cur; false ends the chain. */
static int absorb(Chain *ch, Node *u, Value *cur)
{
	if (u->n_out != 1 || u->out[0]->dtype != cur->dtype || ch->n == MAX_CHAIN)
		return 0;
	Value *out = u->out[0];
	if (u->op == OP_Add) {
		Value *other = u->in[0] == cur ? u->in[1] : u->in[0];
		if (other == NULL || other == cur || !shape_is_static(&cur->shape) ||
		    !shape_equal(&out->shape, &cur->shape))
			return 0;
		if (ch->bias_addable && is_channel_const(ch, other, cur)) {
			if (add_constant_bias(ch, other) < 0)
				return -1;
		} else if (ch->residual == NULL && other->dtype == cur->dtype &&
			   shape_equal(&other->shape, &cur->shape)) {
			ch->residual = other;
		} else {
			return 0;
		}
	} else {
		Activation act;
		if (!activation_of(u, &act))
			return 0;
		ch->act = act;
	}
	ch->node[ch->n++] = u;
	ch->last = out;
	return 1;
}

/* Root facts: channel axis and count, bias input, whether constants can be added into it. */
static bool start_chain(Node *p, int pos, Chain *ch)
{
	memset(ch, 0, sizeof *ch);
	if (p->dead || p->n_out != 1 || p->n_in < 2)
		return false;
	ch->root = p;
	ch->pos = pos;
	ch->y = ch->last = p->out[0];
	ch->c = -1;
	if (!dtype_is_float(ch->y->dtype))
		return false;
	const Shape *ys = &ch->y->shape;
	switch (p->op) {
	case OP_Conv:
	case OP_Gemm:
		ch->ch_axis = 1;
		break;
	case OP_MatMul:
		if (p->in[0]->shape.rank != 2 || p->in[1]->data == NULL || p->in[1]->shape.rank != 2)
			return false;
		ch->ch_axis = 1;
		break;
	default:
		return false;
	}
	if (ys->rank > ch->ch_axis && ys->dim[ch->ch_axis] > 0)
		ch->c = ys->dim[ch->ch_axis];
	ch->bias = p->op != OP_MatMul && p->n_in > 2 ? p->in[2] : NULL;
	ch->bias_addable = ch->c > 0;
	/* an existing bias can take more only if it is a constant of one value per channel:
	 * Conv's B is a [C] vector, Gemm's C broadcasts like an added constant */
	if (ch->bias != NULL && p->op == OP_Conv)
		ch->bias_addable = ch->bias_addable && const_float(ch->bias) && ch->bias->shape.rank == 1 &&
				   ch->bias->shape.dim[0] == ch->c;
	else if (ch->bias != NULL)
		ch->bias_addable = ch->bias_addable && is_channel_const(ch, ch->bias, ch->y);
	return true;
}

/* The new bias constant: existing bias (times Gemm's beta) plus the absorbed adds. */
static Value *make_bias(Graph *g, Chain *ch, Diag *d)
{
	int64_t c = ch->c;
	Shape s = shape_make(1, &c);
	Value *b = graph_add_constant(g, arena_printf(g->arena, "%s_bias", ch->root->name), ch->y->dtype, &s, d);
	if (b == NULL)
		return NULL;
	float *p = b->data;
	double scale = ch->root->op == OP_Gemm ? ch->root->attr.gemm.beta : 1.0;
	const float *old = ch->bias ? ch->bias->data : NULL;
	bool per_channel = ch->bias && shape_numel(&ch->bias->shape) != 1;
	for (int64_t o = 0; o < c; o++)
		p[o] = (float)((old ? scale * old[per_channel ? o : 0] : 0.0) + ch->add[o]);
	dtype_round(b->dtype, p, (size_t)c);
	return b;
}

static int rewrite(Graph *g, Chain *ch, Diag *d)
{
	Node *p = ch->root;
	Value *bias = ch->bias;
	GemmAttrs gemm = {1.0f, 1.0f, 0, 0};
	if (p->op == OP_Gemm)
		gemm = p->attr.gemm;
	if (ch->add != NULL && ch->bias == NULL && ch->n_adds == 1 && ch->add_value->shape.rank == 1 &&
	    ch->add_value->shape.dim[0] == ch->c) {
		/* one [C] constant and no bias of its own (a Gemm's typical Add): read it as B as is */
		bias = ch->add_value;
		gemm.beta = 1.0f;
	} else if (ch->add != NULL) {
		bias = make_bias(g, ch, d);
		if (bias == NULL)
			return -1;
		gemm.beta = 1.0f;
	}
	Value **in = arena_alloc(g->arena, 4 * sizeof *in);
	in[0] = p->in[0];
	in[1] = p->in[1];
	in[2] = bias;
	in[3] = ch->residual;
	if (p->op == OP_Conv) {
		ConvAttrs conv = p->attr.conv;
		p->op = OP_FusedConv;
		attrs_init(OP_FusedConv, &p->attr);
		p->attr.fused_conv.conv = conv;
		p->attr.fused_conv.act = ch->act;
	} else {
		p->op = OP_FusedGemm;
		attrs_init(OP_FusedGemm, &p->attr);
		p->attr.fused_gemm.gemm = gemm;
		p->attr.fused_gemm.act = ch->act;
	}
	p->in = in;
	p->n_in = ch->residual ? 4 : bias ? 3 : 2;
	p->out[0] = ch->last;
	ch->last->producer = p;
	ch->y->producer = NULL;
	for (int k = 0; k < ch->n; k++)
		ch->node[k]->dead = true;
	/* take the place of the last absorbed node: every input (R included) is computed by then */
	Node *tail = ch->node[ch->n - 1];
	int j = tail->id;
	g->nodes[ch->pos] = tail;
	g->nodes[j] = p;
	tail->id = ch->pos;
	p->id = j;
	return 0;
}

int pass_fuse(Graph *g, const PassOptions *opt, Diag *d)
{
	(void)opt;
	bool changed = false;
	int rc = 0;
	for (int i = 0; i < g->n_nodes; i++)
		g->nodes[i]->id = i;
	int *uses = graph_use_counts(g);
	for (int i = 0; i < g->n_nodes && rc == 0; i++) {
		Chain ch;
		if (!start_chain(g->nodes[i], i, &ch))
			continue;
		Value *cur = ch.y;
		Node *u;
		while (ch.act.kind == ACT_NONE && (u = sole_reader(g, uses, cur, cur->producer->id)) != NULL) {
			int r = absorb(&ch, u, cur);
			if (r < 0)
				rc = node_error(d, u, "out of memory");
			if (r <= 0)
				break;
			cur = ch.last;
		}
		if (rc == 0 && ch.n > 0) {
			rc = rewrite(g, &ch, d);
			changed = true;
		}
		free(ch.add);
	}
	free(uses);
	if (changed)
		graph_compact(g);
	return rc;
}
