/* elim-identity: remove nodes that compute their input unchanged.
 *
 * Requires: shape-infer for the shape-dependent cases (a Reshape/Flatten/Squeeze/Unsqueeze is
 * an identity only when its static output shape equals its input's; without shapes those
 * nodes simply stay).
 * Does: removes Identity; Dropout in inference mode (training_mode absent or constant false),
 * whose used mask output becomes a constant all-true bool tensor (the node stays if the mask's
 * shape is not static or it has more than 64 Ki elements); Cast to the input's own dtype; Reshape, Flatten, Squeeze, Unsqueeze
 * whose output shape equals the input shape; Transpose whose perm is the identity.
 * Removing node `out = N(in)` normally points every reader of `out` at `in`. When `out` is a
 * graph output its name must survive (users bind outputs by name), so instead the producer of
 * `in` is made to write `out` and the readers of `in` read `out`; when that is impossible
 * (`in` is a graph input, a constant or itself a graph output) the node stays.
 * Preserves: topological order, graph input and output names, shapes.
 * Invalidates: node and value ids (compaction). */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

static bool is_const_false(const Value *v)
{
	if (v == NULL)
		return true; /* absent training_mode means inference */
	if (v->data == NULL || shape_numel(&v->shape) != 1)
		return false;
	Tensor t = value_tensor(v);
	return tensor_get_f(&t, 0) == 0.0;
}

static bool same_static_shape(const Value *a, const Value *b)
{
	return shape_is_static(&a->shape) && shape_equal(&a->shape, &b->shape);
}

static bool transpose_is_identity(const Node *n)
{
	const Ints *perm = &n->attr.transpose.perm;
	if (perm->n == 0) /* default: reverse the axes, an identity only up to rank 1 */
		return n->in[0]->shape.rank >= 0 && n->in[0]->shape.rank <= 1;
	for (int i = 0; i < perm->n; i++)
		if (perm->v[i] != i)
			return false;
	return true;
}

/* Is n (reading its data from in[0] and writing it to out[0]) an identity? */
static bool is_identity(const Node *n)
{
	const Value *x = n->in[0], *y = n->out[0];
	if (x == NULL || x->dtype != y->dtype)
		return false;
	switch (n->op) {
	case OP_Identity:
		return true;
	case OP_Dropout:
		return is_const_false(n->n_in > 2 ? n->in[2] : NULL);
	case OP_Cast:
		return n->attr.cast.to == x->dtype;
	case OP_Reshape:
	case OP_Flatten:
	case OP_Squeeze:
	case OP_Unsqueeze:
		return same_static_shape(x, y);
	case OP_Transpose:
		return transpose_is_identity(n);
	default:
		return false;
	}
}

static int value_index_in(const Node *p, const Value *v)
{
	for (int i = 0; i < p->n_out; i++)
		if (p->out[i] == v)
			return i;
	return -1;
}

/* Can `out` be replaced by `in` everywhere without renaming a graph output? */
static bool can_forward(const Graph *g, const Value *out, const Value *in)
{
	if (!graph_is_output(g, out))
		return true;
	return in->producer != NULL && !in->producer->dead && !graph_is_output(g, in) &&
	       value_index_in(in->producer, in) >= 0;
}

static void forward(Graph *g, Value *out, Value *in)
{
	if (!graph_is_output(g, out)) {
		graph_replace_uses(g, out, in);
		return;
	}
	/* Keep the output's name: in's producer now writes `out`, in's readers read `out`. */
	Node *p = in->producer;
	p->out[value_index_in(p, in)] = out;
	out->producer = p;
	out->shape = in->shape;
	out->enc = in->enc;
	in->producer = NULL;
	graph_replace_uses(g, in, out);
}

#define MAX_MASK_CONSTANT ((int64_t)1 << 16)

/* The Dropout mask of an inference-mode Dropout is all true: make the mask value itself a
 * constant, so that its name (possibly a graph output's) survives. */
static int mask_to_constant(Graph *g, Value *mask, const Value *x, Diag *d)
{
	mask->dtype = DT_BOOL;
	mask->shape = x->shape;
	int64_t *p = value_alloc_payload(g, mask, d);
	if (p == NULL)
		return -1;
	int64_t numel = shape_numel(&mask->shape);
	for (int64_t i = 0; i < numel; i++)
		p[i] = 1;
	mask->enc.kind = ENC_DENSE;
	mask->producer = NULL;
	return 0;
}

int pass_elim_identity(Graph *g, const PassOptions *opt, Diag *d)
{
	(void)opt;
	bool changed = false;
	int *uses = graph_use_counts(g);
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = g->nodes[i];
		if (n->dead || n->n_out < 1 || n->n_in < 1 || !is_identity(n))
			continue;
		Value *in = n->in[0], *out = n->out[0];
		if (!can_forward(g, out, in))
			continue;
		Value *mask = n->op == OP_Dropout && n->n_out > 1 ? n->out[1] : NULL;
		/* a used mask becomes a constant only when it is small: a model should not grow by a
		 * tensor of ones; a big one stays computed by the Dropout */
		int64_t mask_numel = shape_numel(&in->shape);
		if (mask && uses[mask->id] > 0 && (mask_numel < 0 || mask_numel > MAX_MASK_CONSTANT))
			continue;
		n->dead = true;
		if (mask && uses[mask->id] > 0 && mask_to_constant(g, mask, in, d) < 0) {
			free(uses);
			return -1;
		}
		forward(g, out, in);
		changed = true;
	}
	free(uses);
	if (changed)
		graph_compact(g);
	return 0;
}
