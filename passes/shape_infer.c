/* shape-infer: give every value a dtype and, where the inputs allow, a static shape.
 *
 * Requires: graph inputs with their dtypes (and shapes, fixed by --input-shape).
 * Does: runs each op's inference in topological order, and folds *shape arithmetic* on the way
 * — Shape/Size of a statically shaped tensor, and any node whose inputs are all constant and
 * whose outputs are integers or tiny — because Reshape/Expand/Slice/... read those constants to
 * get static shapes (the dynamic-shape exports of PyTorch and Paddle compute shapes that way).
 * Heavy constant work is left to fold-constants.
 * Preserves: topological order. Folded nodes are marked dead (dce drops them). */
#include "nnzc/ir.h"

#include <string.h>

#define TINY_FLOAT_ELEMENTS 64

static bool all_inputs_const(const Node *n)
{
	for (int i = 0; i < n->n_in; i++)
		if (n->in[i] && n->in[i]->data == NULL)
			return false;
	return true;
}

static bool worth_folding(const Node *n)
{
	for (int i = 0; i < n->n_out; i++) {
		const Value *v = n->out[i];
		int64_t numel = shape_numel(&v->shape);
		if (numel < 0)
			return false;
		if (dtype_is_float(v->dtype) && numel > TINY_FLOAT_ELEMENTS)
			return false;
		if (numel > (1 << 20))
			return false;
	}
	return true;
}

/* Turn n's outputs into constants holding `vals` and retire the node. */
static int become_constants(Graph *g, Node *n, Tensor *vals, Diag *d)
{
	for (int i = 0; i < n->n_out; i++)
		if (value_set_constant(g, n->out[i], &vals[i], d) < 0)
			return -1;
	n->dead = true;
	return 0;
}

static int fold_shape_of(Graph *g, Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor t;
	Shape s1 = shape_make(1, (int64_t[]){0});
	if (n->op == OP_Size) {
		Shape s0 = shape_make(0, NULL);
		if (tensor_alloc(&t, DT_I64, &s0, d) < 0)
			return -1;
		((int64_t *)t.data)[0] = shape_numel(&x->shape);
	} else {
		int r = x->shape.rank;
		int64_t start = n->attr.shape.start, end = n->attr.shape.end;
		if (start < 0)
			start += r;
		if (end < 0)
			end += r;
		start = start < 0 ? 0 : start > r ? r : start;
		end = end < 0 ? 0 : end > r ? r : end;
		s1.dim[0] = end > start ? end - start : 0;
		if (tensor_alloc(&t, DT_I64, &s1, d) < 0)
			return -1;
		for (int64_t i = start; i < end; i++)
			((int64_t *)t.data)[i - start] = x->shape.dim[i];
	}
	int rc = become_constants(g, n, &t, d);
	tensor_free(&t);
	return rc;
}

int pass_shape_infer(Graph *g, const PassOptions *opt, Diag *d)
{
	(void)opt;
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = g->nodes[i];
		if (n->dead)
			continue;
		if (infer_node(n, d) < 0)
			return -1;
		if ((n->op == OP_Shape || n->op == OP_Size) && shape_is_static(&n->in[0]->shape)) {
			if (fold_shape_of(g, n, d) < 0)
				return -1;
			continue;
		}
		if (!all_inputs_const(n) || !worth_folding(n))
			continue;
		Tensor outs[8];
		if (n->n_out > 8)
			continue;
		if (ref_eval_node(n, outs, d) < 0)
			return -1;
		int rc = become_constants(g, n, outs, d);
		for (int k = 0; k < n->n_out; k++)
			tensor_free(&outs[k]);
		if (rc < 0)
			return -1;
	}
	graph_compact(g);
	return 0;
}
